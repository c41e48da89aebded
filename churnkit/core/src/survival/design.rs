//! The covariates a Cox model is fitted on, from a table and its schema.
//!
//! Numbers enter as they are (a missing value takes the column's median); a category becomes one
//! 0/1 column per level except its most frequent one, the reference its hazard ratios are
//! against. Columns that cannot be estimated are dropped and the reason kept in `notes`: a
//! constant column, a column that repeats an earlier one exactly (Telco's "No internet service"
//! appears in six columns), a category with too many levels to one-hot.

use crate::data::schema::Schema;
use crate::data::table::Table;
use crate::error::{few, Result};
use crate::{bail, ensure};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The most levels a category may have to be one-hot encoded.
pub const MAX_LEVELS: usize = 50;

/// A numeric covariate whose rank correlation with the duration reaches this is left out: a
/// total accumulated over the tenure (Telco's TotalCharges, Spearman 0.89 with tenure) says how
/// long a customer stayed, not why, and would swamp every other hazard ratio.
pub const DURATION_PROXY_RHO: f64 = 0.8;

/// The most rows the duration-proxy rule looks at.
pub const PROXY_SAMPLE: usize = 100_000;

/// The label of a missing category.
pub const MISSING_LEVEL: &str = "(missing)";

/// How one covariate is read from a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Covariate {
    /// A numeric column; missing values take `fill`.
    Numeric {
        /// Source column.
        column: String,
        /// The median of the fitted rows.
        fill: f64,
    },
    /// 1 where a categorical column holds `level`, else 0.
    Level {
        /// Source column.
        column: String,
        /// The level.
        level: String,
        /// The column's reference level (the most frequent one), which has no column.
        reference: String,
    },
}

impl Covariate {
    /// The covariate's name: the column, or `column=level`.
    pub fn name(&self) -> String {
        match self {
            Covariate::Numeric { column, .. } => column.clone(),
            Covariate::Level { column, level, .. } => format!("{column}={level}"),
        }
    }
}

/// The fitted design: which covariates, in order, and what was decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Design {
    /// The covariates, in model order.
    pub covariates: Vec<Covariate>,
    /// What was left out and why, one line each.
    pub notes: Vec<String>,
}

/// Durations and event flags from a table: `duration` must be a non-negative number in every
/// row; the event is the schema's target at its positive class.
pub fn durations_and_events(
    table: &Table,
    schema: &Schema,
    duration: &str,
) -> Result<(Vec<f64>, Vec<bool>)> {
    ensure!(
        table.has_column(duration),
        data,
        "{}: no duration column '{duration}'{}",
        table.source_name(),
        closest(table.headers(), duration)
    );
    let mut durations = Vec::with_capacity(table.n_rows());
    for (i, v) in schema
        .numeric_cells(table, duration)?
        .into_iter()
        .enumerate()
    {
        match v {
            Some(v) if v >= 0.0 => durations.push(v),
            Some(v) => bail!(
                data,
                "{}: column '{duration}', row {}: duration {v} is negative",
                table.source_name(),
                i + 1
            ),
            None => bail!(
                data,
                "{}: column '{duration}', row {}: the duration is missing",
                table.source_name(),
                i + 1
            ),
        }
    }
    let mut events = Vec::with_capacity(table.n_rows());
    for (i, v) in schema.cells(table, &schema.target)?.into_iter().enumerate() {
        match v {
            Some(v) => events.push(v == schema.positive),
            None => bail!(
                data,
                "{}: column '{}', row {}: the event flag is missing",
                table.source_name(),
                schema.target,
                i + 1
            ),
        }
    }
    Ok((durations, events))
}

/// ", did you mean 'x'?" for the header closest to `name`, or nothing.
fn closest(headers: &[String], name: &str) -> String {
    let lower = name.to_lowercase();
    headers
        .iter()
        .find(|h| h.to_lowercase() == lower || h.to_lowercase().contains(&lower))
        .map(|h| format!(", did you mean '{h}'?"))
        .unwrap_or_else(|| format!(" (columns: {})", few(headers, 8)))
}

impl Design {
    /// Chooses the covariates: the schema's features except `duration` and any in `drop`.
    pub fn fit(table: &Table, schema: &Schema, duration: &str, drop: &[String]) -> Result<Design> {
        Ok(Self::fit_columns(table, schema, duration, drop)?.0)
    }

    /// [`Design::fit`], with the covariate columns of `table` it read on the way (what
    /// [`Design::apply`] would give, without reading the table again).
    pub fn fit_columns(
        table: &Table,
        schema: &Schema,
        duration: &str,
        drop: &[String],
    ) -> Result<(Design, Vec<Vec<f64>>)> {
        for d in drop {
            ensure!(
                table.has_column(d),
                data,
                "{}: cannot drop '{d}': no such column{}",
                table.source_name(),
                closest(table.headers(), d)
            );
        }
        let mut covariates = Vec::new();
        let mut notes = Vec::new();
        let mut columns: Vec<Vec<f64>> = Vec::new();
        // Columns by a hash of their bits; equal hashes are compared in full.
        let mut seen: HashMap<u64, Vec<usize>> = HashMap::new();
        // The rank correlation with the duration is estimated on at most PROXY_SAMPLE evenly
        // spaced rows: within 0.01 of the full figure, and the 0.8 rule is far from that.
        let step = table.n_rows().div_ceil(PROXY_SAMPLE).max(1);
        let sample = |v: &[f64]| -> Vec<f64> { v.iter().step_by(step).copied().collect() };
        let duration_values: Vec<f64> = schema
            .numeric_cells(table, duration)?
            .into_iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect();
        let duration_sample = sample(&duration_values);
        let mut push = |c: Covariate,
                        values: Vec<f64>,
                        covariates: &mut Vec<Covariate>,
                        notes: &mut Vec<String>| {
            let first = values[0];
            if values.iter().all(|&v| v == first) {
                notes.push(format!("{}: left out, constant", c.name()));
                return;
            }
            let key = values.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
                (h ^ v.to_bits()).wrapping_mul(0x0100_0000_01b3)
            });
            let same = seen.get(&key).and_then(|earlier| {
                earlier.iter().copied().find(|&j| {
                    columns[j]
                        .iter()
                        .zip(&values)
                        .all(|(a, b): (&f64, &f64)| a.to_bits() == b.to_bits())
                })
            });
            if let Some(j) = same {
                notes.push(format!(
                    "{}: left out, the same as {} in every row",
                    c.name(),
                    covariates[j].name()
                ));
                return;
            }
            seen.entry(key).or_default().push(covariates.len());
            covariates.push(c);
            columns.push(values);
        };
        for name in schema.features() {
            if name == duration || drop.iter().any(|d| d == name) {
                continue;
            }
            if schema.numeric.iter().any(|c| c == name) {
                let cells = schema.numeric_cells(table, name)?;
                let mut present: Vec<f64> = cells.iter().flatten().copied().collect();
                if present.is_empty() {
                    notes.push(format!("{name}: left out, no values"));
                    continue;
                }
                let fill = median(&mut present);
                let values: Vec<f64> = cells.iter().map(|v| v.unwrap_or(fill)).collect();
                let rho = spearman(&sample(&values), &duration_sample);
                if rho.abs() >= DURATION_PROXY_RHO {
                    notes.push(format!(
                        "{name}: left out, it follows {duration} (Spearman {rho:.2}): it says how long \
                         a customer stayed, not why (--drop the duration's proxies yourself to silence this)"
                    ));
                    continue;
                }
                let missing = cells.len() - present.len();
                if missing > 0 {
                    notes.push(format!(
                        "{name}: {missing} missing values take the median {fill}"
                    ));
                }
                push(
                    Covariate::Numeric {
                        column: name.to_string(),
                        fill,
                    },
                    values,
                    &mut covariates,
                    &mut notes,
                );
            } else {
                let cells = schema.cells(table, name)?;
                let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                for c in &cells {
                    *counts.entry(c.unwrap_or(MISSING_LEVEL)).or_default() += 1;
                }
                if counts.len() > MAX_LEVELS {
                    notes.push(format!(
                        "{name}: left out, {} levels (more than {MAX_LEVELS} to one-hot)",
                        counts.len()
                    ));
                    continue;
                }
                // The most frequent level is the reference; ties go to the first in order.
                let reference = counts
                    .iter()
                    .fold(None::<(&str, usize)>, |best, (&l, &n)| match best {
                        Some((_, b)) if b >= n => best,
                        _ => Some((l, n)),
                    })
                    .map(|(l, _)| l.to_string())
                    .expect("a table has rows");
                for &level in counts.keys() {
                    if level == reference {
                        continue;
                    }
                    let values = cells
                        .iter()
                        .map(|c| f64::from(u8::from(c.unwrap_or(MISSING_LEVEL) == level)))
                        .collect();
                    push(
                        Covariate::Level {
                            column: name.to_string(),
                            level: level.to_string(),
                            reference: reference.clone(),
                        },
                        values,
                        &mut covariates,
                        &mut notes,
                    );
                }
            }
        }
        ensure!(
            !covariates.is_empty(),
            data,
            "{}: no covariates left for the Cox model{}",
            table.source_name(),
            if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", few(&notes, 3))
            }
        );
        Ok((Design { covariates, notes }, columns))
    }

    /// Covariate names, in order.
    pub fn names(&self) -> Vec<String> {
        self.covariates.iter().map(Covariate::name).collect()
    }

    /// The covariate columns of any table with the source columns (`out[j][i]`).
    pub fn apply(&self, table: &Table, schema: &Schema) -> Result<Vec<Vec<f64>>> {
        let mut numeric: HashMap<&str, Vec<Option<f64>>> = HashMap::new();
        let mut text: HashMap<&str, Vec<Option<&str>>> = HashMap::new();
        let needs = |column: &str| -> Result<()> {
            ensure!(
                table.has_column(column),
                data,
                "{}: no column '{column}', which the survival model needs{}",
                table.source_name(),
                closest(table.headers(), column)
            );
            Ok(())
        };
        let mut out = Vec::with_capacity(self.covariates.len());
        for c in &self.covariates {
            match c {
                Covariate::Numeric { column, fill } => {
                    if !numeric.contains_key(column.as_str()) {
                        needs(column)?;
                        numeric.insert(column, schema.numeric_cells(table, column)?);
                    }
                    out.push(
                        numeric[column.as_str()]
                            .iter()
                            .map(|v| v.unwrap_or(*fill))
                            .collect(),
                    );
                }
                Covariate::Level { column, level, .. } => {
                    if !text.contains_key(column.as_str()) {
                        needs(column)?;
                        text.insert(column, schema.cells(table, column)?);
                    }
                    out.push(
                        text[column.as_str()]
                            .iter()
                            .map(|c| f64::from(u8::from(c.unwrap_or(MISSING_LEVEL) == level)))
                            .collect(),
                    );
                }
            }
        }
        Ok(out)
    }
}

/// Words in a column name that say it counts time as a customer.
const DURATION_WORDS: [&str; 7] = [
    "tenure", "months", "month", "days", "weeks", "duration", "lifetime",
];

/// Proposes the duration column: a numeric feature whose name says it is a time (tenure,
/// months, days, ...) and whose values are all non-negative. Returns it with the reason.
pub fn propose_duration(table: &Table, schema: &Schema) -> Result<Option<(String, String)>> {
    for name in &schema.numeric {
        let lower = name.to_lowercase();
        let Some(word) = DURATION_WORDS.iter().find(|w| lower.contains(*w)) else {
            continue;
        };
        let cells = schema.numeric_cells(table, name)?;
        if cells.iter().flatten().all(|v| *v >= 0.0) && cells.iter().any(Option::is_some) {
            return Ok(Some((
                name.clone(),
                format!("numeric, never negative, and its name says '{word}'"),
            )));
        }
    }
    Ok(None)
}

/// Proposes the monthly charge column for lifetime value: a numeric feature named like a
/// monthly charge, fee, bill or revenue.
pub fn propose_charge(schema: &Schema) -> Option<String> {
    schema
        .numeric
        .iter()
        .find(|name| {
            let l = name.to_lowercase();
            l.contains("month")
                && ["charge", "fee", "bill", "revenue", "price", "amount"]
                    .iter()
                    .any(|w| l.contains(w))
        })
        .cloned()
}

/// Average ranks (ties share the mean of their positions), NaN last and ranked as NaN.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<(f64, u32)> = v.iter().enumerate().map(|(i, &x)| (x, i as u32)).collect();
    order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut r = vec![f64::NAN; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && order[j + 1].0 == order[i].0 {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &(_, k) in &order[i..=j] {
            r[k as usize] = mean;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation over the rows where both are numbers (0 when undefined).
pub(crate) fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let keep: Vec<usize> = (0..a.len())
        .filter(|&i| !a[i].is_nan() && !b[i].is_nan())
        .collect();
    let (ra, rb) = (
        ranks(&keep.iter().map(|&i| a[i]).collect::<Vec<_>>()),
        ranks(&keep.iter().map(|&i| b[i]).collect::<Vec<_>>()),
    );
    let n = ra.len() as f64;
    if n < 3.0 {
        return 0.0;
    }
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// The penalty a fit gets when a category separates the events (see [`separated`]) and none
/// was asked for.
pub const SEPARATION_PENALIZER: f64 = 0.01;

/// The 0/1 covariates whose customers all stayed or all left (no customer on a two-year
/// contract left, in a small table): their hazard ratio is 0 or infinite, and without a
/// penalty Newton's method runs off to it. One line per covariate, saying so.
pub fn separated(design: &Design, columns: &[Vec<f64>], events: &[bool]) -> Vec<String> {
    let mut out = Vec::new();
    for (c, col) in design.covariates.iter().zip(columns) {
        if !matches!(c, Covariate::Level { .. }) {
            continue;
        }
        let (mut rows, mut left) = (0usize, 0usize);
        for (v, &e) in col.iter().zip(events) {
            if *v == 1.0 {
                rows += 1;
                left += usize::from(e);
            }
        }
        if rows > 0 && (left == 0 || left == rows) {
            out.push(format!(
                "{}: {left} of its {rows} customers left, so its hazard ratio is {} and cannot be estimated",
                c.name(),
                if left == 0 { "0" } else { "infinite" }
            ));
        }
    }
    out
}

/// The median (numpy's: the mean of the two middle values of an even count), by selection
/// rather than a full sort. Reorders `v`.
fn median(v: &mut [f64]) -> f64 {
    let n = v.len();
    let (_, &mut hi, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return hi;
    }
    // The lower middle value is the largest of the half below.
    let lo = v[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo + hi) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_matches_numpy() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [5.0]), 5.0);
    }

    #[test]
    fn spearman_matches_scipy() {
        // scipy.stats.spearmanr([1, 2, 2, 5, 3], [10, 20, 30, 40, 10]).statistic
        let r = spearman(&[1.0, 2.0, 2.0, 5.0, 3.0], &[10.0, 20.0, 30.0, 40.0, 10.0]);
        assert!((r - 0.526_315_789_473_684_3).abs() < 1e-12, "{r}");
    }

    #[test]
    fn a_running_total_of_the_duration_is_left_out() {
        let mut csv = String::from("tenure,total,plan,Churn\n");
        for i in 1..=40 {
            let plan = ["a", "b"][i % 2];
            let churn = ["Yes", "No", "No"][i % 3];
            csv.push_str(&format!("{i},{},{plan},{churn}\n", i * 10 + i % 7));
        }
        let table = Table::from_csv_bytes(csv.as_bytes().to_vec(), "t.csv").unwrap();
        let schema = Schema::infer(&table, "Churn", None).unwrap();
        let d = Design::fit(&table, &schema, "tenure", &[]).unwrap();
        assert_eq!(d.names(), ["plan=b"]);
        assert!(
            d.notes[0].starts_with("total: left out, it follows tenure"),
            "{:?}",
            d.notes
        );
    }
}
