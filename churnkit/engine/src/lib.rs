//! The churnkit notebook engine: churnkit's notebook layer behind one C function.
//!
//! A notebook cell on the evcxr kernel is a crate compiled against its dependencies; with churnkit
//! itself that is 235 crates to type-check and link per cell. So cells depend on the small
//! `churnkit-cells` crate instead, which loads this library (built once, in release mode) and
//! sends it requests: `{"op": "summary", "frame": 3}` in, `ok` + a JSON value or `err` + a message
//! out. Values live here, in a registry of reference-counted objects (tables, prepared data,
//! models, evaluations, charts, projects); a cell holds their handles.
//!
//! The protocol is versioned ([`PROTOCOL`]); `churnkit-cells` refuses an engine of another
//! version, so a stale build is a clear error rather than a crash.

use churnkit::notebook::{self as nb, Chart, DataFrame, Display, Png, Project, Report};
use churnkit::prelude::*;
use churnkit::profit::Economics;
use churnkit::workflow::{EvaluateOptions, Threshold};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The request/response protocol version; `churnkit-cells` checks it on load.
pub const PROTOCOL: u32 = 2;

/// An object a cell holds a handle to.
enum Obj {
    Frame(DataFrame),
    Data(Box<Processed>),
    Trained(Box<Trained>),
    Eval(Box<Evaluated>),
    Png(Png),
    Project(Project),
    Survival(Box<nb::Survival>),
    Monitored(Box<nb::Monitored>),
    Saved(Box<nb::Saved>),
}

#[derive(Default)]
struct Registry {
    next: u64,
    objects: HashMap<u64, (Arc<Obj>, usize)>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn with_registry<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    let mut g = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    f(g.get_or_insert_with(Registry::default))
}

fn put(o: Obj) -> u64 {
    with_registry(|r| {
        r.next += 1;
        r.objects.insert(r.next, (Arc::new(o), 1));
        r.next
    })
}

type Res<T> = std::result::Result<T, String>;

fn get(req: &Value, key: &str) -> Res<Arc<Obj>> {
    let h = req[key]
        .as_u64()
        .ok_or_else(|| format!("request lacks the handle `{key}`"))?;
    with_registry(|r| r.objects.get(&h).map(|(o, _)| o.clone()))
        .ok_or_else(|| format!("no object {h} (released, or from an earlier kernel)"))
}

macro_rules! getter {
    ($name:ident, $variant:ident, $ty:ty, $what:literal) => {
        fn $name(req: &Value, key: &str) -> Res<Arc<Obj>> {
            let o = get(req, key)?;
            match &*o {
                Obj::$variant(_) => Ok(o),
                _ => Err(format!("`{key}` is not {}", $what)),
            }
        }
    };
}
getter!(frame_obj, Frame, DataFrame, "a table");
getter!(data_obj, Data, Processed, "prepared data");
/// A model: a loaded one, a trained one, or a saved one with its preprocessor.
fn model_obj(req: &Value, key: &str) -> Res<Arc<Obj>> {
    let o = get(req, key)?;
    match &*o {
        Obj::Trained(_) | Obj::Saved(_) => Ok(o),
        _ => Err(format!("`{key}` is not a model")),
    }
}
getter!(eval_obj, Eval, Evaluated, "an evaluation");
getter!(project_obj, Project, Project, "a project");
getter!(survival_obj, Survival, Survival, "a survival analysis");
getter!(monitored_obj, Monitored, Monitored, "a drift report");

fn frame(o: &Arc<Obj>) -> &DataFrame {
    match &**o {
        Obj::Frame(f) => f,
        _ => unreachable!("checked by frame_obj"),
    }
}
fn data(o: &Arc<Obj>) -> &Processed {
    match &**o {
        Obj::Data(d) => d,
        _ => unreachable!("checked by data_obj"),
    }
}
fn model(o: &Arc<Obj>) -> &Model {
    match &**o {
        Obj::Trained(t) => t.model(),
        Obj::Saved(s) => &s.model,
        _ => unreachable!("checked by model_obj"),
    }
}
fn eval(o: &Arc<Obj>) -> &Evaluated {
    match &**o {
        Obj::Eval(e) => e,
        _ => unreachable!("checked by eval_obj"),
    }
}
fn survival(o: &Arc<Obj>) -> &nb::Survival {
    match &**o {
        Obj::Survival(s) => s,
        _ => unreachable!("checked by survival_obj"),
    }
}
fn monitored(o: &Arc<Obj>) -> &nb::Monitored {
    match &**o {
        Obj::Monitored(m) => m,
        _ => unreachable!("checked by monitored_obj"),
    }
}
fn project(o: &Arc<Obj>) -> &Project {
    match &**o {
        Obj::Project(p) => p,
        _ => unreachable!("checked by project_obj"),
    }
}

fn s<'a>(req: &'a Value, key: &str) -> Res<&'a str> {
    req[key]
        .as_str()
        .ok_or_else(|| format!("request lacks the text `{key}`"))
}

fn u(req: &Value, key: &str) -> Res<usize> {
    req[key]
        .as_u64()
        .map(|v| v as usize)
        .ok_or_else(|| format!("request lacks the number `{key}`"))
}

fn e(err: churnkit::Error) -> String {
    err.to_string()
}

fn frame_value(df: DataFrame) -> Value {
    let (height, width) = (df.height(), df.width());
    let columns: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    json!({"h": put(Obj::Frame(df)), "height": height, "width": width, "columns": columns})
}

fn png_value(p: Png) -> Value {
    json!({"h": put(Obj::Png(p))})
}

fn metrics(m: &nb::BinaryMetrics) -> Value {
    json!({"accuracy": m.accuracy, "precision": m.precision, "recall": m.recall, "f1": m.f1, "roc_auc": m.roc_auc})
}

fn params(p: &Value) -> Res<RandomForestParams> {
    let mut r = RandomForestParams::new();
    if let Some(v) = p["n_estimators"].as_u64() {
        r = r.n_estimators(v as usize);
    }
    if let Some(v) = p.get("max_depth") {
        r = r.max_depth(v.as_u64().map(|d| d as usize));
    }
    if let Some(v) = p["min_samples_split"].as_u64() {
        r = r.min_samples_split(v as usize);
    }
    if let Some(v) = p["min_samples_leaf"].as_u64() {
        r = r.min_samples_leaf(v as usize);
    }
    if let Some(v) = p["max_features"].as_str() {
        r = r.max_features(v.parse().map_err(e)?);
    }
    if let Some(v) = p["seed"].as_u64() {
        r = r.seed(v);
    }
    Ok(r)
}

fn grid(g: &Value) -> Res<Grid> {
    let list = |k: &str| g[k].as_array().cloned().unwrap_or_default();
    let mut r = Grid::new();
    let ints = |k: &str| -> Vec<usize> {
        list(k)
            .iter()
            .filter_map(|v| v.as_u64().map(|x| x as usize))
            .collect()
    };
    if !list("n_estimators").is_empty() {
        r = r.n_estimators(ints("n_estimators"));
    }
    if !list("max_depth").is_empty() {
        r = r.max_depth(
            list("max_depth")
                .iter()
                .map(|v| v.as_u64().map(|d| d as usize)),
        );
    }
    if !list("min_samples_split").is_empty() {
        r = r.min_samples_split(ints("min_samples_split"));
    }
    if !list("min_samples_leaf").is_empty() {
        r = r.min_samples_leaf(ints("min_samples_leaf"));
    }
    if let Some(v) = g["seed"].as_u64() {
        r = r.seed(v);
    }
    Ok(r)
}

fn chart(spec: &Value) -> Res<Chart> {
    let kind = s(spec, "kind")?;
    let x = s(spec, "x")?;
    let y = spec["y"].as_str();
    let mut c = match (kind, y) {
        ("histogram", _) => Chart::histogram(x),
        ("bar", _) => Chart::bar(x),
        ("scatter", Some(y)) => Chart::scatter(x, y),
        ("line", Some(y)) => Chart::line(x, y),
        _ => return Err(format!("chart `{kind}` needs an x and a y column")),
    };
    if let (Some(y), "bar" | "histogram") = (y, kind) {
        c = c.y(y);
    }
    if let Some(v) = spec["color_by"].as_str() {
        c = c.color_by(v);
    }
    if let Some(v) = spec["title"].as_str() {
        c = c.title(v);
    }
    if let Some(v) = spec["x_label"].as_str() {
        c = c.x_label(v);
    }
    if let Some(v) = spec["y_label"].as_str() {
        c = c.y_label(v);
    }
    if let Some(v) = spec["bins"].as_u64() {
        c = c.bins(v as usize);
    }
    if let (Some(w), Some(h)) = (spec["width"].as_u64(), spec["height"].as_u64()) {
        c = c.size(w as u32, h as u32);
    }
    Ok(c)
}

/// The HTML of one report item: a handle's object, a nested report, or a paragraph.
fn item_html(item: &Value) -> Res<String> {
    if let Some(t) = item["text"].as_str() {
        return Ok(format!("<p>{}</p>", nb::escape(t)));
    }
    if item.get("report").is_some() {
        return Ok(report(&item["report"])?.html());
    }
    let o = get(item, "h")?;
    Ok(match &*o {
        Obj::Frame(df) => df.html(),
        Obj::Png(p) => p.html(),
        Obj::Eval(ev) => nb::Html(format!(
            "<pre>{}</pre>",
            nb::escape(&ev.decisions.summary())
        ))
        .html(),
        _ => return Err("a report item must be a table, a chart, a report or text".into()),
    })
}

fn report(spec: &Value) -> Res<Report> {
    let mut r = Report::new(spec["title"].as_str().unwrap_or("")).columns(u(spec, "columns")?);
    for it in spec["items"].as_array().cloned().unwrap_or_default() {
        r = r.item(nb::Html(item_html(&it)?));
    }
    Ok(r)
}

/// The evcxr content blocks of something displayable.
fn blocks(d: &dyn Display) -> String {
    d.blocks()
        .into_iter()
        .map(|(mime, body)| nb::content_block(mime, &body))
        .collect()
}

fn run_row(r: churnkit::tracking::RunRow) -> Value {
    json!({"run_id": r.run_id, "run_name": r.run_name, "metrics": r.metrics.into_iter().map(|(k, v)| (k, if v.is_finite() { json!(v) } else { Value::Null })).collect::<serde_json::Map<_, _>>(), "params": r.params})
}

fn evaluated_value(ev: Evaluated) -> Value {
    let m = metrics(&ev.evaluation.metrics);
    let threshold = ev.evaluation.threshold;
    json!({"h": put(Obj::Eval(Box::new(ev))), "metrics": m, "threshold": threshold})
}

fn economics(req: &Value) -> Economics {
    let d = Economics::default();
    Economics {
        offer_cost: req["offer_cost"].as_f64().unwrap_or(d.offer_cost),
        retained_value: req["retained_value"].as_f64().unwrap_or(d.retained_value),
        success_rate: req["success_rate"].as_f64().unwrap_or(d.success_rate),
    }
}

/// Answer one request. Public (and pure Rust) so the engine can be tested without the C layer.
pub fn handle(req: &Value) -> Res<Value> {
    let op = s(req, "op")?;
    Ok(match op {
        "retain" | "release" => {
            let h = u(req, "h")? as u64;
            with_registry(|r| {
                if let Some(entry) = r.objects.get_mut(&h) {
                    if op == "retain" {
                        entry.1 += 1;
                    } else {
                        entry.1 -= 1;
                        if entry.1 == 0 {
                            r.objects.remove(&h);
                        }
                    }
                }
            });
            Value::Null
        }
        "objects" => json!(with_registry(|r| r.objects.len())),
        "show" => {
            let o = get(req, "h")?;
            let text = match &*o {
                Obj::Frame(df) => blocks(df),
                Obj::Png(p) => blocks(p),
                Obj::Eval(ev) => blocks(&nb::Html(format!(
                    "<pre>{}</pre>",
                    nb::escape(&ev.decisions.summary())
                ))),
                Obj::Data(d) => nb::content_block(
                    "text/plain",
                    &format!(
                        "{} training rows, {} test rows; {} numeric, {} categorical features",
                        d.y_train.len(),
                        d.y_test.len(),
                        d.state.schema.numeric.len(),
                        d.state.schema.categorical.len()
                    ),
                ),
                Obj::Trained(t) => nb::content_block(
                    "text/plain",
                    &format!(
                        "{} trees; test F1 {:.3}, ROC AUC {:?}",
                        t.model().trees.len(),
                        t.test.f1,
                        t.test.roc_auc
                    ),
                ),
                Obj::Project(_) => nb::content_block("text/plain", "a churnkit project"),
                Obj::Survival(s) => blocks(&**s),
                Obj::Saved(s) => nb::content_block(
                    "text/plain",
                    &format!(
                        "the pipeline's model: {} trees on {} features",
                        s.model.trees.len(),
                        s.model.feature_names.len()
                    ),
                ),
                Obj::Monitored(m) => nb::content_block(
                    "text/plain",
                    &format!(
                        "{} of {} features drifted{}",
                        m.drift.drifted,
                        m.drift.features.len(),
                        m.estimated.map_or(String::new(), |e| format!(
                            "; estimated ROC AUC {:.3}",
                            e.roc_auc
                        ))
                    ),
                ),
            };
            json!(text)
        }
        "report" => json!(blocks(&report(&req["report"])?)),
        "load_csv" => frame_value(nb::load_csv(s(req, "path")?).map_err(e)?),
        "strings" => {
            let o = frame_obj(req, "frame")?;
            let c = nb::col(frame(&o), s(req, "column")?).map_err(e)?;
            let c = c.cast(&nb::DataType::String).map_err(|x| x.to_string())?;
            let v: Vec<Option<String>> = c
                .str()
                .map_err(|x| x.to_string())?
                .iter()
                .map(|v| v.map(String::from))
                .collect();
            json!(v)
        }
        "numbers" => {
            let o = frame_obj(req, "frame")?;
            json!(nb::numbers(frame(&o), s(req, "column")?).map_err(e)?)
        }
        "with_column" => {
            let o = frame_obj(req, "frame")?;
            let values: Vec<Option<f64>> = req["values"]
                .as_array()
                .ok_or("request lacks `values`")?
                .iter()
                .map(Value::as_f64)
                .collect();
            frame_value(nb::with_column(frame(&o), s(req, "name")?, values).map_err(e)?)
        }
        "summary" => frame_value(nb::summary(frame(&frame_obj(req, "frame")?)).map_err(e)?),
        "missing_values" => {
            frame_value(nb::missing_values(frame(&frame_obj(req, "frame")?)).map_err(e)?)
        }
        "feature_tests" => frame_value(
            nb::feature_tests(frame(&frame_obj(req, "frame")?), s(req, "target")?).map_err(e)?,
        ),
        "churn_distribution" => png_value(
            nb::churn_distribution(frame(&frame_obj(req, "frame")?), s(req, "target")?)
                .map_err(e)?,
        ),
        "churn_rate_by" => png_value(
            nb::churn_rate_by(
                frame(&frame_obj(req, "frame")?),
                s(req, "column")?,
                s(req, "target")?,
            )
            .map_err(e)?,
        ),
        "correlation_chart" => png_value(
            nb::correlation_chart(frame(&frame_obj(req, "frame")?), s(req, "target")?)
                .map_err(e)?,
        ),
        "chart" => {
            png_value(chart(&req["spec"])?.draw_frame(frame(&frame_obj(req, "frame")?)).map_err(e)?)
        }
        "prepare" => {
            let d = nb::prepare(frame(&frame_obj(req, "frame")?), s(req, "target")?).map_err(e)?;
            let sc = &d.state.schema;
            let v = json!({"target": sc.target, "numeric": sc.numeric, "categorical": sc.categorical,
                "excluded": sc.excluded.iter().map(|(k, v)| [k, v]).collect::<Vec<_>>(), "train_rows": d.y_train.len(), "test_rows": d.y_test.len()});
            let mut v = v;
            v["h"] = json!(put(Obj::Data(Box::new(d))));
            v
        }
        "fit" => {
            let o = data_obj(req, "data")?;
            let t = nb::fit(data(&o), params(&req["params"])?).map_err(e)?;
            let (train, test) = (metrics(&t.train), metrics(&t.test));
            let oob = t.oob.as_ref().and_then(|o| o.roc_auc);
            // The model is the trained object itself under a second reference, not a copy.
            let h = put(Obj::Trained(Box::new(t)));
            with_registry(|r| {
                if let Some(entry) = r.objects.get_mut(&h) {
                    entry.1 += 1;
                }
            });
            json!({"h": h, "model": h, "train": train, "test": test, "oob_roc_auc": oob})
        }
        "importance_chart" => {
            png_value(nb::importance_chart(model(&model_obj(req, "model")?)).map_err(e)?)
        }
        "importance_table" => {
            frame_value(nb::importance_table(model(&model_obj(req, "model")?)).map_err(e)?)
        }
        "evaluate" => {
            let (m, d) = (model_obj(req, "model")?, data_obj(req, "data")?);
            let threshold = match req["threshold"].as_f64() {
                Some(t) => Threshold::Fixed(t),
                None => Threshold::ProfitOptimal,
            };
            let opts = EvaluateOptions::new()
                .threshold(threshold)
                .economics(economics(req));
            evaluated_value(evaluate(model(&m), data(&d), opts).map_err(e)?)
        }
        "eval_chart" => {
            let o = eval_obj(req, "eval")?;
            let ev = eval(&o);
            let png = match s(req, "which")? {
                "confusion" => ev.charts.confusion_matrix.clone(),
                "roc" => ev.charts.roc_curve.clone(),
                "pr" => ev.charts.precision_recall_curve.clone(),
                "gains" => ev.decision_charts.gains.clone(),
                "lift" => ev.decision_charts.lift.clone(),
                "calibration" => ev.decision_charts.calibration.clone(),
                "profit" => ev.decision_charts.profit.clone(),
                "permutation" => ev
                    .permutation_chart
                    .clone()
                    .ok_or("permutation importance is undefined: the test rows hold one class")?,
                w => return Err(format!("no chart `{w}`")),
            };
            png_value(png)
        }
        "report_table" => {
            frame_value(nb::report_table(&eval(&eval_obj(req, "eval")?).evaluation.report).map_err(e)?)
        }
        "gains_table" => {
            frame_value(nb::gains_table(&eval(&eval_obj(req, "eval")?).decisions).map_err(e)?)
        }
        "decisions_summary" => json!(eval(&eval_obj(req, "eval")?).decisions.summary()),
        "survival" => {
            let o = frame_obj(req, "frame")?;
            let sv = nb::survival(
                frame(&o),
                s(req, "target")?,
                req["duration"].as_str(),
                req["by"].as_str(),
            )
            .map_err(e)?;
            let p = sv.logrank.as_ref().map(|l| l.p_value);
            let (rows, events, c) = (sv.rows, sv.events, sv.model.cox.concordance);
            let duration = sv.model.duration.clone();
            json!({"h": put(Obj::Survival(Box::new(sv))), "rows": rows, "events": events,
                   "concordance": c, "logrank_p_value": p, "duration": duration})
        }
        "survival_curves" => png_value(survival(&survival_obj(req, "survival")?).curves_chart().map_err(e)?),
        "hazard_ratios" => png_value(survival(&survival_obj(req, "survival")?).hazard_chart().map_err(e)?),
        "survival_table" => frame_value(nb::survival_table(survival(&survival_obj(req, "survival")?)).map_err(e)?),
        "cox_table" => frame_value(nb::cox_table(survival(&survival_obj(req, "survival")?)).map_err(e)?),
        "customer_survival" => {
            let (sv, fr) = (survival_obj(req, "survival")?, frame_obj(req, "frame")?);
            png_value(nb::customer_survival_chart(survival(&sv), frame(&fr), u(req, "row")?).map_err(e)?)
        }
        "drift" => {
            let (d, fr) = (data_obj(req, "data")?, frame_obj(req, "frame")?);
            let m = match req.get("model").filter(|v| !v.is_null()) {
                Some(_) => Some(model_obj(req, "model")?),
                None => None,
            };
            let r = nb::drift(data(&d), frame(&fr), m.as_ref().map(model)).map_err(e)?;
            let (drifted, n) = (r.drift.drifted, r.drift.features.len());
            let auc = r.estimated.map(|x| x.roc_auc);
            let any = r.drifted();
            json!({"h": put(Obj::Monitored(Box::new(r))), "drifted": drifted, "features": n,
                   "estimated_roc_auc": auc, "dataset_drift": any})
        }
        "drift_table" => frame_value(nb::drift_table(monitored(&monitored_obj(req, "drift")?)).map_err(e)?),
        "drift_chart" => png_value(monitored(&monitored_obj(req, "drift")?).psi_chart().map_err(e)?),
        "reasons_chart" => {
            let (m, d, fr) = (model_obj(req, "model")?, data_obj(req, "data")?, frame_obj(req, "frame")?);
            png_value(nb::reasons_chart(model(&m), data(&d), frame(&fr), u(req, "row")?).map_err(e)?)
        }
        "reasons_summary" => {
            let (m, d, fr) = (model_obj(req, "model")?, data_obj(req, "data")?, frame_obj(req, "frame")?);
            png_value(nb::reasons_summary_chart(model(&m), data(&d), frame(&fr)).map_err(e)?)
        }
        "reasons_beeswarm" => {
            let (m, d, fr) = (model_obj(req, "model")?, data_obj(req, "data")?, frame_obj(req, "frame")?);
            png_value(nb::reasons_beeswarm_chart(model(&m), data(&d), frame(&fr)).map_err(e)?)
        }
        "project_open" => {
            let p = Project::open(s(req, "root")?).map_err(e)?;
            json!({"h": put(Obj::Project(p))})
        }
        "runs" => frame_value(project(&project_obj(req, "project")?).runs(s(req, "experiment")?).map_err(e)?),
        "best_run" => run_row(
            project(&project_obj(req, "project")?)
                .best_run(s(req, "experiment")?, s(req, "metric")?)
                .map_err(e)?,
        ),
        "recent_run_ids" => json!(project(&project_obj(req, "project")?)
            .recent_run_ids(s(req, "experiment")?, u(req, "n")?)
            .map_err(e)?),
        "compare" => {
            let ids: Vec<String> = req["run_ids"]
                .as_array()
                .ok_or("request lacks `run_ids`")?
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
            frame_value(project(&project_obj(req, "project")?).compare(&ids).map_err(e)?)
        }
        "sweep" => {
            let (p, d) = (project_obj(req, "project")?, data_obj(req, "data")?);
            frame_value(
                project(&p)
                    .sweep(s(req, "experiment")?, data(&d), &grid(&req["grid"])?)
                    .map_err(e)?,
            )
        }
        "metric_vs_param" => png_value(
            project(&project_obj(req, "project")?)
                .metric_vs_param(s(req, "experiment")?, s(req, "metric")?, s(req, "param")?)
                .map_err(e)?,
        ),
        "metric_history_chart" => png_value(
            project(&project_obj(req, "project")?)
                .metric_history_chart(s(req, "run_id")?, s(req, "metric")?)
                .map_err(e)?,
        ),
        "register" => json!(project(&project_obj(req, "project")?)
            .register(s(req, "run_id")?, s(req, "name")?)
            .map_err(e)?),
        "promote" => {
            project(&project_obj(req, "project")?)
                .promote(s(req, "name")?, u(req, "version")? as u64, s(req, "alias")?)
                .map_err(e)?;
            json!(null)
        }
        "models" => frame_value(project(&project_obj(req, "project")?).models().map_err(e)?),
        "project_model" => {
            let saved = project(&project_obj(req, "project")?).saved_model().map_err(e)?;
            json!({"h": put(Obj::Saved(Box::new(saved)))})
        }
        "predict" => {
            let (m, fr) = (model_obj(req, "model")?, frame_obj(req, "frame")?);
            let Obj::Saved(saved) = &*m else {
                return Err("this model has no preprocessor to read raw rows with: load the pipeline's with project.model()".into());
            };
            let threshold = req["threshold"].as_f64().unwrap_or(0.5);
            let explain = req["explain"].as_u64().unwrap_or(0) as usize;
            frame_value(nb::predict_frame(saved, frame(&fr), threshold, explain).map_err(e)?)
        }
        "score" => {
            let (p, fr) = (project_obj(req, "project")?, frame_obj(req, "frame")?);
            frame_value(project(&p).score(s(req, "uri")?, frame(&fr)).map_err(e)?)
        }
        "log" => {
            let (p, d, t) = (project_obj(req, "project")?, data_obj(req, "data")?, get(req, "trained")?);
            let Obj::Trained(t) = &*t else {
                return Err("`trained` is not a trained model".into());
            };
            let record = t.run_record(data(&d), s(req, "experiment")?);
            let logged = project(&p).tracker().map_err(e)?.log(&record).map_err(e)?;
            json!(logged.run_id())
        }
        _ => return Err(format!("unknown request `{op}`: churnkit-cells and the engine disagree; rebuild the engine (scripts/jupyter-setup.sh)")),
    })
}

/// The protocol version this engine speaks.
#[no_mangle]
pub extern "C" fn churnkit_engine_protocol() -> u32 {
    PROTOCOL
}

/// Answer the JSON request of `len` bytes at `request`: returns a buffer of `*out_len` bytes,
/// `ok\n` + a JSON value or `err\n` + a message, to be released with [`churnkit_engine_free`].
/// A panic is caught and answered as an error.
///
/// # Safety
/// `request` must point to `len` readable bytes and `out_len` to a writable `usize`.
#[no_mangle]
pub unsafe extern "C" fn churnkit_engine_call(
    request: *const u8,
    len: usize,
    out_len: *mut usize,
) -> *mut u8 {
    // SAFETY: the caller passes a valid buffer of `len` bytes.
    let bytes = unsafe { std::slice::from_raw_parts(request, len) };
    let answer = std::panic::catch_unwind(|| {
        let req: Value = serde_json::from_slice(bytes).map_err(|x| format!("bad request: {x}"))?;
        handle(&req)
    })
    .unwrap_or_else(|p| {
        let what = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Err(format!("the engine panicked: {what}"))
    });
    let text = match answer {
        Ok(v) => format!("ok\n{v}"),
        Err(m) => format!("err\n{m}"),
    };
    let boxed = text.into_bytes().into_boxed_slice();
    // SAFETY: the caller passes a writable `usize`.
    unsafe { *out_len = boxed.len() };
    Box::into_raw(boxed).cast::<u8>()
}

/// Release a buffer returned by [`churnkit_engine_call`].
///
/// # Safety
/// `ptr` and `len` must come from one call of [`churnkit_engine_call`], released once.
#[no_mangle]
pub unsafe extern "C" fn churnkit_engine_free(ptr: *mut u8, len: usize) {
    // SAFETY: rebuilds the boxed slice `churnkit_engine_call` leaked.
    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(v: Value) -> Value {
        handle(&v).unwrap()
    }

    #[test]
    fn a_table_goes_through_the_workflow_by_handles() {
        let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/sample_data.csv");
        let df = call(json!({"op": "load_csv", "path": sample}));
        assert_eq!(df["height"], 100);
        let data = call(json!({"op": "prepare", "frame": df["h"], "target": "Churn"}));
        assert!(data["numeric"].as_array().unwrap().len() >= 2);
        let t = call(
            json!({"op": "fit", "data": data["h"], "params": {"n_estimators": 20, "max_depth": 4}}),
        );
        assert!(t["test"]["f1"].as_f64().unwrap() > 0.0);
        let ev = call(
            json!({"op": "evaluate", "model": t["model"], "data": data["h"], "threshold": 0.5}),
        );
        let chart = call(json!({"op": "eval_chart", "eval": ev["h"], "which": "gains"}));
        let shown = call(json!({"op": "show", "h": chart["h"]}));
        assert!(shown.as_str().unwrap().starts_with("EVCXR_BEGIN_CONTENT"));
        let drift =
            call(json!({"op": "drift", "data": data["h"], "frame": df["h"], "model": t["model"]}));
        assert_eq!(
            drift["features"],
            data["numeric"].as_array().unwrap().len()
                + data["categorical"].as_array().unwrap().len()
        );
        assert!(drift["estimated_roc_auc"].as_f64().unwrap() > 0.5);
        let table = call(json!({"op": "drift_table", "drift": drift["h"]}));
        assert_eq!(table["columns"][0], "feature");
        let surv = call(
            json!({"op": "survival", "frame": df["h"], "target": "Churn", "duration": null, "by": "Contract"}),
        );
        assert_eq!(surv["duration"], "Tenure");
        assert!(surv["logrank_p_value"].as_f64().unwrap() < 0.05);
        let before = call(json!({"op": "objects"})).as_u64().unwrap();
        call(json!({"op": "release", "h": chart["h"]}));
        assert_eq!(call(json!({"op": "objects"})).as_u64().unwrap(), before - 1);
        let err = handle(&json!({"op": "summary", "frame": data["h"]})).unwrap_err();
        assert!(err.contains("not a table"), "{err}");
        assert!(handle(&json!({"op": "nope"}))
            .unwrap_err()
            .contains("rebuild the engine"));
    }

    #[test]
    fn the_pipelines_model_scores_raw_rows_without_a_copy_of_the_model() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/sample_data.csv");
        let table = Table::read_csv(sample).unwrap();
        let schema = Schema::infer(&table, "Churn", None).unwrap();
        let data = Processed::fit(&table, &schema, SplitOptions::default()).unwrap();
        let params = RandomForestParams::new().n_estimators(10).check().unwrap();
        let trained = churnkit::workflow::train(&data, params).unwrap();
        let layout = Layout::under(dir.path());
        layout.save_processed(&data).unwrap();
        layout
            .save_training(&trained, &trained.run_record(&data, "e"))
            .unwrap();
        let p = call(json!({"op": "project_open", "root": dir.path().to_str().unwrap()}));
        let m = call(json!({"op": "project_model", "project": p["h"]}));
        let df = call(json!({"op": "load_csv", "path": sample}));
        let scored = call(
            json!({"op": "predict", "model": m["h"], "frame": df["h"], "threshold": 0.5, "explain": 2}),
        );
        assert_eq!(scored["height"], 100);
        let cols: Vec<&str> = scored["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        for c in [
            "CustomerID",
            "churn_probability",
            "churn_prediction",
            "score_decile",
            "reason_2_feature",
        ] {
            assert!(cols.contains(&c), "{c} not in {cols:?}");
        }
        // The loaded model works wherever a model does.
        let imp = call(json!({"op": "importance_table", "model": m["h"]}));
        assert_eq!(imp["columns"][0], "feature");
        // A model trained in the notebook has no preprocessor of its own: said in one line.
        let d = call(json!({"op": "prepare", "frame": df["h"], "target": "Churn"}));
        let t = call(json!({"op": "fit", "data": d["h"], "params": {"n_estimators": 5}}));
        assert_eq!(
            t["h"], t["model"],
            "the model is the trained object, not a copy"
        );
        let err =
            handle(&json!({"op": "predict", "model": t["model"], "frame": df["h"]})).unwrap_err();
        assert!(err.contains("project.model()"), "{err}");
    }
}
