//! After the model: survival analysis in a notebook (curves by group, hazard ratios, one
//! customer's own survival curve with what they are worth) and drift of a new batch.

use super::{DataFrame, Png};
use crate::prelude::*;
use crate::workflow::{survival as analyse, Survival, SurvivalSpec};
use churnkit_core::ensure;
use churnkit_core::plots::{step_curves, StepCurve};
use polars::prelude::Column;

/// Survival curves of the customers in `df` (event: `target` at its churned value), one per
/// value of `by`, the log-rank test between them, and a Cox model on the other columns. The
/// duration is `duration`, or the column named like a tenure that is never negative.
pub fn survival(
    df: &DataFrame,
    target: &str,
    duration: Option<&str>,
    by: Option<&str>,
) -> Result<Survival> {
    let table = Table::from_frame(df)?;
    let schema = Schema::infer(&table, target, None)?;
    let spec = SurvivalSpec {
        duration: duration.map(String::from),
        by: by.map(String::from),
        ..SurvivalSpec::default()
    };
    analyse(&table, &schema, &spec)
}

/// Per curve: customers, how many left, the median lifetime and S(t) at 12, 24 and 36.
pub fn survival_table(s: &Survival) -> Result<DataFrame> {
    let n = s.curves.len();
    let at = |t: f64| -> Vec<f64> { s.curves.iter().map(|(_, k)| k.survival_at(t)).collect() };
    Ok(DataFrame::new(
        n,
        vec![
            Column::new(
                "group".into(),
                s.curves.iter().map(|c| c.0.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "customers".into(),
                s.curves.iter().map(|c| c.1.at_risk[0]).collect::<Vec<_>>(),
            ),
            Column::new(
                "left".into(),
                s.curves
                    .iter()
                    .map(|c| c.1.events.iter().sum::<u64>())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "median_lifetime".into(),
                s.curves.iter().map(|c| c.1.median()).collect::<Vec<_>>(),
            ),
            Column::new("S(12)".into(), at(12.0)),
            Column::new("S(24)".into(), at(24.0)),
            Column::new("S(36)".into(), at(36.0)),
        ],
    )?)
}

/// The Cox model's covariates: hazard ratio, coefficient, standard error and p-value, the
/// strongest effect (largest |z|) first.
pub fn cox_table(s: &Survival) -> Result<DataFrame> {
    let mut terms = s.model.cox.summary();
    terms.sort_by(|a, b| b.z.abs().total_cmp(&a.z.abs()));
    Ok(DataFrame::new(
        terms.len(),
        vec![
            Column::new(
                "feature".into(),
                terms.iter().map(|t| t.feature.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "hazard_ratio".into(),
                terms.iter().map(|t| t.hazard_ratio).collect::<Vec<_>>(),
            ),
            Column::new(
                "coef".into(),
                terms.iter().map(|t| t.coef).collect::<Vec<_>>(),
            ),
            Column::new("se".into(), terms.iter().map(|t| t.se).collect::<Vec<_>>()),
            Column::new("p".into(), terms.iter().map(|t| t.p).collect::<Vec<_>>()),
        ],
    )?)
}

/// Customer `row` of `df`: their survival curve from the Cox model next to every customer's
/// Kaplan-Meier curve, with their tenure, expected remaining months and lifetime value.
pub fn customer_survival_chart(s: &Survival, df: &DataFrame, row: usize) -> Result<Png> {
    ensure!(
        row < df.height(),
        data,
        "row {row} is beyond the table's {} rows",
        df.height()
    );
    let one = Table::from_frame(&df.slice(row as i64, 1))?;
    let lp = s.model.linear_predictors(&one)?[0];
    let tenure = s.model.schema.numeric_cells(&one, &s.model.duration)?[0];
    let cox = &s.model.cox;
    let times = cox.baseline_times.clone();
    let mine: Vec<f64> = times.iter().map(|&t| cox.survival_at(lp, t)).collect();
    let all = &s.curves[0].1;
    let value = match &s.charge {
        Some(c) => s
            .model
            .lifetime_values(&one, c, &s.value_params)
            .ok()
            .map(|v| v[0]),
        None => None,
    };
    let mut title = format!("Customer {row}");
    if let Some(t) = tenure {
        title.push_str(&format!(": tenure {t}"));
    }
    if let Some(v) = value {
        title.push_str(&format!(
            ", {:.1} more months expected, worth {:.0}",
            v.expected_months, v.lifetime_value
        ));
    }
    let name = format!("customer {row} (Cox)");
    step_curves(
        &title,
        &s.model.duration,
        "S(t)",
        &[
            StepCurve {
                name: &name,
                x: &times,
                y: &mine,
                lower: &[],
                upper: &[],
            },
            StepCurve {
                name: "every customer (Kaplan-Meier)",
                x: &all.times,
                y: &all.survival,
                lower: &all.ci_lower,
                upper: &all.ci_upper,
            },
        ],
    )
}

impl super::Display for Survival {
    fn blocks(&self) -> Vec<(&'static str, String)> {
        let mut text = format!(
            "{} customers, {} left; duration {}; Cox concordance {:.3}",
            self.rows, self.events, self.model.duration, self.model.cox.concordance
        );
        if let Some(l) = &self.logrank {
            text.push_str(&format!(
                "; log-rank between {} groups of {}: chi2 {:.1}, p = {:.2e}",
                l.groups.len(),
                self.by.as_deref().unwrap_or(""),
                l.statistic,
                l.p_value
            ));
        }
        vec![("text/plain", text)]
    }
}

/// How `current` (raw rows, as loaded) compares with the training rows of `data`, feature by
/// feature and, with `model`, by score (against the held-out rows' scores), with the model's
/// figures estimated by CBPE: what
/// `churnkit monitor` computes (default settings, threshold 0.5).
pub fn drift(
    data: &Processed,
    current: &DataFrame,
    model: Option<&Model>,
) -> Result<crate::workflow::Monitored> {
    let table = Table::from_frame(current)?;
    crate::workflow::monitor(
        &data.state,
        &data.x_train,
        Some(&data.x_test),
        &table,
        model,
        None,
        0.5,
        churnkit_core::monitor::DriftOptions::default(),
    )
}

/// The drift of every feature as a table, the largest PSI first.
pub fn drift_table(m: &crate::workflow::Monitored) -> Result<DataFrame> {
    let mut f: Vec<&churnkit_core::monitor::FeatureDrift> = m.drift.features.iter().collect();
    f.sort_by(|a, b| b.psi.total_cmp(&a.psi));
    Ok(DataFrame::new(
        f.len(),
        vec![
            Column::new(
                "feature".into(),
                f.iter().map(|x| x.feature.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "test".into(),
                f.iter().map(|x| x.test.to_string()).collect::<Vec<_>>(),
            ),
            Column::new(
                "statistic".into(),
                f.iter().map(|x| x.statistic).collect::<Vec<_>>(),
            ),
            Column::new(
                "p_value".into(),
                f.iter().map(|x| x.p_value).collect::<Vec<_>>(),
            ),
            Column::new("psi".into(), f.iter().map(|x| x.psi).collect::<Vec<_>>()),
            Column::new(
                "drifted".into(),
                f.iter().map(|x| x.drifted).collect::<Vec<_>>(),
            ),
        ],
    )?)
}
