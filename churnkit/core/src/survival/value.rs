//! What a customer is still worth: their expected remaining months, from their own survival
//! curve, times the margin on their monthly charge, discounted.
//!
//! For a customer with tenure `tau` and survival curve `S`, the chance they are still a customer
//! `m` months from now is `S(tau + m) / S(tau)` (they have already stayed `tau` months). Over a
//! horizon of `H` months, paying at the start of each month:
//!
//! ```text
//! expected_months = sum_{m=0}^{H-1} S(tau + m) / S(tau)
//! lifetime_value  = margin x monthly_charge x sum_{m=0}^{H-1} S(tau + m) / S(tau) / (1 + r)^m
//! r               = (1 + annual_discount_rate)^(1/12) - 1
//! ```
//!
//! `expected_months` is the restricted mean survival time up to `H` (exact for a curve that
//! steps at whole months). After the longest tenure seen the curve is held flat (the Cox
//! baseline has no information there), so for the longest-standing customers the value is an
//! upper bound.

use crate::ensure;
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// Lifetime-value settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValueParams {
    /// Months ahead to count. Default 36.
    pub horizon_months: u32,
    /// Share of the monthly charge that is margin. Default 0.30: a placeholder, set your own.
    pub margin: f64,
    /// Yearly discount rate, applied monthly. Default 0.10.
    pub annual_discount_rate: f64,
}

impl Default for ValueParams {
    fn default() -> Self {
        ValueParams {
            horizon_months: 36,
            margin: 0.30,
            annual_discount_rate: 0.10,
        }
    }
}

impl ValueParams {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.horizon_months > 0 && self.horizon_months <= 1200,
            params,
            "the `horizon` option must be between 1 and 1200 months, got {}",
            self.horizon_months
        );
        let margin = self.margin;
        if margin.is_nan() || margin <= 0.0 || margin > 1.0 {
            crate::bail!(
                params,
                "the `margin` option must be in (0, 1], got {margin}"
            );
        }
        let rate = self.annual_discount_rate;
        if !(0.0..10.0).contains(&rate) {
            crate::bail!(
                params,
                "the `discount_rate` option must be in [0, 10), got {rate}"
            );
        }
        Ok(())
    }

    /// The monthly discount rate.
    pub fn monthly_rate(&self) -> f64 {
        (1.0 + self.annual_discount_rate).powf(1.0 / 12.0) - 1.0
    }
}

/// One customer's remaining value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LifetimeValue {
    /// Expected months still a customer, within the horizon.
    pub expected_months: f64,
    /// Discounted margin over those months.
    pub lifetime_value: f64,
}

/// The value of a customer with `tenure` months and `monthly_charge`, whose survival curve is
/// `survival(t)`.
///
/// ```
/// use churnkit_core::survival::{value::lifetime_value, ValueParams};
/// // A customer who never leaves, 12 months ahead, no discounting, full margin: 12 charges.
/// let p = ValueParams { horizon_months: 12, margin: 1.0, annual_discount_rate: 0.0 };
/// let v = lifetime_value(|_| 1.0, 5.0, 20.0, &p);
/// assert_eq!(v.expected_months, 12.0);
/// assert_eq!(v.lifetime_value, 240.0);
/// ```
pub fn lifetime_value(
    survival: impl Fn(f64) -> f64,
    tenure: f64,
    monthly_charge: f64,
    params: &ValueParams,
) -> LifetimeValue {
    let now = survival(tenure);
    if now.is_nan() || now <= 0.0 {
        return LifetimeValue {
            expected_months: 0.0,
            lifetime_value: 0.0,
        };
    }
    let discount = 1.0 / (1.0 + params.monthly_rate());
    let (mut months, mut value, mut factor) = (0.0, 0.0, 1.0);
    for m in 0..params.horizon_months {
        let stay = (survival(tenure + f64::from(m)) / now).min(1.0);
        months += stay;
        value += stay * factor;
        factor *= discount;
    }
    LifetimeValue {
        expected_months: months,
        lifetime_value: params.margin * monthly_charge * value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_hazard_matches_the_closed_form() {
        // S(t) = exp(-h t): memoryless, so the tenure does not matter, and
        // sum_{m<H} (e^-h / (1+r))^m is a geometric series.
        let h: f64 = 0.05;
        let p = ValueParams::default();
        let r = p.monthly_rate();
        let q = (-h).exp() / (1.0 + r);
        let closed = (1.0 - q.powi(36)) / (1.0 - q) * p.margin * 70.0;
        for tenure in [0.0, 10.0, 50.0] {
            let v = lifetime_value(|t| (-h * t).exp(), tenure, 70.0, &p);
            assert!(
                (v.lifetime_value - closed).abs() < 1e-9,
                "{} vs {closed}",
                v.lifetime_value
            );
            let months = (1.0 - (-h * 36.0f64).exp()) / (1.0 - (-h).exp());
            assert!((v.expected_months - months).abs() < 1e-9);
        }
        assert!((p.monthly_rate() - (1.1f64.powf(1.0 / 12.0) - 1.0)).abs() < 1e-15);
        assert!(ValueParams { margin: 0.0, ..p }.validate().is_err());
    }
}
