//! The Kaplan-Meier survival curve, with exponential-Greenwood ("log-log") confidence bands.

use super::{check_times, EventTable};
use crate::error::Result;
use crate::stats::normal_quantile;
use serde::Serialize;

/// A fitted Kaplan-Meier curve: one row per distinct duration (and time 0), as lifelines'
/// `event_table` and `survival_function_` have them.
///
/// ```
/// use churnkit_core::survival::KaplanMeier;
/// // Four customers: two left (after 1 and 3 months), two are still here (at 2 and 3 months).
/// let km = KaplanMeier::fit(&[1.0, 2.0, 3.0, 3.0], &[true, false, true, false]).unwrap();
/// assert_eq!(km.times, [0.0, 1.0, 2.0, 3.0]);
/// assert!((km.survival_at(2.5) - 0.75).abs() < 1e-12);
/// assert_eq!(km.median(), Some(3.0));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KaplanMeier {
    /// Distinct durations, ascending, starting at 0.
    pub times: Vec<f64>,
    /// Rows still at risk just before each time.
    pub at_risk: Vec<u64>,
    /// Events (churn) at each time.
    pub events: Vec<u64>,
    /// Rows censored (still customers) at each time.
    pub censored: Vec<u64>,
    /// S(t): the share still a customer after each time.
    pub survival: Vec<f64>,
    /// Lower confidence bound of S(t).
    pub ci_lower: Vec<f64>,
    /// Upper confidence bound of S(t).
    pub ci_upper: Vec<f64>,
    /// 1 - the confidence level of the bands (0.05 for 95 %).
    pub alpha: f64,
}

impl KaplanMeier {
    /// Fits the curve with 95 % bands.
    pub fn fit(durations: &[f64], events: &[bool]) -> Result<KaplanMeier> {
        Self::fit_with_alpha(durations, events, 0.05)
    }

    /// Fits the curve with `1 - alpha` bands.
    pub fn fit_with_alpha(durations: &[f64], events: &[bool], alpha: f64) -> Result<KaplanMeier> {
        if alpha.is_nan() || alpha <= 0.0 || alpha >= 1.0 {
            crate::bail!(params, "alpha must be between 0 and 1, got {alpha}");
        }
        check_times(durations, events, "duration")?;
        let mut table = EventTable::new(durations, events);
        // lifelines' timeline starts at 0: the entrance of every row.
        if table.times[0] > 0.0 {
            table.times.insert(0, 0.0);
            table.removed.insert(0, 0);
            table.observed.insert(0, 0);
        }
        let z = normal_quantile(1.0 - alpha / 2.0);
        let k = table.times.len();
        let mut km = KaplanMeier {
            times: table.times,
            at_risk: Vec::with_capacity(k),
            events: table.observed,
            censored: Vec::with_capacity(k),
            survival: Vec::with_capacity(k),
            ci_lower: Vec::with_capacity(k),
            ci_upper: Vec::with_capacity(k),
            alpha,
        };
        let mut at_risk = durations.len() as u64;
        // Summed in logs, as lifelines does, so the figures agree to the last bits.
        let (mut log_s, mut greenwood) = (0.0f64, 0.0f64);
        for i in 0..k {
            let (n, d) = (at_risk as f64, km.events[i] as f64);
            log_s += (n - d).ln() - n.ln();
            if n > d {
                greenwood += d / (n * (n - d));
            }
            let s = log_s.exp();
            let v = s.ln();
            let spread = z * greenwood.sqrt() / v;
            let bound = |b: f64| if b.is_nan() { 1.0 } else { b };
            km.ci_lower.push(bound((-((-v).ln() - spread).exp()).exp()));
            km.ci_upper.push(bound((-((-v).ln() + spread).exp()).exp()));
            km.survival.push(s);
            km.at_risk.push(at_risk);
            km.censored.push(table.removed[i] - km.events[i]);
            at_risk -= table.removed[i];
        }
        Ok(km)
    }

    /// S(t) at any time: the curve's value at the last distinct duration at or before `t`.
    pub fn survival_at(&self, t: f64) -> f64 {
        match self.times.partition_point(|&x| x <= t) {
            0 => 1.0,
            i => self.survival[i - 1],
        }
    }

    /// The first time S(t) falls to `q` or below (`None` if it never does): `q = 0.5` is the
    /// median lifetime.
    pub fn quantile_time(&self, q: f64) -> Option<f64> {
        self.survival
            .iter()
            .position(|&s| s <= q)
            .map(|i| self.times[i])
    }

    /// The median lifetime: when half the customers have left (`None` if fewer than half have).
    pub fn median(&self) -> Option<f64> {
        self.quantile_time(0.5)
    }

    /// The restricted mean survival time: the area under S(t) from 0 to `horizon`, the expected
    /// time as a customer within the horizon.
    pub fn restricted_mean(&self, horizon: f64) -> f64 {
        let mut area = 0.0;
        let mut s = 1.0;
        let mut from = 0.0;
        for (&t, &v) in self.times.iter().zip(&self.survival) {
            if t >= horizon {
                break;
            }
            area += s * (t - from);
            from = t;
            s = v;
        }
        area + s * (horizon - from).max(0.0)
    }

    /// Rows of the curve.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether the curve has no rows (never true for a fitted curve).
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        // lifelines' docstring example: deaths at 6, 7 (x2), 9 (x3) ..., 11 entering at 0.
        let d = [6., 7., 7., 9., 9., 9., 13., 13., 13., 15., 15.];
        let e = [true; 11];
        let km = KaplanMeier::fit(&d, &e).unwrap();
        assert_eq!(km.times, [0., 6., 7., 9., 13., 15.]);
        assert_eq!(km.at_risk, [11, 11, 10, 8, 5, 2]);
        let s = [1.0, 10. / 11., 8. / 11., 5. / 11., 2. / 11., 0.0];
        for (a, b) in km.survival.iter().zip(s) {
            assert!((a - b).abs() < 1e-15, "{a} vs {b}");
        }
        assert_eq!(km.median(), Some(9.0));
        assert_eq!(km.ci_lower[0], 1.0);
        assert_eq!(km.ci_upper[5], 0.0);
        assert!(km.ci_lower[2] < s[2] && s[2] < km.ci_upper[2]);
        // Area: 6 x 1 + 1 x 10/11 + 2 x 8/11 + 4 x 5/11 + 2 x 2/11 up to 15.
        let rmst = 6.0 + 10. / 11. + 16. / 11. + 20. / 11. + 4. / 11.;
        assert!((km.restricted_mean(15.0) - rmst).abs() < 1e-12);
        assert!((km.restricted_mean(3.0) - 3.0).abs() < 1e-12);
    }

    #[test]
    fn bad_durations_name_the_row() {
        let err = KaplanMeier::fit(&[1.0, -2.0], &[true, false]).unwrap_err();
        assert!(err.to_string().contains("row 2"), "{err}");
        assert!(KaplanMeier::fit(&[], &[]).is_err());
    }
}
