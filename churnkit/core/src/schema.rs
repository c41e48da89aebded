//! What the columns of a customer table mean: the target and its positive class, id columns to
//! drop, numeric and categorical features, and how to fill and clip numerics.

use crate::error::{few, Error, Result};
use crate::table::Table;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

fn default_iqr_k() -> f64 {
    1.5
}

/// The meaning of a table's columns.
///
/// Read from TOML, inferred from a CSV, or the guide's default:
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
    /// Blank numerics that are the product of two other columns (TotalCharges = Tenure x
    /// MonthlyCharges) are filled from that product where both factors are present; others by
    /// the training median.
    #[serde(default)]
    pub fill_from_product: BTreeMap<String, [String; 2]>,
    /// Numeric values outside `[Q1 - k*IQR, Q3 + k*IQR]` of the training rows are clipped to
    /// those bounds (Tukey's fences); `0` turns clipping off. Columns whose IQR is 0 are left
    /// alone, so binary 0/1 columns survive.
    #[serde(default = "default_iqr_k")]
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
            fill_from_product: BTreeMap::from([(
                "TotalCharges".to_string(),
                ["Tenure".to_string(), "MonthlyCharges".to_string()],
            )]),
            outlier_iqr_k: 1.5,
        }
    }
}

/// Target values understood without `--positive`, positive first.
const KNOWN_BINARY: &[(&str, &str)] =
    &[("yes", "no"), ("true", "false"), ("1", "0"), ("1.0", "0.0")];

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
        format!(
            "# churnkit schema: edit and pass with --schema FILE\n\
             # numeric: scaled; blanks filled (fill_from_product, else training median);\n\
             # values beyond Tukey's fences (outlier_iqr_k x IQR) clipped.\n\
             # categorical: integer codes in sorted order; blanks become \"(missing)\".\n{body}"
        )
    }

    /// Features in model order: numeric then categorical, each as listed.
    pub fn features(&self) -> Vec<&str> {
        self.numeric
            .iter()
            .chain(&self.categorical)
            .map(String::as_str)
            .collect()
    }

    /// Internal consistency: no column in two roles, fill rules name numeric columns.
    pub fn check(&self) -> Result<()> {
        let mut seen = HashSet::new();
        for c in std::iter::once(&self.target)
            .chain(&self.id_columns)
            .chain(&self.numeric)
            .chain(&self.categorical)
        {
            if !seen.insert(c.as_str()) {
                return Err(Error::schema(format!(
                    "invalid schema: column '{c}' is listed in more than one role"
                )));
            }
        }
        if self.numeric.is_empty() && self.categorical.is_empty() {
            return Err(Error::schema("invalid schema: no feature columns"));
        }
        for (col, [a, b]) in &self.fill_from_product {
            for c in [col, a, b] {
                if !self.numeric.contains(c) {
                    return Err(Error::schema(format!(
                        "invalid schema: fill_from_product uses '{c}', which is not a numeric column"
                    )));
                }
            }
        }
        if !(self.outlier_iqr_k >= 0.0 && self.outlier_iqr_k.is_finite()) {
            return Err(Error::schema(
                "invalid schema: outlier_iqr_k must be a finite number >= 0",
            ));
        }
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
            table.column(c)?;
        }
        let known: HashSet<&str> = std::iter::once(&self.target)
            .chain(&self.id_columns)
            .chain(&self.numeric)
            .chain(&self.categorical)
            .map(String::as_str)
            .collect();
        Ok(table
            .headers()
            .iter()
            .filter(|h| !known.contains(h.as_str()))
            .cloned()
            .collect())
    }

    /// Infer a schema from a table given the target column.
    ///
    /// Columns whose non-blank cells all parse as numbers are numeric; text columns whose
    /// values are all distinct once exact duplicate rows are set aside (and numeric columns
    /// named like `...id` that are) are ids; other text columns are categorical. The positive class is `positive` if given,
    /// else understood from Yes/No, True/False or 1/0 (any case).
    pub fn infer(table: &Table, target: &str, positive: Option<&str>) -> Result<Schema> {
        let classes = target_classes(table, target)?;
        let positive = match positive {
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
                        "cannot tell which of '{}' and '{}' is the positive class: pass --positive",
                        classes[0], classes[1]
                    ),
                )
            })?,
        };
        let mut schema = Schema {
            target: target.to_string(),
            positive,
            id_columns: vec![],
            numeric: vec![],
            categorical: vec![],
            fill_from_product: BTreeMap::new(),
            outlier_iqr_k: default_iqr_k(),
        };
        // Ids are judged on the rows preprocessing keeps: an exact duplicate row repeats its id.
        let kept = table.distinct_rows();
        let n = kept.len();
        for name in table.headers() {
            if name == target {
                continue;
            }
            let cells = table.column(name)?;
            let numeric = cells.iter().any(Option::is_some)
                && cells
                    .iter()
                    .flatten()
                    .all(|s| s.parse::<f64>().is_ok_and(f64::is_finite));
            let present: Vec<&str> = kept.iter().filter_map(|&i| cells[i]).collect();
            let distinct = present.iter().collect::<HashSet<_>>().len();
            let all_distinct = distinct == present.len() && present.len() == n && n > 1;
            let id_like_name = name.to_ascii_lowercase().ends_with("id");
            if all_distinct && (!numeric || id_like_name) {
                schema.id_columns.push(name.clone());
            } else if numeric {
                schema.numeric.push(name.clone());
            } else {
                schema.categorical.push(name.clone());
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
        schema
            .check()
            .map_err(|e| table.bad_column(target, e.message().to_string()))?;
        Ok(schema)
    }
}

/// The distinct non-blank values of the target column; exactly two, or an error.
pub(crate) fn target_classes(table: &Table, target: &str) -> Result<Vec<String>> {
    let cells = table.column(target)?;
    if let Some(row) = cells.iter().position(Option::is_none) {
        return Err(table.bad_value(target, row, "blank target value".into()));
    }
    let distinct: BTreeSet<&str> = cells.iter().flatten().copied().collect();
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

fn guess_positive(classes: &[String]) -> Option<String> {
    let lower: Vec<String> = classes.iter().map(|c| c.to_ascii_lowercase()).collect();
    KNOWN_BINARY.iter().find_map(|(pos, neg)| {
        let pi = lower.iter().position(|c| c == pos)?;
        lower.iter().position(|c| c == neg)?;
        Some(classes[pi].clone())
    })
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn positive_guess() {
        let c = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
        assert_eq!(guess_positive(&c("No", "Yes")).as_deref(), Some("Yes"));
        assert_eq!(guess_positive(&c("False", "True")).as_deref(), Some("True"));
        assert_eq!(guess_positive(&c("0", "1")).as_deref(), Some("1"));
        assert_eq!(guess_positive(&c("stay", "leave")), None);
    }
}
