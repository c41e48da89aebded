//! What the columns of a customer table mean: the target and its positive class, id columns to
//! carry through, columns that are not features (and why), numeric and categorical features,
//! which cell texts mean "missing", and which values are impossible.
//!
//! [`Schema::infer`] decides all of that from the table and says why for every column it does
//! not use; the rules are on [`Schema::infer_with`].

use crate::data::table::Table;
use crate::error::{few, Error, Result};
use crate::{bail, ensure};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

/// Cell texts read as missing by default, besides a blank cell (matched exactly, after
/// trimming): pandas' common markers plus `?` (UCI-style tables).
pub const DEFAULT_NA_VALUES: &[&str] = &[
    "NA", "N/A", "n/a", "#N/A", "NaN", "nan", "-nan", "null", "NULL", "Null", "None", "<NA>", "?",
];

pub(super) fn default_na_values() -> Vec<String> {
    DEFAULT_NA_VALUES.iter().map(|s| s.to_string()).collect()
}

/// The values a numeric column can possibly take. A value outside is reported and treated as
/// missing.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidRange {
    /// Smallest possible value, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest possible value, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl ValidRange {
    /// Whether `v` is possible.
    pub fn contains(&self, v: f64) -> bool {
        self.min.is_none_or(|m| v >= m) && self.max.is_none_or(|m| v <= m)
    }
}

impl std::fmt::Display for ValidRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.min, self.max) {
            (Some(a), Some(b)) => write!(f, "{a} to {b}"),
            (Some(a), None) => write!(f, "at least {a}"),
            (None, Some(b)) => write!(f, "at most {b}"),
            (None, None) => f.write_str("any value"),
        }
    }
}

/// What becomes of a numeric feature's missing values.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingNumeric {
    /// They stay missing, and the forest learns at each split where they go.
    #[default]
    Native,
    /// They are filled with the training median (after `fill_from_product`).
    Median,
}

/// The meaning of a table's columns.
///
/// Read from TOML, inferred from a table, or the guide's default:
///
/// ```
/// let s = churnkit_core::schema::Schema::default();
/// assert_eq!(s.target, "Churn");
/// assert_eq!(s.categorical, ["Contract", "PaymentMethod"]);
/// let round_trip = churnkit_core::schema::Schema::from_toml_str(&s.to_toml()).unwrap();
/// assert_eq!(round_trip, s);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// The label column.
    pub target: String,
    /// The target value that means "churned" (becomes class 1).
    pub positive: String,
    /// Identifier columns: carried through `predict`, never used as features.
    #[serde(default)]
    pub id_columns: Vec<String>,
    /// Numeric features.
    #[serde(default)]
    pub numeric: Vec<String>,
    /// Categorical features, encoded to integer codes.
    #[serde(default)]
    pub categorical: Vec<String>,
    /// Columns that are not features, with the reason (ids included).
    #[serde(default)]
    pub excluded: BTreeMap<String, String>,
    /// Cell texts that mean "missing", besides a blank cell.
    #[serde(default = "default_na_values")]
    pub na_values: Vec<String>,
    /// Possible values per numeric column; others are reported and treated as missing.
    #[serde(default)]
    pub valid_ranges: BTreeMap<String, ValidRange>,
    /// What becomes of missing numeric values.
    #[serde(default)]
    pub missing_numeric: MissingNumeric,
    /// Missing numerics that are the product of two other columns (TotalCharges = Tenure x
    /// MonthlyCharges) are filled from that product where both factors are present.
    #[serde(default)]
    pub fill_from_product: BTreeMap<String, [String; 2]>,
    /// Numeric values outside `[Q1 - k*IQR, Q3 + k*IQR]` of the training rows are clipped to
    /// those bounds (Tukey's fences); `0`, the default, turns clipping off: a tree does not care
    /// about the scale of a value, and clipping merges the tail of a feature into one value.
    /// Columns whose IQR is 0 are left alone.
    #[serde(default)]
    pub outlier_iqr_k: f64,
}

impl Default for Schema {
    /// The schema of the workflow guide's sample data.
    fn default() -> Self {
        Schema {
            target: "Churn".into(),
            positive: "1".into(),
            id_columns: vec!["CustomerID".into()],
            numeric: ["Age", "Tenure", "MonthlyCharges", "TotalCharges"]
                .map(String::from)
                .to_vec(),
            categorical: vec!["Contract".into(), "PaymentMethod".into()],
            excluded: BTreeMap::from([(
                "CustomerID".to_string(),
                "string id: every value is distinct".to_string(),
            )]),
            na_values: default_na_values(),
            valid_ranges: BTreeMap::from([
                ("Age".to_string(), AGE_RANGE),
                ("Tenure".to_string(), NON_NEGATIVE),
            ]),
            missing_numeric: MissingNumeric::Native,
            fill_from_product: BTreeMap::from([(
                "TotalCharges".to_string(),
                ["Tenure".to_string(), "MonthlyCharges".to_string()],
            )]),
            outlier_iqr_k: 0.0,
        }
    }
}

pub(super) const AGE_RANGE: ValidRange = ValidRange {
    min: Some(0.0),
    max: Some(120.0),
};
pub(super) const NON_NEGATIVE: ValidRange = ValidRange {
    min: Some(0.0),
    max: None,
};

impl Schema {
    /// Parse a schema from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let s: Schema = toml::from_str(text).map_err(|e| {
            Error::schema(format!(
                "invalid schema: {}",
                e.message().lines().next().unwrap_or_default()
            ))
        })?;
        s.check()?;
        Ok(s)
    }

    /// Read a schema from a TOML file.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(path, e).with_kind(crate::ErrorKind::Schema))?;
        Self::from_toml_str(&text).map_err(|e| e.in_file(path.display()))
    }

    /// The schema as commented TOML, ready to save and edit.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        let mut out = String::from(
            "# churnkit schema: edit and pass with --schema FILE\n\
             # numeric: values outside valid_ranges are missing; missing values stay missing\n\
             #   (missing_numeric = \"native\": the forest learns where they go) or get the\n\
             #   training median (\"median\"); fill_from_product fills from a product first;\n\
             #   outlier_iqr_k > 0 clips to Tukey's fences (off by default: trees need no clipping).\n\
             # categorical: integer codes in sorted order; missing and unseen values are missing.\n\
             # excluded: not features, with the reason; move one to numeric or categorical to use it.\n",
        );
        for (c, why) in &self.excluded {
            out.push_str(&format!("#   {c}: {why}\n"));
        }
        out.push_str(&body);
        out
    }

    /// Features in model order: numeric then categorical, each as listed.
    pub fn features(&self) -> Vec<&str> {
        self.numeric
            .iter()
            .chain(&self.categorical)
            .map(String::as_str)
            .collect()
    }

    /// Whether a (trimmed, non-blank) cell text is a missing marker.
    pub fn is_na(&self, cell: &str) -> bool {
        // Length and first byte first: most cells (numbers, category names) fail there, and a
        // byte comparison is a call to memcmp.
        let first = cell.as_bytes().first();
        self.na_values
            .iter()
            .any(|m| m.len() == cell.len() && m.as_bytes().first() == first && m == cell)
    }

    /// One line per excluded column: why, and how to use it anyway.
    pub fn exclusion_warnings(&self) -> Vec<String> {
        self.excluded
            .iter()
            .map(|(c, why)| {
                format!(
                    "'{c}' is not used as a feature: {why}; to use it, give the `keep` option {c}"
                )
            })
            .collect()
    }

    /// Internal consistency: no column in two roles, rules name numeric columns.
    pub fn check(&self) -> Result<()> {
        let mut seen = HashSet::new();
        for c in std::iter::once(&self.target)
            .chain(&self.id_columns)
            .chain(&self.numeric)
            .chain(&self.categorical)
        {
            ensure!(
                seen.insert(c.as_str()),
                schema,
                "invalid schema: column '{c}' is listed in more than one role"
            );
        }
        if self.numeric.is_empty() && self.categorical.is_empty() {
            bail!(schema, "invalid schema: no feature columns");
        }
        for c in self.excluded.keys() {
            if self.features().contains(&c.as_str()) || *c == self.target {
                bail!(
                    schema,
                    "invalid schema: column '{c}' is both excluded and used"
                );
            }
        }
        for (col, [a, b]) in &self.fill_from_product {
            for c in [col, a, b] {
                ensure!(
                    self.numeric.contains(c),
                    schema,
                    "invalid schema: fill_from_product uses '{c}', which is not a numeric column"
                );
            }
        }
        for (c, r) in &self.valid_ranges {
            ensure!(
                self.numeric.contains(c),
                schema,
                "invalid schema: valid_ranges names '{c}', which is not a numeric column"
            );
            if let (Some(a), Some(b)) = (r.min, r.max) {
                if a > b {
                    bail!(
                        schema,
                        "invalid schema: valid range of '{c}' has min {a} above max {b}"
                    );
                }
            }
        }
        self.check_markers()?;
        ensure!(
            (self.outlier_iqr_k >= 0.0 && self.outlier_iqr_k.is_finite()),
            schema,
            "invalid schema: outlier_iqr_k must be a finite number >= 0",
        );
        Ok(())
    }

    /// Check a table against the schema. Returns the table's columns that the schema does not
    /// mention (to be ignored with a warning).
    pub fn validate(&self, table: &Table) -> Result<Vec<String>> {
        for c in std::iter::once(&self.target)
            .chain(&self.id_columns)
            .chain(&self.numeric)
            .chain(&self.categorical)
        {
            table.require_column(c)?;
        }
        let known: HashSet<&str> = std::iter::once(&self.target)
            .chain(&self.id_columns)
            .chain(&self.numeric)
            .chain(&self.categorical)
            .chain(self.excluded.keys())
            .map(String::as_str)
            .collect();
        Ok(table
            .headers()
            .iter()
            .filter(|h| !known.contains(h.as_str()))
            .cloned()
            .collect())
    }

    /// Infer a schema from a table given the target column, with the default missing markers.
    pub(super) fn check_markers(&self) -> Result<()> {
        ensure!(
            !self.na_values.iter().any(|m| m.trim() != m || m.is_empty()),
            schema,
            "invalid schema: na_values must be non-empty and without surrounding spaces",
        );
        Ok(())
    }

    /// A column's cells with blanks and missing markers as `None`.
    pub fn cells<'t>(&self, table: &'t Table, name: &str) -> Result<Vec<Option<&'t str>>> {
        Ok(table
            .cells(name)?
            .map(|c| c.filter(|s| !self.is_na(s)))
            .collect())
    }

    /// How many cells of a column are blank or a missing marker.
    pub(crate) fn count_missing(&self, table: &Table, name: &str) -> Result<usize> {
        Ok(table
            .cells(name)?
            .filter(|c| c.is_none_or(|s| self.is_na(s)))
            .count())
    }

    /// A numeric column as numbers, NaN for a blank cell or a missing marker; any other text is
    /// an error naming the line (or row). One pass, no vector of cells.
    pub(crate) fn numeric_values(&self, table: &Table, name: &str) -> Result<Vec<f64>> {
        // Sized up front: collecting `Result`s grows the vector by doubling.
        let mut out = Vec::with_capacity(table.n_rows());
        for (i, c) in table.cells(name)?.enumerate() {
            out.push(match c.filter(|s| !self.is_na(s)) {
                None => f64::NAN,
                Some(s) => table.parse_number(name, i, s)?,
            });
        }
        Ok(out)
    }

    /// A numeric column with blanks and missing markers as `None`; any other text is an error
    /// naming the line (or row).
    pub fn numeric_cells(&self, table: &Table, name: &str) -> Result<Vec<Option<f64>>> {
        // A parsed number is finite: NaN there means missing.
        Ok(self
            .numeric_values(table, name)?
            .into_iter()
            .map(|v| (!v.is_nan()).then_some(v))
            .collect())
    }
}

/// The distinct present values of the target column; exactly two, or an error.
pub(crate) fn target_classes(table: &Table, target: &str, schema: &Schema) -> Result<Vec<String>> {
    let raw = table.column(target)?;
    if let Some(row) = raw.iter().position(|c| c.is_none_or(|s| schema.is_na(s))) {
        return Err(table.bad_value(
            target,
            row,
            match raw[row] {
                None => "blank target value".into(),
                Some(m) => format!("missing target value ('{m}')"),
            },
        ));
    }
    // Through a hash set (no ordered insert per row), then in order.
    let distinct: HashSet<&str, crate::data::table::FastHash> =
        raw.iter().flatten().copied().collect();
    let distinct: BTreeSet<&str> = distinct.into_iter().collect();
    if distinct.len() != 2 {
        let shown: Vec<&str> = distinct.iter().copied().collect();
        return Err(table.bad_column(
            target,
            format!(
                "target must have exactly two classes, found {} ({})",
                distinct.len(),
                few(&shown, 6)
            ),
        ));
    }
    Ok(distinct.into_iter().map(String::from).collect())
}

#[cfg(test)]
mod tests {
    use super::super::infer::{guess_positive, id_like_name, name_words, InferOptions};
    use super::*;

    #[test]
    fn default_schema_is_valid_and_round_trips() {
        let s = Schema::default();
        s.check().unwrap();
        assert_eq!(Schema::from_toml_str(&s.to_toml()).unwrap(), s);
    }

    #[test]
    fn rejects_column_in_two_roles_and_unknown_keys() {
        let mut s = Schema::default();
        s.categorical.push("Age".into());
        assert!(s.check().unwrap_err().to_string().contains("'Age'"));
        let err = Schema::from_toml_str("target='y'\npositive='1'\nnumerik=['a']").unwrap_err();
        assert!(err.to_string().contains("numerik"), "{err}");
    }

    fn table(text: &str) -> Table {
        Table::from_csv_bytes(text.as_bytes().to_vec(), "t.csv").unwrap()
    }

    /// A table of `n` rows with one column of each shape inference must judge.
    fn shapes(n: usize) -> Table {
        let mut text = String::from(
            "RowNumber,CustomerId,account_id,Code,Surname,Comment,Age,Flag,AreaCode,Plan,Paid,Const,Empty,Churned\n",
        );
        for i in 0..n {
            text.push_str(&format!(
                "{},{},{},K{:05},Name{},free text number {},{},{},{},{},{},x,NA,{}\n",
                i + 1,
                15_000_000 + (i * 7919) % 1_000_000,
                // Repeats on some rows, so only the name says it is an id.
                if i % 10 == 9 { 7 } else { i + 100 },
                i,
                // ~40% of rows have their own surname.
                (i * 37) % (n * 2 / 5),
                i,
                if i % 17 == 0 {
                    "?".to_string()
                } else {
                    (20 + i % 50).to_string()
                },
                i % 2,
                [408, 415, 510][i % 3],
                ["basic", "plus", "pro"][i % 3],
                // A real feature whose name ends in "id" as letters, not as a word.
                (i * 13) % 29,
                ["TRUE", "FALSE"][i % 2],
            ));
        }
        table(&text)
    }

    #[test]
    fn inference_excludes_non_features_and_says_why() {
        let t = shapes(1200);
        let s = Schema::infer(&t, "Churned", None).unwrap();
        assert_eq!(s.positive, "TRUE");
        assert_eq!(s.numeric, ["Age", "Flag", "AreaCode", "Paid"]);
        assert_eq!(s.categorical, ["Plan"]);
        assert_eq!(
            s.id_columns,
            ["RowNumber", "CustomerId", "account_id", "Code"]
        );
        let why = |c: &str| s.excluded[c].as_str();
        assert!(why("RowNumber").starts_with("row counter (1200 consecutive integers 1 to 1200"));
        assert_eq!(why("CustomerId"), "integer id (all 1200 values distinct)");
        assert!(
            why("account_id").starts_with("named like an id"),
            "{}",
            why("account_id")
        );
        assert_eq!(why("Code"), "string id (all 1200 values distinct)");
        assert!(
            why("Surname").starts_with("free text or a name (480 distinct"),
            "{}",
            why("Surname")
        );
        assert!(
            why("Comment").starts_with("free text"),
            "{}",
            why("Comment")
        );
        assert_eq!(why("Const"), "constant (every value is 'x')");
        assert!(why("Empty").starts_with("no values"));
        assert_eq!(s.valid_ranges["Age"], AGE_RANGE);
        // The printed schema shows every decision, and reads back the same.
        let toml = s.to_toml();
        assert!(toml.contains("#   Surname: free text or a name"), "{toml}");
        assert_eq!(Schema::from_toml_str(&toml).unwrap(), s);
        assert_eq!(s.exclusion_warnings().len(), 8);
        assert!(s.exclusion_warnings()[0].contains("give the `keep` option"));
    }

    #[test]
    fn small_tables_keep_integer_features_that_happen_to_be_distinct() {
        // A credit score in 30 rows is all distinct by chance: still a feature. A row counter
        // is not, at any size.
        let mut text = String::from("n,score,y\n");
        for i in 0..30 {
            text.push_str(&format!("{},{},{}\n", 30 - i, 400 + i * 13, i % 2));
        }
        let s = Schema::infer(&table(&text), "y", None).unwrap();
        assert_eq!(s.numeric, ["score"]);
        assert_eq!(s.id_columns, ["n"]);
    }

    #[test]
    fn keep_and_markers_are_options() {
        let t = shapes(1200);
        let o = InferOptions::default().keep(["RowNumber", "Surname"]);
        let s = Schema::infer_with(&t, "Churned", &o).unwrap();
        assert!(s.numeric.contains(&"RowNumber".to_string()));
        assert!(s.categorical.contains(&"Surname".to_string()));
        assert!(!s.excluded.contains_key("Surname"));
        let e = Schema::infer_with(&t, "Churned", &InferOptions::default().keep(["Nope"]));
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("missing required column 'Nope'"));
        // Without "?" as a marker, Age is text with 51 levels in 1200 rows: a categorical.
        let s =
            Schema::infer_with(&t, "Churned", &InferOptions::default().na_values(["NA"])).unwrap();
        assert!(s.categorical.contains(&"Age".to_string()));
    }

    #[test]
    fn name_words_split_camel_case_and_separators() {
        assert_eq!(name_words("CustomerId"), ["customer", "id"]);
        assert_eq!(name_words("customerID"), ["customer", "id"]);
        assert_eq!(name_words("row_number"), ["row", "number"]);
        assert_eq!(name_words("HTTPStatus"), ["http", "status"]);
        assert!(id_like_name("Unnamed: 0") && id_like_name("index") && id_like_name("AccountNo"));
        assert!(
            !id_like_name("Paid") && !id_like_name("NumOfProducts") && !id_like_name("AreaCode")
        );
    }

    #[test]
    fn positive_guess() {
        let c = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
        assert_eq!(guess_positive(&c("No", "Yes")).as_deref(), Some("Yes"));
        assert_eq!(guess_positive(&c("False", "True")).as_deref(), Some("True"));
        assert_eq!(guess_positive(&c("0", "1")).as_deref(), Some("1"));
        assert_eq!(guess_positive(&c("N", "Y")).as_deref(), Some("Y"));
        assert_eq!(guess_positive(&c("FALSE", "TRUE")).as_deref(), Some("TRUE"));
        assert_eq!(guess_positive(&c("no", "yes")).as_deref(), Some("yes"));
        assert_eq!(guess_positive(&c("stay", "leave")), None);
    }
}
