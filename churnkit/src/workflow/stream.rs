//! Scoring a customer file of any size a part at a time: read a part
//! ([`churnkit_core::data::chunks::TableChunks`]), score it with [`predict`], append its rows to
//! the output, drop it. Memory holds one part, whatever the file's size; the output is the same
//! bytes as scoring the whole file at once, written to a temporary beside it and renamed into
//! place only when every part is done (nothing half-written on failure).

use super::predict::{predict, PredictOptions, Scores};
use churnkit_core::data::chunks::TableChunks;
use churnkit_core::io::StagedFiles;
use churnkit_core::model::Model;
use churnkit_core::preprocess::{Preprocessor, TransformReport};
use churnkit_core::table::Table;
use churnkit_core::Result;
use std::io::Write;
use std::path::Path;

/// Rows per part by default: about 60 MB of a 20-column table in memory at a time.
pub const CHUNK_ROWS: usize = 65_536;

/// What [`predict_file`] scored, for a summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Streamed {
    /// Rows scored.
    pub rows: usize,
    /// Rows flagged as churners.
    pub flagged: usize,
    /// The threshold the flags use.
    pub threshold: f64,
    /// Missing values, impossible values and unseen categories, over every part.
    pub report: TransformReport,
    /// The carried input columns of the output.
    pub columns: Vec<String>,
    /// The row-number column, when the input has no id.
    pub row_column: Option<String>,
    /// Reasons per row (0 without `explain`).
    pub reasons: usize,
    /// The base value the reasons add to.
    pub base_value: Option<f64>,
    /// Parts read.
    pub parts: usize,
    /// The most rows a part holds.
    pub chunk_rows: usize,
}

fn merge(into: &mut TransformReport, part: &TransformReport) {
    into.rows += part.rows;
    for (k, n) in &part.missing {
        *into.missing.entry(k.clone()).or_default() += n;
    }
    for (k, n) in &part.out_of_range {
        *into.out_of_range.entry(k.clone()).or_default() += n;
    }
    for (k, u) in &part.unseen {
        let e = into.unseen.entry(k.clone()).or_default();
        e.count += u.count;
        for x in &u.examples {
            // As one transform keeps them: the first five distinct values.
            if e.examples.len() < 5 && !e.examples.contains(x) {
                e.examples.push(x.clone());
            }
        }
    }
}

/// Score the customers of `input` (CSV or Parquet) into `output` (CSV), `chunk_rows` rows at a
/// time: the same bytes [`predict`] + [`Scores::to_csv`] give for the whole file. `extra` may add
/// columns to each part's scores (lifetime values); `progress` gets `(done, total)` after each
/// part (bytes for CSV, rows for Parquet).
///
/// ```
/// use churnkit::prelude::*;
/// use churnkit::workflow::{predict, predict_file, train, PredictOptions};
/// let dir = tempfile::tempdir()?;
/// let (csv, _) = churnkit::generate::generate_rows(500, 2);
/// std::fs::write(dir.path().join("in.csv"), &csv)?;
/// let table = Table::from_csv_bytes(csv, "in.csv")?;
/// let data = Processed::fit(&table, &Schema::infer(&table, "Churn", None)?, SplitOptions::default())?;
/// let trained = train(&data, RandomForestParams::new().n_estimators(10).check()?)?;
/// let out = dir.path().join("scores.csv");
/// let s = predict_file(&data.state, trained.model(), &dir.path().join("in.csv"), &out,
///     PredictOptions::default(), 64, |_, _| Ok(()), |_, _| {})?;
/// assert_eq!((s.rows, s.parts), (500, 8));
/// let whole = predict(&data.state, trained.model(), &table, PredictOptions::default())?;
/// assert_eq!(std::fs::read(&out)?, whole.to_csv());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn predict_file(
    preprocessor: &Preprocessor,
    model: &Model,
    input: &Path,
    output: &Path,
    options: PredictOptions,
    chunk_rows: usize,
    mut extra: impl FnMut(&Table, &mut Scores) -> Result<()>,
    mut progress: impl FnMut(u64, u64),
) -> Result<Streamed> {
    model.check_features(&preprocessor.feature_names())?;
    let mut chunks = TableChunks::open(input, chunk_rows)?;
    let mut summary = Streamed {
        rows: 0,
        flagged: 0,
        threshold: options.threshold,
        report: TransformReport::default(),
        columns: vec![],
        row_column: None,
        reasons: 0,
        base_value: None,
        parts: 0,
        chunk_rows,
    };
    let mut failure = None;
    let mut staged = StagedFiles::new();
    let written = staged.write(output, |w| {
        let mut step = || -> Result<bool> {
            let Some(table) = chunks.next_chunk()? else {
                return Ok(false);
            };
            let mut scores = predict(preprocessor, model, &table, options)?;
            extra(&table, &mut scores)?;
            let io = |e| churnkit_core::Error::io(output, e);
            if summary.parts == 0 {
                w.write_all(&scores.csv_header()).map_err(io)?;
                summary.columns = scores.columns.iter().map(|(c, _)| c.clone()).collect();
                summary.row_column.clone_from(&scores.row_column);
                summary.reasons = scores.reasons.first().map_or(0, Vec::len);
                summary.base_value = scores.base_value;
            }
            w.write_all(&scores.csv_rows()).map_err(io)?;
            summary.parts += 1;
            summary.rows += scores.probability.len();
            summary.flagged += scores.flagged();
            merge(&mut summary.report, &scores.report);
            let (done, total) = chunks.progress();
            progress(done, total);
            Ok(true)
        };
        loop {
            match step() {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(e) => {
                    failure = Some(e);
                    return Err(std::io::Error::other("scoring stopped"));
                }
            }
        }
    });
    if let Some(e) = failure {
        // `staged` drops here and removes the temporary: no part of the output is left.
        return Err(e);
    }
    written?;
    staged.commit()?;
    Ok(summary)
}
