//! Harrell's concordance index: of the pairs of customers whose order of leaving is known, the
//! share the model ranks right (a ROC AUC for censored durations).

use super::check_times;
use crate::error::Result;

/// The concordance index of risk scores (higher = leaves sooner), with lifelines' rules: a pair
/// is comparable when the customer who left first (an event) left strictly before the other's
/// duration, or at the same time as a censored one; equal scores count a half.
///
/// n log n: a Fenwick tree over score ranks.
///
/// ```
/// use churnkit_core::survival::concordance_index;
/// let t = [1.0, 2.0, 3.0, 4.0];
/// let e = [true, true, false, true];
/// // Scores that order the customers exactly as they left.
/// assert_eq!(concordance_index(&t, &e, &[4.0, 3.0, 2.0, 1.0]).unwrap(), 1.0);
/// ```
pub fn concordance_index(durations: &[f64], events: &[bool], risk: &[f64]) -> Result<f64> {
    check_times(durations, events, "duration")?;
    crate::ensure!(
        risk.len() == durations.len(),
        data,
        "{} scores for {} rows",
        risk.len(),
        durations.len()
    );
    let (correct, tied, pairs) = concordance_counts(durations, events, risk);
    crate::ensure!(
        pairs > 0,
        data,
        "no comparable pairs: the concordance needs at least one event before another row's duration"
    );
    Ok((correct as f64 + 0.5 * tied as f64) / pairs as f64)
}

/// (concordant, tied, comparable) pair counts.
pub(crate) fn concordance_counts(
    durations: &[f64],
    events: &[bool],
    risk: &[f64],
) -> (u64, u64, u64) {
    let n = durations.len();
    // Ranks of the scores, equal scores sharing one rank.
    let mut by_risk: Vec<(f64, u32)> = risk
        .iter()
        .enumerate()
        .map(|(i, &r)| (r, i as u32))
        .collect();
    by_risk.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank = vec![0u32; n];
    let mut distinct = 0u32;
    for k in 0..n {
        if k > 0 && by_risk[k].0 != by_risk[k - 1].0 {
            distinct += 1;
        }
        rank[by_risk[k].1 as usize] = distinct;
    }
    drop(by_risk);
    let m = distinct as usize + 1;
    let mut tree = vec![0u64; m + 1];
    let add = |tree: &mut Vec<u64>, r: usize| {
        let mut i = r + 1;
        while i <= m {
            tree[i] += 1;
            i += i & i.wrapping_neg();
        }
    };
    // How many inserted have a rank <= r.
    let upto = |tree: &Vec<u64>, r: usize| {
        let (mut i, mut s) = (r + 1, 0u64);
        while i > 0 {
            s += tree[i];
            i -= i & i.wrapping_neg();
        }
        s
    };
    let mut keyed: Vec<(f64, u32)> = durations
        .iter()
        .enumerate()
        .map(|(i, &d)| (d, i as u32))
        .collect();
    keyed.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let order: Vec<u32> = keyed.into_iter().map(|(_, i)| i).collect();
    let (mut correct, mut tied, mut pairs, mut inserted) = (0u64, 0u64, 0u64, 0u64);
    // Inserted events per rank: the ties without a second tree query.
    let mut at_rank = vec![0u64; m];
    let mut count = |tree: &Vec<u64>, at_rank: &Vec<u64>, inserted: u64, j: usize| {
        // The earlier events compared with row j: right when their risk was higher.
        let r = rank[j] as usize;
        let at_or_below = upto(tree, r);
        correct += inserted - at_or_below;
        tied += at_rank[r];
        pairs += inserted;
    };
    let mut i = 0;
    while i < n {
        let t = durations[order[i] as usize];
        let mut end = i;
        while end < n && durations[order[end] as usize] == t {
            end += 1;
        }
        let group = &order[i..end];
        // Events first, against strictly earlier events; then they join; then the censored
        // rows of the same time, which do count the events of their own time.
        for &j in group.iter().filter(|&&j| events[j as usize]) {
            count(&tree, &at_rank, inserted, j as usize);
        }
        for &j in group.iter().filter(|&&j| events[j as usize]) {
            add(&mut tree, rank[j as usize] as usize);
            at_rank[rank[j as usize] as usize] += 1;
            inserted += 1;
        }
        for &j in group.iter().filter(|&&j| !events[j as usize]) {
            count(&tree, &at_rank, inserted, j as usize);
        }
        i = end;
    }
    (correct, tied, pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// The O(n^2) definition, pair by pair.
    fn brute(t: &[f64], e: &[bool], risk: &[f64]) -> (u64, u64, u64) {
        let (mut c, mut ti, mut p) = (0, 0, 0);
        for i in 0..t.len() {
            for j in 0..t.len() {
                let comparable = e[i] && (t[i] < t[j] || (t[i] == t[j] && !e[j]));
                if comparable {
                    p += 1;
                    if risk[i] > risk[j] {
                        c += 1;
                    } else if risk[i] == risk[j] {
                        ti += 1;
                    }
                }
            }
        }
        (c, ti, p)
    }

    #[test]
    fn matches_the_pairwise_definition_with_ties() {
        let mut rng = Rng::new(3);
        for _ in 0..20 {
            let n = 60;
            let t: Vec<f64> = (0..n).map(|_| (rng.uniform() * 8.0).floor()).collect();
            let e: Vec<bool> = (0..n).map(|_| rng.uniform() < 0.6).collect();
            let r: Vec<f64> = (0..n).map(|_| (rng.uniform() * 5.0).floor()).collect();
            assert_eq!(concordance_counts(&t, &e, &r), brute(&t, &e, &r));
        }
    }
}
