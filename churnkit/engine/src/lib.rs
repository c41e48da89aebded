//! The churnkit notebook engine: churnkit's notebook layer behind one C function.
//!
//! A notebook cell on the evcxr kernel is a crate compiled against its dependencies; with churnkit
//! itself that is 235 crates to type-check and link per cell. So cells depend on the small
//! `churnkit-cells` crate instead, which loads this library (built once, in release mode) and
//! sends it requests. Values live here, in a registry of reference-counted objects (tables,
//! prepared data, models, evaluations, charts, projects); a cell holds typed handles to them.
//!
//! The requests and answers are the op table of `churnkit-protocol`, which both ends expand:
//! this crate implements its `Handler` (one method per op), so an op the cells send and the
//! engine does not answer, or answers with another type, does not compile. Its version is the
//! table's hash; `churnkit-cells` refuses an engine of another version.

use churnkit::notebook::{self as nb, query, Chart, DataFrame, Display, Png, Project, Report};
use churnkit::prelude::*;
use churnkit::profit::Economics;
use churnkit::workflow::{EvaluateOptions, Threshold};
use churnkit_protocol::ops::{self, kind, Depth, Handler};
use churnkit_protocol::wire::Ref;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use churnkit_protocol::PROTOCOL;

/// An object a cell holds a handle to.
enum Obj {
    Frame(DataFrame),
    Data(Box<Processed>),
    // With the preprocessor of the data it was fitted on, so that it scores raw rows.
    Trained(Box<(Trained, Preprocessor)>),
    Eval(Box<Evaluated>),
    Png(Png),
    Project(Project),
    Survival(Box<nb::Survival>),
    Monitored(Box<nb::Monitored>),
    Saved(Box<nb::Saved>),
    // A run is filled in place by later cells; with the project it logs to.
    Run(Box<(Mutex<nb::CellRun>, Project)>),
}

impl Obj {
    fn what(&self) -> &'static str {
        match self {
            Obj::Frame(_) => "a table",
            Obj::Data(_) => "prepared data",
            Obj::Trained(_) => "a trained model",
            Obj::Eval(_) => "an evaluation",
            Obj::Png(_) => "a chart",
            Obj::Project(_) => "a project",
            Obj::Survival(_) => "a survival analysis",
            Obj::Monitored(_) => "a drift report",
            Obj::Saved(_) => "a saved model",
            Obj::Run(..) => "a run",
        }
    }
}

#[derive(Default)]
struct Registry {
    next: u64,
    objects: HashMap<u64, (Arc<Obj>, usize)>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn with_registry<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    // A panic while the lock was held (caught by the C entry point) leaves the registry as it
    // was: every change to it is a single insert or remove.
    let mut g = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    f(g.get_or_insert_with(Registry::default))
}

fn put<K>(o: Obj) -> Ref<K> {
    Ref::new(with_registry(|r| {
        r.next += 1;
        r.objects.insert(r.next, (Arc::new(o), 1));
        r.next
    }))
}

type Res<T> = std::result::Result<T, String>;

fn get(h: u64) -> Res<Arc<Obj>> {
    with_registry(|r| r.objects.get(&h).map(|(o, _)| o.clone()))
        .ok_or_else(|| format!("no object {h} (released, or from an earlier kernel)"))
}

/// What a handle of kind `Self` may point to.
trait Kind {
    const WHAT: &'static str;
    fn accepts(o: &Obj) -> bool;
}

macro_rules! kinds {
    ($($k:ident: $what:literal => $($v:ident)|+;)*) => {$(
        impl Kind for kind::$k {
            const WHAT: &'static str = $what;
            fn accepts(o: &Obj) -> bool {
                matches!(o, $(Obj::$v(_))|+)
            }
        }
    )*};
}
kinds! {
    Frame: "a table" => Frame;
    Png: "a chart" => Png;
    Data: "prepared data" => Data;
    Model: "a model" => Trained | Saved;
    Trained: "a trained model" => Trained;
    Eval: "an evaluation" => Eval;
    Project: "a project" => Project;
    Survival: "a survival analysis" => Survival;
    Drift: "a drift report" => Monitored;
}

impl Kind for kind::Run {
    const WHAT: &'static str = "a run";
    fn accepts(o: &Obj) -> bool {
        matches!(o, Obj::Run(..))
    }
}

/// The run behind a handle, locked for a change, with its project.
fn with_run<T>(
    r: Ref<kind::Run>,
    f: impl FnOnce(&mut nb::CellRun, &Project) -> churnkit::Result<T>,
) -> Res<T> {
    let o = fetch(r)?;
    let Obj::Run(b) = &*o else {
        unreachable!("checked by fetch")
    };
    let (run, project) = &**b;
    let mut run = run.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut run, project).map_err(e)
}

/// The object behind a typed handle, checked to be of its kind.
fn fetch<K: Kind>(r: Ref<K>) -> Res<Arc<Obj>> {
    let o = get(r.id)?;
    if K::accepts(&o) {
        Ok(o)
    } else {
        Err(format!("object {} is {}, not {}", r.id, o.what(), K::WHAT))
    }
}

/// An object, through however many references (deref coercion does the unwrapping).
fn as_obj(o: &Obj) -> &Obj {
    o
}

/// Borrow the value inside an object of a checked kind.
macro_rules! inner {
    ($o:expr, $($v:ident)|+ => $x:ident => $e:expr) => {
        match as_obj(&$o) {
            $(Obj::$v($x) => $e,)+
            _ => unreachable!("checked by fetch"),
        }
    };
}

fn model(o: &Arc<Obj>) -> &Model {
    match &**o {
        Obj::Trained(t) => t.0.model(),
        Obj::Saved(s) => &s.model,
        _ => unreachable!("checked by fetch"),
    }
}

/// Fetch a handle and borrow it: `with!(r.frame, Frame, |df| ...)`.
macro_rules! with {
    ($r:expr, $v:ident, |$x:ident| $e:expr) => {{
        let o = fetch($r)?;
        inner!(o, $v => $x => $e)
    }};
}

fn e(err: churnkit::Error) -> String {
    err.to_string()
}

fn frame_info(df: DataFrame) -> ops::FrameInfo {
    let (height, width) = (df.height(), df.width());
    let columns = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    ops::FrameInfo {
        h: put(Obj::Frame(df)),
        height,
        width,
        columns,
    }
}

fn frame_res(df: churnkit::Result<DataFrame>) -> Res<ops::FrameInfo> {
    df.map(frame_info).map_err(e)
}

fn png(p: churnkit::Result<Png>) -> Res<Ref<kind::Png>> {
    p.map(|p| put(Obj::Png(p))).map_err(e)
}

fn metrics(m: &nb::BinaryMetrics) -> ops::MetricsInfo {
    ops::MetricsInfo {
        accuracy: m.accuracy,
        precision: m.precision,
        recall: m.recall,
        f1: m.f1,
        roc_auc: m.roc_auc,
    }
}

fn depth(d: Depth) -> Option<usize> {
    match d {
        Depth::Limit(d) => Some(d),
        Depth::Unlimited => None,
    }
}

fn max_features(m: &str) -> Res<churnkit::forest::MaxFeatures> {
    m.parse().map_err(e)
}

fn params(p: &ops::ForestSpec) -> Res<RandomForestParams> {
    let mut r = RandomForestParams::new();
    if let Some(v) = p.n_estimators {
        r = r.n_estimators(v);
    }
    if let Some(v) = p.max_depth {
        r = r.max_depth(depth(v));
    }
    if let Some(v) = p.min_samples_split {
        r = r.min_samples_split(v);
    }
    if let Some(v) = p.min_samples_leaf {
        r = r.min_samples_leaf(v);
    }
    if let Some(v) = &p.max_features {
        r = r.max_features(max_features(v)?);
    }
    if let Some(v) = p.bootstrap {
        r = r.bootstrap(v);
    }
    if let Some(v) = p.max_bins {
        r = r.max_bins(v);
    }
    if let Some(v) = p.seed {
        r = r.seed(v);
    }
    Ok(r)
}

fn grid(g: &ops::GridSpec) -> Res<Grid> {
    let mut r = Grid::new();
    if let Some(v) = &g.n_estimators {
        r = r.n_estimators(v.iter().copied());
    }
    if let Some(v) = &g.max_depth {
        r = r.max_depth(v.iter().map(|d| depth(*d)));
    }
    if let Some(v) = &g.min_samples_split {
        r = r.min_samples_split(v.iter().copied());
    }
    if let Some(v) = &g.min_samples_leaf {
        r = r.min_samples_leaf(v.iter().copied());
    }
    if let Some(v) = &g.max_features {
        r = r.max_features(v.iter().map(|m| max_features(m)).collect::<Res<Vec<_>>>()?);
    }
    if let Some(v) = &g.bootstrap {
        r = r.bootstrap(v.iter().copied());
    }
    if let Some(v) = g.seed {
        r = r.seed(v);
    }
    Ok(r)
}

fn chart(spec: &ops::ChartSpec) -> Res<Chart> {
    let (kind, x, y) = (spec.kind.as_str(), spec.x.as_str(), spec.y.as_deref());
    let mut c = match (kind, y) {
        ("histogram", _) => Chart::histogram(x),
        ("bar", _) => Chart::bar(x),
        ("scatter", Some(y)) => Chart::scatter(x, y),
        ("line", Some(y)) => Chart::line(x, y),
        ("scatter" | "line", None) => return Err(format!("a {kind} chart needs a y column")),
        _ => {
            return Err(format!(
                "no chart kind `{kind}` (histogram, bar, scatter, line)"
            ))
        }
    };
    if let (Some(y), "bar" | "histogram") = (y, kind) {
        c = c.y(y);
    }
    if let Some(v) = &spec.color_by {
        c = c.color_by(v);
    }
    if let Some(v) = &spec.title {
        c = c.title(v);
    }
    if let Some(v) = &spec.x_label {
        c = c.x_label(v);
    }
    if let Some(v) = &spec.y_label {
        c = c.y_label(v);
    }
    if let Some(v) = spec.bins {
        c = c.bins(v);
    }
    match (spec.width, spec.height) {
        (Some(w), Some(h)) => c = c.size(w, h),
        (None, None) => {}
        _ => return Err("a chart's size needs both a width and a height".into()),
    }
    Ok(c)
}

fn eval_html(ev: &Evaluated) -> nb::Html {
    nb::Html(format!(
        "<pre>{}</pre>",
        nb::escape(&ev.decisions.summary())
    ))
}

/// The HTML of one report item: an object, a nested report, or a paragraph.
fn item_html(item: &ops::ReportItem) -> Res<String> {
    match (&item.text, &item.report, item.h) {
        (Some(t), None, None) => Ok(format!("<p>{}</p>", nb::escape(t))),
        (None, Some(r), None) => Ok(report(r)?.html()),
        (None, None, Some(h)) => Ok(match &*get(h)? {
            Obj::Frame(df) => df.html(),
            Obj::Png(p) => p.html(),
            Obj::Eval(ev) => eval_html(ev).html(),
            o => {
                return Err(format!(
                    "a report item must be a table, a chart, a report or text, not {}",
                    o.what()
                ))
            }
        }),
        _ => Err("a report item is one of an object, a report or text".into()),
    }
}

fn report(spec: &ops::ReportSpec) -> Res<Report> {
    let mut r = Report::new(&spec.title).columns(spec.columns);
    for it in &spec.items {
        r = r.item(nb::Html(item_html(it)?));
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

fn text_block(s: &str) -> String {
    nb::content_block("text/plain", s)
}

fn show(o: &Obj) -> String {
    match o {
        Obj::Frame(df) => blocks(df),
        Obj::Png(p) => blocks(p),
        Obj::Eval(ev) => blocks(&eval_html(ev)),
        Obj::Data(d) => text_block(&format!(
            "{} training rows, {} test rows; {} numeric, {} categorical features",
            d.y_train.len(),
            d.y_test.len(),
            d.state.schema.numeric.len(),
            d.state.schema.categorical.len()
        )),
        Obj::Trained(t) => text_block(&format!(
            "{} trees; test F1 {:.3}, ROC AUC {:?}",
            t.0.model().trees.len(),
            t.0.test.f1,
            t.0.test.roc_auc
        )),
        Obj::Project(_) => text_block("a churnkit project"),
        Obj::Survival(s) => blocks(&**s),
        Obj::Saved(s) => text_block(&format!(
            "a saved model: {} trees on {} features",
            s.model.trees.len(),
            s.model.feature_names.len()
        )),
        Obj::Run(b) => text_block(&b.0.lock().unwrap_or_else(|p| p.into_inner()).summary()),
        Obj::Monitored(m) => text_block(&format!(
            "{} of {} features drifted{}",
            m.drift.drifted,
            m.drift.features.len(),
            m.estimated.map_or(String::new(), |e| format!(
                "; estimated ROC AUC {:.3}",
                e.roc_auc
            ))
        )),
    }
}

fn run_info(r: churnkit::tracking::RunRow) -> ops::RunInfo {
    ops::RunInfo {
        run_id: r.run_id,
        run_name: r.run_name,
        metrics: r.metrics.into_iter().collect(),
        params: r.params.into_iter().collect(),
    }
}

fn evaluated(ev: Evaluated) -> ops::EvalInfo {
    let m = metrics(&ev.evaluation.metrics);
    let threshold = ev.evaluation.threshold;
    ops::EvalInfo {
        h: put(Obj::Eval(Box::new(ev))),
        metrics: m,
        threshold,
    }
}

fn economics(s: &ops::EconomicsSpec) -> Economics {
    Economics {
        offer_cost: s.offer_cost,
        retained_value: s.retained_value,
        success_rate: s.success_rate,
    }
}

/// Prepared data's handle, with what preprocessing decided.
fn data_info(d: Processed) -> ops::DataInfo {
    let sc = &d.state.schema;
    ops::DataInfo {
        target: sc.target.clone(),
        positive: sc.positive.clone(),
        numeric: sc.numeric.clone(),
        categorical: sc.categorical.clone(),
        excluded: sc
            .excluded
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        train_rows: d.y_train.len(),
        test_rows: d.y_test.len(),
        h: put(Obj::Data(Box::new(d))),
    }
}

/// The library's [`nb::Prepare`] from the wire's record.
fn prepare_options(s: &ops::PrepareSpec) -> nb::Prepare {
    let mut p = nb::Prepare::new(&s.target)
        .drop(&strs(&s.drop))
        .keep(&strs(&s.keep))
        .categorical(&strs(&s.categorical));
    if let Some(v) = s.test_size {
        p = p.test_size(v);
    }
    if let Some(v) = s.seed {
        p = p.seed(v);
    }
    if let Some(v) = &s.positive {
        p = p.positive(v);
    }
    if let Some(v) = &s.na_values {
        p = p.na_values(&strs(v));
    }
    p
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The engine: every op of the table.
#[derive(Debug, Default)]
pub struct Engine;

impl Handler for Engine {
    fn retain(&mut self, r: ops::Retain) -> Res<bool> {
        Ok(with_registry(|reg| match reg.objects.get_mut(&r.h) {
            Some(entry) => {
                entry.1 += 1;
                true
            }
            None => false,
        }))
    }

    fn release(&mut self, r: ops::Release) -> Res<bool> {
        Ok(with_registry(|reg| match reg.objects.get_mut(&r.h) {
            Some(entry) => {
                entry.1 -= 1;
                if entry.1 == 0 {
                    reg.objects.remove(&r.h);
                }
                true
            }
            None => false,
        }))
    }

    fn objects(&mut self, _: ops::Objects) -> Res<usize> {
        Ok(with_registry(|r| r.objects.len()))
    }

    fn show(&mut self, r: ops::Show) -> Res<String> {
        let o = get(r.h)?;
        Ok(show(&o))
    }

    fn report(&mut self, r: ops::Report) -> Res<String> {
        Ok(blocks(&report(&r.report)?))
    }

    fn load_csv(&mut self, r: ops::LoadCsv) -> Res<ops::FrameInfo> {
        frame_res(nb::load_csv(&r.path))
    }

    fn strings(&mut self, r: ops::Strings) -> Res<Vec<Option<String>>> {
        with!(r.frame, Frame, |df| nb::strings(df, &r.column).map_err(e))
    }

    fn numbers(&mut self, r: ops::Numbers) -> Res<Vec<Option<f64>>> {
        with!(r.frame, Frame, |df| nb::numbers(df, &r.column).map_err(e))
    }

    fn with_column(&mut self, r: ops::WithColumn) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(nb::with_column(
            df, &r.name, r.values
        )))
    }

    fn summary(&mut self, r: ops::Summary) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(nb::summary(df)))
    }

    fn missing_values(&mut self, r: ops::MissingValues) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(nb::missing_values(df)))
    }

    fn feature_tests(&mut self, r: ops::FeatureTests) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(nb::feature_tests(
            df, &r.target
        )))
    }

    fn churn_distribution(&mut self, r: ops::ChurnDistribution) -> Res<Ref<kind::Png>> {
        with!(r.frame, Frame, |df| png(nb::churn_distribution(
            df, &r.target
        )))
    }

    fn churn_rate_by(&mut self, r: ops::ChurnRateBy) -> Res<Ref<kind::Png>> {
        with!(r.frame, Frame, |df| png(nb::churn_rate_by(
            df, &r.column, &r.target
        )))
    }

    fn correlation_chart(&mut self, r: ops::CorrelationChart) -> Res<Ref<kind::Png>> {
        with!(r.frame, Frame, |df| png(nb::correlation_chart(
            df, &r.target
        )))
    }

    fn chart(&mut self, r: ops::DrawChart) -> Res<Ref<kind::Png>> {
        let c = chart(&r.spec)?;
        with!(r.frame, Frame, |df| png(c.draw_frame(df)))
    }

    fn sql(&mut self, r: ops::Sql) -> Res<ops::FrameInfo> {
        let objs = r
            .tables
            .iter()
            .map(|(name, h)| Ok((name.as_str(), fetch(*h)?)))
            .collect::<Res<Vec<_>>>()?;
        let tables: Vec<(&str, &DataFrame)> = objs
            .iter()
            .map(|(n, o)| (*n, inner!(o, Frame => df => df)))
            .collect();
        frame_res(query::sql(&tables, &r.query))
    }

    fn head(&mut self, r: ops::Head) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| Ok(frame_info(query::head(df, r.n))))
    }

    fn tail(&mut self, r: ops::Tail) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| Ok(frame_info(query::tail(df, r.n))))
    }

    fn sample(&mut self, r: ops::Sample) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(query::sample(
            df, r.n, r.seed
        )))
    }

    fn select(&mut self, r: ops::Select) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(query::select(
            df, &r.columns
        )))
    }

    fn drop_columns(&mut self, r: ops::DropColumns) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(query::drop(df, &r.columns)))
    }

    fn rename(&mut self, r: ops::Rename) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(query::rename(
            df, &r.from, &r.to
        )))
    }

    fn filter(&mut self, r: ops::Filter) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(query::filter(
            df,
            &r.condition
        )))
    }

    fn with_columns(&mut self, r: ops::WithColumns) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(query::with_columns(
            df, &r.exprs
        )))
    }

    fn sort(&mut self, r: ops::Sort) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(query::sort(
            df,
            &r.column,
            r.descending
        )))
    }

    fn value_counts(&mut self, r: ops::ValueCounts) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(query::value_counts(
            df, &r.column
        )))
    }

    fn group_by(&mut self, r: ops::GroupBy) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(query::group_by(
            df, &r.keys, &r.aggs
        )))
    }

    fn cut(&mut self, r: ops::Cut) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(query::cut(
            df,
            &r.column,
            &r.edges,
            r.name.as_deref()
        )))
    }

    fn qcut(&mut self, r: ops::Qcut) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(query::qcut(
            df,
            &r.column,
            r.q,
            r.name.as_deref()
        )))
    }

    fn crosstab(&mut self, r: ops::Crosstab) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(query::crosstab(
            df, &r.row, &r.column
        )))
    }

    fn join(&mut self, r: ops::Join) -> Res<ops::FrameInfo> {
        let other = fetch(r.other)?;
        let other = inner!(other, Frame => df => df);
        with!(r.frame, Frame, |df| frame_res(query::join(
            df, other, &r.on, &r.how
        )))
    }

    fn churn_flag(&mut self, r: ops::ChurnFlag) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(query::churn_flag(
            df,
            &r.target,
            r.positive.as_deref(),
            &r.name
        )))
    }

    fn describe(&mut self, r: ops::Describe) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(query::describe(df)))
    }

    fn corr(&mut self, r: ops::Corr) -> Res<ops::FrameInfo> {
        with!(r.frame, Frame, |df| frame_res(query::corr(df)))
    }

    fn concat(&mut self, r: ops::Concat) -> Res<ops::FrameInfo> {
        let objs = r
            .frames
            .iter()
            .map(|h| fetch(*h))
            .collect::<Res<Vec<_>>>()?;
        let frames: Vec<&DataFrame> = objs.iter().map(|o| inner!(o, Frame => df => df)).collect();
        frame_res(query::concat(&frames))
    }

    fn write_csv(&mut self, r: ops::WriteCsv) -> Res<()> {
        with!(r.frame, Frame, |df| query::write_csv(df, &r.path)
            .map_err(e))
    }

    fn write_parquet(&mut self, r: ops::WriteParquet) -> Res<()> {
        with!(r.frame, Frame, |df| query::write_parquet(df, &r.path)
            .map_err(e))
    }

    fn prepare(&mut self, r: ops::Prepare) -> Res<ops::DataInfo> {
        let p = prepare_options(&r.spec);
        let d = with!(r.frame, Frame, |df| nb::prepare_with(df, &p).map_err(e))?;
        Ok(data_info(d))
    }

    fn cross_validate(&mut self, r: ops::CrossValidate) -> Res<ops::CvInfo> {
        let (p, f) = (prepare_options(&r.spec), params(&r.params)?);
        let cv = with!(r.frame, Frame, |df| nb::cross_validate(df, &p, f, r.folds)
            .map_err(e))?;
        Ok(ops::CvInfo {
            roc_auc_mean: cv.mean.roc_auc,
            roc_auc_sd: cv.sd.roc_auc,
            table: frame_res(nb::cv_table(&cv))?,
        })
    }

    fn fit(&mut self, r: ops::Fit) -> Res<ops::TrainedInfo> {
        let p = params(&r.params)?;
        let (t, pre) = with!(r.data, Data, |d| nb::fit(d, p)
            .map(|t| (t, d.state.clone()))
            .map_err(e))?;
        let (train, test) = (metrics(&t.train), metrics(&t.test));
        let oob_roc_auc = t.oob.as_ref().and_then(|o| o.roc_auc);
        // The model is the trained object itself under a second reference, not a copy.
        let h: Ref<kind::Trained> = put(Obj::Trained(Box::new((t, pre))));
        with_registry(|reg| {
            if let Some(entry) = reg.objects.get_mut(&h.id) {
                entry.1 += 1;
            }
        });
        Ok(ops::TrainedInfo {
            h,
            model: h.cast(),
            train,
            test,
            oob_roc_auc,
        })
    }

    fn load_model(&mut self, r: ops::LoadModel) -> Res<Ref<kind::Model>> {
        let saved = nb::load_saved(&r.path).map_err(e)?;
        Ok(put(Obj::Saved(Box::new(saved))))
    }

    fn importance_chart(&mut self, r: ops::ImportanceChart) -> Res<Ref<kind::Png>> {
        png(nb::importance_chart(model(&fetch(r.model)?)))
    }

    fn importance_table(&mut self, r: ops::ImportanceTable) -> Res<ops::FrameInfo> {
        frame_res(nb::importance_table(model(&fetch(r.model)?)))
    }

    fn evaluate(&mut self, r: ops::Evaluate) -> Res<ops::EvalInfo> {
        let m = fetch(r.model)?;
        let threshold = match r.threshold {
            Some(t) => Threshold::Fixed(t),
            None => Threshold::ProfitOptimal,
        };
        let mut opts = EvaluateOptions::new().threshold(threshold);
        if let Some(ec) = &r.economics {
            opts = opts.economics(economics(ec));
        }
        let ev = with!(r.data, Data, |d| evaluate(model(&m), d, opts).map_err(e))?;
        Ok(evaluated(ev))
    }

    fn eval_chart(&mut self, r: ops::EvalChart) -> Res<Ref<kind::Png>> {
        let png = with!(r.eval, Eval, |ev| match r.which.as_str() {
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
        });
        Ok(put(Obj::Png(png)))
    }

    fn report_table(&mut self, r: ops::ReportTable) -> Res<ops::FrameInfo> {
        with!(r.eval, Eval, |ev| frame_res(nb::report_table(
            &ev.evaluation.report
        )))
    }

    fn gains_table(&mut self, r: ops::GainsTable) -> Res<ops::FrameInfo> {
        with!(r.eval, Eval, |ev| frame_res(nb::gains_table(&ev.decisions)))
    }

    fn decisions_summary(&mut self, r: ops::DecisionsSummary) -> Res<String> {
        with!(r.eval, Eval, |ev| Ok(ev.decisions.summary()))
    }

    fn reasons_chart(&mut self, r: ops::ReasonsChart) -> Res<Ref<kind::Png>> {
        let (m, d, f) = (fetch(r.model)?, fetch(r.data)?, fetch(r.frame)?);
        let (d, f) = (inner!(d, Data => x => x), inner!(f, Frame => x => x));
        png(nb::reasons_chart(model(&m), d, f, r.row))
    }

    fn reasons_summary(&mut self, r: ops::ReasonsSummary) -> Res<Ref<kind::Png>> {
        let (m, d, f) = (fetch(r.model)?, fetch(r.data)?, fetch(r.frame)?);
        let (d, f) = (inner!(d, Data => x => x), inner!(f, Frame => x => x));
        png(nb::reasons_summary_chart(model(&m), d, f))
    }

    fn reasons_beeswarm(&mut self, r: ops::ReasonsBeeswarm) -> Res<Ref<kind::Png>> {
        let (m, d, f) = (fetch(r.model)?, fetch(r.data)?, fetch(r.frame)?);
        let (d, f) = (inner!(d, Data => x => x), inner!(f, Frame => x => x));
        png(nb::reasons_beeswarm_chart(model(&m), d, f))
    }

    fn predict(&mut self, r: ops::Predict) -> Res<ops::FrameInfo> {
        let m = fetch(r.model)?;
        let (model, pre) = match &*m {
            Obj::Saved(s) => (&s.model, &s.preprocessor),
            Obj::Trained(t) => (t.0.model(), &t.1),
            _ => unreachable!("checked by fetch"),
        };
        with!(r.frame, Frame, |df| frame_res(nb::predict_frame_with(
            model,
            pre,
            df,
            r.threshold,
            r.explain
        )))
    }

    fn survival(&mut self, r: ops::Survival) -> Res<ops::SurvivalInfo> {
        let sv = with!(r.frame, Frame, |df| nb::survival(
            df,
            &r.target,
            r.duration.as_deref(),
            r.by.as_deref()
        )
        .map_err(e))?;
        Ok(ops::SurvivalInfo {
            rows: sv.rows,
            events: sv.events,
            concordance: sv.model.cox.concordance,
            logrank_p_value: sv.logrank.as_ref().map(|l| l.p_value),
            duration: sv.model.duration.clone(),
            h: put(Obj::Survival(Box::new(sv))),
        })
    }

    fn survival_curves(&mut self, r: ops::SurvivalCurves) -> Res<Ref<kind::Png>> {
        with!(r.survival, Survival, |s| png(s.curves_chart()))
    }

    fn hazard_ratios(&mut self, r: ops::HazardRatios) -> Res<Ref<kind::Png>> {
        with!(r.survival, Survival, |s| png(s.hazard_chart()))
    }

    fn survival_table(&mut self, r: ops::SurvivalTable) -> Res<ops::FrameInfo> {
        with!(r.survival, Survival, |s| frame_res(nb::survival_table(s)))
    }

    fn cox_table(&mut self, r: ops::CoxTable) -> Res<ops::FrameInfo> {
        with!(r.survival, Survival, |s| frame_res(nb::cox_table(s)))
    }

    fn customer_survival(&mut self, r: ops::CustomerSurvival) -> Res<Ref<kind::Png>> {
        let f = fetch(r.frame)?;
        let f = inner!(f, Frame => x => x);
        with!(r.survival, Survival, |s| png(nb::customer_survival_chart(
            s, f, r.row
        )))
    }

    fn drift(&mut self, r: ops::Drift) -> Res<ops::DriftInfo> {
        let (d, f) = (fetch(r.data)?, fetch(r.frame)?);
        let m = r.model.map(fetch).transpose()?;
        let (d, f) = (inner!(d, Data => x => x), inner!(f, Frame => x => x));
        let rep = nb::drift(d, f, m.as_ref().map(model)).map_err(e)?;
        Ok(ops::DriftInfo {
            drifted: rep.drift.drifted,
            features: rep.drift.features.len(),
            dataset_drift: rep.drifted(),
            estimated_roc_auc: rep.estimated.map(|x| x.roc_auc),
            h: put(Obj::Monitored(Box::new(rep))),
        })
    }

    fn drift_table(&mut self, r: ops::DriftTable) -> Res<ops::FrameInfo> {
        with!(r.drift, Monitored, |m| frame_res(nb::drift_table(m)))
    }

    fn drift_chart(&mut self, r: ops::DriftChart) -> Res<Ref<kind::Png>> {
        with!(r.drift, Monitored, |m| png(m.psi_chart()))
    }

    fn project_open(&mut self, r: ops::ProjectOpen) -> Res<Ref<kind::Project>> {
        let p = Project::open(&r.root).map_err(e)?;
        Ok(put(Obj::Project(p)))
    }

    fn runs(&mut self, r: ops::Runs) -> Res<ops::FrameInfo> {
        with!(r.project, Project, |p| frame_res(p.runs(&r.experiment)))
    }

    fn best_run(&mut self, r: ops::BestRun) -> Res<ops::RunInfo> {
        with!(r.project, Project, |p| p
            .best_run(&r.experiment, &r.metric)
            .map(run_info)
            .map_err(e))
    }

    fn recent_run_ids(&mut self, r: ops::RecentRunIds) -> Res<Vec<String>> {
        with!(r.project, Project, |p| p
            .recent_run_ids(&r.experiment, r.n)
            .map_err(e))
    }

    fn compare(&mut self, r: ops::Compare) -> Res<ops::FrameInfo> {
        with!(r.project, Project, |p| frame_res(p.compare(&r.run_ids)))
    }

    fn sweep(&mut self, r: ops::Sweep) -> Res<ops::FrameInfo> {
        let g = grid(&r.grid)?;
        let d = fetch(r.data)?;
        let d = inner!(d, Data => x => x);
        let rank = match (r.rank_by.as_str(), r.folds) {
            ("grid", None) => nb::Rank::Grid,
            ("test", None) => nb::Rank::Test,
            ("oob", None) => nb::Rank::OutOfBag,
            ("cv", Some(k)) => nb::Rank::CrossValidated(k),
            ("cv", None) => {
                return Err("ranking by cross-validation needs a number of folds".into())
            }
            (other, _) => {
                return Err(format!(
                    "cannot rank a sweep by `{other}` (grid, test, oob or cv, the last with folds)"
                ))
            }
        };
        with!(r.project, Project, |p| frame_res(p.sweep_by(
            &r.experiment,
            d,
            &g,
            rank
        )))
    }

    fn metric_vs_param(&mut self, r: ops::MetricVsParam) -> Res<Ref<kind::Png>> {
        with!(r.project, Project, |p| png(p.metric_vs_param(
            &r.experiment,
            &r.metric,
            &r.param
        )))
    }

    fn metric_history_chart(&mut self, r: ops::MetricHistoryChart) -> Res<Ref<kind::Png>> {
        with!(r.project, Project, |p| png(
            p.metric_history_chart(&r.run_id, &r.metric)
        ))
    }

    fn log(&mut self, r: ops::Log) -> Res<String> {
        let (t, d) = (fetch(r.trained)?, fetch(r.data)?);
        let (t, d) = (inner!(t, Trained => x => &x.0), inner!(d, Data => x => x));
        let record = t.run_record(d, &r.experiment);
        with!(r.project, Project, |p| {
            let logged = p.tracker().map_err(e)?.log(&record).map_err(e)?;
            Ok(logged.run_id().to_string())
        })
    }

    fn register(&mut self, r: ops::Register) -> Res<u64> {
        with!(r.project, Project, |p| p
            .register(&r.run_id, &r.name)
            .map_err(e))
    }

    fn promote(&mut self, r: ops::Promote) -> Res<()> {
        with!(r.project, Project, |p| p
            .promote(&r.name, r.version, &r.alias)
            .map_err(e))
    }

    fn models(&mut self, r: ops::Models) -> Res<ops::FrameInfo> {
        with!(r.project, Project, |p| frame_res(p.models()))
    }

    fn project_model(&mut self, r: ops::ProjectModel) -> Res<Ref<kind::Model>> {
        let saved = with!(r.project, Project, |p| p.saved_model().map_err(e))?;
        Ok(put(Obj::Saved(Box::new(saved))))
    }

    fn search_runs(&mut self, r: ops::SearchRuns) -> Res<ops::FrameInfo> {
        with!(r.project, Project, |p| frame_res(p.search_runs(
            &r.experiments,
            &r.filter,
            &r.order_by
        )))
    }

    fn start_run(&mut self, r: ops::StartRun) -> Res<Ref<kind::Run>> {
        let (run, project) = with!(r.project, Project, |p| p
            .start_run(&r.experiment, &r.name)
            .map(|run| (run, p.clone()))
            .map_err(e))?;
        Ok(put(Obj::Run(Box::new((Mutex::new(run), project)))))
    }

    fn log_params(&mut self, r: ops::LogParams) -> Res<()> {
        with_run(r.run, |run, _| run.log_params(&r.params))
    }

    fn log_metrics(&mut self, r: ops::LogMetrics) -> Res<()> {
        with_run(r.run, |run, _| run.log_metrics(&r.metrics))
    }

    fn set_tags(&mut self, r: ops::SetTags) -> Res<()> {
        with_run(r.run, |run, _| run.set_tags(&r.tags))
    }

    fn log_artifact(&mut self, r: ops::LogArtifact) -> Res<String> {
        // A chart is its PNG, a table its CSV; the name gets the extension if it has none.
        let (bytes, ext) = match &*get(r.object)? {
            Obj::Png(p) => (p.bytes.clone(), "png"),
            Obj::Frame(df) => (nb::frame_csv(df).map_err(e)?, "csv"),
            o => {
                return Err(format!(
                    "an artifact is a chart or a table, not {}",
                    o.what()
                ))
            }
        };
        let has_ext = r.name.rsplit('/').next().is_some_and(|f| f.contains('.'));
        let name = if has_ext {
            r.name.clone()
        } else {
            format!("{}.{ext}", r.name)
        };
        with_run(r.run, |run, _| run.log_artifact(&name, bytes))?;
        Ok(name)
    }

    fn end_run(&mut self, r: ops::EndRun) -> Res<String> {
        with_run(r.run, |run, project| run.end(&project.tracker()?))
    }

    fn project_data(&mut self, r: ops::ProjectData) -> Res<ops::DataInfo> {
        let d = with!(r.project, Project, |p| p
            .layout()
            .load_processed()
            .map_err(e))?;
        Ok(data_info(d))
    }

    fn score(&mut self, r: ops::Score) -> Res<ops::FrameInfo> {
        let f = fetch(r.frame)?;
        let f = inner!(f, Frame => x => x);
        with!(r.project, Project, |p| frame_res(p.score(&r.uri, f)))
    }
}

/// Answer one request (`method\n{json}`): `ok\n` + the answer's JSON, or `err\n` + a message.
/// Public (and pure Rust) so the engine can be tested without the C layer.
pub fn handle(request: &str) -> String {
    let answer = churnkit_protocol::decode(request)
        .and_then(|(method, fields)| ops::dispatch(&mut Engine, method, &fields));
    match answer {
        Ok(v) => format!("ok\n{v}"),
        Err(m) => format!("err\n{m}"),
    }
}

/// The C entry points: the one place `unsafe` is allowed (raw pointers in and out).
#[allow(unsafe_code)]
mod ffi {
    use super::{handle, PROTOCOL};

    /// The protocol version this engine speaks.
    #[no_mangle]
    pub extern "C" fn churnkit_engine_protocol() -> u32 {
        PROTOCOL
    }

    /// Answer the request of `len` bytes at `request` (see [`handle`]): returns a buffer of
    /// `*out_len` bytes, to be released with [`churnkit_engine_free`]. A panic is caught and
    /// answered as an error.
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
        let text = std::panic::catch_unwind(|| match std::str::from_utf8(bytes) {
            Ok(req) => handle(req),
            Err(_) => "err\nbad request: not UTF-8".to_string(),
        })
        .unwrap_or_else(|p| {
            let what = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            format!("err\nthe engine panicked: {what}")
        });
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use churnkit_protocol::{encode, json, wire::Wire, Request};
    use ops::*;

    const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/sample_data.csv");

    /// A request through the text wire, as the cells send it.
    fn ask<R: Request>(r: R) -> Result<R::Answer, String> {
        let text = handle(&encode(&r));
        match text.split_once('\n') {
            Some(("ok", body)) => Ok(R::Answer::read(&json::parse(body).unwrap()).unwrap()),
            Some(("err", m)) => Err(m.to_string()),
            _ => panic!("bad answer {text}"),
        }
    }

    fn call<R: Request>(r: R) -> R::Answer {
        ask(r).unwrap()
    }

    fn spec(target: &str) -> PrepareSpec {
        PrepareSpec::new(target)
    }

    fn forest(n: usize) -> ForestSpec {
        ForestSpec {
            n_estimators: Some(n),
            max_depth: Some(Depth::Limit(4)),
            ..ForestSpec::default()
        }
    }

    #[test]
    fn a_table_goes_through_the_workflow_by_handles() {
        let df = call(LoadCsv {
            path: SAMPLE.into(),
        });
        assert_eq!(df.height, 100);
        let data = call(Prepare {
            frame: df.h,
            spec: spec("Churn"),
        });
        assert!(data.numeric.len() >= 2);
        let t = call(Fit {
            data: data.h,
            params: forest(20),
        });
        assert!(t.test.f1 > 0.0);
        let ev = call(Evaluate {
            model: t.model,
            data: data.h,
            threshold: Some(0.5),
            economics: None,
        });
        let chart = call(EvalChart {
            eval: ev.h,
            which: "gains".into(),
        });
        let shown = call(Show { h: chart.id });
        assert!(shown.starts_with("EVCXR_BEGIN_CONTENT"));
        let drift = call(Drift {
            data: data.h,
            frame: df.h,
            model: Some(t.model),
        });
        assert_eq!(drift.features, data.numeric.len() + data.categorical.len());
        assert!(drift.estimated_roc_auc.unwrap() > 0.5);
        let table = call(DriftTable { drift: drift.h });
        assert_eq!(table.columns[0], "feature");
        let surv = call(Survival {
            frame: df.h,
            target: "Churn".into(),
            duration: None,
            by: Some("Contract".into()),
        });
        assert_eq!(surv.duration, "Tenure");
        assert!(surv.logrank_p_value.unwrap() < 0.05);
        let before = call(Objects {});
        assert!(call(Release { h: chart.id }));
        assert_eq!(call(Objects {}), before - 1);
        // A released handle is gone: releasing it again says so, and retaining it fails.
        assert!(!call(Release { h: chart.id }));
        assert!(!call(Retain { h: chart.id }));
        // A handle of the wrong kind is refused by kind.
        let err = ask(Summary {
            frame: data.h.cast(),
        })
        .unwrap_err();
        assert_eq!(
            err,
            format!("object {} is prepared data, not a table", data.h.id)
        );
        // Unknown ops and unknown keys are refused, not ignored.
        assert!(handle("nope\n{}").contains("rebuild the engine"));
        let err = handle(&format!(
            "fit\n{{\"data\":{},\"params\":{{\"max_dept\":3}}}}",
            data.h.id
        ));
        assert!(
            err.starts_with("err\nbad request `fit`: `params`: unknown key `max_dept`"),
            "{err}"
        );
        let err = handle(&format!(
            "fit\n{{\"data\":{},\"params\":{{\"max_depth\":\"8\"}}}}",
            data.h.id
        ));
        assert!(err.contains("`max_depth`: expected a depth"), "{err}");
    }

    #[test]
    fn queries_answer_tables_and_a_typo_is_one_line_that_leaves_the_engine_working() {
        let df = call(LoadCsv {
            path: SAMPLE.into(),
        });
        let old = call(Filter {
            frame: df.h,
            condition: "Age > 50 AND Contract = 'Month-to-month'".into(),
        });
        assert!(old.height > 0 && old.height < 100);
        let direct = call(Sql {
            tables: vec![("self".into(), df.h)],
            query: "SELECT * FROM self WHERE Age > 50 AND Contract = 'Month-to-month'".into(),
        });
        assert_eq!(direct.height, old.height);
        let err = ask(Filter {
            frame: df.h,
            condition: "Agee > 50".into(),
        })
        .unwrap_err();
        assert_eq!(err, "no column 'Agee'; closest: 'Age'");
        // The next request works.
        let g = call(GroupBy {
            frame: df.h,
            keys: vec!["Contract".into()],
            aggs: vec![
                "avg(Churn) AS churn_rate".into(),
                "count(*) AS customers".into(),
            ],
        });
        assert_eq!(g.columns, ["Contract", "churn_rate", "customers"]);
        let banded = call(Cut {
            frame: df.h,
            column: "Age".into(),
            edges: vec![0.0, 30.0, 50.0, 120.0],
            name: None,
        });
        assert_eq!(banded.columns.last().unwrap(), "Age_band");
        let ct = call(Crosstab {
            frame: banded.h,
            row: "Age_band".into(),
            column: "Contract".into(),
        });
        assert_eq!(ct.height, 3);
        // The sample repeats some customers: one segment per id.
        let seg = call(Sql {
            tables: vec![("c".into(), df.h)],
            query: "SELECT DISTINCT CustomerID, Contract FROM c".into(),
        });
        let seg = call(Rename {
            frame: seg.h,
            from: "Contract".into(),
            to: "segment".into(),
        });
        let joined = call(Join {
            frame: df.h,
            other: seg.h,
            on: vec!["CustomerID".into()],
            how: "left".into(),
        });
        assert_eq!(joined.height, 100);
        assert_eq!(joined.columns.last().unwrap(), "segment");
        // Every result is a frame the rest takes.
        let data = call(Prepare {
            frame: joined.h,
            spec: PrepareSpec {
                drop: vec!["segment".into()],
                ..spec("Churn")
            },
        });
        assert!(data
            .excluded
            .iter()
            .any(|(c, why)| c == "segment" && why.contains("drop")));
    }

    #[test]
    fn the_pipelines_model_scores_raw_rows_without_a_copy_of_the_model() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let table = Table::read_csv(SAMPLE).unwrap();
        let schema = Schema::infer(&table, "Churn", None).unwrap();
        let data = Processed::fit(&table, &schema, SplitOptions::default()).unwrap();
        let params = RandomForestParams::new().n_estimators(10).check().unwrap();
        let trained = churnkit::workflow::train(&data, params).unwrap();
        let layout = Layout::under(dir.path());
        layout.save_processed(&data).unwrap();
        layout
            .save_training(&trained, &trained.run_record(&data, "e"))
            .unwrap();
        let p = call(ProjectOpen {
            root: dir.path().to_str().unwrap().into(),
        });
        let m = call(ProjectModel { project: p });
        let df = call(LoadCsv {
            path: SAMPLE.into(),
        });
        let scored = call(Predict {
            model: m,
            frame: df.h,
            threshold: 0.5,
            explain: 2,
        });
        assert_eq!(scored.height, 100);
        for c in [
            "CustomerID",
            "churn_probability",
            "churn_prediction",
            "score_decile",
            "reason_2_feature",
        ] {
            assert!(
                scored.columns.iter().any(|x| x == c),
                "{c} not in {:?}",
                scored.columns
            );
        }
        // load_model(path) finds the project's preprocessor and scores alike.
        let path = layout.model_path();
        let m2 = call(LoadModel {
            path: path.to_str().unwrap().into(),
        });
        let again = call(Predict {
            model: m2,
            frame: df.h,
            threshold: 0.5,
            explain: 0,
        });
        let p1 = call(Numbers {
            frame: scored.h,
            column: "churn_probability".into(),
        });
        let p2 = call(Numbers {
            frame: again.h,
            column: "churn_probability".into(),
        });
        assert_eq!(p1, p2);
        // The loaded model works wherever a model does.
        let imp = call(ImportanceTable { model: m });
        assert_eq!(imp.columns[0], "feature");
        // A model trained in the notebook scores raw rows with its data's preprocessor.
        let d = call(Prepare {
            frame: df.h,
            spec: spec("Churn"),
        });
        let t = call(Fit {
            data: d.h,
            params: forest(5),
        });
        assert_eq!(
            t.h.id, t.model.id,
            "the model is the trained object, not a copy"
        );
        let own = call(Predict {
            model: t.model,
            frame: df.h,
            threshold: 0.5,
            explain: 1,
        });
        assert_eq!(own.height, 100);
        // A table without the model's columns is one line naming what is missing.
        let other = call(Select {
            frame: df.h,
            columns: vec!["CustomerID".into(), "Age".into()],
        });
        let err = ask(Predict {
            model: t.model,
            frame: other.h,
            threshold: 0.5,
            explain: 0,
        })
        .unwrap_err();
        assert!(err.contains("Tenure") && !err.contains('\n'), "{err}");
    }
}
