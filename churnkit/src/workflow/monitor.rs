//! The monitoring step on values: a batch of customers compared with the training data as the
//! model sees them (after the fitted preprocessor), feature by feature and by score, with the
//! model's figures estimated before the labels arrive (CBPE) and, when labels are given, the
//! realised ones beside them.

use churnkit_core::frame::Frame;
use churnkit_core::model::Model;
use churnkit_core::monitor::{cbpe, drift, ks_2samp, psi, DriftOptions, DriftReport, Estimated};
use churnkit_core::preprocess::{FeatureTransform, Preprocessor, UnknownCategory};
use churnkit_core::table::Table;
use churnkit_core::{ensure, Result};
use serde::Serialize;
use serde_json::json;

/// The score distribution's drift.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScoreDrift {
    /// KS distance between the reference's and the batch's scores.
    pub statistic: f64,
    /// Its p-value.
    pub p_value: f64,
    /// PSI of the scores (deciles of the reference's).
    pub psi: f64,
    /// Whether it drifted, by the features' rule with alpha itself (one test).
    pub drifted: bool,
    /// Mean score of the reference.
    pub mean_reference: f64,
    /// Mean score of the batch.
    pub mean_current: f64,
}

/// Realised figures on a labelled batch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Realised {
    /// Accuracy at the threshold.
    pub accuracy: f64,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
    /// ROC AUC.
    pub roc_auc: Option<f64>,
    /// Churn rate.
    pub churn_rate: f64,
}

/// What monitoring found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Monitored {
    /// Per-feature drift and the rule.
    pub drift: DriftReport,
    /// Score drift, with a model.
    pub scores: Option<ScoreDrift>,
    /// CBPE estimates on the batch, with a model.
    pub estimated: Option<Estimated>,
    /// Realised figures, with labels.
    pub realised: Option<Realised>,
    /// Categories never seen in training, per feature (counted as missing).
    pub unseen: Vec<(String, usize)>,
}

impl Monitored {
    /// Whether anything drifted: a feature or the scores.
    pub fn drifted(&self) -> bool {
        self.drift.drifted > 0 || self.scores.is_some_and(|s| s.drifted)
    }

    /// `drift.json`.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_value(self).expect("serialises");
        v["features"] = v["drift"]["features"].take();
        v["dataset_drift"] = json!(self.drifted());
        let mut b = serde_json::to_vec_pretty(&v).expect("serialises");
        b.push(b'\n');
        b
    }
}

/// Compares `current` (raw rows) with `reference` (features as the preprocessor made them, e.g.
/// the training rows of the processed data), by feature and, with a model, by score; estimates
/// the model's figures on `current` at `threshold`; with `labels` (0/1 per current row) also
/// the realised figures.
///
/// The model's scores on the rows it was trained on are not what it gives new customers (a
/// forest is surer of its own training rows), so when `reference` holds training rows, give
/// rows the model has not seen as `score_reference` (the processed test rows); `None` scores
/// `reference` itself.
#[allow(clippy::too_many_arguments)]
pub fn monitor(
    preprocessor: &Preprocessor,
    reference: &Frame,
    score_reference: Option<&Frame>,
    current: &Table,
    model: Option<&Model>,
    labels: Option<&[u8]>,
    threshold: f64,
    options: DriftOptions,
) -> Result<Monitored> {
    let names = preprocessor.feature_names();
    ensure!(
        reference.names == names,
        model,
        "the reference's features do not match the preprocessor's"
    );
    let (x, report) = preprocessor.transform_report(current, UnknownCategory::Missing)?;
    let levels: Vec<Option<usize>> = preprocessor
        .features
        .iter()
        .map(|f| match f {
            FeatureTransform::Categorical { categories, .. } => Some(categories.len()),
            _ => None,
        })
        .collect();
    let drift = drift(&names, &levels, &reference.columns, &x.columns, options)?;
    let (mut scores, mut estimated, mut realised) = (None, None, None);
    if let Some(m) = model {
        m.check_features(&names)?;
        let (r, c) = (
            m.predict(score_reference.unwrap_or(reference))?,
            m.predict(&x)?,
        );
        let (d, p) = ks_2samp(&r, &c);
        let ps = psi(&r, &c, options.bins);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        scores = Some(ScoreDrift {
            statistic: d,
            p_value: p,
            psi: ps,
            drifted: p < options.alpha && ps >= options.psi_threshold,
            mean_reference: mean(&r),
            mean_current: mean(&c),
        });
        estimated = Some(cbpe(&c, threshold));
        if let Some(y) = labels {
            ensure!(
                y.len() == c.len(),
                data,
                "{} labels for {} rows",
                y.len(),
                c.len()
            );
            let m = churnkit_core::evaluate::BinaryMetrics::compute(y, &c, threshold);
            realised = Some(Realised {
                accuracy: m.accuracy,
                precision: m.precision,
                recall: m.recall,
                f1: m.f1,
                roc_auc: m.roc_auc,
                churn_rate: y.iter().map(|&v| f64::from(v)).sum::<f64>() / y.len().max(1) as f64,
            });
        }
    }
    Ok(Monitored {
        drift,
        scores,
        estimated,
        realised,
        unseen: report
            .unseen
            .iter()
            .map(|(k, u)| (k.clone(), u.count))
            .collect(),
    })
}

impl Monitored {
    /// The PSI per feature as bars, largest first.
    pub fn psi_chart(&self) -> Result<churnkit_core::plots::Png> {
        let f = &self.drift.features;
        let names: Vec<String> = f.iter().map(|x| x.feature.clone()).collect();
        let psi: Vec<f64> = f.iter().map(|x| x.psi).collect();
        churnkit_core::plots::ranked_bars(
            "Population stability index per feature",
            "PSI (0.1 moderate, 0.25 large)",
            &names,
            &psi,
        )
    }

    /// `monitor.html`: one self-contained page (the chart inline), for a person or a scheduler's
    /// e-mail.
    pub fn to_html(&self, title: &str) -> Result<Vec<u8>> {
        use churnkit_core::charts::html::{base64, escape};
        use std::fmt::Write as _;
        let mut h = String::new();
        let verdict = if self.drifted() {
            "<b style=\"color:#b00\">drift</b>"
        } else {
            "<b style=\"color:#080\">no drift</b>"
        };
        let _ = write!(
            h,
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title>\
             <style>body{{font-family:sans-serif;margin:24px}}td,th{{padding:3px 10px;text-align:right}}\
             td:first-child,th:first-child{{text-align:left}}tr.d{{background:#fdd}}</style></head><body>\
             <h2>{t}</h2><p>{verdict}: {} of {} features drifted; {} reference rows, {} current rows.<br>{}</p>",
            self.drift.drifted,
            self.drift.features.len(),
            self.drift.reference_rows,
            self.drift.current_rows,
            escape(&self.drift.rule),
            t = escape(title),
        );
        if let Some(s) = &self.scores {
            let _ = write!(
                h,
                "<p>Scores: mean {:.4} (reference {:.4}), KS {:.4}, p = {:.3e}, PSI {:.4}{}.</p>",
                s.mean_current,
                s.mean_reference,
                s.statistic,
                s.p_value,
                s.psi,
                if s.drifted { ", <b>drifted</b>" } else { "" }
            );
        }
        if let Some(e) = &self.estimated {
            let _ = write!(
                h,
                "<p>Estimated before labels (CBPE, at {}): accuracy {:.4}, precision {:.4}, recall {:.4}, F1 {:.4}, ROC AUC {:.4}, churn rate {:.4}.</p>",
                e.threshold, e.accuracy, e.precision, e.recall, e.f1, e.roc_auc, e.churn_rate
            );
        }
        if let Some(r) = &self.realised {
            let _ = write!(
                h,
                "<p>Realised with labels: accuracy {:.4}, precision {:.4}, recall {:.4}, F1 {:.4}, ROC AUC {}, churn rate {:.4}.</p>",
                r.accuracy,
                r.precision,
                r.recall,
                r.f1,
                r.roc_auc.map_or("n/a".into(), |v| format!("{v:.4}")),
                r.churn_rate
            );
        }
        h.push_str("<table><tr><th>feature</th><th>test</th><th>statistic</th><th>p-value</th><th>PSI</th><th>missing (ref)</th><th>missing (current)</th><th>drifted</th></tr>");
        for f in &self.drift.features {
            let _ = write!(
                h,
                "<tr{}><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.3e}</td><td>{:.4}</td><td>{:.2}%</td><td>{:.2}%</td><td>{}</td></tr>",
                if f.drifted { " class=\"d\"" } else { "" },
                escape(&f.feature),
                f.test,
                f.statistic,
                f.p_value,
                f.psi,
                100.0 * f.missing_reference,
                100.0 * f.missing_current,
                if f.drifted { "yes" } else { "no" }
            );
        }
        h.push_str("</table>");
        let _ = writeln!(
            h,
            "<p><img alt=\"PSI per feature\" src=\"data:image/png;base64,{}\"></p></body></html>",
            base64(&self.psi_chart()?.bytes)
        );
        Ok(h.into_bytes())
    }

    /// The monitoring run tracking logs: settings, the verdict and figures as metrics, the two
    /// files, and the model's hash as a tag (which links it to the model's runs).
    pub fn run_record(
        &self,
        experiment: &str,
        model_sha256: Option<&str>,
    ) -> Result<churnkit_tracking::RunRecord> {
        use churnkit_tracking::{Artifact, RunKind, RunRecord};
        let mut r = RunRecord::new(RunKind::Monitor, experiment, "monitor");
        let o = &self.drift.options;
        r.params.insert("alpha".into(), o.alpha.to_string());
        r.params
            .insert("psi_threshold".into(), o.psi_threshold.to_string());
        r.params.insert(
            "reference_rows".into(),
            self.drift.reference_rows.to_string(),
        );
        r.params
            .insert("current_rows".into(), self.drift.current_rows.to_string());
        let m = &mut r.metrics;
        m.insert("drifted_features".into(), Some(self.drift.drifted as f64));
        m.insert(
            "dataset_drift".into(),
            Some(f64::from(u8::from(self.drifted()))),
        );
        m.insert(
            "max_psi".into(),
            Some(
                self.drift
                    .features
                    .iter()
                    .map(|f| f.psi)
                    .fold(0.0, f64::max),
            ),
        );
        if let Some(s) = &self.scores {
            m.insert("score_psi".into(), Some(s.psi));
            m.insert("score_ks".into(), Some(s.statistic));
        }
        if let Some(e) = &self.estimated {
            for (k, v) in [
                ("estimated_accuracy", e.accuracy),
                ("estimated_precision", e.precision),
                ("estimated_recall", e.recall),
                ("estimated_f1", e.f1),
                ("estimated_roc_auc", e.roc_auc),
            ] {
                m.insert(k.into(), Some(v));
            }
        }
        if let Some(x) = &self.realised {
            for (k, v) in [
                ("realised_accuracy", Some(x.accuracy)),
                ("realised_f1", Some(x.f1)),
                ("realised_roc_auc", x.roc_auc),
            ] {
                m.insert(k.into(), v);
            }
        }
        r.tags.insert("churnkit.step".into(), "monitor".into());
        if let Some(sha) = model_sha256 {
            r.tags.insert(
                churnkit_tracking::keys::tags::MODEL_SHA256.into(),
                sha.into(),
            );
        }
        r.artifacts.push(Artifact::new(
            crate::artifacts::MONITOR_DRIFT,
            self.to_json(),
        ));
        r.artifacts.push(Artifact::new(
            crate::artifacts::MONITOR_REPORT,
            self.to_html("churnkit monitor")?,
        ));
        r.end_time_ms = churnkit_tracking::now_ms();
        Ok(r)
    }
}
