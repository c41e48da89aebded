//! Scoring new customers with a model and its fitted preprocessor: probabilities, decisions,
//! optional reasons, and the scored CSV.

use churnkit_core::model::Model;
use churnkit_core::preprocess::{Preprocessor, TransformReport, UnknownCategory};
use churnkit_core::table::Table;
use churnkit_core::Result;

/// Scores of new customers: their id columns (and any other columns asked for), the class-1
/// probability and the label, plus what the transform found in their rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// Input columns carried through (name, values): the id columns, then with
    /// [`PredictOptions::keep_columns`] every other input column; when the table has no id
    /// column, a 1-based row number first (see [`Scores::row_column`]).
    pub columns: Vec<(String, Vec<Option<String>>)>,
    /// Class-1 probability per row.
    pub probability: Vec<f64>,
    /// The threshold the labels use.
    pub threshold: f64,
    /// Missing values, impossible values and unseen categories per column.
    pub report: TransformReport,
    /// The name of the row-number column, when one was added because the input has no id.
    pub row_column: Option<String>,
    /// With [`PredictOptions::explain`]: each row's largest SHAP contributions, largest first.
    pub reasons: Vec<Vec<Reason>>,
    /// With [`PredictOptions::explain`]: the base value the contributions add to.
    pub base_value: Option<f64>,
    /// Per row, with a survival model: lifetime value, value at risk and expected gain of an
    /// offer (see [`Scores::add_values`]); empty otherwise.
    pub values: Vec<CustomerValue>,
}

/// What a customer is worth and what an offer to them is expected to gain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CustomerValue {
    /// Discounted margin over the expected remaining months (churnkit_core::survival::value).
    pub lifetime_value: f64,
    /// churn_probability x lifetime_value: what leaving would cost.
    pub value_at_risk: f64,
    /// churn_probability x success_rate x lifetime_value - offer_cost.
    pub expected_gain: f64,
}

/// The columns [`Scores::add_values`] adds after the scores.
pub const VALUE_COLUMNS: [&str; 3] = ["lifetime_value", "value_at_risk", "expected_gain"];

/// One reason for a customer's score: a feature, the customer's value, and how much it moved
/// the score from the base value (exact TreeSHAP; positive raises the churn score).
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    /// The feature (an input column).
    pub feature: String,
    /// The customer's value as given (None when missing).
    pub value: Option<String>,
    /// The contribution to the score.
    pub contribution: f64,
}

/// How [`predict`] scores.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct PredictOptions {
    /// What to do with a category never seen in training (default: treat it as missing).
    pub unknown: UnknownCategory,
    /// Probability above which a customer is flagged.
    pub threshold: f64,
    /// Carry every input column to the output, not only the ids.
    pub keep_columns: bool,
    /// Add each row's `explain` largest reasons (0: none).
    pub explain: usize,
}

impl Default for PredictOptions {
    fn default() -> Self {
        PredictOptions {
            unknown: UnknownCategory::default(),
            threshold: 0.5,
            keep_columns: false,
            explain: 0,
        }
    }
}

impl PredictOptions {
    /// Set the unseen-category policy.
    pub fn unknown(mut self, u: UnknownCategory) -> Self {
        self.unknown = u;
        self
    }

    /// Set the threshold.
    pub fn threshold(mut self, t: f64) -> Self {
        self.threshold = t;
        self
    }

    /// Carry every input column through.
    pub fn keep_columns(mut self, k: bool) -> Self {
        self.keep_columns = k;
        self
    }

    /// Add each row's `k` largest reasons (exact TreeSHAP contributions).
    pub fn explain(mut self, k: usize) -> Self {
        self.explain = k;
        self
    }
}

/// The score columns [`Scores::to_csv`] appends.
pub const SCORE_COLUMNS: [&str; 2] = ["churn_probability", "churn_prediction"];

/// Apply the fitted preprocessor and the model to new customers in `table` (the target may be
/// absent).
///
/// ```
/// use churnkit::prelude::*;
/// use churnkit::workflow::{predict, train, PredictOptions};
/// let (csv, _) = churnkit::generate::generate_rows(300, 1);
/// let table = Table::from_csv_bytes(csv, "sample.csv")?;
/// let data = Processed::fit(&table, &Schema::infer(&table, "Churn", None)?, SplitOptions::default())?;
/// let params = RandomForestParams::new().n_estimators(10).check()?;
/// let trained = train(&data, params)?;
/// let new = Table::from_csv_bytes(b"Age,Tenure,MonthlyCharges,TotalCharges,Contract,PaymentMethod\n40,2,80,160,Weekly,Mailed check\n".to_vec(), "new.csv")?;
/// let scores = predict(&data.state, trained.model(), &new, PredictOptions::default())?;
/// assert_eq!(scores.report.unseen["Contract"].count, 1);      // scored as a missing contract
/// assert_eq!(scores.row_column.as_deref(), Some("row_number"));  // no id column in the input
/// # Ok::<(), churnkit::Error>(())
/// ```
pub fn predict(
    preprocessor: &Preprocessor,
    model: &Model,
    table: &Table,
    options: PredictOptions,
) -> Result<Scores> {
    model.check_features(&preprocessor.feature_names())?;
    let (x, report) = preprocessor.transform_report(table, options.unknown)?;
    let probability = model.predict(&x)?;
    let (mut reasons, mut base_value) = (Vec::new(), None);
    if options.explain > 0 {
        let c = model.explain(&x)?;
        let raw: Vec<Vec<Option<&str>>> = model
            .feature_names
            .iter()
            .map(|f| table.column(f))
            .collect::<Result<_>>()?;
        reasons = (0..c.n_rows())
            .map(|i| {
                c.top(i, options.explain)
                    .into_iter()
                    .map(|(f, v)| Reason {
                        feature: model.feature_names[f].clone(),
                        value: raw[f][i].map(String::from),
                        contribution: v,
                    })
                    .collect()
            })
            .collect();
        base_value = Some(c.base_value);
    }
    let ids: Vec<&String> = preprocessor
        .schema
        .id_columns
        .iter()
        .filter(|c| table.has_column(c))
        .collect();
    let mut names: Vec<&String> = ids.clone();
    if options.keep_columns {
        names.extend(table.headers().iter().filter(|h| !ids.contains(h)));
    }
    let mut columns = Vec::new();
    let mut row_column = None;
    if ids.is_empty() {
        // A name no input column (nor a score column) has.
        let mut name = "row_number".to_string();
        while table.has_column(&name) || SCORE_COLUMNS.contains(&name.as_str()) {
            name.insert(0, '_');
        }
        // Numbered from the file's start, also when the table is a part of it.
        let first = table.row_offset() + 1;
        columns.push((
            name.clone(),
            (first..first + table.n_rows())
                .map(|i| Some(i.to_string()))
                .collect(),
        ));
        row_column = Some(name);
    }
    for c in names {
        let values = table
            .column(c)?
            .iter()
            .map(|v| v.map(String::from))
            .collect();
        columns.push((c.clone(), values));
    }
    Ok(Scores {
        columns,
        probability,
        threshold: options.threshold,
        report,
        row_column,
        reasons,
        base_value,
        values: Vec::new(),
    })
}

pub(super) fn csv_escape(s: &str) -> String {
    // A bare carriage return ends a line for most CSV readers too.
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl Scores {
    /// Adds each row's lifetime value (one per row, from a survival model), value at risk and
    /// the expected gain of an offer under `economics`.
    pub fn add_values(
        &mut self,
        lifetime_values: &[f64],
        economics: &churnkit_core::profit::Economics,
    ) -> Result<()> {
        economics.validate()?;
        churnkit_core::ensure!(
            lifetime_values.len() == self.probability.len(),
            data,
            "{} lifetime values for {} scored rows",
            lifetime_values.len(),
            self.probability.len()
        );
        self.values = self
            .probability
            .iter()
            .zip(lifetime_values)
            .map(|(&p, &v)| CustomerValue {
                lifetime_value: v,
                value_at_risk: p * v,
                expected_gain: churnkit_core::decisions::targeting::expected_gain(p, v, economics),
            })
            .collect();
        Ok(())
    }

    /// 0/1 label per row: 1 when the probability is above the threshold.
    pub fn labels(&self) -> Vec<u8> {
        churnkit_core::evaluate::labels(&self.probability, self.threshold)
    }

    /// Rows flagged as churners.
    pub fn flagged(&self) -> usize {
        self.labels().iter().map(|&v| usize::from(v)).sum()
    }

    /// CSV: the carried columns, `churn_probability`, `churn_prediction`.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut out = self.csv_header();
        out.extend(self.csv_rows());
        out
    }

    /// The header line of [`Scores::to_csv`].
    pub fn csv_header(&self) -> Vec<u8> {
        let mut out = String::new();
        let mut header: Vec<String> = self.columns.iter().map(|(c, _)| csv_escape(c)).collect();
        header.extend(SCORE_COLUMNS.map(String::from));
        if !self.values.is_empty() {
            header.extend(VALUE_COLUMNS.map(String::from));
        }
        let k = self.reasons.iter().map(Vec::len).max().unwrap_or(0);
        for r in 1..=k {
            for part in ["feature", "value", "contribution"] {
                header.push(format!("reason_{r}_{part}"));
            }
        }
        out.push_str(&header.join(","));
        out.push('\n');
        out.into_bytes()
    }

    /// The rows of [`Scores::to_csv`], without the header.
    pub fn csv_rows(&self) -> Vec<u8> {
        let mut out = String::new();
        let k = self.reasons.iter().map(Vec::len).max().unwrap_or(0);
        for (i, (p, label)) in self.probability.iter().zip(self.labels()).enumerate() {
            for (_, v) in &self.columns {
                out.push_str(&csv_escape(v[i].as_deref().unwrap_or("")));
                out.push(',');
            }
            out.push_str(&format!("{p},{label}"));
            if let Some(v) = self.values.get(i) {
                out.push_str(&format!(
                    ",{},{},{}",
                    v.lifetime_value, v.value_at_risk, v.expected_gain
                ));
            }
            if let Some(rs) = self.reasons.get(i) {
                for r in 0..k {
                    match rs.get(r) {
                        Some(x) => out.push_str(&format!(
                            ",{},{},{}",
                            csv_escape(&x.feature),
                            csv_escape(x.value.as_deref().unwrap_or("")),
                            x.contribution
                        )),
                        None => out.push_str(",,,"),
                    }
                }
            }
            out.push('\n');
        }
        out.into_bytes()
    }
}
