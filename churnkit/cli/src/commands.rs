//! One function per subcommand: flags in, library calls, printing. Each step computes on values
//! (`churnkit::workflow`), saves through `churnkit::layout`, and logs through a `Tracker`.

use crate::args;
use crate::exit::Failure;
use crate::flags::{
    Command, EvaluateArgs, ExperimentArgs, ModelsCommand, MonitorArgs, PipelineArgs, PredictArgs,
    PreprocessArgs, RunsArgs, SurvivalArgs, TrainSpecArgs,
};
use crate::print;
use churnkit::prelude::*;
use churnkit::tracking::{self, LocalStore, Logged};
use churnkit::Transience;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

/// Settings every command shares.
pub(crate) struct Ctx {
    pub(crate) quiet: bool,
    pub(crate) track: bool,
    /// Made on first use (commands that track nothing never read the tracking settings) and
    /// then shared by every step of the command.
    pub(crate) tracker: std::cell::OnceCell<Option<Tracker>>,
}

impl Ctx {
    /// The tracker, unless `--no-track`.
    fn tracker(&self) -> Result<Option<&Tracker>> {
        if let Some(t) = self.tracker.get() {
            return Ok(t.as_ref());
        }
        let made = if self.track {
            Some(Tracker::from_env()?)
        } else {
            None
        };
        Ok(self.tracker.get_or_init(|| made).as_ref())
    }
}

pub(crate) fn run(command: Command, ctx: &Ctx) -> Result<(), Failure> {
    match command {
        Command::Generate {
            rows,
            seed,
            shape,
            output,
        } => {
            let t0 = Instant::now();
            let s = churnkit::generate::generate_file(&output, rows as usize, seed, shape)?;
            if !ctx.quiet {
                println!(
                    "generate: wrote {} ({} rows, {:.1}% churn, {} duplicates, {} blank TotalCharges, {} age outliers) in {:.2} s",
                    output.display(),
                    s.rows,
                    100.0 * s.churners as f64 / s.rows as f64,
                    s.duplicates,
                    s.blank_total_charges,
                    s.age_outliers,
                    t0.elapsed().as_secs_f64()
                );
            }
        }
        Command::Schema {
            data,
            target,
            positive,
            infer,
        } => {
            let schema = match (data, target) {
                (Some(d), Some(t)) => {
                    let table = Table::read(&d)?;
                    let s = Schema::infer_with(&table, &t, &infer.options(positive.as_deref()))?;
                    for w in s.exclusion_warnings() {
                        print::warn(&w);
                    }
                    // What `churnkit survival` would take as the duration, said where the
                    // schema's decisions are read.
                    if let Some((column, why)) = churnkit::survival::propose_duration(&table, &s)? {
                        println!("# churnkit survival: duration column {column} ({why})");
                    }
                    s
                }
                (None, Some(_)) => return Err(Failure::Usage("--target needs --data".into())),
                _ => Schema::default(),
            };
            print!("{}", schema.to_toml());
        }
        Command::Preprocess(a) => {
            preprocess(&a, ctx)?;
        }
        Command::Train(a) => {
            let layout = a.layout.layout();
            let data = layout.load_processed()?;
            train(&data, &a.spec, a.seed, &a.experiment, &layout, ctx)?;
        }
        Command::Evaluate(a) => evaluate_saved(&a, ctx)?,
        Command::Predict(a) => predict_file(&a, ctx)?,
        Command::Runs(a) => runs(&a)?,
        Command::Sync => sync(ctx)?,
        Command::Models(m) => models(m, ctx)?,
        Command::Pipeline(a) => pipeline(&a, ctx)?,
        Command::Survival(a) => survival(&a, ctx)?,
        Command::Monitor(a) => monitor(&a, ctx)?,
    }
    Ok(())
}

fn preprocess(a: &PreprocessArgs, ctx: &Ctx) -> Result<Processed> {
    let layout = args::layout(&a.output_dir, Path::new(""), Path::new(""));
    preprocess_into(&a.data, a.seed, &layout, ctx)
}

fn preprocess_into(
    d: &crate::flags::DataArgs,
    seed: u64,
    layout: &Layout,
    ctx: &Ctx,
) -> Result<Processed> {
    let t0 = Instant::now();
    let table = Table::read(&d.data)?;
    let schema = d.schema(&table)?;
    let inferred = d.schema.is_none() && d.target.is_some();
    if inferred {
        for w in schema.exclusion_warnings() {
            print::warn(&w);
        }
    }
    let data = Processed::fit(&table, &schema, d.split(seed))?;
    // The cells are done with: saving needs only the features.
    drop(table);
    let files = layout.save_processed(&data)?;
    print::preprocess(
        &data,
        &d.data,
        inferred,
        &files,
        t0.elapsed().as_secs_f64(),
        ctx.quiet,
    );
    Ok(data)
}

/// Log `record`, say where it went; `None` with `--no-track`.
fn log(what: &str, record: &RunRecord, ctx: &Ctx) -> Result<Option<Logged>> {
    let Some(tracker) = ctx.tracker()? else {
        return Ok(None);
    };
    let logged = tracker.log(record)?;
    print::logged(what, &logged, tracker, ctx.quiet);
    Ok(Some(logged))
}

/// Train what `spec` says with `seed`, save the model and its run, log the run.
fn train(
    data: &Processed,
    spec: &TrainSpecArgs,
    seed: u64,
    experiment: &ExperimentArgs,
    layout: &Layout,
    ctx: &Ctx,
) -> Result<(Trained, Option<Logged>)> {
    let params = spec.hyper.params(seed)?;
    let kind = spec.hyper.kind();
    // A bar only for fits long enough to watch, and only on a terminal.
    let work = data.x_train.n_rows() as u64 * params.n_estimators() as u64;
    let bar = (!ctx.quiet
        && kind == ModelKind::RandomForest
        && std::io::stderr().is_terminal()
        && work > 2_000_000)
        .then(|| {
            let b = indicatif::ProgressBar::new(params.n_estimators() as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "training {bar:40} {pos}/{len} trees  {elapsed}",
                )
                .expect("valid template"),
            );
            b
        });
    let tick = || {
        if let Some(b) = &bar {
            b.inc(1);
        }
    };
    let mut trained = churnkit::workflow::train(data, spec.spec(params, &tick))?;
    if spec.final_model {
        if let Some(b) = &bar {
            b.set_position(0);
        }
        trained = trained.refit_on_all_rows(data, &tick)?;
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let record = trained.run_record(data, &experiment.experiment_name);
    let files = layout.save_training(&trained, &record)?;
    print::train(&trained, &files, ctx.quiet);
    let logged = log("training", &record, ctx)?;
    Ok((trained, logged))
}

/// Save an evaluation's reports and log its run, linked to `train_run` when the training
/// happened in this process, else to the tracked run that made the model.
fn evaluate(
    ev: Evaluated,
    data: &Processed,
    experiment: &str,
    layout: &Layout,
    train_run: Option<&Logged>,
    ctx: &Ctx,
) -> Result<Evaluated> {
    let mut record = ev.run_record(data, experiment);
    if let Some(tracker) = ctx.tracker()? {
        match train_run {
            Some(t) => record.link_to_training(&t.stored.run_id, t.remote_id()),
            None => {
                tracker.link_to_training_run(&mut record)?;
            }
        }
    }
    let files = layout.save_evaluation(&ev, &record)?;
    print::evaluate(&ev, &files, ctx.quiet);
    log("evaluation", &record, ctx)?;
    Ok(ev)
}

fn evaluate_saved(a: &EvaluateArgs, ctx: &Ctx) -> Result<()> {
    let layout = a.layout.layout();
    let data = layout.load_processed()?;
    // The file's hash is the training run's model.sha256 tag: it links the two runs.
    let (model, sha256, path) = layout.load_evaluable_model(&data.state.feature_names())?;
    if path != layout.model_path() && !ctx.quiet {
        println!(
            "evaluate: {} is a final model (fitted on every row); evaluating its held-out twin {}",
            layout.model_path().display(),
            path.display()
        );
    }
    let mut options = a.economics.options(a.threshold).model_sha256(sha256);
    if let Some(path) = &a.survival_model {
        let survival = Layout::load_survival_model(path)?;
        let raw = a
            .data
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from(&data.state.input.file));
        let table = Table::read(&raw)?;
        let charge = charge_column(a.charge.as_deref(), &survival)?;
        let params = a.value.params();
        let values = churnkit::workflow::test_row_values(&data, &table, |t| {
            Ok(survival
                .lifetime_values(t, &charge, &params)?
                .iter()
                .map(|v| v.lifetime_value)
                .collect())
        })?;
        options = options.values(values);
    }
    let ev = churnkit::workflow::evaluate(&model, &data, options)?;
    evaluate(ev, &data, &a.experiment.experiment_name, &layout, None, ctx)?;
    Ok(())
}

fn pipeline(a: &PipelineArgs, ctx: &Ctx) -> Result<()> {
    let layout = a.layout.layout();
    let t0 = Instant::now();
    let data = preprocess_into(&a.data, a.seed, &layout, ctx)?;
    let t1 = Instant::now();
    let (trained, logged) = train(&data, &a.spec, a.seed, &a.experiment, &layout, ctx)?;
    let t2 = Instant::now();
    let ev = evaluate(
        trained.evaluate(&data, a.economics.options(a.threshold))?,
        &data,
        &a.experiment.experiment_name,
        &layout,
        logged.as_ref(),
        ctx,
    )?;
    let secs = |a: Instant, b: Instant| (b - a).as_secs_f64();
    print::pipeline_summary(
        [secs(t0, t1), secs(t1, t2), secs(t2, Instant::now())],
        &ev,
        ctx.quiet,
    );
    Ok(())
}

fn predict_file(a: &PredictArgs, ctx: &Ctx) -> Result<()> {
    let layout = match &a.model {
        Some(uri) => {
            let registry = tracking::Registry::from_env()?;
            let version = registry.resolve(uri)?;
            let dir = registry.fetch(
                &version,
                &model_cache(),
                &[churnkit::layout::MODEL, churnkit::layout::PREPROCESSOR],
            )?;
            if !ctx.quiet {
                println!(
                    "predict: {uri} is version {} of '{}' (run {})",
                    version.version, version.name, version.run_id
                );
            }
            args::layout(&dir, &dir, &a.layout.metrics_dir)
        }
        None => a.layout.layout(),
    };
    let pre = layout.load_preprocessor()?;
    let (model, sha) = layout.load_model_with_hash(&pre.feature_names())?;
    let threshold = match a.threshold {
        churnkit::workflow::Threshold::Fixed(t) => t,
        churnkit::workflow::Threshold::ProfitOptimal => layout.decided_threshold(&sha)?,
    };
    let options = PredictOptions::default()
        .unknown(a.unknown_category.policy())
        .threshold(threshold)
        .keep_columns(a.keep_columns)
        .explain(a.explain);
    let survival = match &a.survival_model {
        Some(path) => {
            let survival = Layout::load_survival_model(path)?;
            let charge = charge_column(a.charge.as_deref(), &survival)?;
            Some((survival, charge))
        }
        None => None,
    };
    let economics = churnkit::profit::Economics {
        offer_cost: a.offer_cost,
        success_rate: a.success_rate,
        ..Default::default()
    };
    // The input is read a part at a time; a bar shows how far on a terminal.
    let bar = (!ctx.quiet && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "scoring {bar:30} {percent:>3}% {elapsed} (eta {eta})",
            )
            .expect("a valid template"),
        );
        b
    });
    let streamed = churnkit::workflow::predict_file(
        &pre,
        &model,
        &a.input,
        &a.output,
        options,
        a.chunk_rows,
        |table, scores| {
            if let Some((survival, charge)) = &survival {
                let values: Vec<f64> = survival
                    .lifetime_values(table, charge, &a.value.params())?
                    .iter()
                    .map(|v| v.lifetime_value)
                    .collect();
                scores.add_values(&values, &economics)?;
            }
            Ok(())
        },
        |done, total| {
            if let Some(b) = &bar {
                b.set_length(total);
                b.set_position(done);
            }
        },
    );
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let streamed = streamed?;
    print::predict(&streamed, &a.output, ctx.quiet);
    if a.explain > 0 && model.calibration.is_some() && !ctx.quiet {
        println!(
            "  note: the model is calibrated; the reasons explain its score before calibration, which churn_probability maps monotonically"
        );
    }
    Ok(())
}

/// Where models fetched from a registry are kept: `CHURNKIT_MODEL_CACHE`, else
/// `~/.cache/churnkit/models`.
fn model_cache() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("CHURNKIT_MODEL_CACHE") {
        return p.into();
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("churnkit").join("models")
}

fn models(m: ModelsCommand, ctx: &Ctx) -> Result<()> {
    let registry = tracking::Registry::from_env()?;
    let place = match &registry {
        tracking::Registry::Local(s) => format!("local registry in {}", s.root().display()),
        tracking::Registry::Server(c, _) => format!("registry of {}", c.base_url()),
    };
    match m {
        ModelsCommand::Register {
            run,
            name,
            alias,
            experiment,
        } => {
            let server = tracking::MlflowClient::from_env()?;
            let row = tracking::find_runs(
                &LocalStore::from_env(),
                server.as_ref(),
                &experiment,
                &[&run],
            )?
            .remove(0);
            let v = registry.register(&name, &row.run_id)?;
            if let Some(a) = &alias {
                registry.set_alias(&name, a, v.version)?;
            }
            if !ctx.quiet {
                println!(
                    "models: registered run {} ({}) as version {} of '{name}' in the {place}{}",
                    row.run_id,
                    row.run_name,
                    v.version,
                    alias.map_or(String::new(), |a| format!("; {a} -> {}", v.version))
                );
                println!(
                    "  score with: churnkit predict --model models:/{name}/{} ...",
                    v.version
                );
            }
        }
        ModelsCommand::Promote {
            name,
            version,
            alias,
        } => {
            let before = registry
                .list(Some(&name))?
                .pop()
                .and_then(|m| m.aliases.get(&alias).copied());
            registry.set_alias(&name, &alias, version)?;
            if !ctx.quiet {
                let was = before.map_or("new".to_string(), |b| format!("was version {b}"));
                println!("models: {name}@{alias} -> version {version} ({was}) in the {place}");
            }
        }
        ModelsCommand::Unalias { name, alias } => {
            registry.delete_alias(&name, &alias)?;
            if !ctx.quiet {
                println!("models: removed {name}@{alias} from the {place}");
            }
        }
        ModelsCommand::List { name } => {
            print::models(&registry.list(name.as_deref())?, &place);
        }
    }
    Ok(())
}

fn runs(a: &RunsArgs) -> Result<()> {
    let server = tracking::MlflowClient::from_env()?;
    if !a.compare.is_empty() {
        let rows = tracking::find_runs(
            &LocalStore::from_env(),
            server.as_ref(),
            &a.experiment,
            &a.compare,
        )?;
        print::comparison(&tracking::Comparison::new(rows)?);
        return Ok(());
    }
    let listing = tracking::list_runs(
        &LocalStore::from_env(),
        server.as_ref(),
        &a.experiment,
        a.sort.as_deref(),
    )?;
    for w in &listing.warnings {
        print::warn(w);
    }
    print::runs(&a.experiment, &listing.rows, a.sort.as_deref(), a.limit);
    Ok(())
}

fn sync(ctx: &Ctx) -> Result<()> {
    let r = Tracker::from_env()?.sync()?;
    for (local, remote) in &r.delivered {
        if !ctx.quiet {
            println!("sync: delivered {local} as {remote}");
        }
    }
    for (local, err) in &r.failed {
        print::warn(&format!("{local} not delivered: {err}"));
    }
    if !ctx.quiet {
        println!(
            "sync: {} delivered, {} already on the server, {} failed",
            r.delivered.len(),
            r.already_synced,
            r.failed.len()
        );
        for (name, local, server) in &r.registry.delivered {
            println!("sync: registered {name} version {local} as version {server} on the server");
        }
        for (name, alias, server) in &r.registry.aliases {
            println!("sync: {name}@{alias} -> version {server} on the server");
        }
        for (name, local) in &r.registry.waiting {
            println!("sync: {name} version {local} waits for its run to be delivered");
        }
    }
    // The exit code is the most telling failure's: a local problem (a damaged store), then a
    // rejection, then an unreachable server (the only one that retrying later may fix).
    let rank = |e: &churnkit::Error| match e.kind() {
        ErrorKind::Tracking(Transience::Transient) => 2,
        ErrorKind::Tracking(_) => 1,
        _ => 0,
    };
    if let Some((_, e)) = r.failed.iter().min_by_key(|(_, e)| rank(e)) {
        let msg = format!("{} run(s) not delivered: {e}", r.failed.len());
        return Err(churnkit::Error::new(e.kind(), msg));
    }
    Ok(())
}

fn survival(a: &SurvivalArgs, ctx: &Ctx) -> Result<()> {
    use churnkit::survival::CoxParams;
    use churnkit::workflow::SurvivalSpec;
    let t0 = Instant::now();
    let table = Table::read(&a.data)?;
    let schema = match (&a.schema, &a.event) {
        (Some(p), event) => {
            let s = Schema::from_toml_file(p)?;
            if let Some(e) = event {
                churnkit::ensure!(
                    *e == s.target,
                    params,
                    "--event {e} but the schema's target is {}: give one of them",
                    s.target
                );
            }
            s
        }
        (None, Some(e)) => {
            let o = churnkit::schema::InferOptions::default()
                .positive_opt(a.event_value.as_deref())
                .keep(a.infer.keep.clone());
            let o = match &a.infer.na_values {
                Some(v) => o.na_values(v.iter().map(|s| s.trim().to_string())),
                None => o,
            };
            let s = Schema::infer_with(&table, e, &o)?;
            for w in s.exclusion_warnings() {
                print::warn(&w);
            }
            s
        }
        (None, None) => Schema::default(),
    };
    let spec = SurvivalSpec {
        duration: a.duration.clone(),
        by: a.by.clone(),
        drop: a.drop.clone(),
        cox: CoxParams {
            penalizer: a.penalizer,
            ..CoxParams::default()
        },
        charge: a.charge.clone(),
        value: a.value.params(),
    };
    let s = churnkit::workflow::survival(&table, &schema, &spec)?;
    if let (Some(why), false) = (&s.duration_reason, ctx.quiet) {
        println!(
            "duration: {} ({why}; --duration to choose another)",
            s.model.duration
        );
    }
    let record = s.run_record(&a.experiment.experiment_name)?;
    let layout = args::layout(Path::new(""), &a.models_dir, &a.metrics_dir);
    let files = layout.save_survival(&s, &record)?;
    print::survival(&s, &files, t0.elapsed().as_secs_f64(), ctx.quiet);
    log("survival", &record, ctx)?;
    Ok(())
}

/// The monthly charge column: the one given, else the one the survival model's schema names like
/// a monthly charge.
fn charge_column(
    given: Option<&str>,
    survival: &churnkit::survival::SurvivalModel,
) -> Result<String> {
    match given
        .map(String::from)
        .or_else(|| churnkit::survival::propose_charge(&survival.schema))
    {
        Some(c) => Ok(c),
        None => churnkit::bail!(
            params,
            "no column looks like a monthly charge: give --charge COLUMN for the lifetime value"
        ),
    }
}

fn monitor(a: &MonitorArgs, ctx: &Ctx) -> Result<(), Failure> {
    let layout = a.layout.layout();
    let pre = layout.load_preprocessor()?;
    let names = pre.feature_names();
    let model = if layout.model_path().exists() {
        Some(layout.load_model_with_hash(&names)?)
    } else {
        if !ctx.quiet {
            println!(
                "monitor: no model at {}: comparing features only",
                layout.model_path().display()
            );
        }
        None
    };
    // The training rows for the features; for the scores, the held-out rows (the model is
    // surer of the rows it was trained on than of any new customer).
    let (reference, score_reference) = match &a.reference {
        Some(path) => (
            pre.transform(
                &Table::read(path)?,
                churnkit::preprocess::UnknownCategory::Missing,
            )?,
            None,
        ),
        None => {
            let p = layout.load_processed()?;
            (p.x_train, Some(p.x_test))
        }
    };
    let current = Table::read(&a.current)?;
    let labels = match &a.labels {
        Some(col) => Some(pre.target.labels_of(&current, col)?),
        None => None,
    };
    let threshold = match (a.threshold, &model) {
        (churnkit::workflow::Threshold::Fixed(t), _) => t,
        (churnkit::workflow::Threshold::ProfitOptimal, Some((_, sha))) => {
            layout.decided_threshold(sha)?
        }
        (churnkit::workflow::Threshold::ProfitOptimal, None) => {
            return Err(Failure::Usage("--threshold optimal needs the model".into()))
        }
    };
    let options = churnkit::monitor::DriftOptions {
        alpha: a.alpha,
        psi_threshold: a.psi,
        ..Default::default()
    };
    let m = churnkit::workflow::monitor(
        &pre,
        &reference,
        score_reference.as_ref(),
        &current,
        model.as_ref().map(|(m, _)| m),
        labels.as_deref(),
        threshold,
        options,
    )?;
    let record = m.run_record(
        &a.experiment.experiment_name,
        model.as_ref().map(|(_, sha)| sha.as_str()),
    )?;
    let files = layout.save_monitor(&m, &record)?;
    print::monitor(&m, &files, ctx.quiet);
    log("monitoring", &record, ctx)?;
    if m.drifted() {
        let names: Vec<String> = m
            .drift
            .features
            .iter()
            .filter(|f| f.drifted)
            .map(|f| f.feature.clone())
            .collect();
        let scores = m.scores.is_some_and(|s| s.drifted);
        return Err(Failure::Drift(format!(
            "{} of {} features drifted ({}){}; see {}",
            names.len(),
            m.drift.features.len(),
            churnkit::error::few(&names, 5),
            if scores { ", and the scores" } else { "" },
            layout.metrics.join("monitor/monitor.html").display()
        )));
    }
    Ok(())
}
