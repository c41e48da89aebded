//! Gains and lift: how much of the churn sits at the top of the score list.
//!
//! A retention team can call only so many customers. Sort the customers by score, highest
//! first, and cut the list into equal groups (deciles by default): the gains table says how many
//! churners each group holds, what share of all churners the groups down to it capture, and the
//! lift (a group's churn rate over the overall rate), as H2O's gains/lift table and PyCaret's
//! lift and gain plots show it.

use crate::charts::render::{
    caption_font, draw_legend, render, segments, thin, unit_chart, xy_mesh, Png, CLASS_COLOURS,
};
use crate::error::Result;
use crate::metrics::classification::binary_clf_curve;
use crate::{bail, ensure};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

/// One group of the gains table (group 1 holds the highest scores).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GainsRow {
    /// 1 for the highest-scored group.
    pub group: usize,
    /// Customers in the group.
    pub customers: usize,
    /// Churners in the group.
    pub churners: usize,
    /// churners / customers.
    pub churn_rate: f64,
    /// Lowest score in the group.
    pub min_score: f64,
    /// Highest score in the group.
    pub max_score: f64,
    /// Share of all customers in groups 1..=group.
    pub cumulative_share: f64,
    /// Share of all churners in groups 1..=group (the gain).
    pub cumulative_capture: f64,
    /// churn_rate over the overall churn rate.
    pub lift: f64,
    /// The churn rate of groups 1..=group over the overall churn rate.
    pub cumulative_lift: f64,
}

/// The gains table and the cumulative gains curve of scores against labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gains {
    /// The groups, highest scores first.
    pub rows: Vec<GainsRow>,
    /// Customers scored.
    pub customers: usize,
    /// Churners among them.
    pub churners: usize,
    /// The cumulative gains curve: (share of customers targeted, share of churners captured),
    /// one point per distinct score, from (0, 0) to (1, 1).
    pub curve: Vec<(f64, f64)>,
}

impl Gains {
    /// The gains table of `scores` against 0/1 labels `y`, cut into `groups` groups of equal
    /// size by rank (sizes differ by at most one; rows with equal scores keep their input order,
    /// so a tie across a group boundary is split deterministically).
    ///
    /// ```
    /// use churnkit_core::gains::Gains;
    /// let y = [1, 1, 0, 1, 0, 0, 0, 0, 0, 0];
    /// let p = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0];
    /// let g = Gains::new(&y, &p, 5).unwrap();
    /// assert_eq!(g.rows[0].churners, 2);
    /// assert_eq!(g.rows[0].lift, 1.0 / 0.3); // 100% churn in the top fifth, 30% overall
    /// assert_eq!(g.capture_at(0.2), 2.0 / 3.0); // the top 20% hold two of the three churners
    /// ```
    pub fn new(y: &[u8], scores: &[f64], groups: usize) -> Result<Self> {
        ensure!(
            y.len() == scores.len(),
            data,
            "gains: {} labels but {} scores",
            y.len(),
            scores.len()
        );
        ensure!(
            groups != 0,
            data,
            "gains: the number of groups must be at least 1",
        );
        let n = y.len();
        let churners = y.iter().filter(|&&v| v == 1).count();
        if n == 0 || churners == 0 {
            bail!(data, "gains: need at least one scored row and one churner",);
        }
        if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
            bail!(data, "gains: score {i} is not finite");
        }
        let overall = churners as f64 / n as f64;
        let mut order: Vec<usize> = (0..n).collect();
        // Stable: equal scores keep their input order.
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let groups = groups.min(n);
        let mut rows = Vec::with_capacity(groups);
        let (mut seen, mut caught) = (0usize, 0usize);
        for g in 0..groups {
            let (lo, hi) = (g * n / groups, (g + 1) * n / groups);
            let members = &order[lo..hi];
            let c = members.iter().filter(|&&i| y[i] == 1).count();
            seen += members.len();
            caught += c;
            let rate = c as f64 / members.len() as f64;
            rows.push(GainsRow {
                group: g + 1,
                customers: members.len(),
                churners: c,
                churn_rate: rate,
                min_score: scores[members[members.len() - 1]],
                max_score: scores[members[0]],
                cumulative_share: seen as f64 / n as f64,
                cumulative_capture: caught as f64 / churners as f64,
                lift: rate / overall,
                cumulative_lift: (caught as f64 / seen as f64) / overall,
            });
        }
        let (fps, tps, _) = binary_clf_curve(y, scores);
        let mut curve = vec![(0.0, 0.0)];
        curve.extend(
            fps.iter()
                .zip(&tps)
                .map(|(f, t)| ((f + t) / n as f64, t / churners as f64)),
        );
        Ok(Gains {
            rows,
            customers: n,
            churners,
            curve,
        })
    }

    /// The overall churn rate.
    pub fn churn_rate(&self) -> f64 {
        self.churners as f64 / self.customers as f64
    }

    /// Share of churners captured by targeting the top `share` of customers (0..=1), read off
    /// the gains curve (linear between its points: within a run of equal scores, targeting part
    /// of the run captures that part of its churners on average).
    pub fn capture_at(&self, share: f64) -> f64 {
        let share = share.clamp(0.0, 1.0);
        let k = self.curve.partition_point(|p| p.0 < share);
        if k == 0 {
            return self.curve[0].1;
        }
        if k == self.curve.len() {
            return 1.0;
        }
        let (a, b) = (self.curve[k - 1], self.curve[k]);
        if b.0 == a.0 {
            return b.1;
        }
        a.1 + (b.1 - a.1) * (share - a.0) / (b.0 - a.0)
    }

    /// "The top 10% of customers by score hold 38% of the churners (lift 3.8)."
    pub fn summary(&self, share: f64) -> String {
        let captured = self.capture_at(share);
        format!(
            "the top {:.0}% of customers by score hold {:.0}% of the churners (lift {:.1})",
            share * 100.0,
            captured * 100.0,
            if share > 0.0 { captured / share } else { 0.0 }
        )
    }

    /// The table as CSV (one line per group, with a header).
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "group,customers,churners,churn_rate,min_score,max_score,cumulative_share,cumulative_capture,lift,cumulative_lift\n",
        );
        for r in &self.rows {
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{}\n",
                r.group,
                r.customers,
                r.churners,
                r.churn_rate,
                r.min_score,
                r.max_score,
                r.cumulative_share,
                r.cumulative_capture,
                r.lift,
                r.cumulative_lift
            ));
        }
        out
    }

    /// The cumulative gains chart: the model's curve, a perfect ranking, and random targeting.
    pub fn gains_chart(&self) -> Result<Png> {
        let perfect = self.churn_rate();
        let ten = self.capture_at(0.1);
        render(640, 560, |root| {
            let mut chart = unit_chart(
                &root,
                "Cumulative gains",
                "Share of customers targeted (highest scores first)",
                "Share of churners captured",
                true,
            )?;
            let blue = CLASS_COLOURS[0];
            chart
                .draw_series(segments(thin(&self.curve, 1e-3), blue.stroke_width(3)))?
                .label(format!("Model (top 10% hold {:.0}%)", ten * 100.0))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], blue.stroke_width(3))
                });
            let green = RGBColor(44, 160, 44);
            chart
                .draw_series(segments(
                    vec![(0.0, 0.0), (perfect, 1.0), (1.0, 1.0)],
                    green.stroke_width(2),
                ))?
                .label("Perfect ranking")
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], green.stroke_width(2))
                });
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, 0.0), (1.0, 1.0)],
                    8,
                    6,
                    BLACK.mix(0.6).stroke_width(2),
                ))?
                .label("Random targeting")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], BLACK.mix(0.6).stroke_width(2))
                });
            draw_legend(&mut chart, SeriesLabelPosition::LowerRight, 16)?;
            Ok(())
        })
    }

    /// The lift chart: lift per group as bars, cumulative lift as a line, 1 = random.
    pub fn lift_chart(&self) -> Result<Png> {
        let top = self
            .rows
            .iter()
            .map(|r| r.lift.max(r.cumulative_lift))
            .fold(1.0, f64::max);
        let n = self.rows.len() as f64;
        render(640, 440, |root| {
            let mut chart = ChartBuilder::on(&root)
                .caption("Lift by score group", caption_font())
                .margin(16)
                .x_label_area_size(45)
                .y_label_area_size(60)
                .build_cartesian_2d(0.5f64..n + 0.5, 0f64..top * 1.15)?;
            xy_mesh(
                &mut chart,
                "Score group (1 = highest scores)",
                "Lift (churn rate / overall rate)",
            )?;
            let red = CLASS_COLOURS[1];
            chart
                .draw_series(self.rows.iter().map(|r| {
                    let x = r.group as f64;
                    Rectangle::new(
                        [(x - 0.38, 0.0), (x + 0.38, r.lift)],
                        red.mix(0.75).filled(),
                    )
                }))?
                .label("Lift of the group")
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 18, y + 5)], red.mix(0.75).filled())
                });
            let blue = CLASS_COLOURS[0];
            let line: Vec<(f64, f64)> = self
                .rows
                .iter()
                .map(|r| (r.group as f64, r.cumulative_lift))
                .collect();
            chart
                .draw_series(segments(line.clone(), blue.stroke_width(3)))?
                .label("Cumulative lift")
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], blue.stroke_width(3))
                });
            chart.draw_series(line.iter().map(|p| Circle::new(*p, 4, blue.filled())))?;
            chart.draw_series(DashedLineSeries::new(
                [(0.5, 1.0), (n + 0.5, 1.0)],
                8,
                6,
                BLACK.mix(0.6).stroke_width(2),
            ))?;
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 15)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deciles_add_up_and_capture_ends_at_one() {
        let n = 1003;
        let y: Vec<u8> = (0..n)
            .map(|i| u8::from(i % 7 == 0 || i % 11 == 0))
            .collect();
        let p: Vec<f64> = (0..n)
            .map(|i| ((i * 37) % 101) as f64 / 100.0 + if y[i] == 1 { 0.3 } else { 0.0 })
            .collect();
        let g = Gains::new(&y, &p, 10).unwrap();
        assert_eq!(g.rows.len(), 10);
        assert_eq!(g.rows.iter().map(|r| r.customers).sum::<usize>(), n);
        assert!(g
            .rows
            .iter()
            .all(|r| r.customers == 100 || r.customers == 101));
        assert_eq!(g.rows.iter().map(|r| r.churners).sum::<usize>(), g.churners);
        let last = g.rows.last().unwrap();
        assert!((last.cumulative_capture - 1.0).abs() < 1e-12);
        assert!((last.cumulative_lift - 1.0).abs() < 1e-12);
        assert!(
            g.rows[0].lift > 1.5,
            "informative scores put churners on top"
        );
        for w in g.rows.windows(2) {
            assert!(
                w[0].min_score >= w[1].max_score,
                "groups are ordered by score"
            );
        }
        assert_eq!(g.capture_at(1.0), 1.0);
        assert_eq!(g.capture_at(0.0), 0.0);
    }

    #[test]
    fn capture_interpolates_within_ties() {
        // All scores equal: targeting half of them captures half of the churners on average.
        let g = Gains::new(&[1, 0, 1, 0], &[0.5; 4], 2).unwrap();
        assert_eq!(g.capture_at(0.5), 0.5);
        assert_eq!(g.curve, vec![(0.0, 0.0), (1.0, 1.0)]);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(Gains::new(&[0, 0], &[0.1, 0.2], 10).is_err());
        assert!(Gains::new(&[1], &[0.1, 0.2], 10).is_err());
        assert!(Gains::new(&[1, 0], &[f64::NAN, 0.2], 10).is_err());
        assert!(Gains::new(&[1, 0], &[0.1, 0.2], 0).is_err());
    }

    #[test]
    fn charts_render() {
        let g = Gains::new(&[1, 0, 1, 0, 0, 1], &[0.9, 0.1, 0.7, 0.4, 0.3, 0.2], 3).unwrap();
        assert!(g.gains_chart().unwrap().bytes.len() > 1000);
        assert!(g.lift_chart().unwrap().bytes.len() > 1000);
    }
}
