//! The log-rank test: do two or more groups of customers leave at the same rate over time?

use super::check_times;
use super::linalg::pseudo_inverse;
use crate::ensure;
use crate::error::Result;
use crate::stats::chi2_sf;
use serde::Serialize;

/// The log-rank test's result, as `lifelines.statistics.multivariate_logrank_test` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogRank {
    /// The chi-square statistic.
    pub statistic: f64,
    /// Degrees of freedom: groups - 1.
    pub df: usize,
    /// P-value under "every group has the same hazard".
    pub p_value: f64,
    /// Per group: rows, observed and expected events.
    pub groups: Vec<GroupEvents>,
}

/// One group's observed and expected events under the null hypothesis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupEvents {
    /// The group's name.
    pub group: String,
    /// Rows in the group.
    pub rows: usize,
    /// Events observed.
    pub observed: f64,
    /// Events expected if every group had the same hazard.
    pub expected: f64,
}

/// Runs the log-rank test. `groups[i]` is row `i`'s group index into `names`.
///
/// ```
/// use churnkit_core::survival::logrank;
/// let t = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
/// let e = [true; 8];
/// // The first four leave early, the last four late: a clear difference.
/// let r = logrank(&t, &e, &[0, 0, 0, 0, 1, 1, 1, 1], &["early", "late"]).unwrap();
/// assert_eq!(r.df, 1);
/// assert!(r.p_value < 0.01);
/// ```
pub fn logrank(
    durations: &[f64],
    events: &[bool],
    groups: &[usize],
    names: &[&str],
) -> Result<LogRank> {
    check_times(durations, events, "duration")?;
    let k = names.len();
    ensure!(
        groups.len() == durations.len(),
        data,
        "{} group labels for {} rows",
        groups.len(),
        durations.len()
    );
    ensure!(
        k >= 2,
        data,
        "the log-rank test needs at least two groups, got {k}"
    );
    let mut rows = vec![0usize; k];
    for &g in groups {
        ensure!(g < k, data, "group index {g} but only {k} groups are named");
        rows[g] += 1;
    }
    if let Some(g) = rows.iter().position(|&r| r == 0) {
        crate::bail!(data, "group '{}' has no rows", names[g]);
    }
    let mut order: Vec<u32> = (0..durations.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| durations[a as usize].total_cmp(&durations[b as usize]));

    let mut at_risk: Vec<f64> = rows.iter().map(|&r| r as f64).collect();
    let mut observed = vec![0.0; k];
    let mut expected = vec![0.0; k];
    let mut v = vec![vec![0.0; k]; k];
    let (mut removed, mut died) = (vec![0.0; k], vec![0.0; k]);
    let mut i = 0;
    while i < order.len() {
        let t = durations[order[i] as usize];
        removed.iter_mut().for_each(|x| *x = 0.0);
        died.iter_mut().for_each(|x| *x = 0.0);
        while i < order.len() && durations[order[i] as usize] == t {
            let r = order[i] as usize;
            removed[groups[r]] += 1.0;
            if events[r] {
                died[groups[r]] += 1.0;
            }
            i += 1;
        }
        let n: f64 = at_risk.iter().sum();
        let d: f64 = died.iter().sum();
        if d > 0.0 {
            // lifelines: ((n - d) / (n - 1)) with 0/0 and x/0 taken as 1.
            let ratio = if n > 1.0 { (n - d) / (n - 1.0) } else { 1.0 };
            let factor = ratio * d / (n * n);
            for a in 0..k {
                observed[a] += died[a];
                expected[a] += at_risk[a] * d / n;
                for b in 0..k {
                    let diag = if a == b { n * at_risk[a] } else { 0.0 };
                    v[a][b] += factor * (diag - at_risk[a] * at_risk[b]);
                }
            }
        }
        for a in 0..k {
            at_risk[a] -= removed[a];
        }
    }
    // The first k - 1 groups carry all the information (the deviations sum to zero).
    let z: Vec<f64> = (0..k - 1).map(|a| observed[a] - expected[a]).collect();
    let sub: Vec<Vec<f64>> = v[..k - 1].iter().map(|row| row[..k - 1].to_vec()).collect();
    let inv = pseudo_inverse(&sub);
    let statistic: f64 = (0..k - 1)
        .map(|a| z[a] * (0..k - 1).map(|b| inv[a][b] * z[b]).sum::<f64>())
        .sum();
    Ok(LogRank {
        statistic,
        df: k - 1,
        p_value: chi2_sf(statistic, (k - 1) as f64),
        groups: (0..k)
            .map(|g| GroupEvents {
                group: names[g].to_string(),
                rows: rows[g],
                observed: observed[g],
                expected: expected[g],
            })
            .collect(),
    })
}
