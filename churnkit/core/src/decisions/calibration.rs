//! Whether the probabilities mean what they say, and how to make them.
//!
//! A forest's scores rank customers well but are not probabilities: its leaves average
//! bootstrap samples, which pulls scores towards the middle. A retention team that multiplies a
//! probability by a customer's value needs calibrated numbers. This module measures calibration
//! as scikit-learn does (`calibration_curve` with uniform bins, `brier_score_loss`) plus the
//! expected calibration error, and fits isotonic or Platt (sigmoid) calibration maps, as
//! `CalibratedClassifierCV` does, to be fitted on out-of-bag scores (never on the test rows).

use crate::charts::render::{draw_legend, render, segments, unit_chart, Png, CLASS_COLOURS};
use crate::error::{Error, Result};
use crate::{bail, ensure};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

/// The reliability curve: per non-empty bin of predicted probability, the mean prediction and
/// the observed share of churners.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityCurve {
    /// Mean predicted probability per non-empty bin (scikit-learn's `prob_pred`).
    pub mean_predicted: Vec<f64>,
    /// Share of positives per non-empty bin (`prob_true`).
    pub observed: Vec<f64>,
    /// Rows per non-empty bin.
    pub counts: Vec<usize>,
}

/// The bin of `p` among `bins` equal-width bins of [0, 1], as scikit-learn assigns it
/// (`np.searchsorted(edges[1:-1], p)`: a value on an inner edge goes to the lower bin).
fn bin_of(p: f64, bins: usize) -> usize {
    // np.linspace(0, 1, bins + 1) computes the edges as i * (1 / bins).
    let step = 1.0 / bins as f64;
    (1..bins).take_while(|&i| (i as f64 * step) < p).count()
}

fn check(y: &[u8], p: &[f64]) -> Result<()> {
    ensure!(
        y.len() == p.len(),
        data,
        "calibration: {} labels but {} probabilities",
        y.len(),
        p.len()
    );
    ensure!(!y.is_empty(), data, "calibration: no rows");
    if let Some(i) = p.iter().position(|v| !(0.0..=1.0).contains(v)) {
        bail!(
            data,
            "calibration: probability {} at row {i} is outside [0, 1]",
            p[i]
        );
    }
    Ok(())
}

/// The reliability curve over `bins` equal-width bins (scikit-learn's
/// `calibration_curve(y, p, n_bins=bins, strategy="uniform")`).
///
/// ```
/// use churnkit_core::calibration::reliability_curve;
/// let c = reliability_curve(&[0, 0, 1, 1], &[0.1, 0.2, 0.8, 0.9], 2).unwrap();
/// assert_eq!(c.observed, vec![0.0, 1.0]);
/// ```
pub fn reliability_curve(y: &[u8], p: &[f64], bins: usize) -> Result<ReliabilityCurve> {
    check(y, p)?;
    ensure!(bins != 0, params, "calibration: bins must be at least 1");
    let (mut sum, mut pos, mut n) = (vec![0.0; bins], vec![0.0; bins], vec![0usize; bins]);
    for (&yi, &pi) in y.iter().zip(p) {
        let b = bin_of(pi, bins);
        sum[b] += pi;
        pos[b] += f64::from(yi);
        n[b] += 1;
    }
    let mut c = ReliabilityCurve {
        mean_predicted: vec![],
        observed: vec![],
        counts: vec![],
    };
    for b in (0..bins).filter(|&b| n[b] > 0) {
        c.mean_predicted.push(sum[b] / n[b] as f64);
        c.observed.push(pos[b] / n[b] as f64);
        c.counts.push(n[b]);
    }
    Ok(c)
}

/// The Brier score: mean squared difference between probability and outcome (0 is perfect).
pub fn brier_score(y: &[u8], p: &[f64]) -> Result<f64> {
    check(y, p)?;
    Ok(y.iter()
        .zip(p)
        .map(|(&a, &b)| (b - f64::from(a)).powi(2))
        .sum::<f64>()
        / y.len() as f64)
}

/// The expected calibration error: the row-weighted mean gap between predicted and observed
/// churn over `bins` equal-width bins.
pub fn expected_calibration_error(y: &[u8], p: &[f64], bins: usize) -> Result<f64> {
    let c = reliability_curve(y, p, bins)?;
    let total = y.len() as f64;
    Ok(c.mean_predicted
        .iter()
        .zip(&c.observed)
        .zip(&c.counts)
        .map(|((m, o), &k)| k as f64 / total * (m - o).abs())
        .sum())
}

/// How well a set of probabilities is calibrated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationReport {
    /// Brier score.
    pub brier: f64,
    /// Expected calibration error over `bins` bins.
    pub ece: f64,
    /// Bins of the curve and the ECE.
    pub bins: usize,
    /// The reliability curve.
    pub curve: ReliabilityCurve,
}

impl CalibrationReport {
    /// Measure `p` against `y` over `bins` equal-width bins (10 is customary).
    pub fn new(y: &[u8], p: &[f64], bins: usize) -> Result<Self> {
        Ok(CalibrationReport {
            brier: brier_score(y, p)?,
            ece: expected_calibration_error(y, p, bins)?,
            bins,
            curve: reliability_curve(y, p, bins)?,
        })
    }

    /// The reliability chart: observed churn against predicted probability, with the diagonal
    /// of perfect calibration, and a second curve (e.g. after calibration) if given.
    pub fn chart(&self, other: Option<(&str, &CalibrationReport)>, label: &str) -> Result<Png> {
        render(640, 560, |root| {
            let mut chart = unit_chart(
                &root,
                "Reliability (calibration) curve",
                "Mean predicted probability",
                "Observed churn rate",
                false,
            )?;
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, 0.0), (1.0, 1.0)],
                    8,
                    6,
                    BLACK.mix(0.6).stroke_width(2),
                ))?
                .label("Perfectly calibrated")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], BLACK.mix(0.6).stroke_width(2))
                });
            let series = std::iter::once((label, self, CLASS_COLOURS[0]))
                .chain(other.map(|(l, r)| (l, r, CLASS_COLOURS[1])));
            for (name, r, colour) in series {
                let pts: Vec<(f64, f64)> = r
                    .curve
                    .mean_predicted
                    .iter()
                    .copied()
                    .zip(r.curve.observed.iter().copied())
                    .collect();
                chart
                    .draw_series(segments(pts.clone(), colour.stroke_width(3)))?
                    .label(format!("{name} (Brier {:.3}, ECE {:.3})", r.brier, r.ece))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(3))
                    });
                chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, colour.filled())))?;
            }
            draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 15)?;
            Ok(())
        })
    }
}

/// Which calibration map to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    /// A non-decreasing step map (pool-adjacent-violators), interpolated linearly between its
    /// points: flexible, needs a few thousand rows.
    Isotonic,
    /// Platt scaling: a logistic curve in the score, two parameters: for small tables.
    Platt,
}

impl std::str::FromStr for CalibrationMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "isotonic" => Ok(Self::Isotonic),
            "platt" | "sigmoid" => Ok(Self::Platt),
            _ => Err(Error::params(format!(
                "calibration method `{s}`: expected isotonic or platt"
            ))),
        }
    }
}

/// A fitted calibration map from a model's score to a probability. Stored in the model file and
/// applied by predict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibrator {
    /// Isotonic: scores `x` (increasing) map to `y` (non-decreasing), linear in between, clipped
    /// outside.
    Isotonic {
        /// Breakpoints of the score.
        x: Vec<f64>,
        /// Probability at each breakpoint.
        y: Vec<f64>,
    },
    /// Platt: `1 / (1 + exp(a * score + b))`.
    Platt {
        /// Slope (negative when higher scores mean more churn).
        a: f64,
        /// Intercept.
        b: f64,
    },
}

impl Calibrator {
    /// Fit a map from `scores` to the 0/1 outcomes `y`.
    ///
    /// ```
    /// use churnkit_core::calibration::{Calibrator, CalibrationMethod};
    /// let c = Calibrator::fit(CalibrationMethod::Isotonic, &[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]).unwrap();
    /// assert_eq!(c.apply(0.375), 0.5); // 0.35 and 0.4 pool to 0.5
    /// ```
    pub fn fit(method: CalibrationMethod, scores: &[f64], y: &[u8]) -> Result<Self> {
        check(y, scores)?;
        let pos = y.iter().filter(|&&v| v == 1).count();
        if pos == 0 || pos == y.len() {
            bail!(data, "calibration needs both churners and non-churners",);
        }
        Ok(match method {
            CalibrationMethod::Isotonic => isotonic(scores, y),
            CalibrationMethod::Platt => platt(scores, y),
        })
    }

    /// The calibrated probability of a score.
    pub fn apply(&self, score: f64) -> f64 {
        match self {
            Calibrator::Isotonic { x, y } => {
                if score.is_nan() {
                    return score;
                }
                if score <= x[0] {
                    return y[0];
                }
                if score >= x[x.len() - 1] {
                    return y[y.len() - 1];
                }
                // np.interp: the segment with x[k-1] <= score < x[k].
                let k = x.partition_point(|&v| v <= score);
                let (x0, x1, y0, y1) = (x[k - 1], x[k], y[k - 1], y[k]);
                y0 + (y1 - y0) * (score - x0) / (x1 - x0)
            }
            Calibrator::Platt { a, b } => sigmoid(-(a * score + b)),
        }
    }

    /// Calibrate many scores.
    pub fn apply_all(&self, scores: &[f64]) -> Vec<f64> {
        scores.iter().map(|&s| self.apply(s)).collect()
    }

    /// The method of this map.
    pub fn method(&self) -> CalibrationMethod {
        match self {
            Calibrator::Isotonic { .. } => CalibrationMethod::Isotonic,
            Calibrator::Platt { .. } => CalibrationMethod::Platt,
        }
    }

    /// Structural checks for a map read from a file.
    pub fn validate(&self) -> Result<()> {
        match self {
            Calibrator::Isotonic { x, y } => {
                let ok = !x.is_empty()
                    && x.len() == y.len()
                    && x.windows(2).all(|w| w[0] < w[1])
                    && y.windows(2).all(|w| w[0] <= w[1])
                    && y.iter().all(|v| (0.0..=1.0).contains(v));
                ensure!(
                    ok,
                    model,
                    "the isotonic calibration map is not increasing within [0, 1]",
                );
            }
            Calibrator::Platt { a, b } => {
                if !a.is_finite() || !b.is_finite() {
                    bail!(model, "the Platt calibration has a non-finite parameter",);
                }
            }
        }
        Ok(())
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// scikit-learn's `IsotonicRegression(out_of_bounds="clip")`: average outcomes over equal
/// scores, pool adjacent violators (weighted by rows), drop interior points equal to both
/// neighbours.
fn isotonic(scores: &[f64], y: &[u8]) -> Calibrator {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // (score, mean outcome, weight) per distinct score.
    let mut xs: Vec<f64> = Vec::new();
    let mut blocks: Vec<(f64, f64)> = Vec::new(); // (sum of outcomes, weight)
    for &i in &order {
        if xs.last() == Some(&scores[i]) {
            let b = blocks.last_mut().expect("a block per score");
            b.0 += f64::from(y[i]);
            b.1 += 1.0;
        } else {
            xs.push(scores[i]);
            blocks.push((f64::from(y[i]), 1.0));
        }
    }
    // Pool adjacent violators; each pooled block remembers how many distinct scores it covers.
    let mut pooled: Vec<(f64, f64, usize)> = Vec::with_capacity(blocks.len());
    for &(s, w) in &blocks {
        pooled.push((s, w, 1));
        while pooled.len() > 1 {
            let (s1, w1, k1) = pooled[pooled.len() - 1];
            let (s0, w0, k0) = pooled[pooled.len() - 2];
            if s0 / w0 > s1 / w1 {
                pooled.pop();
                *pooled.last_mut().expect("two blocks") = (s0 + s1, w0 + w1, k0 + k1);
            } else {
                break;
            }
        }
    }
    let mut ys = Vec::with_capacity(xs.len());
    for (s, w, k) in pooled {
        ys.extend(std::iter::repeat_n(s / w, k));
    }
    let n = xs.len();
    let keep: Vec<bool> = (0..n)
        .map(|i| i == 0 || i + 1 == n || ys[i] != ys[i - 1] || ys[i] != ys[i + 1])
        .collect();
    let x = (0..n).filter(|&i| keep[i]).map(|i| xs[i]).collect();
    let y = (0..n).filter(|&i| keep[i]).map(|i| ys[i]).collect();
    Calibrator::Isotonic { x, y }
}

/// Platt scaling as scikit-learn fits it (`_sigmoid_calibration`): smoothed targets
/// (N+ + 1)/(N+ + 2) and 1/(N- + 2), log loss minimised, here by Newton's method with
/// backtracking (Lin, Lin & Weng 2007), to the same optimum scikit-learn's L-BFGS approaches.
fn platt(f: &[f64], y: &[u8]) -> Calibrator {
    let prior1 = y.iter().filter(|&&v| v == 1).count() as f64;
    let prior0 = y.len() as f64 - prior1;
    let hi = (prior1 + 1.0) / (prior1 + 2.0);
    let lo = 1.0 / (prior0 + 2.0);
    let t: Vec<f64> = y.iter().map(|&v| if v == 1 { hi } else { lo }).collect();
    // loss = sum t*softplus(z) + (1-t)*softplus(-z), z = a*f + b.
    let softplus = |z: f64| {
        if z > 0.0 {
            z + (-z).exp().ln_1p()
        } else {
            z.exp().ln_1p()
        }
    };
    let loss = |a: f64, b: f64| -> f64 {
        f.iter()
            .zip(&t)
            .map(|(&fi, &ti)| {
                let z = a * fi + b;
                ti * softplus(z) + (1.0 - ti) * softplus(-z)
            })
            .sum()
    };
    let (mut a, mut b) = (0.0, ((prior0 + 1.0) / (prior1 + 1.0)).ln());
    let mut current = loss(a, b);
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-12, 0.0, 1e-12);
        for (&fi, &ti) in f.iter().zip(&t) {
            let p = sigmoid(-(a * fi + b));
            let d = ti - p;
            ga += fi * d;
            gb += d;
            let h = p * (1.0 - p);
            haa += fi * fi * h;
            hab += fi * h;
            hbb += h;
        }
        if ga.abs() < 1e-10 && gb.abs() < 1e-10 {
            break;
        }
        let det = haa * hbb - hab * hab;
        let da = -(hbb * ga - hab * gb) / det;
        let db = -(-hab * ga + haa * gb) / det;
        let mut step = 1.0;
        let mut moved = false;
        while step >= 1e-10 {
            let (na, nb) = (a + step * da, b + step * db);
            let l = loss(na, nb);
            if l < current + 1e-4 * step * (ga * da + gb * db) {
                (a, b, current) = (na, nb, l);
                moved = true;
                break;
            }
            step /= 2.0;
        }
        if !moved {
            break;
        }
    }
    Calibrator::Platt { a, b }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_follow_scikit_learn_edges() {
        assert_eq!(bin_of(0.0, 10), 0);
        assert_eq!(bin_of(0.1, 10), 0, "an inner edge goes to the lower bin");
        assert_eq!(bin_of(0.1000001, 10), 1);
        assert_eq!(bin_of(1.0, 10), 9);
        assert_eq!(bin_of(0.5, 1), 0);
    }

    #[test]
    fn a_perfectly_calibrated_set_has_no_gap() {
        // 10 rows at 0.3 with 3 churners, 10 at 0.7 with 7.
        let mut y = vec![1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
        y.extend([1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
        let p: Vec<f64> = (0..20).map(|i| if i < 10 { 0.3 } else { 0.7 }).collect();
        let r = CalibrationReport::new(&y, &p, 10).unwrap();
        assert!(r.ece.abs() < 1e-12);
        assert!((r.brier - 0.21).abs() < 1e-12);
        assert_eq!(r.curve.counts, vec![10, 10]);
    }

    #[test]
    fn isotonic_is_monotone_and_fits_pooled_means() {
        let s = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
        let y = [0, 1, 0, 0, 1, 1];
        let c = Calibrator::fit(CalibrationMethod::Isotonic, &s, &y).unwrap();
        c.validate().unwrap();
        // 0.2..0.4 pool to 1/3.
        assert_eq!(c.apply(0.3), 1.0 / 3.0);
        assert_eq!(c.apply(0.0), 0.0);
        assert_eq!(c.apply(0.9), 1.0);
        let out = c.apply_all(&[0.05, 0.15, 0.25, 0.45, 0.55, 0.95]);
        assert!(out.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn platt_reaches_the_optimum() {
        let s: Vec<f64> = (0..200).map(|i| i as f64 / 199.0).collect();
        let y: Vec<u8> = (0..200).map(|i| u8::from((i * 7919) % 200 < i)).collect();
        let Calibrator::Platt { a, b } = Calibrator::fit(CalibrationMethod::Platt, &s, &y).unwrap()
        else {
            panic!("platt")
        };
        assert!(a < 0.0, "higher scores, more churn: a = {a}");
        // At the optimum the gradient vanishes: moving either parameter raises the loss.
        // The loss on Platt's smoothed targets, computed directly.
        let n1 = y.iter().filter(|&&v| v == 1).count() as f64;
        let n0 = y.len() as f64 - n1;
        let c = |a: f64, b: f64| {
            let cal = Calibrator::Platt { a, b };
            s.iter()
                .zip(&y)
                .map(|(&si, &yi)| {
                    let p = cal.apply(si);
                    let t = if yi == 1 {
                        (n1 + 1.0) / (n1 + 2.0)
                    } else {
                        1.0 / (n0 + 2.0)
                    };
                    -t * p.ln() - (1.0 - t) * (1.0 - p).ln()
                })
                .sum::<f64>()
        };
        let base = c(a, b);
        for (da, db) in [(1e-3, 0.0), (-1e-3, 0.0), (0.0, 1e-3), (0.0, -1e-3)] {
            assert!(c(a + da, b + db) > base - 1e-6);
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(brier_score(&[0, 1], &[0.5]).is_err());
        assert!(reliability_curve(&[0], &[1.5], 10).is_err());
        assert!(Calibrator::fit(CalibrationMethod::Isotonic, &[0.1, 0.2], &[1, 1]).is_err());
        assert!("nope".parse::<CalibrationMethod>().is_err());
        let bad = Calibrator::Isotonic {
            x: vec![0.2, 0.1],
            y: vec![0.0, 1.0],
        };
        assert!(bad.validate().is_err());
    }
}
