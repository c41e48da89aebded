//! Schema inference: what a table's columns probably mean, decided column by column from names,
//! values and counts (ids, row counters, free text, constants, high-cardinality categories,
//! known ranges), with the reason for every exclusion said. The result is an ordinary
//! [`Schema`]; [`Schema::infer_with`] takes the [`InferOptions`].

use crate::data::schema::{
    default_na_values, target_classes, MissingNumeric, Schema, ValidRange, AGE_RANGE, NON_NEGATIVE,
};
use crate::data::table::Table;
use crate::ensure;
use crate::error::{few, Result};
use std::collections::{BTreeMap, HashSet};

/// Columns with more distinct values than this are too many levels to be a categorical feature.
pub const MAX_CATEGORY_LEVELS: usize = 1000;

/// A text column with fewer rows per distinct value than this, on average, is free text or a
/// name, not a categorical feature: a level seen a handful of times teaches a tree nothing.
pub const MIN_ROWS_PER_LEVEL: usize = 5;

/// An integer column whose values are all distinct is an id from this many rows on (below it,
/// a real feature like a credit score can be all distinct by chance).
pub const MIN_ROWS_FOR_DISTINCT_INTEGER_ID: usize = 1000;

/// Target values understood without `--positive` (compared in any case), positive first.
const KNOWN_BINARY: &[(&str, &str)] = &[
    ("yes", "no"),
    ("y", "n"),
    ("true", "false"),
    ("t", "f"),
    ("1", "0"),
    ("1.0", "0.0"),
];

/// Options of [`Schema::infer_with`].
///
/// ```
/// use churnkit_core::schema::InferOptions;
/// let o = InferOptions::default().positive("Yes").keep(["RowNumber"]).na_values(["-"]);
/// assert_eq!(o.na_values_list(), ["-"]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct InferOptions {
    positive: Option<String>,
    na_values: Vec<String>,
    keep: Vec<String>,
}

impl Default for InferOptions {
    fn default() -> Self {
        InferOptions {
            positive: None,
            na_values: default_na_values(),
            keep: vec![],
        }
    }
}

impl InferOptions {
    /// The target value that means "churned" (else understood from yes/no, true/false, 1/0).
    pub fn positive(mut self, p: impl Into<String>) -> Self {
        self.positive = Some(p.into());
        self
    }

    /// Like [`InferOptions::positive`], for an optional value.
    pub fn positive_opt(mut self, p: Option<&str>) -> Self {
        self.positive = p.map(String::from);
        self
    }

    /// Replace the missing markers ([`DEFAULT_NA_VALUES`] by default).
    pub fn na_values<S: Into<String>>(mut self, v: impl IntoIterator<Item = S>) -> Self {
        self.na_values = v.into_iter().map(Into::into).collect();
        self
    }

    /// Columns to use as features whatever the rules say.
    pub fn keep<S: Into<String>>(mut self, v: impl IntoIterator<Item = S>) -> Self {
        self.keep = v.into_iter().map(Into::into).collect();
        self
    }

    /// The missing markers.
    pub fn na_values_list(&self) -> &[String] {
        &self.na_values
    }
}

/// The words of a column name, lowercase: split at non-alphanumerics and camelCase humps
/// (`CustomerId` -> customer, id; `row_number` -> row, number; `customerID` -> customer, id).
pub(super) fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    for part in name.split(|c: char| !c.is_alphanumeric()) {
        let chars: Vec<char> = part.chars().collect();
        let mut cur = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let hump = i > 0
                && c.is_uppercase()
                && (chars[i - 1].is_lowercase()
                    || chars.get(i + 1).is_some_and(|n| n.is_lowercase())
                        && chars[i - 1].is_uppercase());
            if hump && !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            cur.extend(c.to_lowercase());
        }
        if !cur.is_empty() {
            words.push(cur);
        }
    }
    words
}

/// Whether a name reads like an identifier: its last word is id/uuid/guid/key/number/no/nr, or
/// it is an index column (`index`, `idx`, pandas' `Unnamed: 0`).
pub(super) fn id_like_name(name: &str) -> bool {
    let w = name_words(name);
    match (w.first().map(String::as_str), w.last().map(String::as_str)) {
        (None, _) => true,
        (Some("unnamed" | "index" | "idx"), _) => true,
        (_, Some(last)) => matches!(
            last,
            "id" | "ids" | "uuid" | "guid" | "key" | "number" | "no" | "nr"
        ),
        _ => false,
    }
}

/// A default valid range for a numeric column, from its name: ages are 0-120, a tenure is not
/// negative.
fn known_range(name: &str) -> Option<ValidRange> {
    let w = name_words(name);
    if w.iter().any(|x| x == "age") {
        Some(AGE_RANGE)
    } else if w.iter().any(|x| x == "tenure") {
        Some(NON_NEGATIVE)
    } else {
        None
    }
}

/// Display a number the way it would be written in a CSV (`3`, not `3.0`).
fn num(v: f64) -> String {
    format!("{v}")
}

/// What inference makes of a column.
enum Role {
    Numeric,
    Categorical,
    Id(String),
    Excluded { why: String },
}

/// The rules of [`Schema::infer_with`] for one column: its present values (of the kept rows),
/// parsed as numbers when they all are, and the number of kept rows.
fn judge(name: &str, present: &[&str], numbers: Option<&[f64]>, n: usize) -> Role {
    let excluded = |why: String| Role::Excluded { why };
    if present.is_empty() {
        return excluded("no values (every cell is blank or a missing marker)".into());
    }
    // Numbers are counted by sorting their bits (a hash set of a million number texts was a
    // third of `churnkit survival` on a million rows); text through a hash set.
    let distinct = match numbers {
        Some(v) => {
            let mut bits: Vec<u64> = v
                .iter()
                .map(|x| if *x == 0.0 { 0 } else { x.to_bits() })
                .collect();
            bits.sort_unstable();
            bits.dedup();
            bits.len()
        }
        None => present.iter().collect::<HashSet<_>>().len(),
    };
    if distinct == 1 {
        return excluded(format!("constant (every value is '{}')", present[0]));
    }
    let complete_and_distinct = distinct == present.len() && present.len() == n;
    let named_id = id_like_name(name) && 2 * distinct > n;
    if let Some(v) = numbers {
        let integers = v.iter().all(|x| x.fract() == 0.0);
        if integers && complete_and_distinct {
            let (lo, hi) = v
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                    (a.min(x), b.max(x))
                });
            if hi - lo + 1.0 == n as f64 {
                return Role::Id(format!(
                    "row counter ({n} consecutive integers {} to {}, one per row)",
                    num(lo),
                    num(hi)
                ));
            }
            if n >= MIN_ROWS_FOR_DISTINCT_INTEGER_ID {
                return Role::Id(format!("integer id (all {n} values distinct)"));
            }
        }
        if named_id {
            return Role::Id(format!(
                "named like an id, with {distinct} distinct values in {n} rows"
            ));
        }
        return Role::Numeric;
    }
    // Ids are codes; values with spaces in them are words (a comment, a full name).
    let worded = 2 * present.iter().filter(|v| v.contains(' ')).count() > present.len();
    if complete_and_distinct && n > 1 && !worded {
        return Role::Id(format!("string id (all {n} values distinct)"));
    }
    if named_id {
        return Role::Id(format!(
            "named like an id, with {distinct} distinct values in {n} rows"
        ));
    }
    if MIN_ROWS_PER_LEVEL * distinct > n || distinct > MAX_CATEGORY_LEVELS {
        return excluded(format!(
            "free text or a name ({distinct} distinct values in {n} rows; a categorical has at most {MAX_CATEGORY_LEVELS} levels and {MIN_ROWS_PER_LEVEL} rows per level on average)"
        ));
    }
    Role::Categorical
}

/// The value meaning "churned" among a target's two values, when they are a known pair (yes/no,
/// y/n, true/false, t/f, 1/0, in any case).
pub fn guess_positive(classes: &[String]) -> Option<String> {
    let lower: Vec<String> = classes.iter().map(|c| c.to_ascii_lowercase()).collect();
    KNOWN_BINARY.iter().find_map(|(pos, neg)| {
        let pi = lower.iter().position(|c| c == pos)?;
        lower.iter().position(|c| c == neg)?;
        Some(classes[pi].clone())
    })
}

impl Schema {
    pub fn infer(table: &Table, target: &str, positive: Option<&str>) -> Result<Schema> {
        Self::infer_with(
            table,
            target,
            &InferOptions::default().positive_opt(positive),
        )
    }

    /// Infer a schema from a table given the target column.
    ///
    /// Cells that are blank or a missing marker are missing. Each other column is judged on the
    /// rows preprocessing keeps (exact duplicate rows set aside), by these rules, in order:
    ///
    /// - no value at all, or one value in every row: excluded (no information);
    /// - numeric (every present value a finite number):
    ///   - integers, all distinct, none missing, consecutive (`1..n` in any order): a row
    ///     counter, kept as an id;
    ///   - integers, all distinct, none missing, from [`MIN_ROWS_FOR_DISTINCT_INTEGER_ID`] rows
    ///     on: an integer id;
    ///   - named like an id (last word id, key, number, no; or `index`) with distinct values in
    ///     more than half of the rows: an id;
    ///   - else a numeric feature, with a valid range from its name if it is an age (0-120) or
    ///     a tenure (not negative);
    /// - text:
    ///   - all distinct, none missing, mostly without spaces: a string id;
    ///   - named like an id with distinct values in more than half the rows: an id;
    ///   - fewer than [`MIN_ROWS_PER_LEVEL`] rows per distinct value on average, or over
    ///     [`MAX_CATEGORY_LEVELS`] distinct values: free text or a name, excluded;
    ///   - else a categorical feature.
    ///
    /// Columns in `keep` are features whatever the rules say. The positive class is
    /// `positive` if given, else understood from yes/no, y/n, true/false, t/f or 1/0 in any case.
    pub fn infer_with(table: &Table, target: &str, options: &InferOptions) -> Result<Schema> {
        let mut schema = Schema {
            target: target.to_string(),
            positive: String::new(),
            id_columns: vec![],
            numeric: vec![],
            categorical: vec![],
            excluded: BTreeMap::new(),
            na_values: options.na_values.clone(),
            valid_ranges: BTreeMap::new(),
            missing_numeric: MissingNumeric::Native,
            fill_from_product: BTreeMap::new(),
            outlier_iqr_k: 0.0,
        };
        schema.check_markers()?;
        for k in &options.keep {
            table.column(k)?;
            ensure!(
                k != target,
                schema,
                "the `keep` option names '{k}', the target, not a feature"
            );
        }
        let classes = target_classes(table, target, &schema)?;
        schema.positive = match options.positive.as_deref() {
            Some(p) => {
                if !classes.iter().any(|c| c == p) {
                    return Err(table.bad_column(
                        target,
                        format!(
                            "positive class '{p}' not found (values: {})",
                            classes.join(", ")
                        ),
                    ));
                }
                p.to_string()
            }
            None => guess_positive(&classes).ok_or_else(|| {
                table.bad_column(
                    target,
                    format!(
                        "cannot tell which of '{}' and '{}' is the positive class: give the `positive` option",
                        classes[0], classes[1]
                    ),
                )
            })?,
        };
        let kept = table.distinct_rows();
        let n = kept.len();
        for name in table.headers() {
            if name == target {
                continue;
            }
            let cells = schema.cells(table, name)?;
            let present: Vec<&str> = kept.iter().filter_map(|&i| cells[i]).collect();
            let values: Option<Vec<f64>> = present
                .iter()
                .map(|s| s.parse::<f64>().ok().filter(|v| v.is_finite()))
                .collect();
            let role = judge(name, &present, values.as_deref(), n);
            let role = match role {
                Role::Excluded { .. } | Role::Id(_) if options.keep.contains(name) => {
                    if values.is_some() && !present.is_empty() {
                        Role::Numeric
                    } else {
                        Role::Categorical
                    }
                }
                r => r,
            };
            match role {
                Role::Numeric => {
                    if let Some(r) = known_range(name) {
                        schema.valid_ranges.insert(name.clone(), r);
                    }
                    schema.numeric.push(name.clone());
                }
                Role::Categorical => schema.categorical.push(name.clone()),
                Role::Id(why) => {
                    schema.id_columns.push(name.clone());
                    schema.excluded.insert(name.clone(), why);
                }
                Role::Excluded { why } => {
                    schema.excluded.insert(name.clone(), why);
                }
            }
        }
        // The Telco-style TotalCharges = tenure x MonthlyCharges identity, whatever the case.
        let find = |want: &str| {
            schema
                .numeric
                .iter()
                .find(|c| c.eq_ignore_ascii_case(want))
                .cloned()
        };
        if let (Some(t), Some(ten), Some(m)) =
            (find("TotalCharges"), find("Tenure"), find("MonthlyCharges"))
        {
            schema.fill_from_product.insert(t, [ten, m]);
        }
        schema.check().map_err(|e| {
            let mut msg = e.message().to_string();
            if !schema.excluded.is_empty() {
                let names: Vec<&String> = schema.excluded.keys().collect();
                msg.push_str(&format!(
                    " (excluded: {}; use one with the `keep` option)",
                    few(&names, 10)
                ));
            }
            table.bad_column(target, msg)
        })?;
        Ok(schema)
    }
}
