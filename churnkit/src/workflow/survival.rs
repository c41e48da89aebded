//! The survival step on values: Kaplan-Meier curves (all customers and per group), the log-rank
//! test between groups, a Cox model on the schema's features, lifetime values, their tables and
//! charts, and the run record tracking logs.

use super::predict::csv_escape;
use churnkit_core::data::schema::Schema;
use churnkit_core::data::table::Table;
use churnkit_core::error::{few, Result};
use churnkit_core::plots::{interval_chart, step_curves, StepCurve};
use churnkit_core::survival::model::guard_separation;
use churnkit_core::survival::value::LifetimeValue;
use churnkit_core::survival::{
    durations_and_events, logrank, propose_charge, propose_duration, CoxModel, CoxParams, Design,
    KaplanMeier, LogRank, SurvivalModel, ValueParams,
};
use churnkit_core::{bail, ensure};
use churnkit_tracking::record::MODEL_DIR;
use churnkit_tracking::{Artifact, ModelFlavor, RunKind, RunRecord};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The MLflow flavor of a survival run's logged model.
pub const SURVIVAL_FLAVOR: &str = "churnkit_survival";

/// The most groups `by` may have: more curves than this cannot be read on one chart.
pub const MAX_GROUPS: usize = 12;

/// The times S(t) is reported at in the summary: 12, 24, 36, 48, 60 and 72 (months).
pub const REPORT_TIMES: [f64; 6] = [12.0, 24.0, 36.0, 48.0, 60.0, 72.0];

/// What to analyse.
#[derive(Debug, Clone, Default)]
pub struct SurvivalSpec {
    /// The duration column (tenure); `None`: the never-negative number named like a duration
    /// ([`propose_duration`]), said in [`Survival::duration_reason`].
    pub duration: Option<String>,
    /// A categorical column to compare groups of (curves and the log-rank test).
    pub by: Option<String>,
    /// Columns left out of the Cox model.
    pub drop: Vec<String>,
    /// Cox settings.
    pub cox: CoxParams,
    /// The monthly charge column for lifetime value (proposed from the names when `None`).
    pub charge: Option<String>,
    /// Lifetime-value settings.
    pub value: ValueParams,
}

/// Everything the survival step found.
#[derive(Debug, Clone)]
pub struct Survival {
    /// The curve of every customer, then one per group (`all` first).
    pub curves: Vec<(String, KaplanMeier)>,
    /// The log-rank test between the groups, with `by`.
    pub logrank: Option<LogRank>,
    /// The group column, with `by`.
    pub by: Option<String>,
    /// The Cox model and how it reads rows.
    pub model: SurvivalModel,
    /// The charge column lifetime values were computed from, if any.
    pub charge: Option<String>,
    /// Lifetime values per row (with a charge column).
    pub values: Vec<LifetimeValue>,
    /// The settings of the values.
    pub value_params: ValueParams,
    /// Rows and events.
    pub rows: usize,
    /// Events (customers who left).
    pub events: usize,
    /// Where the input came from.
    pub source: String,
    /// Why the duration column was chosen, when the spec left it to the data.
    pub duration_reason: Option<String>,
    /// Seconds per phase: curves and log-rank, the Cox design (reading and checking the
    /// covariates), the Cox fit (Newton, concordance, baseline), lifetime values.
    pub seconds: [(&'static str, f64); 4],
}

/// Runs the survival analysis on every row of `table`.
///
/// ```
/// use churnkit::prelude::*;
/// use churnkit::workflow::{survival, SurvivalSpec};
/// let (csv, _) = churnkit::generate::generate_rows(2000, 3);
/// let table = Table::from_csv_bytes(csv, "customers.csv")?;
/// let schema = Schema::infer(&table, "Churn", None)?;
/// let spec = SurvivalSpec { duration: Some("Tenure".into()), by: Some("Contract".into()), ..Default::default() };
/// let s = survival(&table, &schema, &spec)?;
/// assert_eq!(s.curves[0].0, "all");
/// assert!(s.logrank.as_ref().unwrap().p_value < 0.05);
/// assert!(s.model.cox.concordance > 0.6);
/// # Ok::<(), churnkit::Error>(())
/// ```
pub fn survival(table: &Table, schema: &Schema, spec: &SurvivalSpec) -> Result<Survival> {
    spec.value.validate()?;
    let (duration, duration_reason) = match &spec.duration {
        Some(d) => (d.clone(), None),
        None => match propose_duration(table, schema)? {
            Some((d, why)) => (d, Some(why)),
            None => bail!(
                data,
                "{}: no column looks like a duration (a never-negative number named like tenure, \
                 months or days): name it with the `duration` option",
                table.source_name()
            ),
        },
    };
    let (durations, events) = durations_and_events(table, schema, &duration)?;
    let t0 = std::time::Instant::now();
    let mut curves = vec![("all".to_string(), KaplanMeier::fit(&durations, &events)?)];
    let mut test = None;
    if let Some(by) = &spec.by {
        ensure!(
            table.has_column(by),
            data,
            "{}: no column '{by}' to group by (columns: {})",
            table.source_name(),
            few(table.headers(), 8)
        );
        let cells = schema.cells(table, by)?;
        let mut names: Vec<&str> = cells
            .iter()
            .map(|c| c.unwrap_or(churnkit_core::survival::design::MISSING_LEVEL))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        names.sort_unstable();
        if names.len() > MAX_GROUPS {
            bail!(
                data,
                "column '{by}' has {} values; group by a column with at most {MAX_GROUPS} (band a number first)",
                names.len()
            );
        }
        ensure!(
            names.len() >= 2,
            data,
            "column '{by}' has one value: there are no groups to compare"
        );
        let index: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let groups: Vec<usize> = cells
            .iter()
            .map(|c| index[c.unwrap_or(churnkit_core::survival::design::MISSING_LEVEL)])
            .collect();
        for (g, name) in names.iter().enumerate() {
            let (d, e): (Vec<f64>, Vec<bool>) = groups
                .iter()
                .zip(durations.iter().zip(&events))
                .filter(|(&gi, _)| gi == g)
                .map(|(_, (&d, &e))| (d, e))
                .unzip();
            curves.push((name.to_string(), KaplanMeier::fit(&d, &e)?));
        }
        test = Some(logrank(&durations, &events, &groups, &names)?);
    }
    let curves_s = t0.elapsed().as_secs_f64();
    let t1 = std::time::Instant::now();
    let (mut design, columns) = Design::fit_columns(table, schema, &duration, &spec.drop)?;
    let params = guard_separation(&mut design, &columns, &events, spec.cox);
    let design_s = t1.elapsed().as_secs_f64();
    let t1 = std::time::Instant::now();
    let cox = CoxModel::fit(&columns, &design.names(), &durations, &events, params)?;
    let model = SurvivalModel::new(schema, &duration, design, cox);
    let cox_s = t1.elapsed().as_secs_f64();
    let t2 = std::time::Instant::now();
    let charge = spec.charge.clone().or_else(|| propose_charge(schema));
    let values = match &charge {
        Some(c) => {
            // From the covariates the fit used, not read from the table a second time.
            let mut row = vec![0.0; columns.len()];
            let lp: Vec<f64> = (0..durations.len())
                .map(|i| {
                    for (x, col) in row.iter_mut().zip(&columns) {
                        *x = col[i];
                    }
                    model.cox.linear_predictor(&row)
                })
                .collect();
            model.lifetime_values_given(table, c, &spec.value, &lp)?
        }
        None => Vec::new(),
    };
    drop(columns);
    Ok(Survival {
        curves,
        logrank: test,
        by: spec.by.clone(),
        model,
        charge,
        values,
        value_params: spec.value,
        rows: durations.len(),
        events: events.iter().filter(|&&e| e).count(),
        source: table.source_name().to_string(),
        duration_reason,
        seconds: [
            ("Kaplan-Meier and log-rank", curves_s),
            ("Cox design", design_s),
            ("Cox fit", cox_s),
            ("lifetime values", t2.elapsed().as_secs_f64()),
        ],
    })
}

impl Survival {
    /// `kaplan_meier.csv`: group,time,at_risk,events,censored,survival,ci_lower,ci_upper.
    pub fn kaplan_meier_csv(&self) -> Vec<u8> {
        let mut s = String::from("group,time,at_risk,events,censored,survival,ci_lower,ci_upper\n");
        for (g, km) in &self.curves {
            let g = csv_escape(g);
            for i in 0..km.len() {
                let _ = writeln!(
                    s,
                    "{g},{},{},{},{},{},{},{}",
                    km.times[i],
                    km.at_risk[i],
                    km.events[i],
                    km.censored[i],
                    km.survival[i],
                    km.ci_lower[i],
                    km.ci_upper[i]
                );
            }
        }
        s.into_bytes()
    }

    /// `cox.csv`: feature,coef,hazard_ratio,se,z,p.
    pub fn cox_csv(&self) -> Vec<u8> {
        let mut s = String::from("feature,coef,hazard_ratio,se,z,p\n");
        for t in self.model.cox.summary() {
            let _ = writeln!(
                s,
                "{},{},{},{},{},{}",
                csv_escape(&t.feature),
                t.coef,
                t.hazard_ratio,
                t.se,
                t.z,
                small(t.p)
            );
        }
        s.into_bytes()
    }

    /// `logrank.json`, with `by`.
    pub fn logrank_json(&self) -> Option<Vec<u8>> {
        self.logrank.as_ref().map(|l| {
            let mut v = serde_json::to_value(l).expect("serialises");
            v["by"] = json!(self.by);
            v["test"] = json!("log-rank");
            pretty(&v)
        })
    }

    /// The median lifetime per curve (`None`: fewer than half have left).
    pub fn medians(&self) -> Vec<(String, Option<f64>)> {
        self.curves
            .iter()
            .map(|(g, km)| (g.clone(), km.median()))
            .collect()
    }

    /// `summary.json`: sizes, medians, S(t) at 12..72, the Cox fit and the lifetime values.
    pub fn summary(&self) -> serde_json::Value {
        let cox = &self.model.cox;
        let (lr, lr_df, lr_p) = cox.likelihood_ratio_test();
        let at: BTreeMap<String, BTreeMap<String, f64>> = self
            .curves
            .iter()
            .map(|(g, km)| {
                (
                    g.clone(),
                    REPORT_TIMES
                        .iter()
                        .map(|&t| (format!("{t}"), km.survival_at(t)))
                        .collect(),
                )
            })
            .collect();
        let values = (!self.values.is_empty()).then(|| {
            let n = self.values.len() as f64;
            let mut v: Vec<f64> = self.values.iter().map(|x| x.lifetime_value).collect();
            v.sort_by(f64::total_cmp);
            json!({
                "charge_column": self.charge,
                "horizon_months": self.value_params.horizon_months,
                "margin": self.value_params.margin,
                "annual_discount_rate": self.value_params.annual_discount_rate,
                "mean_lifetime_value": v.iter().sum::<f64>() / n,
                "median_lifetime_value": churnkit_core::stats::quantile(&v, 0.5),
                "total_lifetime_value": v.iter().sum::<f64>(),
                "mean_expected_months": self.values.iter().map(|x| x.expected_months).sum::<f64>() / n,
            })
        });
        json!({
            "source": self.source,
            "duration": self.model.duration,
            "event": format!("{} = {}", self.model.event, self.model.event_value),
            "rows": self.rows,
            "events": self.events,
            "censored": self.rows - self.events,
            "by": self.by,
            "median_lifetime": self.medians().into_iter().collect::<BTreeMap<_, _>>(),
            "survival_at": at,
            "logrank": self.logrank.as_ref().map(|l| json!({"statistic": l.statistic, "df": l.df, "p_value": l.p_value})),
            "cox": {
                "concordance": cox.concordance,
                "log_likelihood": cox.log_likelihood,
                "log_likelihood_null": cox.log_likelihood_null,
                "likelihood_ratio_test": {"statistic": lr, "df": lr_df, "p_value": lr_p},
                "penalizer": cox.params.penalizer,
                "covariates": cox.features.len(),
                "iterations": cox.iterations,
                "left_out": self.model.design.notes,
            },
            "lifetime_value": values,
        })
    }

    /// The survival curves chart (every group, or every customer without `by`).
    pub fn curves_chart(&self) -> Result<churnkit_core::plots::Png> {
        let shown: Vec<&(String, KaplanMeier)> = if self.curves.len() > 1 {
            self.curves[1..].iter().collect()
        } else {
            self.curves.iter().collect()
        };
        let curves: Vec<StepCurve<'_>> = shown
            .iter()
            .map(|(g, km)| StepCurve {
                name: g,
                x: &km.times,
                y: &km.survival,
                lower: &km.ci_lower,
                upper: &km.ci_upper,
            })
            .collect();
        let title = match &self.by {
            Some(b) => format!("Customers still here, by {b}"),
            None => "Customers still here".to_string(),
        };
        step_curves(&title, &self.model.duration, "S(t)", &curves)
    }

    /// Hazard ratios with 95 % intervals.
    pub fn hazard_chart(&self) -> Result<churnkit_core::plots::Png> {
        let terms = self.model.cox.summary();
        let z = churnkit_core::stats::normal_quantile(0.975);
        let names: Vec<String> = terms.iter().map(|t| t.feature.clone()).collect();
        let hr: Vec<f64> = terms.iter().map(|t| t.hazard_ratio).collect();
        let lo: Vec<f64> = terms.iter().map(|t| (t.coef - z * t.se).exp()).collect();
        let hi: Vec<f64> = terms.iter().map(|t| (t.coef + z * t.se).exp()).collect();
        interval_chart(
            "Hazard ratios (95% interval): above 1 leaves sooner",
            "hazard ratio per unit (log scale)",
            &names,
            &hr,
            &lo,
            &hi,
        )
    }

    /// Every output file of the step under `metrics/survival/`, by name.
    pub fn files(&self) -> Result<Vec<(&'static str, Vec<u8>)>> {
        use crate::artifacts::*;
        let mut files = vec![
            (SURVIVAL_KAPLAN_MEIER, self.kaplan_meier_csv()),
            (SURVIVAL_COX, self.cox_csv()),
            (SURVIVAL_SUMMARY, pretty(&self.summary())),
            (SURVIVAL_CURVES_CHART, self.curves_chart()?.bytes),
            (SURVIVAL_HAZARD_CHART, self.hazard_chart()?.bytes),
        ];
        if let Some(l) = self.logrank_json() {
            files.push((SURVIVAL_LOGRANK, l));
        }
        Ok(files)
    }

    /// The run tracking logs: params, metrics, the files, and the Cox model as the run's logged
    /// model (`model/survival_model.json`, flavor `churnkit_survival`).
    pub fn run_record(&self, experiment: &str) -> Result<RunRecord> {
        let mut r = RunRecord::new(RunKind::Survival, experiment, "survival");
        let p = &mut r.params;
        p.insert("duration".into(), self.model.duration.clone());
        p.insert("event".into(), self.model.event.clone());
        p.insert(
            "by".into(),
            self.by.clone().unwrap_or_else(|| "none".into()),
        );
        p.insert(
            "penalizer".into(),
            self.model.cox.params.penalizer.to_string(),
        );
        p.insert(
            "covariates".into(),
            self.model.cox.features.len().to_string(),
        );
        p.insert("rows".into(), self.rows.to_string());
        if let Some(c) = &self.charge {
            p.insert("charge_column".into(), c.clone());
            p.insert(
                "horizon_months".into(),
                self.value_params.horizon_months.to_string(),
            );
            p.insert("margin".into(), self.value_params.margin.to_string());
            p.insert(
                "annual_discount_rate".into(),
                self.value_params.annual_discount_rate.to_string(),
            );
        }
        let m = &mut r.metrics;
        m.insert("concordance".into(), Some(self.model.cox.concordance));
        m.insert("log_likelihood".into(), Some(self.model.cox.log_likelihood));
        m.insert("events".into(), Some(self.events as f64));
        m.insert("median_lifetime".into(), self.curves[0].1.median());
        for &t in &REPORT_TIMES[..3] {
            m.insert(
                format!("survival_at_{t}"),
                Some(self.curves[0].1.survival_at(t)),
            );
        }
        if let Some(l) = &self.logrank {
            m.insert("logrank_statistic".into(), Some(l.statistic));
            m.insert("logrank_p_value".into(), Some(l.p_value));
        }
        if !self.values.is_empty() {
            let n = self.values.len() as f64;
            m.insert(
                "mean_lifetime_value".into(),
                Some(self.values.iter().map(|v| v.lifetime_value).sum::<f64>() / n),
            );
        }
        r.tags.insert("churnkit.step".into(), "survival".into());
        for (name, bytes) in self.files()? {
            r.artifacts.push(Artifact::new(name, bytes));
        }
        // The Cox model as the run's logged model (MLflow lists it; `churnkit predict
        // --survival-model` loads the file back).
        r.artifacts.push(Artifact::new(
            format!("{MODEL_DIR}/{}", crate::artifacts::SURVIVAL_MODEL),
            self.model.to_json(),
        ));
        r.model = Some(ModelFlavor {
            name: SURVIVAL_FLAVOR.into(),
            fields: [
                ("churnkit_version", json!(churnkit_core::VERSION)),
                ("model_file", json!(crate::artifacts::SURVIVAL_MODEL)),
                ("format", json!(churnkit_core::survival::model::FORMAT)),
                (
                    "format_version",
                    json!(churnkit_core::survival::model::FORMAT_VERSION),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            python_function: None,
        });
        r.end_time_ms = churnkit_tracking::now_ms();
        Ok(r)
    }
}

fn pretty(v: &serde_json::Value) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).expect("serialises");
    b.push(b'\n');
    b
}

/// A number as Rust writes it, but in exponent form below 1e-4 (a p-value of 1e-80 as 80 zeros
/// helps nobody).
fn small(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-4 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}
