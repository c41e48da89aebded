//! The saved survival model: the design (how to read covariates from a row), the Cox model and
//! the columns it was fitted on, as versioned, human-readable JSON validated on load.

use super::cox::{CoxModel, CoxParams};
use super::design::{durations_and_events, separated, Design, SEPARATION_PENALIZER};
use super::value::{lifetime_value, LifetimeValue, ValueParams};
use crate::data::schema::Schema;
use crate::data::table::Table;
use crate::ensure;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The `format` tag of a survival model file.
pub const FORMAT: &str = "churnkit-survival-model";
/// The layout version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// A Cox model with what it needs to score raw rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurvivalModel {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The churnkit version that wrote it.
    pub churnkit_version: String,
    /// The duration column (tenure).
    pub duration: String,
    /// The event column and its event value.
    pub event: String,
    /// The value of `event` that means the customer left.
    pub event_value: String,
    /// The schema rows are read with (missing markers, column kinds).
    pub schema: Schema,
    /// How covariates are read.
    pub design: Design,
    /// The fitted model.
    pub cox: CoxModel,
}

/// `params`, with [`SEPARATION_PENALIZER`] when a category separates the events and no
/// penalty was asked for; the reason goes into the design's notes.
pub fn guard_separation(
    design: &mut Design,
    columns: &[Vec<f64>],
    events: &[bool],
    params: CoxParams,
) -> CoxParams {
    let found = separated(design, columns, events);
    if found.is_empty() || params.penalizer > 0.0 {
        design.notes.extend(found);
        return params;
    }
    // First, where a reader sees them.
    for (k, f) in found.into_iter().enumerate() {
        design.notes.insert(k, format!(
            "{f}: the model is fitted with penalizer {SEPARATION_PENALIZER} so that the others can be (give the `penalizer` option to choose)"
        ));
    }
    CoxParams {
        penalizer: SEPARATION_PENALIZER,
        ..params
    }
}

impl SurvivalModel {
    /// Fits a Cox model on every row of `table`: covariates from the schema's features except
    /// `duration` and `drop`.
    pub fn fit(
        table: &Table,
        schema: &Schema,
        duration: &str,
        drop: &[String],
        params: CoxParams,
    ) -> Result<SurvivalModel> {
        let (durations, events) = durations_and_events(table, schema, duration)?;
        let (mut design, columns) = Design::fit_columns(table, schema, duration, drop)?;
        let params = guard_separation(&mut design, &columns, &events, params);
        let cox = CoxModel::fit(&columns, &design.names(), &durations, &events, params)?;
        Ok(Self::new(schema, duration, design, cox))
    }

    /// A model from its parts: `cox` fitted on the columns `design` reads, with `duration` and
    /// the schema's target as the event.
    pub fn new(schema: &Schema, duration: &str, design: Design, cox: CoxModel) -> SurvivalModel {
        SurvivalModel {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            churnkit_version: crate::VERSION.into(),
            duration: duration.into(),
            event: schema.target.clone(),
            event_value: schema.positive.clone(),
            schema: schema.clone(),
            design,
            cox,
        }
    }

    /// Each row's linear predictor (log hazard ratio against a customer at the means).
    pub fn linear_predictors(&self, table: &Table) -> Result<Vec<f64>> {
        let columns = self.design.apply(table, &self.schema)?;
        let mut row = vec![0.0; columns.len()];
        Ok((0..table.n_rows())
            .map(|i| {
                for (j, c) in columns.iter().enumerate() {
                    row[j] = c[i];
                }
                self.cox.linear_predictor(&row)
            })
            .collect())
    }

    /// Each row's lifetime value, from its tenure (the duration column) and `charge` column.
    pub fn lifetime_values(
        &self,
        table: &Table,
        charge: &str,
        params: &ValueParams,
    ) -> Result<Vec<LifetimeValue>> {
        let lp = self.linear_predictors(table)?;
        self.lifetime_values_given(table, charge, params, &lp)
    }

    /// [`SurvivalModel::lifetime_values`] when the rows' linear predictors are already known
    /// (the covariates need not be read from the table again).
    pub fn lifetime_values_given(
        &self,
        table: &Table,
        charge: &str,
        params: &ValueParams,
        lp: &[f64],
    ) -> Result<Vec<LifetimeValue>> {
        params.validate()?;
        let tenure = self.schema.numeric_cells(table, &self.duration)?;
        let charges = self.schema.numeric_cells(table, charge)?;
        let mut out = Vec::with_capacity(lp.len());
        for i in 0..lp.len() {
            let Some(t) = tenure[i] else {
                crate::bail!(
                    data,
                    "{}: column '{}', row {}: the tenure is missing",
                    table.source_name(),
                    self.duration,
                    i + 1
                );
            };
            let Some(c) = charges[i] else {
                crate::bail!(
                    data,
                    "{}: column '{charge}', row {}: the monthly charge is missing",
                    table.source_name(),
                    i + 1
                );
            };
            out.push(lifetime_value(
                |u| self.cox.survival_at(lp[i], u),
                t,
                c,
                params,
            ));
        }
        Ok(out)
    }

    /// The model as pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let mut s = serde_json::to_vec_pretty(self).expect("a survival model serialises");
        s.push(b'\n');
        s
    }

    /// Reads and validates a model written by [`SurvivalModel::to_json`]; `name` is for messages.
    pub fn from_json(bytes: &[u8], name: &str) -> Result<SurvivalModel> {
        let m: SurvivalModel = serde_json::from_slice(bytes)
            .map_err(|e| Error::model(format!("{name}: not a churnkit survival model: {e}")))?;
        ensure!(
            m.format == FORMAT,
            model,
            "{name}: format '{}' is not '{FORMAT}'",
            m.format
        );
        ensure!(
            m.format_version == FORMAT_VERSION,
            model,
            "{name}: survival model version {} but this build reads version {FORMAT_VERSION}",
            m.format_version
        );
        m.cox
            .validate()
            .map_err(|e| Error::model(format!("{name}: {e}")))?;
        ensure!(
            m.design.names() == m.cox.features,
            model,
            "{name}: the design's covariates do not match the Cox model's"
        );
        Ok(m)
    }
}
