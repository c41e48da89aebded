//! A threshold chosen on money: what a retention campaign gains at each threshold.
//!
//! Every customer whose churn probability is above the threshold gets an offer. An offer costs
//! `offer_cost`. A churner who gets one stays with probability `success_rate`, and a retained
//! customer is worth `retained_value`; an offer to a customer who would have stayed anyway is
//! the cost alone. The expected profit of a threshold on labelled rows is then
//!
//! `sum over targeted rows of (churned ? success_rate * retained_value : 0) - offer_cost`
//!
//! and the best threshold is the one that maximises it. Choose it on rows the model did not
//! train on (out-of-bag scores, or a validation split) and report it on the test rows: picking
//! it on the test rows would overstate the profit.

use crate::charts::render::{
    caption_font, draw_legend, render, segments, thin, xy_mesh, Png, CLASS_COLOURS,
};
use crate::error::Result;
use crate::metrics::classification::binary_clf_curve;
use crate::{bail, ensure};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

/// The economics of a retention offer. The defaults are placeholders in one currency unit,
/// chosen so that an offer pays for itself above a churn probability of 1/3; set your own.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Economics {
    /// What one offer costs (discount, call time). Default 50.
    pub offer_cost: f64,
    /// What keeping a customer who would have churned is worth. Default 500.
    pub retained_value: f64,
    /// Share of churners who accept the offer and stay. Default 0.3.
    pub success_rate: f64,
}

impl Default for Economics {
    fn default() -> Self {
        Economics {
            offer_cost: 50.0,
            retained_value: 500.0,
            success_rate: 0.3,
        }
    }
}

impl Economics {
    /// Check the numbers: non-negative, finite, success rate within [0, 1].
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("offer cost", self.offer_cost),
            ("retained value", self.retained_value),
        ] {
            if !v.is_finite() || v < 0.0 {
                bail!(params, "{name} must be a non-negative number, got {v}");
            }
        }
        ensure!(
            (0.0..=1.0).contains(&self.success_rate),
            params,
            "success rate must be within [0, 1], got {}",
            self.success_rate
        );
        Ok(())
    }

    /// The churn probability above which an offer pays for itself in expectation, if the
    /// probabilities are calibrated: `offer_cost / (success_rate * retained_value)`.
    pub fn break_even(&self) -> f64 {
        let gain = self.success_rate * self.retained_value;
        if gain > 0.0 {
            self.offer_cost / gain
        } else {
            f64::INFINITY
        }
    }

    /// The profit of targeting `churners` churners and `others` non-churners.
    pub fn profit(&self, churners: f64, others: f64) -> f64 {
        churners * (self.success_rate * self.retained_value - self.offer_cost)
            - others * self.offer_cost
    }
}

/// The profit of every threshold on a set of labelled scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfitCurve {
    /// The economics it was computed with.
    pub economics: Economics,
    /// Thresholds, decreasing: targeting the rows with a score above `thresholds[k]`. The first
    /// is the highest score (no offer at all).
    pub thresholds: Vec<f64>,
    /// Customers targeted at each threshold.
    pub targeted: Vec<usize>,
    /// Expected profit at each threshold.
    pub profit: Vec<f64>,
    /// Rows scored.
    pub customers: usize,
}

impl ProfitCurve {
    /// The profit curve of `scores` against 0/1 labels `y`.
    ///
    /// ```
    /// use churnkit_core::profit::{Economics, ProfitCurve};
    /// let e = Economics { offer_cost: 10.0, retained_value: 100.0, success_rate: 0.5 };
    /// let c = ProfitCurve::new(&[1, 0, 1, 0], &[0.9, 0.8, 0.6, 0.1], e).unwrap();
    /// let (t, profit) = c.best();
    /// assert_eq!(profit, 70.0); // two churners x (50 - 10) - one false alarm x 10
    /// assert!(t < 0.6 && t >= 0.1);
    /// ```
    pub fn new(y: &[u8], scores: &[f64], economics: Economics) -> Result<Self> {
        economics.validate()?;
        if y.len() != scores.len() || y.is_empty() {
            bail!(
                data,
                "profit curve: {} labels and {} scores (need the same, at least one)",
                y.len(),
                scores.len()
            );
        }
        if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
            bail!(data, "profit curve: score {i} is not finite");
        }
        // binary_clf_curve gives cumulative counts at each distinct score, highest first; the
        // rows "above the threshold" of labels() are those with a strictly larger score, so the
        // threshold that targets down to score s_k is the next lower distinct score.
        let (fps, tps, thr) = binary_clf_curve(y, scores);
        let mut c = ProfitCurve {
            economics,
            // Targeting the rows above the highest score: nobody.
            thresholds: vec![thr[0]],
            targeted: vec![0],
            profit: vec![0.0],
            customers: y.len(),
        };
        for k in 0..thr.len() {
            let below = if k + 1 < thr.len() {
                thr[k + 1]
            } else {
                // Everyone targeted: any threshold under the lowest score.
                (thr[k] - 1e-9).min(0.0)
            };
            c.thresholds.push(below);
            c.targeted.push((fps[k] + tps[k]) as usize);
            c.profit.push(economics.profit(tps[k], fps[k]));
        }
        Ok(c)
    }

    /// The profit-optimal threshold and its profit (the highest threshold among equals: fewer
    /// offers for the same money).
    pub fn best(&self) -> (f64, f64) {
        let mut best = 0;
        for k in 1..self.profit.len() {
            if self.profit[k] > self.profit[best] {
                best = k;
            }
        }
        (self.thresholds[best], self.profit[best])
    }

    /// The profit of targeting every row with a score above `threshold`.
    pub fn profit_at(&self, threshold: f64) -> f64 {
        // Thresholds decrease; the first one not above `threshold` targets the same rows.
        let k = self.thresholds.partition_point(|&t| t > threshold);
        self.profit[k.min(self.profit.len() - 1)]
    }

    /// Customers targeted at `threshold`.
    pub fn targeted_at(&self, threshold: f64) -> usize {
        let k = self.thresholds.partition_point(|&t| t > threshold);
        self.targeted[k.min(self.targeted.len() - 1)]
    }

    /// The profit curve against the share of customers targeted, with the optimum and 0.5 marked.
    pub fn chart(&self, chosen: f64) -> Result<Png> {
        let n = self.customers as f64;
        let pts: Vec<(f64, f64)> = self
            .targeted
            .iter()
            .zip(&self.profit)
            .map(|(&t, &p)| (t as f64 / n, p))
            .collect();
        let lo = pts.iter().map(|p| p.1).fold(0.0, f64::min);
        let hi = pts.iter().map(|p| p.1).fold(0.0, f64::max);
        let pad = ((hi - lo) * 0.12).max(1.0);
        let mark = |t: f64| (self.targeted_at(t) as f64 / n, self.profit_at(t));
        let (at_half, at_chosen) = (mark(0.5), mark(chosen));
        render(640, 440, |root| {
            let mut chart = ChartBuilder::on(&root)
                .caption("Expected campaign profit", caption_font())
                .margin(16)
                .x_label_area_size(45)
                .y_label_area_size(80)
                .build_cartesian_2d(0f64..1f64, lo - pad..hi + pad)?;
            xy_mesh(
                &mut chart,
                "Share of customers given an offer (highest scores first)",
                "Expected profit",
            )?;
            let blue = CLASS_COLOURS[0];
            chart
                .draw_series(segments(thin(&pts, 1e-3), blue.stroke_width(3)))?
                .label(format!(
                    "offer {} / retained {} / success {:.0}%",
                    self.economics.offer_cost,
                    self.economics.retained_value,
                    self.economics.success_rate * 100.0
                ))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], blue.stroke_width(3))
                });
            // 0.5 as a ring, the chosen threshold as a dot inside: both visible when they meet.
            chart
                .draw_series(std::iter::once(Circle::new(
                    at_half,
                    9,
                    BLACK.stroke_width(2),
                )))?
                .label(format!("threshold 0.5: {:.0}", at_half.1))
                .legend(|(x, y)| Circle::new((x + 12, y), 7, BLACK.stroke_width(2)));
            let red = CLASS_COLOURS[1];
            chart
                .draw_series(std::iter::once(Circle::new(at_chosen, 5, red.filled())))?
                .label(format!("threshold {chosen:.3}: {:.0}", at_chosen.1))
                .legend(move |(x, y)| Circle::new((x + 12, y), 5, red.filled()));
            draw_legend(&mut chart, SeriesLabelPosition::LowerLeft, 14)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::classification::{labels, Confusion};

    #[test]
    fn profit_matches_the_confusion_matrix_at_every_threshold() {
        let e = Economics::default();
        let y: Vec<u8> = (0..300).map(|i| u8::from(i % 3 == 0)).collect();
        let p: Vec<f64> = (0..300)
            .map(|i| ((i * 61) % 97) as f64 / 100.0 * 0.7 + if y[i] == 1 { 0.25 } else { 0.0 })
            .collect();
        let c = ProfitCurve::new(&y, &p, e).unwrap();
        for t in [0.0, 0.1, 0.25, 0.3333, 0.5, 0.77, 0.95, 1.0] {
            let m = Confusion::from_labels(&y, &labels(&p, t));
            let want = e.profit(m.tp as f64, m.fp as f64);
            assert!((c.profit_at(t) - want).abs() < 1e-9, "threshold {t}");
            assert_eq!(c.targeted_at(t), m.tp + m.fp);
        }
        let (t, best) = c.best();
        let m = Confusion::from_labels(&y, &labels(&p, t));
        assert!((best - e.profit(m.tp as f64, m.fp as f64)).abs() < 1e-9);
        assert!(c.profit.iter().all(|&v| v <= best));
    }

    #[test]
    fn calibrated_scores_put_the_optimum_near_break_even() {
        // Scores that are true probabilities: the optimum sits at the break-even probability.
        let e = Economics::default();
        let n = 20_000;
        let mut rng = crate::rng::Rng::new(3);
        let p: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
        let y: Vec<u8> = p.iter().map(|&q| u8::from(rng.uniform() < q)).collect();
        let (t, _) = ProfitCurve::new(&y, &p, e).unwrap().best();
        assert!((t - e.break_even()).abs() < 0.05, "optimum {t}");
    }

    #[test]
    fn bad_economics_are_rejected() {
        let bad = Economics {
            success_rate: 1.5,
            ..Economics::default()
        };
        assert!(ProfitCurve::new(&[1], &[0.5], bad).is_err());
        let bad = Economics {
            offer_cost: -1.0,
            ..Economics::default()
        };
        assert!(bad.validate().is_err());
    }
}
