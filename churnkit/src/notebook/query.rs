//! Questions a data scientist asks of a table, answered by polars (feature `query`): SQL over
//! named tables, and thin helpers, each documented with the SQL it equals.
//!
//! Every function takes frames and returns a new frame. A name that is not a column is one line
//! naming it and the closest columns; a query polars cannot parse says where it stopped.
//! Results whose rows polars would give in any order (groups, counts, crosstabs) are sorted, so
//! the same question gives the same table twice: numbers by value, band labels from
//! [`cut`] / [`qcut`] by their lower edge, other text alphabetically.

use super::{f64_column, text_column};
use crate::prelude::*;
use churnkit_core::error::{few, no_column};
use churnkit_core::{bail, ensure};
use polars::prelude::*;
use polars::sql::{sql_expr, SQLContext};
use std::cmp::Ordering;
use std::path::Path;

fn names(df: &DataFrame) -> Vec<String> {
    df.get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect()
}

/// Every name of `wanted` is a column of `df`, or an error naming the first that is not.
fn check_columns<S: AsRef<str>>(df: &DataFrame, wanted: &[S]) -> Result<()> {
    let have = names(df);
    match wanted
        .iter()
        .find(|w| !have.iter().any(|h| h == w.as_ref()))
    {
        None => Ok(()),
        Some(w) => bail!(data, no_column(w.as_ref(), &have)),
    }
}

/// A polars error from a query, as one line: a missing column with the closest names, or the
/// part of the query where parsing stopped.
fn query_error(e: PolarsError, query: &str, columns: &[String]) -> Error {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default().trim();
    // "unable to find column "x"; valid columns: [...]", whichever variant carries it.
    if let Some((_, rest)) = first.split_once("unable to find column \"") {
        if let Some((name, _)) = rest.split_once('"') {
            return Error::data(no_column(name, columns));
        }
    }
    // sqlparser says "... at Line: 1, Column: 27": show the query from there.
    if let Some(at) = first.rfind("Column: ") {
        let col: usize = first[at + 8..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or(1);
        let line = query.lines().next().unwrap_or_default();
        let near: String = line.chars().skip(col.saturating_sub(1)).take(30).collect();
        let what = first[..at]
            .trim_end_matches([' ', ','])
            .trim_end_matches(" at Line: 1");
        let what = what.trim_start_matches("sql parser error: ");
        return Error::data(format!("SQL: {what}, near `{near}`"));
    }
    let short: String = first.chars().take(200).collect();
    Error::data(format!("SQL: {short}"))
}

/// Run `query` (polars SQL) over named tables: joins, `CASE WHEN`, window functions, CTEs.
///
/// ```
/// use churnkit::notebook::*;
/// let a = polars::df!("id" => [1.0, 2.0, 3.0], "age" => [61.0, 35.0, 52.0])?;
/// let b = polars::df!("id" => [1.0, 3.0], "segment" => ["gold", "blue"])?;
/// let out = query::sql(&[("customers", &a), ("segments", &b)],
///     "SELECT c.id, segment FROM customers c JOIN segments s ON c.id = s.id WHERE age > 50 ORDER BY c.id")?;
/// assert_eq!(out.height(), 2);
/// assert!(query::sql(&[("self", &a)], "SELECT agee FROM self").unwrap_err().to_string().contains("closest: 'age'"));
/// # Ok::<(), churnkit::Error>(())
/// ```
pub fn sql(tables: &[(&str, &DataFrame)], query: &str) -> Result<DataFrame> {
    let mut ctx = SQLContext::new();
    let mut columns = Vec::new();
    for (name, df) in tables {
        ctx.register(name, (*df).clone().lazy());
        columns.extend(names(df));
    }
    ctx.execute(query)
        .and_then(LazyFrame::collect)
        .map_err(|e| query_error(e, query, &columns))
}

fn on_self(df: &DataFrame, query: &str) -> Result<DataFrame> {
    sql(&[("self", df)], query)
}

/// A name as an SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The first `n` rows (`SELECT * FROM self LIMIT n`).
pub fn head(df: &DataFrame, n: usize) -> DataFrame {
    df.head(Some(n))
}

/// The last `n` rows.
pub fn tail(df: &DataFrame, n: usize) -> DataFrame {
    df.tail(Some(n))
}

/// `n` rows drawn without replacement, in the order drawn; the same rows for the same seed.
pub fn sample(df: &DataFrame, n: usize, seed: u64) -> Result<DataFrame> {
    ensure!(
        n <= df.height(),
        data,
        "cannot sample {n} rows from a table of {} rows",
        df.height()
    );
    let mut rng = churnkit_core::rng::Rng::new(seed);
    let mut idx: Vec<IdxSize> = (0..df.height() as IdxSize).collect();
    // A partial Fisher-Yates shuffle: the first n places are the sample.
    for i in 0..n {
        let j = i + rng.below(idx.len() - i);
        idx.swap(i, j);
    }
    idx.truncate(n);
    Ok(df.take(&IdxCa::from_vec("idx".into(), idx))?)
}

/// Only these columns, in this order (`SELECT a, b FROM self`).
pub fn select<S: AsRef<str>>(df: &DataFrame, columns: &[S]) -> Result<DataFrame> {
    check_columns(df, columns)?;
    Ok(df.select(columns.iter().map(|c| c.as_ref()))?)
}

/// Every column but these (`SELECT * EXCLUDE (a, b) FROM self`).
pub fn drop<S: AsRef<str>>(df: &DataFrame, columns: &[S]) -> Result<DataFrame> {
    check_columns(df, columns)?;
    let gone: Vec<&str> = columns.iter().map(AsRef::as_ref).collect();
    Ok(df.drop_many(gone))
}

/// Column `from` renamed `to` (`SELECT * RENAME (from AS to) FROM self`).
pub fn rename(df: &DataFrame, from: &str, to: &str) -> Result<DataFrame> {
    check_columns(df, &[from])?;
    ensure!(
        from == to || !names(df).iter().any(|c| c == to),
        data,
        "cannot rename '{from}' to '{to}': the table already has a column '{to}'"
    );
    let mut out = df.clone();
    out.rename(from, to.into())?;
    Ok(out)
}

/// The rows where `condition` (an SQL condition) holds (`SELECT * FROM self WHERE condition`).
pub fn filter(df: &DataFrame, condition: &str) -> Result<DataFrame> {
    on_self(df, &format!("SELECT * FROM self WHERE {condition}"))
}

/// `df` with columns computed by SQL expressions (`"Balance / EstimatedSalary AS ratio"`); a
/// name that exists is replaced (`SELECT *, expr AS name FROM self`).
pub fn with_columns<S: AsRef<str>>(df: &DataFrame, exprs: &[S]) -> Result<DataFrame> {
    let columns = names(df);
    let parsed = exprs
        .iter()
        .map(|e| sql_expr(e.as_ref()).map_err(|x| query_error(x, e.as_ref(), &columns)))
        .collect::<Result<Vec<_>>>()?;
    let all = exprs
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ");
    df.clone()
        .lazy()
        .with_columns(parsed)
        .collect()
        .map_err(|e| query_error(e, &all, &columns))
}

/// Rows ordered by one column (`ORDER BY column [DESC]`), missing values last, ties in their
/// original order.
pub fn sort(df: &DataFrame, column: &str, descending: bool) -> Result<DataFrame> {
    check_columns(df, &[column])?;
    Ok(df.sort(
        [column],
        SortMultipleOptions::default()
            .with_order_descending(descending)
            .with_nulls_last(true)
            .with_maintain_order(true),
    )?)
}

/// How often each value of `column` occurs, most frequent first, with its share of the rows
/// (`SELECT column, COUNT(*) AS count FROM self GROUP BY column ORDER BY count DESC`).
pub fn value_counts(df: &DataFrame, column: &str) -> Result<DataFrame> {
    check_columns(df, &[column])?;
    let c = ident(column);
    let out = on_self(
        df,
        &format!("SELECT {c}, COUNT(*) AS count FROM self GROUP BY {c}"),
    )?;
    let out = order_rows(&out, &[column])?;
    let counts: Vec<u64> = out
        .column("count")?
        .cast(&DataType::UInt64)?
        .u64()?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    // Most frequent first; equal counts keep the natural order of the values.
    let mut order: Vec<IdxSize> = (0..counts.len() as IdxSize).collect();
    order.sort_by(|&a, &b| counts[b as usize].cmp(&counts[a as usize]));
    let mut out = out.take(&IdxCa::from_vec("idx".into(), order))?;
    let total = df.height().max(1) as f64;
    let share: Vec<f64> = out
        .column("count")?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(0.0) / total)
        .collect();
    out.with_column(Column::new("share".into(), share))?;
    Ok(out)
}

/// One row per combination of `keys` with SQL aggregates (`"avg(Exited) AS churn_rate"`,
/// `"count(*) AS customers"`): `SELECT keys, aggs FROM self GROUP BY keys ORDER BY keys`.
///
/// ```
/// use churnkit::notebook::*;
/// let df = polars::df!("Geography" => ["FR", "DE", "DE"], "Exited" => [0.0, 1.0, 0.0])?;
/// let g = query::group_by(&df, &["Geography"], &["avg(Exited) AS churn_rate", "count(*) AS n"])?;
/// assert_eq!(numbers(&g, "churn_rate")?, vec![Some(0.5), Some(0.0)]);
/// # Ok::<(), churnkit::Error>(())
/// ```
pub fn group_by<K: AsRef<str>, A: AsRef<str>>(
    df: &DataFrame,
    keys: &[K],
    aggs: &[A],
) -> Result<DataFrame> {
    ensure!(
        !keys.is_empty(),
        data,
        "group_by needs at least one key column"
    );
    check_columns(df, keys)?;
    let keys: Vec<&str> = keys.iter().map(AsRef::as_ref).collect();
    let key_list = keys.iter().map(|k| ident(k)).collect::<Vec<_>>().join(", ");
    let mut select = key_list.clone();
    for a in aggs {
        select.push_str(", ");
        select.push_str(a.as_ref());
    }
    let out = on_self(
        df,
        &format!("SELECT {select} FROM self GROUP BY {key_list}"),
    )?;
    order_rows(&out, &keys)
}

/// The lower edge of a band label written by [`cut`] / [`qcut`] (`(18, 30]`, `[18, 30]`).
fn band_start(s: &str) -> Option<f64> {
    let inner = s.strip_prefix(['(', '['])?;
    let (lo, rest) = inner.split_once(", ")?;
    rest.ends_with(']').then_some(())?;
    lo.parse().ok()
}

/// Compare two cells of a key column: missing last, numbers by value, band labels by their
/// lower edge, other text alphabetically.
fn natural(a: &AnyValue, b: &AnyValue) -> Ordering {
    let num = |v: &AnyValue| v.extract::<f64>();
    match (a.is_null(), b.is_null()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    if let (AnyValue::String(x), AnyValue::String(y)) = (a, b) {
        return match (band_start(x), band_start(y)) {
            (Some(p), Some(q)) => p.total_cmp(&q).then_with(|| x.cmp(y)),
            _ => x.cmp(y),
        };
    }
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// `df` with its rows in the natural order of `keys`.
fn order_rows(df: &DataFrame, keys: &[&str]) -> Result<DataFrame> {
    let cols: Vec<&Column> = keys
        .iter()
        .map(|k| df.column(k))
        .collect::<PolarsResult<_>>()?;
    let mut order: Vec<IdxSize> = (0..df.height() as IdxSize).collect();
    let mut err = None;
    order.sort_by(|&i, &j| {
        for c in &cols {
            match (c.get(i as usize), c.get(j as usize)) {
                (Ok(a), Ok(b)) => match natural(&a, &b) {
                    Ordering::Equal => continue,
                    o => return o,
                },
                (Err(e), _) | (_, Err(e)) => {
                    err = Some(e);
                    return Ordering::Equal;
                }
            }
        }
        Ordering::Equal
    });
    if let Some(e) = err {
        return Err(e.into());
    }
    Ok(df.take(&IdxCa::from_vec("idx".into(), order))?)
}

fn band_label(lo: f64, hi: f64, closed_left: bool) -> String {
    // Shortest exact text: 18, 25.75 (pandas writes 18.0; the edges are the user's numbers).
    format!("{}{lo}, {hi}]", if closed_left { "[" } else { "(" })
}

/// Band each value by `edges` into a text column: `(a, b]` as pandas' `cut`, the first band
/// closed on the left as well when `include_lowest`. Values outside the edges are missing.
fn bands(values: &[Option<f64>], edges: &[f64], include_lowest: bool) -> Vec<Option<String>> {
    let labels: Vec<String> = edges
        .windows(2)
        .enumerate()
        .map(|(i, w)| band_label(w[0], w[1], include_lowest && i == 0))
        .collect();
    values
        .iter()
        .map(|v| {
            let v = (*v)?;
            if v.is_nan() {
                return None;
            }
            // The first edge >= v closes the band on the right.
            let i = edges.partition_point(|&e| e < v);
            match i {
                0 if include_lowest && v == edges[0] => Some(labels[0].clone()),
                0 => None,
                i if i >= edges.len() => None,
                i => Some(labels[i - 1].clone()),
            }
        })
        .collect()
}

fn with_band(df: &DataFrame, name: &str, band: Vec<Option<String>>) -> Result<DataFrame> {
    let mut out = df.clone();
    out.with_column(Column::new(name.into(), band))?;
    Ok(out)
}

/// `df` with a band column (`{column}_band`, or `name`): each value's interval among `edges`,
/// right-closed as pandas' `cut` (`(18, 30]`); values outside the edges are missing. The SQL it
/// equals: `CASE WHEN column > 18 AND column <= 30 THEN '(18, 30]' ... END`.
///
/// ```
/// use churnkit::notebook::*;
/// let df = polars::df!("Age" => [18.0, 25.0, 30.0, 64.0])?;
/// let b = query::cut(&df, "Age", &[18.0, 30.0, 65.0], None)?;
/// assert_eq!(b.column("Age_band")?.str()?.get(1), Some("(18, 30]"));
/// assert_eq!(b.column("Age_band")?.str()?.get(0), None);
/// # Ok::<(), churnkit::Error>(())
/// ```
pub fn cut(df: &DataFrame, column: &str, edges: &[f64], name: Option<&str>) -> Result<DataFrame> {
    check_columns(df, &[column])?;
    ensure!(
        edges.len() >= 2,
        data,
        "cut needs at least two edges, got {}",
        edges.len()
    );
    if !edges.windows(2).all(|w| w[0] < w[1]) {
        bail!(data, "cut's edges must increase: {edges:?}");
    }
    let values = f64_column(df, column)?;
    let name = name.map_or_else(|| format!("{column}_band"), String::from);
    with_band(df, &name, bands(&values, edges, false))
}

/// `df` with a band column of `q` bands holding about as many rows each (`{column}_band`, or
/// `name`): edges at the quantiles (linear interpolation, as numpy and pandas' `qcut`), equal
/// edges merged, the first band closed on both sides so the minimum is in it.
pub fn qcut(df: &DataFrame, column: &str, q: usize, name: Option<&str>) -> Result<DataFrame> {
    check_columns(df, &[column])?;
    ensure!(q >= 2, data, "qcut needs at least 2 bands, got {q}");
    let values = f64_column(df, column)?;
    let mut sorted: Vec<f64> = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| !v.is_nan())
        .collect();
    ensure!(
        !sorted.is_empty(),
        data,
        "column '{column}' has no numbers to band"
    );
    sorted.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (0..=q)
        .map(|i| churnkit_core::stats::quantile(&sorted, i as f64 / q as f64).unwrap_or(f64::NAN))
        .collect();
    edges.dedup();
    ensure!(
        edges.len() >= 2,
        data,
        "column '{column}' has one value only: nothing to band"
    );
    let name = name.map_or_else(|| format!("{column}_band"), String::from);
    with_band(df, &name, bands(&values, &edges, true))
}

/// Counts of rows per value of `row` (rows) and of `column` (columns), as pandas' `crosstab`:
/// rows with a missing value in either are left out.
pub fn crosstab(df: &DataFrame, row: &str, column: &str) -> Result<DataFrame> {
    check_columns(df, &[row, column])?;
    let counts = on_self(
        df,
        &format!(
            "SELECT {r}, {c}, COUNT(*) AS n FROM self WHERE {r} IS NOT NULL AND {c} IS NOT NULL GROUP BY {r}, {c}",
            r = ident(row),
            c = ident(column)
        ),
    )?;
    // The distinct values of each side in natural order, then the counts pivoted by hand
    // (polars' SQL has no PIVOT).
    let levels = |name: &str| -> Result<Vec<String>> {
        let d = on_self(
            df,
            &format!(
                "SELECT DISTINCT {c} FROM self WHERE {c} IS NOT NULL",
                c = ident(name)
            ),
        )?;
        let d = order_rows(&d, &[name])?;
        text_column(&d, name).map(|v| v.into_iter().flatten().collect())
    };
    let (rows, cols) = (levels(row)?, levels(column)?);
    let r = text_column(&counts, row)?;
    let c = text_column(&counts, column)?;
    let n: Vec<Option<f64>> = f64_column(&counts, "n")?;
    let index = |levels: &[String]| -> std::collections::HashMap<String, usize> {
        levels
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, l)| (l, i))
            .collect()
    };
    let (row_at, col_at) = (index(&rows), index(&cols));
    let mut grid = vec![vec![0u64; cols.len()]; rows.len()];
    for ((r, c), n) in r.iter().zip(&c).zip(&n) {
        let (Some(r), Some(c)) = (r, c) else { continue };
        if let (Some(&i), Some(&j)) = (row_at.get(r), col_at.get(c)) {
            grid[i][j] = n.unwrap_or(0.0) as u64;
        }
    }
    let mut out = vec![Column::new(row.into(), rows.clone())];
    for (j, c) in cols.iter().enumerate() {
        let name = if c == row {
            format!("{c} ({column})")
        } else {
            c.clone()
        };
        out.push(Column::new(
            name.into(),
            grid.iter().map(|g| g[j]).collect::<Vec<u64>>(),
        ));
    }
    Ok(DataFrame::new(rows.len(), out)?)
}

/// Rows of `df` matched with rows of `other` on the `on` columns (`inner`, `left`, `right` or
/// `full`): `SELECT * FROM self LEFT JOIN other USING (on)`. Rows keep `df`'s order (then
/// `other`'s); a column both have besides the keys gets the suffix `_right`.
pub fn join<S: AsRef<str>>(
    df: &DataFrame,
    other: &DataFrame,
    on: &[S],
    how: &str,
) -> Result<DataFrame> {
    ensure!(!on.is_empty(), data, "join needs at least one key column");
    check_columns(df, on).map_err(|e| Error::data(format!("left table: {e}")))?;
    check_columns(other, on).map_err(|e| Error::data(format!("right table: {e}")))?;
    let how = match how.to_ascii_lowercase().as_str() {
        "inner" => JoinType::Inner,
        "left" => JoinType::Left,
        "right" => JoinType::Right,
        "full" | "outer" => JoinType::Full,
        other => bail!(
            data,
            "join kind '{other}' is not one of inner, left, right, full"
        ),
    };
    for k in on {
        let (a, b) = (
            df.column(k.as_ref())?.dtype(),
            other.column(k.as_ref())?.dtype(),
        );
        ensure!(
            a == b,
            data,
            "join key '{}' is {a} on the left and {b} on the right",
            k.as_ref()
        );
    }
    let keys: Vec<Expr> = on.iter().map(|k| col(k.as_ref())).collect();
    let mut args = JoinArgs::new(how);
    args.maintain_order = MaintainOrderJoin::LeftRight;
    args.coalesce = JoinCoalesce::CoalesceColumns;
    Ok(df
        .clone()
        .lazy()
        .join(other.clone().lazy(), keys.clone(), keys, args)
        .collect()?)
}

/// `df` with a 0/1 column `name` that is 1 where `target` holds its churned value: `positive`,
/// or understood from yes/no, true/false, 1/0 as `prepare` does. Then `avg(name)` is a churn
/// rate in any group. A missing target stays missing.
///
/// ```
/// use churnkit::notebook::*;
/// let df = polars::df!("Churn" => ["Yes", "No", "No", "Yes"])?;
/// let f = query::churn_flag(&df, "Churn", None, "churned")?;
/// assert_eq!(numbers(&f, "churned")?, vec![Some(1.0), Some(0.0), Some(0.0), Some(1.0)]);
/// # Ok::<(), churnkit::Error>(())
/// ```
pub fn churn_flag(
    df: &DataFrame,
    target: &str,
    positive: Option<&str>,
    name: &str,
) -> Result<DataFrame> {
    check_columns(df, &[target])?;
    let flag: Vec<Option<f64>> = if df.column(target)?.dtype().is_primitive_numeric() {
        // Compared as numbers: a 1/0 target is not turned into a million strings.
        let values = f64_column(df, target)?;
        let mut classes: Vec<f64> = values.iter().flatten().copied().collect();
        classes.sort_by(f64::total_cmp);
        classes.dedup();
        let text: Vec<String> = classes.iter().map(|c| super::fmt_float(*c)).collect();
        let churned = classes[churned_class(target, &text, positive)?];
        values
            .iter()
            .map(|v| v.map(|v| f64::from(u8::from(v == churned))))
            .collect()
    } else {
        let values = text_column(df, target)?;
        let mut classes: Vec<String> = values.iter().flatten().cloned().collect();
        classes.sort();
        classes.dedup();
        let churned = &classes[churned_class(target, &classes, positive)?];
        values
            .iter()
            .map(|v| v.as_ref().map(|v| f64::from(u8::from(v == churned))))
            .collect()
    };
    let mut out = df.clone();
    out.with_column(Column::new(name.into(), flag))?;
    Ok(out)
}

/// Which of a target's values (as text, sorted) means churned: `positive`, or understood from
/// the known pairs as `prepare` does. A churn flag needs exactly two values.
fn churned_class(target: &str, classes: &[String], positive: Option<&str>) -> Result<usize> {
    ensure!(
        classes.len() == 2,
        data,
        "column '{target}' has {} values ({}); a churn flag needs two",
        classes.len(),
        few(classes, 5)
    );
    let wanted = match positive {
        Some(p) => p.to_string(),
        None => churnkit_core::schema::guess_positive(classes).ok_or_else(|| {
            Error::data(format!(
                "cannot tell which value of '{target}' means churned ({}): give it",
                classes.join(", ")
            ))
        })?,
    };
    classes.iter().position(|c| *c == wanted).ok_or_else(|| {
        Error::data(format!(
            "'{wanted}' is not a value of '{target}' ({})",
            classes.join(", ")
        ))
    })
}

/// pandas' `describe()`: count, mean, std, min, quartiles and max of the numeric columns.
pub fn describe(df: &DataFrame) -> Result<DataFrame> {
    super::summary(df)
}

/// Pearson correlations of the numeric columns as a table, each pair over the rows where both
/// are present (pandas' `corr()`).
pub fn corr(df: &DataFrame) -> Result<DataFrame> {
    use rayon::prelude::*;
    let numeric: Vec<String> = df
        .columns()
        .iter()
        .filter(|c| c.dtype().is_primitive_numeric())
        .map(|c| c.name().to_string())
        .collect();
    ensure!(
        !numeric.is_empty(),
        data,
        "the table has no numeric columns"
    );
    // Missing as NaN: one flat vector per column.
    let values: Vec<Vec<f64>> = numeric
        .iter()
        .map(|n| f64_column(df, n).map(|v| v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect()))
        .collect::<Result<_>>()?;
    let complete: Vec<bool> = values
        .iter()
        .map(|v| !v.iter().any(|x| x.is_nan()))
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let means: Vec<f64> = values.iter().map(|v| mean(v)).collect();
    let k = numeric.len();
    let pairs: Vec<(usize, usize)> = (0..k).flat_map(|i| (i..k).map(move |j| (i, j))).collect();
    // Two passes over the rows both columns have (means first, then the centred sums), as
    // pandas does, so large offsets (ids, timestamps) cost no precision.
    let r: Vec<f64> = pairs
        .par_iter()
        .map(|&(i, j)| {
            let (a, b) = (&values[i], &values[j]);
            let (ma, mb) = if complete[i] && complete[j] {
                (means[i], means[j])
            } else {
                let (mut n, mut sa, mut sb) = (0.0, 0.0, 0.0);
                for (x, y) in a.iter().zip(b) {
                    if !x.is_nan() && !y.is_nan() {
                        n += 1.0;
                        sa += x;
                        sb += y;
                    }
                }
                (sa / n, sb / n)
            };
            let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
            for (x, y) in a.iter().zip(b) {
                if !x.is_nan() && !y.is_nan() {
                    let (dx, dy) = (x - ma, y - mb);
                    sxy += dx * dy;
                    sxx += dx * dx;
                    syy += dy * dy;
                }
            }
            sxy / (sxx * syy).sqrt()
        })
        .collect();
    let mut m = vec![vec![f64::NAN; k]; k];
    for (&(i, j), v) in pairs.iter().zip(&r) {
        m[i][j] = *v;
        m[j][i] = *v;
    }
    let mut cols = vec![Column::new("column".into(), numeric.clone())];
    for (j, n) in numeric.iter().enumerate() {
        cols.push(Column::new(
            n.as_str().into(),
            (0..k).map(|i| m[i][j]).collect::<Vec<f64>>(),
        ));
    }
    Ok(DataFrame::new(k, cols)?)
}

/// The rows of `frames` one after another; the columns are the first frame's, found by name
/// in the others (`SELECT * FROM a UNION ALL SELECT * FROM b`).
pub fn concat(frames: &[&DataFrame]) -> Result<DataFrame> {
    let Some((first, rest)) = frames.split_first() else {
        bail!(data, "concat needs at least one table");
    };
    let want = names(first);
    let mut out = (*first).clone();
    for (i, f) in rest.iter().enumerate() {
        let have = names(f);
        let missing: Vec<&String> = want.iter().filter(|c| !have.contains(c)).collect();
        let extra: Vec<&String> = have.iter().filter(|c| !want.contains(c)).collect();
        ensure!(
            missing.is_empty() && extra.is_empty(),
            data,
            "table {} of concat has other columns: missing {}, extra {}",
            i + 2,
            if missing.is_empty() {
                "none".into()
            } else {
                few(&missing, 5)
            },
            if extra.is_empty() {
                "none".into()
            } else {
                few(&extra, 5)
            }
        );
        let aligned = f.select(want.iter().map(String::as_str))?;
        for c in &want {
            let (a, b) = (first.column(c)?.dtype(), aligned.column(c)?.dtype());
            ensure!(
                a == b,
                data,
                "column '{c}' is {a} in the first table and {b} in table {}",
                i + 2
            );
        }
        out.vstack_mut(&aligned)?;
    }
    out.rechunk_mut();
    Ok(out)
}

/// Write `path` whole or not at all, with churnkit's staged files (a temporary beside it, then a
/// rename). Unlike a pipeline step, a cell's write does not create missing directories: a typo
/// in a path is an error, not a new folder.
fn atomic(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> PolarsResult<()>,
) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory");
        return Err(Error::io(path, missing));
    }
    let mut staged = churnkit_core::io::StagedFiles::new();
    staged.write(path, |w| write(w).map_err(std::io::Error::other))?;
    staged.commit().map(|_| ())
}

/// Write `df` as CSV, atomically.
pub fn write_csv(df: &DataFrame, path: impl AsRef<Path>) -> Result<()> {
    let mut df = df.clone();
    atomic(path.as_ref(), |f| CsvWriter::new(f).finish(&mut df))
}

/// Write `df` as Parquet, atomically.
pub fn write_parquet(df: &DataFrame, path: impl AsRef<Path>) -> Result<()> {
    let mut df = df.clone();
    atomic(path.as_ref(), |f| {
        ParquetWriter::new(f).finish(&mut df).map(|_| ())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::df;

    fn frame() -> DataFrame {
        df!(
            "id" => [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "Age" => [Some(22.0), Some(35.0), Some(51.0), Some(64.0), None, Some(35.0)],
            "Geography" => ["France", "Germany", "Germany", "Spain", "France", "Germany"],
            "Exited" => [0.0, 1.0, 1.0, 0.0, 0.0, 0.0],
        )
        .unwrap()
    }

    #[test]
    fn a_typo_names_the_closest_columns_and_a_bad_query_where_it_stopped() {
        let df = frame();
        let e = filter(&df, "Agee > 50").unwrap_err().to_string();
        assert!(e.contains("no column 'Agee'; closest: 'Age'"), "{e}");
        let e = select(&df, &["geography"]).unwrap_err().to_string();
        assert!(e.contains("closest: 'Geography'"), "{e}");
        let e = filter(&df, "Age > > 50").unwrap_err().to_string();
        assert!(e.starts_with("SQL: ") && e.contains("near `"), "{e}");
        assert!(!e.contains('\n'));
        let e = with_columns(&df, &["Agge * 2 AS x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("closest: 'Age'"), "{e}");
    }

    #[test]
    fn groups_come_in_a_stable_natural_order() {
        let df = cut(&frame(), "Age", &[18.0, 30.0, 50.0, 100.0], None).unwrap();
        let g = group_by(
            &df,
            &["Age_band"],
            &["avg(Exited) AS churn_rate", "count(*) AS customers"],
        )
        .unwrap();
        let bands: Vec<Option<&str>> = g
            .column("Age_band")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        // (18, 30] before (30, 50] before (50, 100], though "(5" < "(3" is false as text too:
        // the lower edges decide; the missing age last.
        assert_eq!(
            bands,
            [Some("(18, 30]"), Some("(30, 50]"), Some("(50, 100]"), None]
        );
        let n = f64_column(&g, "customers").unwrap();
        assert_eq!(n, [Some(1.0), Some(2.0), Some(2.0), Some(1.0)]);
        let vc = value_counts(&frame(), "Geography").unwrap();
        assert_eq!(
            text_column(&vc, "Geography").unwrap(),
            [
                Some("Germany".into()),
                Some("France".into()),
                Some("Spain".into())
            ]
        );
        assert_eq!(f64_column(&vc, "share").unwrap()[0], Some(0.5));
    }

    #[test]
    fn qcut_bands_hold_the_minimum_and_about_equal_counts() {
        let df = df!("x" => (1..=100).map(f64::from).collect::<Vec<_>>()).unwrap();
        let b = qcut(&df, "x", 4, None).unwrap();
        let vc = value_counts(&b, "x_band").unwrap();
        assert_eq!(f64_column(&vc, "count").unwrap(), [Some(25.0); 4]);
        assert_eq!(
            b.column("x_band").unwrap().str().unwrap().get(0),
            Some("[1, 25.75]")
        );
    }

    #[test]
    fn crosstab_join_concat_and_sample() {
        let df = frame();
        let ct = crosstab(&df, "Geography", "Exited").unwrap();
        assert_eq!(names(&ct), ["Geography", "0", "1"]);
        assert_eq!(
            f64_column(&ct, "1").unwrap(),
            [Some(0.0), Some(2.0), Some(0.0)]
        );
        let seg = df!("id" => [3.0, 1.0], "segment" => ["gold", "blue"]).unwrap();
        let j = join(&df, &seg, &["id"], "left").unwrap();
        assert_eq!(j.height(), 6);
        assert_eq!(
            text_column(&j, "segment").unwrap()[..3],
            [Some("blue".into()), None, Some("gold".into())]
        );
        let e = join(&df, &seg, &["ID"], "left").unwrap_err().to_string();
        assert!(
            e.contains("left table") && e.contains("closest: 'id'"),
            "{e}"
        );
        let both = concat(&[&df, &df]).unwrap();
        assert_eq!(both.height(), 12);
        let s1 = sample(&df, 4, 7).unwrap();
        assert_eq!(s1, sample(&df, 4, 7).unwrap());
        assert_eq!(s1.height(), 4);
        assert!(sample(&df, 7, 7).is_err());
    }

    #[test]
    fn queries_equal_polars_own_lazy_api() {
        let df = frame();
        let ours = filter(&df, "Age > 30 AND Geography = 'Germany'").unwrap();
        let theirs = df
            .clone()
            .lazy()
            .filter(
                col("Age")
                    .gt(lit(30.0))
                    .and(col("Geography").eq(lit("Germany"))),
            )
            .collect()
            .unwrap();
        assert_eq!(ours, theirs);
        let ours = group_by(
            &df,
            &["Geography"],
            &["avg(Exited) AS rate", "sum(Age) AS age"],
        )
        .unwrap();
        let theirs = df
            .clone()
            .lazy()
            .group_by([col("Geography")])
            .agg([
                col("Exited").mean().alias("rate"),
                col("Age").sum().alias("age"),
            ])
            .sort(["Geography"], Default::default())
            .collect()
            .unwrap();
        assert_eq!(ours, theirs);
        let ours = with_columns(&df, &["Age * 2 AS twice"]).unwrap();
        let theirs = df
            .clone()
            .lazy()
            .with_columns([(col("Age") * lit(2.0)).alias("twice")])
            .collect()
            .unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn writes_are_whole_or_absent() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        write_csv(&frame(), &p).unwrap();
        assert!(std::fs::read_to_string(&p)
            .unwrap()
            .starts_with("id,Age,Geography,Exited\n"));
        let bad = dir.path().join("no/such/dir/out.csv");
        assert!(write_csv(&frame(), &bad).is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only out.csv, no temporary file");
    }
}
