//! Synthetic customer tables with the workflow guide's eight columns.
//!
//! Churn follows a logistic model of contract, tenure, monthly charges, payment method and age,
//! plus noise, and is then drawn at random: a good model reaches a ROC AUC around 0.85, not 1.0.
//! The dirt the guide's preprocessing cleans is included on purpose: ~1% blank TotalCharges,
//! a few impossible ages, ~1% exact duplicate rows.

use crate::error::Result;
use crate::io::StagedFiles;
use crate::rng::Rng;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

/// Contract types, in the order the guide encodes them.
pub const CONTRACTS: [&str; 3] = ["Month-to-month", "One year", "Two year"];
/// Payment methods.
pub const PAYMENT_METHODS: [&str; 4] = [
    "Electronic check",
    "Mailed check",
    "Bank transfer (automatic)",
    "Credit card (automatic)",
];
/// The generated file's header.
pub const HEADER: &str =
    "CustomerID,Age,Tenure,MonthlyCharges,TotalCharges,Contract,PaymentMethod,Churn";

/// What was generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Rows written (duplicates included).
    pub rows: usize,
    /// Rows with Churn = 1.
    pub churners: usize,
    /// Rows that repeat an earlier row exactly.
    pub duplicates: usize,
    /// Rows with a blank TotalCharges.
    pub blank_total_charges: usize,
    /// Rows with an impossible Age.
    pub age_outliers: usize,
}

#[derive(Clone, Copy)]
struct Row {
    id: u32,
    age: i32,
    tenure: u8,
    monthly_cents: u32,
    total_cents: Option<u64>,
    contract: u8,
    payment: u8,
    churn: bool,
}

fn pick(rng: &mut Rng, weights: &[f64]) -> u8 {
    let u = rng.uniform() * weights.iter().sum::<f64>();
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        if u < acc {
            return i as u8;
        }
    }
    (weights.len() - 1) as u8
}

fn customer(rng: &mut Rng, id: u32) -> Row {
    let contract = pick(rng, &[0.55, 0.21, 0.24]);
    let payment = pick(rng, &[0.34, 0.23, 0.22, 0.21]);
    let age = (45.0 + 14.0 * rng.normal()).round().clamp(18.0, 85.0) as i32;
    // Longer contracts go with longer tenure.
    let shape = [1.6, 0.9, 0.55][contract as usize];
    let tenure = (72.0 * rng.uniform().powf(shape)).round() as u8;
    let monthly = 18.25 + 100.5 * (0.15 + 0.7 * rng.uniform() + 0.15 * rng.uniform());
    let monthly = monthly.min(118.75);
    let monthly_cents = (monthly * 100.0).round() as u32;
    let total = f64::from(tenure) * monthly * (1.0 + 0.04 * rng.normal()).max(0.8);
    let total_cents = Some((total * 100.0).round().max(0.0) as u64);

    let logit =
        -0.9 + [1.3, -0.5, -1.7][contract as usize] + [0.65, 0.0, -0.35, -0.3][payment as usize]
            - 0.045 * f64::from(tenure)
            + 0.022 * (monthly - 65.0)
            + if age < 25 {
                0.45
            } else if age > 65 {
                0.35
            } else {
                0.0
            }
            + 0.35 * rng.normal();
    let churn = rng.uniform() < 1.0 / (1.0 + (-logit).exp());
    Row {
        id,
        age,
        tenure,
        monthly_cents,
        total_cents,
        contract,
        payment,
        churn,
    }
}

/// `k` distinct positions in `lo..n`, sorted.
fn positions(rng: &mut Rng, lo: usize, n: usize, k: usize) -> BTreeSet<usize> {
    let mut s = BTreeSet::new();
    let k = k.min(n.saturating_sub(lo));
    while s.len() < k {
        s.insert(lo + rng.below(n - lo));
    }
    s
}

fn write_row(w: &mut impl Write, r: &Row) -> std::io::Result<()> {
    write!(
        w,
        "CUST-{:07},{},{},{}.{:02},",
        r.id,
        r.age,
        r.tenure,
        r.monthly_cents / 100,
        r.monthly_cents % 100
    )?;
    if let Some(t) = r.total_cents {
        write!(w, "{}.{:02}", t / 100, t % 100)?;
    }
    writeln!(
        w,
        ",{},{},{}",
        CONTRACTS[r.contract as usize],
        PAYMENT_METHODS[r.payment as usize],
        u8::from(r.churn)
    )
}

/// Generate `rows` customers with `seed`; same seed, same bytes.
pub fn generate_rows(rows: usize, seed: u64) -> (Vec<u8>, GenerateSummary) {
    let mut rng = Rng::new(seed);
    let mut data: Vec<Row> = (0..rows)
        .map(|i| customer(&mut rng, i as u32 + 1))
        .collect();
    let pct = |p: f64, min: usize| ((rows as f64 * p).round() as usize).max(min.min(rows));
    let n_blank = pct(0.01, 1);
    let n_outliers = pct(0.002, 2);
    let n_dups = if rows >= 20 { pct(0.01, 1) } else { 0 };
    for i in positions(&mut rng, 0, rows, n_blank) {
        data[i].total_cents = None;
    }
    for i in positions(&mut rng, 0, rows, n_outliers) {
        data[i].age = [-1, 0, 150, 199, 999][rng.below(5)];
    }
    let dup_at = positions(&mut rng, 1, rows, n_dups);
    for &i in &dup_at {
        let src = rng.below(i);
        data[i] = data[src];
    }
    let mut out = Vec::with_capacity(rows * 80 + HEADER.len() + 1);
    out.extend_from_slice(HEADER.as_bytes());
    out.push(b'\n');
    for r in &data {
        write_row(&mut out, r).expect("writing to a Vec cannot fail");
    }
    let summary = GenerateSummary {
        rows,
        churners: data.iter().filter(|r| r.churn).count(),
        duplicates: dup_at.len(),
        blank_total_charges: data.iter().filter(|r| r.total_cents.is_none()).count(),
        age_outliers: data.iter().filter(|r| !(18..=85).contains(&r.age)).count(),
    };
    (out, summary)
}

/// Generate and write `path` atomically.
pub fn generate_file(path: impl AsRef<Path>, rows: usize, seed: u64) -> Result<GenerateSummary> {
    let (bytes, summary) = generate_rows(rows, seed);
    let mut staged = StagedFiles::new();
    staged.write_bytes(path, &bytes)?;
    staged.commit()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let (a, _) = generate_rows(500, 42);
        let (b, _) = generate_rows(500, 42);
        let (c, _) = generate_rows(500, 43);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn has_the_dirt_and_a_plausible_churn_rate() {
        let (bytes, s) = generate_rows(10_000, 1);
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER);
        assert_eq!(lines.len(), 10_001);
        assert_eq!(s.duplicates, 100);
        assert!(s.blank_total_charges >= 95, "{s:?}");
        assert!(s.age_outliers >= 15, "{s:?}");
        let rate = s.churners as f64 / s.rows as f64;
        assert!((0.15..0.45).contains(&rate), "churn rate {rate}");
        let distinct: std::collections::HashSet<&str> = lines[1..].iter().copied().collect();
        assert_eq!(distinct.len(), 10_000 - 100);
        assert!(lines.iter().all(|l| l.split(',').count() == 8));
    }

    #[test]
    fn churn_depends_on_contract() {
        let (bytes, _) = generate_rows(20_000, 5);
        let text = String::from_utf8(bytes).unwrap();
        let rate = |contract: &str| {
            let rows: Vec<&str> = text.lines().filter(|l| l.contains(contract)).collect();
            rows.iter().filter(|l| l.ends_with(",1")).count() as f64 / rows.len() as f64
        };
        assert!(rate("Month-to-month") > 2.0 * rate("Two year"));
    }
}
