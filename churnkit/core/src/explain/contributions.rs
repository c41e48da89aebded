//! What TreeSHAP gives, as a value: each row's contributions per feature and the base value,
//! ranked into reasons, and drawn as a customer's waterfall and the beeswarm of many.

use crate::charts::render::Png;
use crate::error::Result;
use crate::{bail, ensure};
use ndarray::ArrayView2;

/// SHAP contributions of every feature for every row of a matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Contributions {
    /// The expected score over the training data (the mean of the trees' cover-weighted leaf
    /// values): the score of a row about which nothing is known.
    pub base_value: f64,
    /// Number of features.
    pub n_features: usize,
    /// Row-major, `n_features` per row.
    pub values: Vec<f64>,
}

impl Contributions {
    /// Rows explained.
    pub fn n_rows(&self) -> usize {
        self.values.len() / self.n_features.max(1)
    }

    /// The contributions of row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.n_features..(i + 1) * self.n_features]
    }

    /// The `k` largest contributions of row `i` by absolute value: (feature index, value),
    /// largest first, ties by feature index.
    pub fn top(&self, i: usize, k: usize) -> Vec<(usize, f64)> {
        let mut v: Vec<(usize, f64)> = self.row(i).iter().copied().enumerate().collect();
        v.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        v.truncate(k);
        v
    }

    /// Mean absolute contribution per feature (the global importance SHAP summary bars show).
    pub fn mean_abs(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.n_features];
        for r in 0..self.n_rows() {
            for (o, v) in out.iter_mut().zip(self.row(r)) {
                *o += v.abs();
            }
        }
        let n = self.n_rows().max(1) as f64;
        out.iter_mut().for_each(|v| *v /= n);
        out
    }
}

/// A waterfall chart of one row's contributions, as `shap.plots.waterfall` draws it: from the
/// base value at the bottom, each of the `k` largest contributions moves the score (red up,
/// blue down), the rest summed in one bar, ending at the row's score at the top. `labels` name
/// each feature with the row's value (e.g. `Contract = Month-to-month`).
pub fn waterfall_chart(
    title: &str,
    labels: &[String],
    contributions: &[f64],
    base: f64,
    k: usize,
) -> Result<Png> {
    use crate::charts::render::{render, CLASS_COLOURS, FAMILY};
    use plotters::prelude::*;
    let mut order: Vec<usize> = (0..contributions.len()).collect();
    order.sort_by(|&a, &b| {
        contributions[b]
            .abs()
            .total_cmp(&contributions[a].abs())
            .then(a.cmp(&b))
    });
    let shown = k.min(order.len());
    let mut bars: Vec<(String, f64)> = order[..shown]
        .iter()
        .map(|&i| (labels[i].clone(), contributions[i]))
        .collect();
    if order.len() > shown {
        let rest: f64 = order[shown..].iter().map(|&i| contributions[i]).sum();
        bars.push((format!("{} other features", order.len() - shown), rest));
    }
    // Bottom to top: the smallest effect first, so the largest sits just under the score.
    bars.reverse();
    let score = base + contributions.iter().sum::<f64>();
    let mut at = base;
    let mut spans = Vec::with_capacity(bars.len());
    for (_, v) in &bars {
        spans.push((at, at + v));
        at += v;
    }
    let lo = spans
        .iter()
        .map(|s| s.0.min(s.1))
        .fold(base.min(score), f64::min);
    let hi = spans
        .iter()
        .map(|s| s.0.max(s.1))
        .fold(base.max(score), f64::max);
    let pad = ((hi - lo) * 0.25).max(0.02);
    let n = bars.len() as i32;
    let height = (150 + 40 * bars.len() as u32).min(1600);
    render(820, height, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 20))
            .margin(16)
            .x_label_area_size(45)
            .y_label_area_size(250)
            .build_cartesian_2d(lo - pad..hi + pad, (0..n - 1).into_segmented())?;
        let label = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => {
                bars.get(*i as usize).map_or(String::new(), |b| b.0.clone())
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(bars.len())
            .y_label_formatter(&label)
            .x_desc(format!(
                "Score (base value {base:.3} -> this customer {score:.3})"
            ))
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 15))
            .draw()?;
        for (i, ((_, v), (a, b))) in bars.iter().zip(&spans).enumerate() {
            let colour = if *v >= 0.0 {
                CLASS_COLOURS[1]
            } else {
                CLASS_COLOURS[0]
            };
            let mut bar = Rectangle::new(
                [
                    (*a, SegmentValue::Exact(i as i32)),
                    (*b, SegmentValue::Exact(i as i32 + 1)),
                ],
                colour.mix(0.85).filled(),
            );
            bar.set_margin(5, 5, 0, 0);
            chart.draw_series(std::iter::once(bar))?;
            chart.draw_series(std::iter::once(Text::new(
                format!(" {v:+.3}"),
                (a.max(*b), SegmentValue::CenterOf(i as i32)),
                (FAMILY, 13).into_font(),
            )))?;
        }
        for (x, style) in [(base, BLACK.mix(0.5)), (score, BLACK.mix(0.9))] {
            chart.draw_series(DashedLineSeries::new(
                [(x, SegmentValue::Exact(0)), (x, SegmentValue::Exact(n))],
                6,
                4,
                style.stroke_width(2),
            ))?;
        }
        Ok(())
    })
}

/// Rows a beeswarm draws at most: more dots only blacken the chart, and a stride over the rows
/// keeps its shape.
pub const BEESWARM_MAX_ROWS: usize = 2000;

/// The rows of `n` a beeswarm draws: all of them, or [`BEESWARM_MAX_ROWS`] by an even stride.
pub fn beeswarm_rows(n: usize) -> Vec<usize> {
    if n > BEESWARM_MAX_ROWS {
        (0..BEESWARM_MAX_ROWS)
            .map(|i| i * n / BEESWARM_MAX_ROWS)
            .collect()
    } else {
        (0..n).collect()
    }
}

/// Vertical offsets (within ±0.45 of a feature's line) that stack the dots of equal-ish values
/// as `shap.plots.beeswarm` does: values are cut into `bins` bins of the x range and the dots of
/// a bin alternate above and below the line, so a dense bin grows into a wide swarm.
/// Deterministic: ties in a bin are taken in row order.
pub fn beeswarm_offsets(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<f64> {
    let width = (hi - lo).max(1e-12);
    let quant: Vec<usize> = values
        .iter()
        .map(|v| {
            (((v - lo) / width) * bins as f64)
                .round()
                .clamp(0.0, bins as f64) as usize
        })
        .collect();
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by_key(|&i| (quant[i], i));
    let mut ys = vec![0.0; values.len()];
    let (mut layer, mut last) = (0usize, usize::MAX);
    for &i in &order {
        if quant[i] != last {
            layer = 0;
            last = quant[i];
        }
        let side = if layer % 2 == 1 { 1.0 } else { -1.0 };
        ys[i] = layer.div_ceil(2) as f64 * side;
        layer += 1;
    }
    let widest = ys.iter().fold(0.0f64, |m, y| m.max(y.abs()));
    if widest > 0.0 {
        ys.iter_mut().for_each(|y| *y *= 0.45 / widest);
    }
    ys
}

/// Blue (low) through purple to red (high), the ramp `shap` colours feature values with.
fn low_high(t: f64) -> plotters::style::RGBColor {
    let t = t.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    plotters::style::RGBColor(lerp(0.0, 255.0), lerp(139.0, 0.0), lerp(251.0, 81.0))
}

/// The 5th and 95th percentiles of the finite values (min and max when those are equal): the
/// range a feature's colour ramp spans, so one outlier does not wash out the rest.
pub(super) fn colour_range(v: &[f64]) -> Option<(f64, f64)> {
    let mut f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if f.is_empty() {
        return None;
    }
    f.sort_by(f64::total_cmp);
    let at = |q: f64| f[((f.len() - 1) as f64 * q).round() as usize];
    let (a, b) = (at(0.05), at(0.95));
    Some(if b > a {
        (a, b)
    } else {
        (f[0], f[f.len() - 1])
    })
}

/// A beeswarm of the contributions (`shap.plots.beeswarm`): one line per feature, the `k`
/// features with the largest mean |contribution| from the top, a dot per row at its
/// contribution, coloured by the row's feature value from low (blue) to high (red); grey where
/// the value is missing. It shows what the mean |SHAP| bars hide: the direction, and whether a
/// feature matters for a few customers a lot or for many a little. `x` holds the rows' feature
/// values (the model's encoded matrix); more than [`BEESWARM_MAX_ROWS`] rows are thinned by a
/// stride.
pub fn beeswarm_chart(
    title: &str,
    names: &[String],
    c: &Contributions,
    x: &ArrayView2<f64>,
    k: usize,
) -> Result<Png> {
    use crate::charts::render::{render, FAMILY};
    use plotters::prelude::*;
    if names.len() != c.n_features || x.ncols() != c.n_features || x.nrows() != c.n_rows() {
        bail!(
            data,
            "beeswarm: {} names, {} contributions per row over {} rows, but a {}x{} matrix",
            names.len(),
            c.n_features,
            c.n_rows(),
            x.nrows(),
            x.ncols()
        );
    }
    ensure!(c.n_rows() != 0, data, "beeswarm: no rows to draw");
    let rows = beeswarm_rows(c.n_rows());
    let mean_abs = c.mean_abs();
    let mut order: Vec<usize> = (0..c.n_features).collect();
    order.sort_by(|&a, &b| mean_abs[b].total_cmp(&mean_abs[a]).then(a.cmp(&b)));
    order.truncate(k.max(1));
    // Bottom to top, so the most important feature is drawn on the top line.
    order.reverse();
    let values = |f: usize| -> Vec<f64> { rows.iter().map(|&r| c.row(r)[f]).collect() };
    let (lo, hi) = order.iter().fold((0.0f64, 0.0f64), |(lo, hi), &f| {
        values(f)
            .iter()
            .fold((lo, hi), |(lo, hi), v| (lo.min(*v), hi.max(*v)))
    });
    let pad = ((hi - lo) * 0.05).max(1e-3);
    let lines = order.len() as i32;
    let height = (140 + 46 * order.len() as u32).min(1600);
    render(860, height, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 20))
            .margin(16)
            .x_label_area_size(45)
            .y_label_area_size(190)
            .build_cartesian_2d(lo - pad..hi + pad, -0.5f64..lines as f64 - 0.5)?;
        let label = |y: &f64| {
            let i = y.round();
            if (y - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < order.len() {
                names[order[i as usize]].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .y_labels(order.len() + 1)
            .y_label_formatter(&label)
            .x_desc("Contribution to the churn score (dot colour: the feature's value, blue low, red high)")
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 14))
            .draw()?;
        chart.draw_series(std::iter::once(PathElement::new(
            [(0.0, -0.5), (0.0, lines as f64 - 0.5)],
            BLACK.mix(0.4),
        )))?;
        for (line, &f) in order.iter().enumerate() {
            let v = values(f);
            let ys = beeswarm_offsets(&v, lo, hi, 100);
            let fx: Vec<f64> = rows.iter().map(|&r| x[[r, f]]).collect();
            let range = colour_range(&fx);
            chart.draw_series(v.iter().zip(&ys).zip(&fx).map(|((&s, &dy), &xv)| {
                let colour = match range {
                    Some((a, b)) if xv.is_finite() => {
                        low_high(if b > a { (xv - a) / (b - a) } else { 0.5 })
                    }
                    _ => RGBColor(170, 170, 170),
                };
                Circle::new((s, line as f64 + dy), 2, colour.mix(0.8).filled())
            }))?;
        }
        Ok(())
    })
}
