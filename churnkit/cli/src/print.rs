//! What the CLI tells people: one function per step, quiet-aware. Warnings go to stderr even
//! with `-q`.

use churnkit::prelude::*;
use churnkit::preprocess::FeatureTransform;
use churnkit::tracking::{keys, Delivery, Logged, RunRow, Where};
use std::path::{Path, PathBuf};

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("undefined".into(), |v| format!("{v:.3}"))
}

/// A probability to 4 decimals without trailing zeros (0.5, 0.327): the exact value is in the
/// file it came from.
fn short(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn or_none(items: Vec<String>, sep: &str) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(sep)
    }
}

fn paths(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn warn(msg: &str) {
    eprintln!("churnkit: warning: {}", crate::exit::flag_words(msg));
}

/// The preprocessing summary. `inferred` is the data file when the schema was inferred.
pub(crate) fn preprocess(
    data: &Processed,
    input: &Path,
    inferred: bool,
    files: &[PathBuf],
    seconds: f64,
    quiet: bool,
) {
    let s = &data.state;
    let c = &s.cleaning;
    for col in &c.ignored_columns {
        warn(&format!("ignoring column '{col}' (not in the schema)"));
    }
    if quiet {
        return;
    }
    if inferred {
        println!(
            "inferred schema (save with `churnkit schema --data {} --target {}` > schema.toml):",
            input.display(),
            s.schema.target
        );
        for line in s.schema.to_toml().lines().filter(|l| !l.starts_with('#')) {
            println!("  | {line}");
        }
    }
    println!(
        "preprocess: {} ({} rows, sha256 {})",
        input.display(),
        s.input.rows,
        &s.input.sha256[..12]
    );
    let missing: Vec<String> = c
        .missing
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!(
        "  missing values:     {} (blank or a marker: {})",
        or_none(missing, ", "),
        churnkit::error::few(&s.schema.na_values, 6)
    );
    let impossible: Vec<String> = c
        .out_of_range
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(k, n)| {
            let range = s.schema.valid_ranges.get(k).map(|r| r.to_string());
            format!("{k} {n} (valid: {})", range.unwrap_or_default())
        })
        .collect();
    println!(
        "  impossible values:  {} (treated as missing; rule: valid_ranges)",
        or_none(impossible, ", ")
    );
    println!("  duplicates dropped: {}", c.duplicates_dropped);
    let filled: Vec<String> = c
        .filled_from_product
        .iter()
        .zip(&c.filled_with_median)
        .filter(|((_, p), (_, m))| **p + **m > 0)
        .map(|((k, p), (_, m))| format!("{k} {p} from product, {m} with median"))
        .collect();
    println!("  values filled:      {}", or_none(filled, "; "));
    let left: Vec<String> = c
        .left_missing
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!(
        "  left missing:       {} (the forest learns where missing values go)",
        or_none(left, ", ")
    );
    let clipped: Vec<String> = s
        .features
        .iter()
        .filter_map(|f| match f {
            FeatureTransform::Numeric {
                name,
                clip: Some(cl),
                ..
            } => {
                let n = c.clipped.get(name).copied().unwrap_or(0);
                (n > 0).then(|| format!("{name} {n} to [{:.2}, {:.2}]", cl.lower, cl.upper))
            }
            _ => None,
        })
        .collect();
    if s.schema.outlier_iqr_k > 0.0 {
        println!(
            "  values clipped:     {} (rule: Tukey fences, {} x IQR of training rows)",
            or_none(clipped, ", "),
            s.schema.outlier_iqr_k
        );
    } else {
        println!(
            "  values clipped:     none (off: a tree needs no clipping; outlier_iqr_k turns it on)"
        );
    }
    if !s.schema.excluded.is_empty() {
        let ex: Vec<&String> = s.schema.excluded.keys().collect();
        println!(
            "  not features:       {} (ids carried to predict: {})",
            churnkit::error::few(&ex, 10),
            or_none(s.schema.id_columns.clone(), ", ")
        );
    }
    let pct = |p: usize, n: usize| 100.0 * p as f64 / n.max(1) as f64;
    let sp = &s.split;
    println!(
        "  split (stratified, seed {}): train {} ({:.1}% churn), test {} ({:.1}% churn)",
        sp.options.seed,
        sp.train_rows,
        pct(sp.train_positive, sp.train_rows),
        sp.test_rows,
        pct(sp.test_positive, sp.test_rows)
    );
    println!(
        "  features: {} ({} numeric, {} categorical)",
        s.features.len(),
        s.schema.numeric.len(),
        s.schema.categorical.len()
    );
    println!(
        "  wrote {} files to {} in {seconds:.3} s",
        files.len(),
        files
            .first()
            .and_then(|f| f.parent())
            .map_or(".".into(), |p| p.display().to_string()),
    );
}

/// The training summary.
pub(crate) fn train(t: &Trained, files: &[PathBuf], quiet: bool) {
    if let Some(w) = &t.overfit_warning {
        warn(w);
    }
    if quiet {
        return;
    }
    let p = &t.model().params;
    println!(
        "train: {} with {} tree(s), max_depth {}, min_samples_split {}, min_samples_leaf {}, max_features {}, seed {}",
        t.model().kind,
        t.model().trees.len(),
        p.max_depth().map_or("none".into(), |d| d.to_string()),
        p.min_samples_split(),
        p.min_samples_leaf(),
        p.max_features(),
        p.seed()
    );
    println!(
        "  fit: {:.3} s wall, {} CPU; model {:.1} KiB",
        t.fit_seconds,
        t.fit_cpu_seconds
            .map_or("?".into(), |c| format!("{c:.2} s")),
        t.model_json().len() as f64 / 1024.0
    );
    if let Some(f) = t.final_model() {
        println!(
            "  final model: refitted on all {} rows -> {} (metrics below are the held-out model's, kept as {})",
            f.fitted_rows,
            churnkit::layout::MODEL,
            churnkit::layout::HOLDOUT_MODEL
        );
    }
    println!("           accuracy  precision  recall  f1     roc_auc");
    for (name, m) in [("train", &t.train), ("test", &t.test)] {
        println!(
            "  {name:<7}  {:.3}     {:.3}      {:.3}   {:.3}  {}",
            m.accuracy,
            m.precision,
            m.recall,
            m.f1,
            fmt_opt(m.roc_auc)
        );
    }
    if let Some(o) = &t.oob {
        println!(
            "  out-of-bag ({} training rows, each scored by the trees that did not draw it): accuracy {:.3}, ROC AUC {}",
            o.rows,
            o.accuracy,
            fmt_opt(o.roc_auc)
        );
    }
    if let Some(c) = &t.model().calibration {
        println!(
            "  calibration: {:?} map fitted on the out-of-bag scores; predict reports calibrated probabilities",
            c.method()
        );
    }
    let top: Vec<String> = t
        .model()
        .importances()
        .iter()
        .take(5)
        .map(|(n, v)| format!("{n} {v:.3}"))
        .collect();
    println!("  top features: {}", top.join(", "));
    println!("  wrote {}", paths(files));
}

/// The evaluation summary.
pub(crate) fn evaluate(ev: &Evaluated, files: &[PathBuf], quiet: bool) {
    if quiet {
        return;
    }
    let e = &ev.evaluation;
    let (b, c) = (&e.business, &e.confusion);
    println!(
        "evaluate: {} test customers; ROC AUC {}, average precision {}",
        b.total_customers,
        fmt_opt(e.metrics.roc_auc),
        fmt_opt(e.average_precision)
    );
    println!(
        "  confusion: TN {}  FP {}  FN {}  TP {}",
        c.tn, c.fp, c.fn_, c.tp
    );
    println!(
        "  churners: {} actual, {} predicted, {} caught, {} missed, {} false alarms",
        b.actual_churners,
        b.predicted_churners,
        b.correctly_identified,
        b.missed_churners,
        b.false_alarms
    );
    println!(
        "  detection rate {:.1}%, false alarm rate {:.1}%",
        100.0 * b.churn_detection_rate,
        100.0 * b.false_alarm_rate
    );
    for line in ev.decisions.summary().lines() {
        println!("  {line}");
    }
    println!("  wrote {}", paths(files));
    if let Some(t) = &ev.targeting {
        println!("value-aware targeting on the same test rows (profit counts each churner at their value):");
        for x in [&t.single_threshold, &t.value_ranked, &t.expected_gain_rule] {
            println!(
                "  {:<28} {:>5} offers, {:>4} churners reached, expected profit {:>12.2}",
                x.rule, x.offers, x.churners_reached, x.expected_profit
            );
        }
        println!(
            "  same number of offers, ranked by expected gain: {:+.2}",
            t.gain_same_offers
        );
    }
}

/// Where a logged run went.
pub(crate) fn logged(what: &str, logged: &Logged, tracker: &Tracker, quiet: bool) {
    let dir = tracker.local.run_dir(&logged.stored.run_id);
    match &logged.delivery {
        Delivery::Server {
            url, experiment_id, ..
        } => {
            if !quiet {
                println!("  tracked {what} run on MLflow: {url}");
                if let Some(c) = &tracker.server {
                    println!(
                        "  the experiment's runs: {}",
                        c.experiment_url(experiment_id)
                    );
                }
            }
        }
        Delivery::Local { reason: Some(r) } => warn(&format!(
            "MLflow not reached ({r}); {what} run kept in {}, deliver it later with `churnkit sync`",
            dir.display()
        )),
        _ => {
            if !quiet {
                println!(
                    "  tracked {what} run locally: {} (set MLFLOW_TRACKING_URI to use a server)",
                    dir.display()
                );
            }
        }
    }
}

/// The `pipeline` timing table and headline test metrics.
pub(crate) fn pipeline_summary(seconds: [f64; 3], ev: &Evaluated, quiet: bool) {
    if quiet {
        return;
    }
    let m = &ev.evaluation.metrics;
    println!("\npipeline summary");
    println!("  step        seconds");
    for (name, s) in ["preprocess", "train", "evaluate"].iter().zip(seconds) {
        println!("  {name:<10}  {s:>7.3}");
    }
    println!("  total       {:>7.3}", seconds.iter().sum::<f64>());
    println!(
        "  test: accuracy {:.3}  precision {:.3}  recall {:.3}  F1 {:.3}  ROC AUC {}",
        m.accuracy,
        m.precision,
        m.recall,
        m.f1,
        fmt_opt(m.roc_auc)
    );
}

/// The `runs` table.
pub(crate) fn runs(experiment: &str, rows: &[(Where, RunRow)], sort: Option<&str>, limit: usize) {
    if rows.is_empty() {
        println!("no runs in experiment '{experiment}'");
        return;
    }
    let mut metric_cols: Vec<&str> = match sort {
        Some(m) => vec![m, keys::metrics::ROC_AUC],
        None => vec![keys::metrics::ROC_AUC, keys::metrics::TEST_F1],
    };
    metric_cols.dedup();
    print!(
        "{:<8} {:<12} {:<28} {:<19} {:>6} {:>7}",
        "where", "run", "name", "start (UTC)", "depth", "trees"
    );
    for m in &metric_cols {
        print!(" {m:>12}");
    }
    println!();
    for (place, r) in rows.iter().take(limit) {
        print!(
            "{:<8} {:<12} {:<28} {:<19} {:>6} {:>7}",
            place.to_string(),
            &r.run_id[..r.run_id.len().min(12)],
            r.run_name.chars().take(28).collect::<String>(),
            &churnkit::tracking::utc_string(r.start_time_ms.max(0) as u64)[..19],
            r.params
                .get(keys::params::MAX_DEPTH)
                .map_or("-", String::as_str),
            r.params
                .get(keys::params::N_ESTIMATORS)
                .map_or("-", String::as_str),
        );
        for m in &metric_cols {
            match r.metrics.get(*m) {
                Some(v) if v.is_nan() => print!(" {:>12}", "NaN"),
                Some(v) => print!(" {v:>12.4}"),
                None => print!(" {:>12}", "-"),
            }
        }
        println!();
    }
    if rows.len() > limit {
        println!("({} more; --limit to show them)", rows.len() - limit);
    }
}

/// `runs --compare`: one column per run; params first (`*`: the runs differ), then metrics with
/// the difference from the first run (`*`: the best value; `(lower)` where smaller wins).
pub(crate) fn comparison(c: &churnkit::tracking::Comparison) {
    let width = c
        .runs
        .iter()
        .map(|r| r.run_name.chars().count().min(28))
        .max()
        .unwrap_or(0)
        .max(18);
    let name = |m: &churnkit::tracking::compare::MetricRow| {
        format!(
            "  {}{}",
            m.key,
            if m.lower_is_better { " (lower)" } else { "" }
        )
    };
    let label = c
        .params
        .iter()
        .map(|p| p.key.len() + 2)
        .chain(c.metrics.iter().map(|m| name(m).len()))
        .max()
        .unwrap_or(0)
        .max(12);
    let line = |name: &str, cells: Vec<String>| {
        let mut s = format!("{name:<label$}");
        for cell in cells {
            s.push_str(&format!("  {cell:<width$}"));
        }
        println!("{}", s.trim_end());
    };
    line(
        "",
        c.runs
            .iter()
            .map(|r| r.run_name.chars().take(28).collect())
            .collect(),
    );
    line(
        "run",
        c.runs
            .iter()
            .map(|r| r.run_id[..r.run_id.len().min(12)].to_string())
            .collect(),
    );
    println!("params (* where the runs differ)");
    for p in &c.params {
        line(
            &format!("{} {}", if p.differs { '*' } else { ' ' }, p.key),
            p.values
                .iter()
                .map(|v| v.clone().unwrap_or_else(|| "-".into()))
                .collect(),
        );
    }
    println!("metrics (difference from the first run; * the best; (lower): smaller is better)");
    for m in &c.metrics {
        let cells = m
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut cell = match v {
                    None => "-".to_string(),
                    Some(x) if x.is_nan() => "NaN".to_string(),
                    Some(x) => format!("{x:.4}"),
                };
                if let (true, Some(d)) = (i > 0, m.delta[i]) {
                    cell.push_str(&format!(" ({d:+.4})"));
                }
                if m.best.contains(&i) {
                    cell.push_str(" *");
                }
                cell
            })
            .collect();
        line(&name(m), cells);
    }
}

/// `models list`: one line per version, newest first, with its aliases.
pub(crate) fn models(models: &[churnkit::tracking::RegisteredModel], place: &str) {
    if models.is_empty() {
        println!("no registered models in the {place} (churnkit models register --run ID)");
        return;
    }
    println!(
        "{:<20} {:>7} {:<20} {:<34} source",
        "model", "version", "aliases", "run"
    );
    for m in models {
        for v in &m.versions {
            println!(
                "{:<20} {:>7} {:<20} {:<34} {}",
                m.name,
                v.version,
                if v.aliases.is_empty() {
                    "-".to_string()
                } else {
                    v.aliases.join(",")
                },
                v.run_id,
                v.source
            );
        }
    }
}

/// What `predict` scored and what it found in the rows.
pub(crate) fn predict(s: &churnkit::workflow::Streamed, output: &Path, quiet: bool) {
    let r = &s.report;
    for (col, u) in &r.unseen {
        warn(&format!(
            "'{col}': {} value(s) never seen in training ({}) scored as missing; --unknown-category error refuses them",
            u.count,
            churnkit::error::few(&u.examples, 5)
        ));
    }
    for (col, n) in r.out_of_range.iter().filter(|(_, &n)| n > 0) {
        warn(&format!(
            "'{col}': {n} impossible value(s) (outside the valid range) scored as missing"
        ));
    }
    if quiet {
        return;
    }
    println!(
        "predict: scored {} rows, {} flagged as churners (threshold {}) -> {}",
        s.rows,
        s.flagged,
        short(s.threshold),
        output.display()
    );
    if let Some(base) = s.base_value {
        println!(
            "  reasons: each row's {} largest TreeSHAP contributions (reason_K_feature, _value, _contribution); base value {base:.4} + all contributions = the score",
            s.reasons
        );
    }
    let missing: Vec<String> = r
        .missing
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!("  missing values:     {}", or_none(missing, ", "));
    let unseen: Vec<String> = r
        .unseen
        .iter()
        .map(|(k, u)| format!("{k} {}", u.count))
        .collect();
    println!("  unseen categories:  {}", or_none(unseen, ", "));
    println!(
        "  columns:            {}{}",
        churnkit::error::few(&s.columns, 10),
        s.row_column.as_ref().map_or(String::new(), |c| format!(
            " ('{c}' numbers the rows: the input has no id column)"
        ))
    );
    if s.parts > 1 {
        println!(
            "  read in {} parts of at most {} rows (--chunk-rows)",
            s.parts, s.chunk_rows
        );
    }
}

pub(crate) fn survival(
    s: &churnkit::workflow::Survival,
    files: &[PathBuf],
    seconds: f64,
    quiet: bool,
) {
    if quiet {
        return;
    }
    let m = &s.model;
    println!(
        "survival: {} rows, {} left ({:.1}%), {} still customers (censored); duration {}, event {} = {}",
        s.rows,
        s.events,
        100.0 * s.events as f64 / s.rows as f64,
        s.rows - s.events,
        m.duration,
        m.event,
        m.event_value
    );
    for (g, median) in s.medians() {
        let km = &s
            .curves
            .iter()
            .find(|c| c.0 == g)
            .expect("a curve per group")
            .1;
        println!(
            "  {g:<24} median lifetime {:>6}   S(12) {:.3}  S(24) {:.3}  S(36) {:.3}",
            median.map_or("> max".to_string(), |v| format!("{v}")),
            km.survival_at(12.0),
            km.survival_at(24.0),
            km.survival_at(36.0)
        );
    }
    if let Some(l) = &s.logrank {
        println!(
            "log-rank between {} groups: chi2 {:.2} on {} df, p = {:.3e}",
            l.groups.len(),
            l.statistic,
            l.df,
            l.p_value
        );
    }
    let mut terms = m.cox.summary();
    terms.sort_by(|a, b| b.z.abs().total_cmp(&a.z.abs()));
    println!(
        "Cox model: {} covariates, concordance {:.4}; strongest (hazard ratio, p):",
        terms.len(),
        m.cox.concordance
    );
    for t in terms.iter().take(5) {
        println!(
            "  {:<40} {:>8.3}  p = {:.2e}",
            t.feature, t.hazard_ratio, t.p
        );
    }
    for n in m.design.notes.iter().take(4) {
        println!("  note: {}", crate::exit::flag_words(n));
    }
    if m.design.notes.len() > 4 {
        println!(
            "  note: ... and {} more in summary.json",
            m.design.notes.len() - 4
        );
    }
    if let (Some(c), false) = (&s.charge, s.values.is_empty()) {
        let n = s.values.len() as f64;
        println!(
            "lifetime value ({c} x margin {}, {} months, {}% a year): mean {:.2}, expected months {:.1}",
            s.value_params.margin,
            s.value_params.horizon_months,
            100.0 * s.value_params.annual_discount_rate,
            s.values.iter().map(|v| v.lifetime_value).sum::<f64>() / n,
            s.values.iter().map(|v| v.expected_months).sum::<f64>() / n
        );
    }
    for f in files {
        println!("wrote {}", f.display());
    }
    let phases: Vec<String> = s
        .seconds
        .iter()
        .map(|(what, t)| format!("{what} {t:.3}s"))
        .collect();
    println!("survival done in {seconds:.2}s ({})", phases.join(", "));
}

pub(crate) fn monitor(m: &churnkit::workflow::Monitored, files: &[PathBuf], quiet: bool) {
    if quiet {
        return;
    }
    println!(
        "monitor: {} current rows against {} reference rows; {}",
        m.drift.current_rows, m.drift.reference_rows, m.drift.rule
    );
    let mut f: Vec<&churnkit::monitor::FeatureDrift> = m.drift.features.iter().collect();
    f.sort_by(|a, b| b.psi.total_cmp(&a.psi));
    for x in f.iter().take(8) {
        println!(
            "  {:<28} {:<10} stat {:>8.4}  p {:>9.2e}  PSI {:>7.4}{}",
            x.feature,
            x.test,
            x.statistic,
            x.p_value,
            x.psi,
            if x.drifted { "  DRIFTED" } else { "" }
        );
    }
    for (feature, n) in &m.unseen {
        println!("  {feature}: {n} values never seen in training (counted as missing)");
    }
    if let Some(s) = &m.scores {
        println!(
            "scores: mean {:.4} (reference {:.4}), KS {:.4}, PSI {:.4}{}",
            s.mean_current,
            s.mean_reference,
            s.statistic,
            s.psi,
            if s.drifted { "  DRIFTED" } else { "" }
        );
    }
    if let Some(e) = &m.estimated {
        println!(
            "estimated (CBPE, threshold {}): accuracy {:.4}, precision {:.4}, recall {:.4}, F1 {:.4}, ROC AUC {:.4}",
            e.threshold, e.accuracy, e.precision, e.recall, e.f1, e.roc_auc
        );
    }
    if let Some(r) = &m.realised {
        println!(
            "realised (labels):           accuracy {:.4}, precision {:.4}, recall {:.4}, F1 {:.4}, ROC AUC {}",
            r.accuracy,
            r.precision,
            r.recall,
            r.f1,
            r.roc_auc.map_or("n/a".into(), |v| format!("{v:.4}"))
        );
    }
    for p in files {
        println!("wrote {}", p.display());
    }
}
