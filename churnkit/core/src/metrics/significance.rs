//! Does a feature relate to churn? A chi-square test of independence for each categorical and a
//! Mann-Whitney U test for each numeric (churners against the others), with p-values and effect
//! sizes in one table. The numbers are scipy's (`chi2_contingency`, `mannwhitneyu` with the
//! asymptotic method), checked against it in `churnkit/core/tests/parity/significance.rs`.
//!
//! ```
//! use churnkit_core::significance::{chi_square, mann_whitney_u};
//! let t = chi_square(&[vec![30.0, 10.0], vec![10.0, 30.0]]).unwrap();
//! assert!(t.p_value < 1e-4 && t.dof == 1);
//! let m = mann_whitney_u(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], &[5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0]).unwrap();
//! assert!(m.p_value < 0.05 && m.effect_size < 0.0);
//! ```

use crate::data::schema::Schema;
use crate::data::table::Table;
use crate::error::Result;
#[cfg(test)]
use crate::stats::ln_gamma;
use crate::stats::{gamma_q, normal_sf};
use serde::Serialize;
use std::collections::BTreeMap;

/// A chi-square test of independence on a contingency table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChiSquare {
    /// The statistic (with Yates' continuity correction when `dof` is 1, as scipy's default).
    pub statistic: f64,
    /// Degrees of freedom, `(rows - 1) * (columns - 1)`.
    pub dof: usize,
    /// P(chi-square >= statistic) under independence.
    pub p_value: f64,
    /// Cramér's V from the uncorrected statistic: 0 none, 1 complete association.
    pub cramers_v: f64,
}

/// A two-sided Mann-Whitney U test of sample `a` against sample `b`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MannWhitney {
    /// U of `a` (the number of pairs where `a`'s value is larger, ties counting one half).
    pub u: f64,
    /// Two-sided p-value, normal approximation with tie and continuity correction.
    pub p_value: f64,
    /// Rank-biserial correlation `2U / (n_a n_b) - 1`: above 0 when `a` tends to be larger.
    pub effect_size: f64,
}

/// Chi-square test of a table of observed counts (rows x columns, at least 2 x 2 after rows
/// and columns with no count are dropped). `None` when there is nothing to test.
pub fn chi_square(observed: &[Vec<f64>]) -> Option<ChiSquare> {
    let rows: Vec<&Vec<f64>> = observed
        .iter()
        .filter(|r| r.iter().sum::<f64>() > 0.0)
        .collect();
    let n_cols = rows.first()?.len();
    let keep: Vec<usize> = (0..n_cols)
        .filter(|&j| rows.iter().map(|r| r[j]).sum::<f64>() > 0.0)
        .collect();
    if rows.len() < 2 || keep.len() < 2 {
        return None;
    }
    let row_sums: Vec<f64> = rows
        .iter()
        .map(|r| keep.iter().map(|&j| r[j]).sum())
        .collect();
    let col_sums: Vec<f64> = keep
        .iter()
        .map(|&j| rows.iter().map(|r| r[j]).sum())
        .collect();
    let n: f64 = row_sums.iter().sum();
    let dof = (rows.len() - 1) * (keep.len() - 1);
    let (mut plain, mut corrected) = (0.0, 0.0);
    for (i, r) in rows.iter().enumerate() {
        for (k, &j) in keep.iter().enumerate() {
            let e = row_sums[i] * col_sums[k] / n;
            let d = r[j] - e;
            plain += d * d / e;
            // Yates: move each observed count 0.5 towards its expectation, never past it.
            let y = (d.abs() - 0.5).max(0.0);
            corrected += y * y / e;
        }
    }
    let statistic = if dof == 1 { corrected } else { plain };
    let k = rows.len().min(keep.len()) as f64 - 1.0;
    Some(ChiSquare {
        statistic,
        dof,
        p_value: gamma_q(dof as f64 / 2.0, statistic / 2.0),
        cramers_v: (plain / (n * k)).sqrt(),
    })
}

/// Mann-Whitney U test of `a` against `b` (NaN values ignored). `None` when either is empty.
pub fn mann_whitney_u(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    let a: Vec<f64> = a.iter().copied().filter(|v| !v.is_nan()).collect();
    let b: Vec<f64> = b.iter().copied().filter(|v| !v.is_nan()).collect();
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&v| (v, true))
        .chain(b.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    // Midranks; the tie term sum(t^3 - t) corrects the variance.
    let (mut rank_sum_a, mut ties) = (0.0, 0.0);
    let mut i = 0;
    while i < all.len() {
        let mut j = i + 1;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let t = (j - i) as f64;
        let mid = (i + j + 1) as f64 / 2.0;
        rank_sum_a += mid * all[i..j].iter().filter(|x| x.1).count() as f64;
        ties += t * t * t - t;
        i = j;
    }
    let u = rank_sum_a - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let mean = n1 * n2 / 2.0;
    let var = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    let p_value = if var > 0.0 {
        // scipy: z from the larger of U and n1 n2 - U, less 0.5 (continuity), p = 2 P(Z >= z).
        let big = u.max(n1 * n2 - u);
        let z = (big - mean - 0.5) / var.sqrt();
        (2.0 * normal_sf(z)).min(1.0)
    } else {
        1.0
    };
    Some(MannWhitney {
        u,
        p_value,
        effect_size: 2.0 * u / (n1 * n2) - 1.0,
    })
}

/// One feature's test against churn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureTest {
    /// The column.
    pub feature: String,
    /// `"chi-square"` for a categorical, `"mann-whitney-u"` for a numeric.
    pub test: &'static str,
    /// The test statistic (chi-square, or U of the churners).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Cramér's V, or the rank-biserial correlation (above 0: churners have larger values).
    pub effect_size: f64,
    /// `"cramers_v"` or `"rank_biserial"`.
    pub effect: &'static str,
    /// Rows with a value (missing values are left out).
    pub rows: usize,
}

/// Test every feature of `schema` against the target, on the table's rows: categoricals by
/// chi-square (missing values left out), numerics by Mann-Whitney U of churners against the
/// others (missing and impossible values left out). Sorted by p-value, smallest first.
pub fn feature_tests(table: &Table, schema: &Schema) -> Result<Vec<FeatureTest>> {
    let target = schema.cells(table, &schema.target)?;
    let churned: Vec<Option<bool>> = target
        .iter()
        .map(|c| c.map(|v| v == schema.positive))
        .collect();
    let mut out = Vec::new();
    for name in &schema.categorical {
        let cells = schema.cells(table, name)?;
        let mut counts: BTreeMap<&str, [f64; 2]> = BTreeMap::new();
        for (c, y) in cells.iter().zip(&churned) {
            if let (Some(c), Some(y)) = (c, y) {
                counts.entry(c).or_default()[usize::from(*y)] += 1.0;
            }
        }
        let observed: Vec<Vec<f64>> = counts.values().map(|r| r.to_vec()).collect();
        if let Some(t) = chi_square(&observed) {
            out.push(FeatureTest {
                feature: name.clone(),
                test: "chi-square",
                statistic: t.statistic,
                p_value: t.p_value,
                effect_size: t.cramers_v,
                effect: "cramers_v",
                rows: observed.iter().flatten().sum::<f64>() as usize,
            });
        }
    }
    for name in &schema.numeric {
        let values = schema.numeric_cells(table, name)?;
        let range = schema.valid_ranges.get(name);
        let (mut yes, mut no) = (Vec::new(), Vec::new());
        for (v, y) in values.iter().zip(&churned) {
            if let (Some(v), Some(y)) = (v, y) {
                if range.is_none_or(|r| r.contains(*v)) {
                    if *y {
                        yes.push(*v)
                    } else {
                        no.push(*v)
                    }
                }
            }
        }
        if let Some(t) = mann_whitney_u(&yes, &no) {
            out.push(FeatureTest {
                feature: name.clone(),
                test: "mann-whitney-u",
                statistic: t.u,
                p_value: t.p_value,
                effect_size: t.effect_size,
                effect: "rank_biserial",
                rows: yes.len() + no.len(),
            });
        }
    }
    out.sort_by(|a, b| a.p_value.total_cmp(&b.p_value));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_functions_match_known_values() {
        // erfc(1)/2 = 0.15865525393145707; chi-square sf(3.841458820694124, 1) = 0.05.
        assert!((normal_sf(1.0) - 0.158_655_253_931_457_07).abs() < 1e-15);
        assert!((normal_sf(-1.0) - 0.841_344_746_068_542_9).abs() < 1e-15);
        assert!((gamma_q(0.5, 3.841_458_820_694_124 / 2.0) - 0.05).abs() < 1e-14);
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn degenerate_inputs_have_no_test() {
        assert!(chi_square(&[vec![5.0, 5.0]]).is_none());
        assert!(chi_square(&[vec![5.0, 0.0], vec![3.0, 0.0]]).is_none());
        assert!(mann_whitney_u(&[], &[1.0]).is_none());
        let same = mann_whitney_u(&[2.0, 2.0], &[2.0, 2.0]).unwrap();
        assert_eq!((same.p_value, same.effect_size), (1.0, 0.0));
    }
}
