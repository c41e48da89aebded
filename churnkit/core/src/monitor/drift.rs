//! Feature drift between a reference sample and a current batch, per feature: a two-sample
//! test (Kolmogorov-Smirnov for numbers, chi-square for categories), the population stability
//! index, missing and unseen shares, and a verdict.
//!
//! The verdict rule: a feature has drifted when its test is significant after Bonferroni's
//! correction over the features (p < alpha / features) **and** its PSI is at least
//! `psi_threshold` (0.1 by default: a moderate shift). The second half matters on large batches,
//! where a p-value flags shifts too small to act on.

use crate::ensure;
use crate::error::Result;
use crate::metrics::significance::chi_square;
use serde::Serialize;

/// Drift settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DriftOptions {
    /// Family-wise significance level, split over the features (Bonferroni). Default 0.05.
    pub alpha: f64,
    /// The PSI a significant feature must also reach to count as drifted. Default 0.1.
    pub psi_threshold: f64,
    /// Quantile bins of the reference for a numeric PSI. Default 10.
    pub bins: usize,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions {
            alpha: 0.05,
            psi_threshold: 0.1,
            bins: 10,
        }
    }
}

/// One feature's drift.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureDrift {
    /// The feature.
    pub feature: String,
    /// `numeric` or `categorical`.
    pub kind: &'static str,
    /// `ks` or `chi-square`.
    pub test: &'static str,
    /// The test statistic (KS distance D, or chi-square).
    pub statistic: f64,
    /// Its p-value.
    pub p_value: f64,
    /// Population stability index of current against reference.
    pub psi: f64,
    /// Share of missing values in the reference.
    pub missing_reference: f64,
    /// Share of missing values in the current batch (unseen categories count here).
    pub missing_current: f64,
    /// The verdict (see the module's rule).
    pub drifted: bool,
}

/// Drift of every feature, the rule that decided it, and how many drifted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    /// Per feature, in input order.
    pub features: Vec<FeatureDrift>,
    /// The settings.
    pub options: DriftOptions,
    /// alpha / features: the p-value a feature must beat.
    pub p_threshold: f64,
    /// The rule, in words.
    pub rule: String,
    /// Features that drifted.
    pub drifted: usize,
    /// Reference rows.
    pub reference_rows: usize,
    /// Current rows.
    pub current_rows: usize,
}

/// The two-sample Kolmogorov-Smirnov test (two-sided): the largest distance D between the two
/// empirical distribution functions, and its p-value from the Kolmogorov distribution with
/// Stephens' small-sample correction (scipy's `ks_2samp` uses the exact finite-n distribution;
/// the two agree to about 0.01 from a few dozen rows on). NaN values are left out.
///
/// ```
/// use churnkit_core::monitor::ks_2samp;
/// let (d, p) = ks_2samp(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(d, 0.0);
/// assert_eq!(p, 1.0);
/// ```
pub fn ks_2samp(a: &[f64], b: &[f64]) -> (f64, f64) {
    let sorted = |v: &[f64]| {
        let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
        s.sort_by(f64::total_cmp);
        s
    };
    let (a, b) = (sorted(a), sorted(b));
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 {
        return (f64::NAN, f64::NAN);
    }
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < n1 && j < n2 {
        let x = a[i].min(b[j]);
        while i < n1 && a[i] == x {
            i += 1;
        }
        while j < n2 && b[j] == x {
            j += 1;
        }
        d = d.max((i as f64 / n1 as f64 - j as f64 / n2 as f64).abs());
    }
    let en = (n1 as f64 * n2 as f64 / (n1 + n2) as f64).sqrt();
    (d, kolmogorov_sf((en + 0.12 + 0.11 / en) * d))
}

/// P(K > lambda) for the Kolmogorov distribution: 2 sum_{j>=1} (-1)^(j-1) exp(-2 j^2 lambda^2).
fn kolmogorov_sf(lambda: f64) -> f64 {
    if lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    let mut sign = 1.0;
    for j in 1..=100 {
        let term = (-2.0 * (j * j) as f64 * lambda * lambda).exp();
        sum += sign * term;
        if term < 1e-17 {
            break;
        }
        sign = -sign;
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// Shares with a floor, so an empty bin on one side gives a large but finite PSI.
const PSI_FLOOR: f64 = 1e-4;

fn psi_from_counts(reference: &[f64], current: &[f64]) -> f64 {
    let (nr, nc): (f64, f64) = (reference.iter().sum(), current.iter().sum());
    if nr == 0.0 || nc == 0.0 {
        return f64::NAN;
    }
    reference
        .iter()
        .zip(current)
        .map(|(r, c)| {
            let (r, c) = ((r / nr).max(PSI_FLOOR), (c / nc).max(PSI_FLOOR));
            (c - r) * (c / r).ln()
        })
        .sum()
}

/// The population stability index of a numeric feature: the reference's quantile bins (at most
/// `bins`, fewer when values repeat), plus one bin for missing values;
/// PSI = sum over bins of (current share - reference share) x ln(current share / reference share).
///
/// ```
/// use churnkit_core::monitor::psi;
/// let r: Vec<f64> = (0..1000).map(|i| i as f64).collect();
/// assert!(psi(&r, &r, 10) < 1e-12);
/// let shifted: Vec<f64> = r.iter().map(|x| x + 300.0).collect();
/// assert!(psi(&r, &shifted, 10) > 0.5);
/// ```
pub fn psi(reference: &[f64], current: &[f64], bins: usize) -> f64 {
    let mut present: Vec<f64> = reference.iter().copied().filter(|x| !x.is_nan()).collect();
    present.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..bins.max(1))
        .filter_map(|k| crate::stats::quantile(&present, k as f64 / bins as f64))
        .collect();
    edges.dedup();
    let count = |v: &[f64]| {
        let mut c = vec![0.0; edges.len() + 2];
        for &x in v {
            let slot = if x.is_nan() {
                edges.len() + 1
            } else {
                edges.partition_point(|&e| e < x)
            };
            c[slot] += 1.0;
        }
        c
    };
    psi_from_counts(&count(reference), &count(current))
}

fn missing_share(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.iter().filter(|x| x.is_nan()).count() as f64 / v.len() as f64
}

/// Counts per category code (0..levels) and missing, for a categorical feature.
fn category_counts(v: &[f64], levels: usize) -> Vec<f64> {
    let mut c = vec![0.0; levels + 1];
    for &x in v {
        let slot = if x.is_nan() || x < 0.0 || x as usize >= levels {
            levels
        } else {
            x as usize
        };
        c[slot] += 1.0;
    }
    c
}

/// Drift of every feature: `reference[j]` and `current[j]` are feature `names[j]`'s values;
/// `levels[j]` is `Some(number of categories)` for a categorical feature (values are codes),
/// `None` for a numeric one.
pub fn drift(
    names: &[String],
    levels: &[Option<usize>],
    reference: &[Vec<f64>],
    current: &[Vec<f64>],
    options: DriftOptions,
) -> Result<DriftReport> {
    ensure!(
        names.len() == reference.len()
            && names.len() == current.len()
            && names.len() == levels.len(),
        data,
        "{} feature names for {} reference and {} current columns",
        names.len(),
        reference.len(),
        current.len()
    );
    ensure!(!names.is_empty(), data, "no features to compare");
    if options.alpha.is_nan() || options.alpha <= 0.0 || options.alpha >= 1.0 {
        crate::bail!(
            params,
            "alpha must be between 0 and 1, got {}",
            options.alpha
        );
    }
    let (reference_rows, current_rows) = (reference[0].len(), current[0].len());
    ensure!(
        reference_rows > 0 && current_rows > 0,
        data,
        "the reference has {reference_rows} rows and the current batch {current_rows}: both need some"
    );
    let p_threshold = options.alpha / names.len() as f64;
    let mut features = Vec::with_capacity(names.len());
    for j in 0..names.len() {
        let (r, c) = (&reference[j], &current[j]);
        let (kind, test, statistic, p_value, psi_value) = match levels[j] {
            None => {
                let (d, p) = ks_2samp(r, c);
                ("numeric", "ks", d, p, psi(r, c, options.bins))
            }
            Some(k) => {
                let (rc, cc) = (category_counts(r, k), category_counts(c, k));
                let (stat, p) = chi_square(&[rc.clone(), cc.clone()])
                    .map_or((0.0, 1.0), |t| (t.statistic, t.p_value));
                (
                    "categorical",
                    "chi-square",
                    stat,
                    p,
                    psi_from_counts(&rc, &cc),
                )
            }
        };
        let drifted = p_value < p_threshold && psi_value >= options.psi_threshold;
        features.push(FeatureDrift {
            feature: names[j].clone(),
            kind,
            test,
            statistic,
            p_value,
            psi: psi_value,
            missing_reference: missing_share(r),
            missing_current: missing_share(c),
            drifted,
        });
    }
    let drifted = features.iter().filter(|f| f.drifted).count();
    Ok(DriftReport {
        rule: format!(
            "drifted when p < {} / {} features = {p_threshold:.3e} (Bonferroni) and PSI >= {}",
            options.alpha,
            names.len(),
            options.psi_threshold
        ),
        features,
        options,
        p_threshold,
        drifted,
        reference_rows,
        current_rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ks_matches_scipy() {
        // scipy.stats.ks_2samp([1,2,3,4,5,6,7,8], [3,4,5,6,7,8,9,10,11]): D = 1/3, p = 0.576 (exact)
        let a: Vec<f64> = (1..=8).map(f64::from).collect();
        let b: Vec<f64> = (3..=11).map(f64::from).collect();
        let (d, p) = ks_2samp(&a, &b);
        assert!((d - 1.0 / 3.0).abs() < 1e-15);
        assert!(p > 0.3 && p < 0.8, "{p}");
    }

    #[test]
    fn psi_by_hand() {
        // Two categories and missing: reference 50/50/0, current 80/20/0.
        let r = [50.0, 50.0, 0.0];
        let c = [80.0, 20.0, 0.0];
        let hand = (0.8 - 0.5) * (0.8f64 / 0.5).ln() + (0.2 - 0.5) * (0.2f64 / 0.5).ln();
        assert!((psi_from_counts(&r, &c) - hand).abs() < 1e-12);
    }
}
