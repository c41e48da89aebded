//! When customers leave: right-censored time-to-event analysis of a churn table.
//!
//! A customer's tenure is a duration; the churn flag says whether the event (leaving) was
//! observed or the customer is still here (censored). On such data:
//!
//! - [`kaplan_meier`]: the survival curve S(t) with exponential-Greenwood confidence bands, the
//!   median lifetime and survival at chosen times, as `lifelines.KaplanMeierFitter` computes them;
//! - [`logrank`]: the log-rank test between any number of groups
//!   (`lifelines.statistics.multivariate_logrank_test`);
//! - [`cox`]: Cox proportional hazards with Efron ties and an optional L2 penalty
//!   (`lifelines.CoxPHFitter`), its Breslow baseline and per-customer survival curves;
//! - [`concordance`]: Harrell's concordance index in n log n;
//! - [`design`]: the covariate matrix a Cox model is fitted on, from a table and its schema
//!   (numbers as they are, categories one-hot against their most frequent level);
//! - [`value`]: a customer's lifetime value from their own survival curve.
//!
//! Everything takes and returns values; the CLI and the notebook engine add files and charts.

pub mod concordance;
pub mod cox;
pub mod design;
pub mod kaplan_meier;
mod linalg;
pub mod logrank;
pub mod model;
pub mod value;

pub use concordance::concordance_index;
pub use cox::{CoxModel, CoxParams};
pub use design::{durations_and_events, propose_charge, propose_duration, Design};
pub use kaplan_meier::KaplanMeier;
pub use logrank::{logrank, LogRank};
pub use model::SurvivalModel;
pub use value::{LifetimeValue, ValueParams};

use crate::ensure;
use crate::error::Result;

/// Checks durations and event flags: as many of each, at least one row, every duration finite
/// and non-negative. `what` names the duration column in the message.
pub(crate) fn check_times(durations: &[f64], events: &[bool], what: &str) -> Result<()> {
    ensure!(
        durations.len() == events.len(),
        data,
        "{} durations but {} event flags",
        durations.len(),
        events.len()
    );
    ensure!(!durations.is_empty(), data, "no rows to analyse");
    if let Some(row) = durations.iter().position(|d| !(d.is_finite() && *d >= 0.0)) {
        crate::bail!(
            data,
            "duration column '{what}', row {}: {} is not a non-negative number",
            row + 1,
            durations[row]
        );
    }
    Ok(())
}

/// The distinct durations, ascending, with per time the rows that end there (`removed`) and the
/// events among them (`observed`). The shared first step of Kaplan-Meier and the log-rank test.
pub(crate) struct EventTable {
    pub times: Vec<f64>,
    pub removed: Vec<u64>,
    pub observed: Vec<u64>,
}

impl EventTable {
    pub(crate) fn new(durations: &[f64], events: &[bool]) -> EventTable {
        let mut keyed: Vec<(f64, bool)> = durations
            .iter()
            .copied()
            .zip(events.iter().copied())
            .collect();
        keyed.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let (mut times, mut removed, mut observed) = (Vec::new(), Vec::new(), Vec::new());
        for &(t, e) in &keyed {
            if times.last() != Some(&t) {
                times.push(t);
                removed.push(0);
                observed.push(0);
            }
            *removed.last_mut().expect("pushed") += 1;
            *observed.last_mut().expect("pushed") += u64::from(e);
        }
        EventTable {
            times,
            removed,
            observed,
        }
    }
}
