//! Evaluating a model on the held-out rows: the threshold (given or profit-optimal on
//! out-of-bag scores), metrics, decisions, charts, permutation importance, and the run record.

use super::records::{dataset_inputs, insert_metrics};
use super::train::Trained;
use crate::artifacts;
use churnkit_core::decisions::targeting::TargetingComparison;
use churnkit_core::decisions::{DecisionCharts, Decisions, ThresholdChoice};
use churnkit_core::ensure;
use churnkit_core::evaluate::{class_names, Charts, Evaluation};
use churnkit_core::importance::PermutationImportance;
use churnkit_core::io::sha256_bytes;
use churnkit_core::model::{FittedOn, Model, ModelKind};
use churnkit_core::plots::Png;
use churnkit_core::preprocess::Processed;
use churnkit_core::profit::Economics;
use churnkit_core::Result;
use churnkit_tracking::record::{
    keys::{metrics as m, params as p, tags as t},
    reproducibility_tags, Artifact, RunKind, RunRecord,
};

/// How an evaluation picks its threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// This probability.
    Fixed(f64),
    /// The profit-optimal threshold on the out-of-bag scores of the training rows (a random
    /// forest with bootstrap only): never chosen on the test rows it is reported on.
    ProfitOptimal,
}

impl std::str::FromStr for Threshold {
    type Err = churnkit_core::Error;
    fn from_str(s: &str) -> Result<Self> {
        if s == "optimal" {
            return Ok(Threshold::ProfitOptimal);
        }
        match s.parse::<f64>() {
            Ok(t) if (0.0..1.0).contains(&t) => Ok(Threshold::Fixed(t)),
            _ => Err(churnkit_core::Error::params(format!(
                "threshold `{s}`: expected a probability in [0, 1) or `optimal`"
            ))),
        }
    }
}

/// How to evaluate: the threshold (given, or profit-optimal on out-of-bag scores), the economics
/// of an offer, and the SHA-256 the run record tags the model with. The one argument of
/// [`evaluate`] besides the model and the data; a bare probability converts into a fixed
/// threshold with the default economics.
///
/// ```
/// use churnkit::prelude::*;
/// use churnkit::profit::Economics;
/// let options = EvaluateOptions::new()
///     .threshold(Threshold::ProfitOptimal)
///     .economics(Economics { offer_cost: 20.0, ..Economics::default() });
/// assert_eq!(options.threshold, Threshold::ProfitOptimal);
/// assert_eq!(EvaluateOptions::from(0.4).threshold, Threshold::Fixed(0.4));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluateOptions {
    /// The decision threshold.
    pub threshold: Threshold,
    /// The economics of a retention offer, for the profit curve and the optimal threshold.
    pub economics: Economics,
    /// The model's SHA-256 for the run record, e.g. the hash of the file it was loaded from
    /// ([`crate::layout::Layout::load_model_with_hash`]), which links the evaluation to the
    /// training run that wrote that file. `None`: the hash of the model's JSON.
    pub model_sha256: Option<String>,
    /// Each test row's value (e.g. its lifetime value, [`test_row_values`]): the evaluation then
    /// compares value-aware targeting with the single threshold on the same rows.
    pub values: Option<Vec<f64>>,
}

impl Default for EvaluateOptions {
    fn default() -> Self {
        EvaluateOptions::fixed(0.5)
    }
}

impl From<f64> for EvaluateOptions {
    fn from(threshold: f64) -> Self {
        EvaluateOptions::fixed(threshold)
    }
}

impl From<&EvaluateOptions> for EvaluateOptions {
    fn from(options: &EvaluateOptions) -> Self {
        options.clone()
    }
}

impl EvaluateOptions {
    /// Threshold 0.5 and the default economics.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fixed threshold and the default economics.
    pub fn fixed(threshold: f64) -> Self {
        EvaluateOptions {
            threshold: Threshold::Fixed(threshold),
            economics: Economics::default(),
            model_sha256: None,
            values: None,
        }
    }

    /// The decision threshold.
    pub fn values(mut self, values: Vec<f64>) -> Self {
        self.values = Some(values);
        self
    }

    /// The decision threshold.
    pub fn threshold(mut self, threshold: Threshold) -> Self {
        self.threshold = threshold;
        self
    }

    /// The economics of an offer.
    pub fn economics(mut self, economics: Economics) -> Self {
        self.economics = economics;
        self
    }

    /// The model's SHA-256 for the run record (see the field).
    pub fn model_sha256(mut self, sha256: String) -> Self {
        self.model_sha256 = Some(sha256);
        self
    }

    /// Pick the threshold of `model` on `data`: the given one, or the profit-optimal one on
    /// the out-of-bag scores of the training rows (calibrated like the model's predictions).
    pub fn choose(&self, model: &Model, data: &Processed) -> Result<ThresholdChoice> {
        match self.threshold {
            Threshold::Fixed(threshold) => Ok(ThresholdChoice::Fixed { threshold }),
            Threshold::ProfitOptimal => {
                ensure!(model.fitted_on == FittedOn::TrainingRows, model, "the optimal threshold is chosen on the out-of-bag scores of the training rows: evaluate the held-out model",);
                let oob = model.oob_scores(&data.x_train).map_err(|e| {
                    e.prefixed("the profit-optimal threshold needs out-of-bag scores")
                })?;
                let oob = match &model.calibration {
                    Some(c) => oob.iter().map(|&s| c.apply(s)).collect(),
                    None => oob,
                };
                ThresholdChoice::profit_optimal(&data.y_train, &oob, self.economics)
            }
        }
    }
}

/// A model's evaluation on the test rows, with its charts drawn.
#[derive(Debug, Clone)]
pub struct Evaluated {
    /// Metrics, curves and reports.
    pub evaluation: Evaluation,
    /// The three charts.
    pub charts: Charts,
    /// Gains and lift, calibration and profit, at the chosen threshold.
    pub decisions: Decisions,
    /// Their charts.
    pub decision_charts: DecisionCharts,
    /// Permutation importance on the test rows (5 shuffles per feature; `None` when the test
    /// rows hold one class only, so ROC AUC is undefined).
    pub permutation: Option<PermutationImportance>,
    /// Value-aware targeting against the single threshold on the test rows, with values.
    pub targeting: Option<TargetingComparison>,
    /// Its chart, drawn with the others (a chart that cannot be drawn fails the evaluation
    /// rather than leaving an older one beside new results).
    pub permutation_chart: Option<Png>,
    /// What was evaluated.
    pub model_kind: ModelKind,
    /// Its seed.
    pub model_seed: u64,
    /// SHA-256 of its JSON.
    pub model_sha256: String,
    /// Start and end of the step, ms since the epoch.
    pub time_ms: (u64, u64),
}

/// Score the test rows of `data` with `model` and evaluate them as `options` say: metrics,
/// curves, the classification report, the business figures, the decisions and the charts. The
/// one way to evaluate (`options` may be a bare threshold: `evaluate(&model, &data, 0.5)`).
pub fn evaluate(
    model: &Model,
    data: &Processed,
    options: impl Into<EvaluateOptions>,
) -> Result<Evaluated> {
    let options = options.into();
    let model_sha256 = options
        .model_sha256
        .clone()
        .unwrap_or_else(|| sha256_bytes(&model.to_json()));
    let start = churnkit_tracking::now_ms();
    let choice = options.choose(model, data)?;
    let proba = model.predict(&data.x_test)?;
    let decisions = Decisions::new(&data.y_test, &proba, choice, options.economics)?;
    let evaluation = Evaluation::new(
        data.y_test.clone(),
        proba,
        choice.threshold(),
        class_names(&data.state.target),
    );
    let charts = evaluation.charts()?;
    let permutation = if data.y_test.contains(&0) && data.y_test.contains(&1) {
        Some(PermutationImportance::compute(
            model,
            &data.x_test,
            &data.y_test,
            5,
            model.params.seed(),
        )?)
    } else {
        None
    };
    let permutation_chart = permutation.as_ref().map(|p| p.chart()).transpose()?;
    let targeting = options
        .values
        .as_ref()
        .map(|v| {
            churnkit_core::decisions::targeting::compare(
                &data.y_test,
                &evaluation.proba,
                v,
                choice.threshold(),
                &options.economics,
            )
        })
        .transpose()?;
    Ok(Evaluated {
        evaluation,
        charts,
        permutation,
        permutation_chart,
        targeting,
        decision_charts: decisions.charts()?,
        decisions,
        model_kind: model.kind,
        model_seed: model.params.seed(),
        model_sha256,
        time_ms: (start, churnkit_tracking::now_ms()),
    })
}

impl Evaluated {
    /// The five output files (name, bytes): charts and reports.
    pub fn files(&self) -> Vec<(&'static str, Vec<u8>)> {
        let e = &self.evaluation;
        let mut files = vec![
            (
                artifacts::CONFUSION_MATRIX,
                self.charts.confusion_matrix.bytes.clone(),
            ),
            (artifacts::ROC_CURVE, self.charts.roc_curve.bytes.clone()),
            (
                artifacts::PR_CURVE,
                self.charts.precision_recall_curve.bytes.clone(),
            ),
            (artifacts::CLASSIFICATION_REPORT, e.report.to_json()),
            (artifacts::BUSINESS_METRICS, e.business.to_json()),
            (
                artifacts::GAINS_CHART,
                self.decision_charts.gains.bytes.clone(),
            ),
            (
                artifacts::LIFT_CHART,
                self.decision_charts.lift.bytes.clone(),
            ),
            (
                artifacts::CALIBRATION_CHART,
                self.decision_charts.calibration.bytes.clone(),
            ),
            (
                artifacts::PROFIT_CHART,
                self.decision_charts.profit.bytes.clone(),
            ),
            (
                artifacts::GAINS_TABLE,
                self.decisions
                    .gains
                    .as_ref()
                    .map_or_else(String::new, |g| g.to_csv())
                    .into_bytes(),
            ),
            (
                artifacts::DECISIONS,
                self.decisions.to_json(&self.model_sha256),
            ),
        ];
        if let Some(t) = &self.targeting {
            let mut b = serde_json::to_vec_pretty(t).expect("serialises");
            b.push(b'\n');
            files.push((artifacts::VALUE_TARGETING, b));
        }
        if let Some(p) = &self.permutation {
            files.push((artifacts::PERMUTATION_TABLE, p.to_csv().into_bytes()));
            if let Some(png) = &self.permutation_chart {
                files.push((artifacts::PERMUTATION_CHART, png.bytes.clone()));
            }
        }
        files
    }

    /// The evaluation run: threshold, test metrics, business rates, tags (with the model's
    /// hash, which links it to its training run), and the five files as artifacts.
    pub fn run_record(&self, data: &Processed, experiment: &str) -> RunRecord {
        let e = &self.evaluation;
        let mut r = RunRecord::new(
            RunKind::Evaluate,
            experiment,
            &format!("evaluate-{}", self.model_kind),
        );
        (r.start_time_ms, r.end_time_ms) = self.time_ms;
        r.params
            .insert(p::THRESHOLD.into(), e.threshold.to_string());
        r.params.insert(p::TEST_SIZE.into(), e.y.len().to_string());
        r.params
            .insert(p::MODEL.into(), self.model_kind.to_string());
        let d = &self.decisions;
        for (k, v) in [
            (p::THRESHOLD_CHOICE, d.threshold.label().to_string()),
            (p::OFFER_COST, d.economics.offer_cost.to_string()),
            (p::RETAINED_VALUE, d.economics.retained_value.to_string()),
            (p::SUCCESS_RATE, d.economics.success_rate.to_string()),
        ] {
            r.params.insert(k.into(), v);
        }
        insert_metrics(
            &mut r.metrics,
            &[
                (m::ROC_AUC, e.metrics.roc_auc),
                (m::AVERAGE_PRECISION, e.average_precision),
                (m::TEST_ACCURACY, Some(e.metrics.accuracy)),
                (m::TEST_PRECISION, Some(e.metrics.precision)),
                (m::TEST_RECALL, Some(e.metrics.recall)),
                (m::TEST_F1, Some(e.metrics.f1)),
                (
                    m::CHURN_DETECTION_RATE,
                    Some(e.business.churn_detection_rate),
                ),
                (m::FALSE_ALARM_RATE, Some(e.business.false_alarm_rate)),
                (m::BRIER_SCORE, Some(d.calibration.brier)),
                (m::EXPECTED_CALIBRATION_ERROR, Some(d.calibration.ece)),
                (m::TOP_DECILE_CAPTURE, d.top_decile_capture()),
                (m::TOP_DECILE_LIFT, d.top_decile_capture().map(|c| c / 0.1)),
                (m::PROFIT, Some(d.profit_at_threshold)),
                (m::PROFIT_AT_HALF, Some(d.profit_at_half)),
            ],
        );
        if let Some(t) = &self.targeting {
            for (k, v) in [
                (
                    "value_profit_single_threshold",
                    t.single_threshold.expected_profit,
                ),
                ("value_profit_value_ranked", t.value_ranked.expected_profit),
                (
                    "value_profit_expected_gain_rule",
                    t.expected_gain_rule.expected_profit,
                ),
                (
                    "value_offers_expected_gain_rule",
                    t.expected_gain_rule.offers as f64,
                ),
            ] {
                r.metrics.insert(k.into(), Some(v));
            }
        }
        r.tags = reproducibility_tags(self.model_seed, &data.state.input.sha256);
        r.tags
            .insert(t::MODEL_SHA256.into(), self.model_sha256.clone());
        r.artifacts = self
            .files()
            .into_iter()
            .map(|(name, bytes)| Artifact::new(name, bytes))
            .collect();
        r.inputs = dataset_inputs(data, &["test"]);
        r
    }
}

impl Trained {
    /// [`evaluate()`] this model (its hash is known: no serialising it again).
    pub fn evaluate(
        &self,
        data: &Processed,
        options: impl Into<EvaluateOptions>,
    ) -> Result<Evaluated> {
        let options = options.into();
        let options = match options.model_sha256 {
            Some(_) => options,
            None => options.model_sha256(self.model_sha256()),
        };
        evaluate(self.model(), data, options)
    }
}

/// The values of `data`'s test rows from `table`, the raw file it was preprocessed from: the
/// split is made again (same schema, settings and seed) and checked against the test labels,
/// then `value_of` gives one value per row of the whole table.
pub fn test_row_values(
    data: &Processed,
    table: &churnkit_core::table::Table,
    value_of: impl FnOnce(&churnkit_core::table::Table) -> Result<Vec<f64>>,
) -> Result<Vec<f64>> {
    let st = &data.state;
    churnkit_core::ensure!(
        table.sha256() == st.input.sha256,
        data,
        "{}: not the file the processed data was made from (SHA-256 {} , expected {})",
        table.source_name(),
        &table.sha256()[..12],
        &st.input.sha256[..st.input.sha256.len().min(12)]
    );
    let split = churnkit_core::preprocess::Split::stratified(table, &st.schema, st.split.options)?;
    let labels: Vec<u8> = split.test().iter().map(|&i| split.labels()[i]).collect();
    churnkit_core::ensure!(
        labels == data.y_test,
        data,
        "{}: the split made again does not give the processed test rows",
        table.source_name()
    );
    let all = value_of(table)?;
    Ok(split.test().iter().map(|&i| all[i]).collect())
}
