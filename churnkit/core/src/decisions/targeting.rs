//! Whom to make an offer to when customers are worth different amounts.
//!
//! The profit threshold treats every churner as worth the same `retained_value`. With a value
//! per customer (their lifetime value, or any value column), the expected gain of an offer is
//! `p_i x success_rate x value_i - offer_cost`: offer where it is positive, and rank by it. This
//! module compares, on the same rows with their real outcomes, the single-threshold targeting
//! with value-ranked targeting (the same number of offers, chosen by expected gain) and with the
//! expected-gain rule itself. Profit here counts each reached churner at their own value.

use super::profit::Economics;
use crate::ensure;
use crate::error::Result;
use serde::Serialize;

/// What one way of choosing customers yields on labelled rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Targeting {
    /// How the customers were chosen.
    pub rule: String,
    /// Offers made.
    pub offers: usize,
    /// Churners among them.
    pub churners_reached: usize,
    /// The summed value of those churners.
    pub value_reached: f64,
    /// sum over offers of (churned x success_rate x value - offer_cost).
    pub expected_profit: f64,
}

/// The three targetings side by side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetingComparison {
    /// Offer where the score reaches the threshold (today's rule).
    pub single_threshold: Targeting,
    /// The same number of offers, to the customers with the highest expected gain.
    pub value_ranked: Targeting,
    /// Offer where the expected gain is positive.
    pub expected_gain_rule: Targeting,
    /// value_ranked minus single_threshold expected profit.
    pub gain_same_offers: f64,
}

/// Each customer's expected gain from an offer: `p x success_rate x value - offer_cost`.
pub fn expected_gain(p: f64, value: f64, economics: &Economics) -> f64 {
    p * economics.success_rate * value - economics.offer_cost
}

/// Compares the targetings on rows with known outcomes `y`, scores `p` (probabilities) and
/// values. `threshold` is the single-threshold rule's cut, chosen elsewhere (out of bag).
///
/// ```
/// use churnkit_core::decisions::targeting::compare;
/// use churnkit_core::profit::Economics;
/// let y = [1, 1, 0, 0];
/// let p = [0.6, 0.5, 0.55, 0.1];
/// let v = [100.0, 2000.0, 500.0, 50.0];
/// let c = compare(&y, &p, &v, 0.52, &Economics::default()).unwrap();
/// // The threshold offers to rows 0 and 2; by value the two offers go to rows 1 and 2.
/// assert_eq!(c.single_threshold.offers, 2);
/// assert!(c.value_ranked.expected_profit > c.single_threshold.expected_profit);
/// ```
pub fn compare(
    y: &[u8],
    p: &[f64],
    values: &[f64],
    threshold: f64,
    economics: &Economics,
) -> Result<TargetingComparison> {
    economics.validate()?;
    ensure!(
        y.len() == p.len() && p.len() == values.len(),
        data,
        "{} labels, {} scores and {} values",
        y.len(),
        p.len(),
        values.len()
    );
    if let Some(i) = values.iter().position(|v| !v.is_finite() || *v < 0.0) {
        crate::bail!(
            data,
            "row {}: value {} is not a non-negative number",
            i + 1,
            values[i]
        );
    }
    let outcome = |chosen: &[usize], rule: String| {
        let mut t = Targeting {
            rule,
            offers: chosen.len(),
            churners_reached: 0,
            value_reached: 0.0,
            expected_profit: 0.0,
        };
        for &i in chosen {
            if y[i] == 1 {
                t.churners_reached += 1;
                t.value_reached += values[i];
                t.expected_profit += economics.success_rate * values[i];
            }
            t.expected_profit -= economics.offer_cost;
        }
        t
    };
    let by_threshold: Vec<usize> = (0..y.len()).filter(|&i| p[i] >= threshold).collect();
    let gains: Vec<f64> = (0..y.len())
        .map(|i| expected_gain(p[i], values[i], economics))
        .collect();
    let mut ranked: Vec<usize> = (0..y.len()).collect();
    // Highest gain first; ties by row, so the choice is reproducible.
    ranked.sort_by(|&a, &b| gains[b].total_cmp(&gains[a]).then(a.cmp(&b)));
    let same = &ranked[..by_threshold.len()];
    let positive: Vec<usize> = ranked
        .iter()
        .copied()
        .take_while(|&i| gains[i] > 0.0)
        .collect();
    let single = outcome(&by_threshold, format!("score >= {threshold:.4}"));
    let value_ranked = outcome(same, format!("top {} by expected gain", same.len()));
    let rule = outcome(&positive, "expected gain > 0".into());
    Ok(TargetingComparison {
        gain_same_offers: value_ranked.expected_profit - single.expected_profit,
        single_threshold: single,
        value_ranked,
        expected_gain_rule: rule,
    })
}
