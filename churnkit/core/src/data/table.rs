//! A customer table in memory: a polars DataFrame of text cells plus where it came from, so that
//! churnkit (not a type-inference heuristic) decides what a cell means, and every problem names
//! the file, column and line (or, for a DataFrame built in memory, the column and row).
//!
//! ```
//! use churnkit_core::polars::prelude::*;
//! use churnkit_core::table::Table;
//! let df = df!("id" => ["a", "b"], "age" => [40.0, 51.5], "churn" => ["Yes", "No"])?;
//! let t = Table::from_frame(&df)?;
//! assert_eq!(t.numeric_column("age")?, vec![Some(40.0), Some(51.5)]);
//! assert_eq!(t.column("churn")?, vec![Some("Yes"), Some("No")]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::data::io::Fingerprint;
use crate::ensure;
use crate::error::{few, Error, ErrorKind, Position, Result};
use polars::prelude::*;
use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::io::Cursor;
use std::path::Path;
use std::sync::OnceLock;

/// Where a table's rows came from.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A CSV file (path as given); problems are reported by line, the header being line 1.
    File(String),
    /// A Parquet file (path as given); problems are reported by 0-based row.
    Parquet(String),
    /// A DataFrame built in memory; problems are reported by 0-based row.
    Frame,
}

/// A table of text cells with named, unique columns and at least one row.
#[derive(Debug, Clone)]
pub struct Table {
    origin: Origin,
    // Rows of the same file before this table (a chunk of a file read a part at a time):
    // positions in errors count from the file's start.
    row_offset: usize,
    df: DataFrame,
    headers: Vec<String>,
    sha256: OnceLock<String>,
    distinct: OnceLock<Vec<usize>>,
}

/// Split one CSV header line, honouring double quotes.
fn split_header(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|s| s.trim().to_string()).collect()
}

/// After polars rejected a file: the first line whose field count differs from the header's,
/// to name it (polars' own message does not).
fn ragged_line(text: &str, n_fields: usize) -> Option<(usize, usize)> {
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let n = split_header(line).len();
        if n != n_fields {
            return Some((i + 1, n));
        }
    }
    None
}

/// Text of one cell of a typed column: numbers in their shortest exact form, NaN as missing.
fn cell_text(v: AnyValue) -> Option<String> {
    match v {
        AnyValue::Null => None,
        AnyValue::String(s) => Some(s.to_string()),
        AnyValue::StringOwned(s) => Some(s.to_string()),
        AnyValue::Float64(f) if f.is_nan() => None,
        AnyValue::Float64(f) => Some(f.to_string()),
        AnyValue::Float32(f) if f.is_nan() => None,
        AnyValue::Float32(f) => Some(f.to_string()),
        AnyValue::Boolean(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

impl Table {
    /// Read a customer table: Parquet if the name ends in `.parquet` or `.pq`, else CSV.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq") => {
                Self::read_parquet(path)
            }
            _ => Self::read_csv(path),
        }
    }

    /// Read a Parquet file. Its typed columns become text as in [`Table::from_frame`], so the
    /// same rules and messages apply as to a CSV; problems are reported by 0-based row.
    #[cfg(feature = "parquet")]
    pub fn read_parquet(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes =
            std::fs::read(path).map_err(|e| Error::io(path, e).with_kind(ErrorKind::Data))?;
        let sha = crate::data::io::sha256_bytes(&bytes);
        let df = ParquetReader::new(Cursor::new(bytes))
            .finish()
            .map_err(|e| {
                Error::data(format!(
                    "not readable as Parquet: {}",
                    e.to_string().lines().next().unwrap_or_default()
                ))
                .in_file(&name)
            })?;
        let mut t = Self::from_frame(&df).map_err(|e| e.in_file(&name))?;
        t.origin = Origin::Parquet(name);
        t.sha256 = OnceLock::from(sha);
        Ok(t)
    }

    /// Rows `offset..offset + len` of a Parquet file (only the row groups holding them are
    /// read), as [`Table::read_parquet`] reads the whole; errors count rows from the file's start.
    #[cfg(feature = "parquet")]
    pub fn read_parquet_rows(path: impl AsRef<Path>, offset: usize, len: usize) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let unreadable = |e: PolarsError| {
            Error::data(format!(
                "not readable as Parquet: {}",
                e.to_string().lines().next().unwrap_or_default()
            ))
            .in_file(&name)
        };
        let file =
            std::fs::File::open(path).map_err(|e| Error::io(path, e).with_kind(ErrorKind::Data))?;
        let df = ParquetReader::new(file)
            .with_slice(Some((offset, len)))
            .finish()
            .map_err(unreadable)?;
        let mut t = Self::from_frame(&df).map_err(|e| e.in_file(&name))?;
        t.origin = Origin::Parquet(name);
        t.row_offset = offset;
        Ok(t)
    }

    /// The number of rows of a Parquet file, from its footer.
    #[cfg(feature = "parquet")]
    pub fn parquet_rows(path: impl AsRef<Path>) -> Result<usize> {
        let path = path.as_ref();
        let file =
            std::fs::File::open(path).map_err(|e| Error::io(path, e).with_kind(ErrorKind::Data))?;
        ParquetReader::new(file).num_rows().map_err(|e| {
            Error::data(format!(
                "not readable as Parquet: {}",
                e.to_string().lines().next().unwrap_or_default()
            ))
            .in_file(path.display())
        })
    }

    /// Without the `parquet` feature: an error saying how to get it.
    #[cfg(not(feature = "parquet"))]
    pub fn read_parquet_rows(path: impl AsRef<Path>, _: usize, _: usize) -> Result<Self> {
        Self::read_parquet(path)
    }

    /// Without the `parquet` feature: an error saying how to get it.
    #[cfg(not(feature = "parquet"))]
    pub fn parquet_rows(path: impl AsRef<Path>) -> Result<usize> {
        Self::read_parquet(path).map(|t| t.n_rows())
    }

    /// Without the `parquet` feature: an error saying how to get it.
    #[cfg(not(feature = "parquet"))]
    pub fn read_parquet(path: impl AsRef<Path>) -> Result<Self> {
        Err(
            Error::data("this build reads no Parquet: enable churnkit's `parquet` feature")
                .in_file(path.as_ref().display()),
        )
    }

    /// Read `path` as CSV with a header, every column as text. The file is read once.
    pub fn read_csv(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        // An input that cannot be read is bad input (exit 3 in the CLI), not a disk failure.
        let bytes =
            std::fs::read(path).map_err(|e| Error::io(path, e).with_kind(ErrorKind::Data))?;
        Self::from_csv_bytes(bytes, &path.display().to_string())
    }

    /// Parse CSV bytes (with a header); `name` is how errors refer to them (a file path).
    pub fn from_csv_bytes(bytes: Vec<u8>, name: &str) -> Result<Self> {
        let sha = crate::data::io::sha256_bytes(&bytes);
        let t = Self::parse_csv(bytes, name)?;
        t.sha256.set(sha).expect("a new table has no hash yet");
        Ok(t)
    }

    /// [`Table::from_csv_bytes`] without hashing the bytes (for files whose hash nobody asks
    /// for, like the processed features): its [`Table::sha256`] is then the content hash.
    pub(crate) fn parse_csv(bytes: Vec<u8>, name: &str) -> Result<Self> {
        Self::parse_csv_at(bytes, name, 0)
    }

    /// Rows of a CSV file read a part at a time: `bytes` is the file's header line and some of
    /// its records, `rows_before` records and `lines_before` lines (after the header) precede
    /// them in the file. Errors name the file's lines; nothing is hashed.
    pub fn from_csv_chunk(
        bytes: Vec<u8>,
        name: &str,
        rows_before: usize,
        lines_before: usize,
    ) -> Result<Self> {
        let mut t = Self::parse_csv_at(bytes, name, lines_before)?;
        t.row_offset = rows_before;
        Ok(t)
    }

    fn parse_csv_at(bytes: Vec<u8>, name: &str, lines_before: usize) -> Result<Self> {
        let err = |msg: String| Error::data(msg).in_file(name);
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| err(format!("not UTF-8 text (byte {})", e.valid_up_to())))?;
        // Check the header ourselves: polars would silently rename duplicate columns and reports
        // empty files in its own words.
        let mut lines = text.lines();
        let header_line = lines
            .by_ref()
            .find(|l| !l.trim().is_empty())
            .ok_or_else(|| err("file is empty (expected a CSV header line)".into()))?;
        let headers = split_header(header_line.trim_start_matches('\u{feff}').trim_end());
        check_unique(&headers)
            .map_err(|c| err(format!("column '{c}' appears more than once in the header")))?;
        if !lines.any(|l| !l.trim().is_empty()) {
            return Err(err("has a header but no data rows".into()));
        }
        let df = CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .into_reader_with_file_handle(Cursor::new(text.as_bytes()))
            .finish()
            .map_err(|e| match ragged_line(text, headers.len()) {
                Some((line, n)) => {
                    Error::data(format!("has {n} fields, the header has {}", headers.len()))
                        .in_file(name)
                        .in_column("(row)")
                        .at_line(line + lines_before)
                }
                None => err(format!(
                    "not readable as CSV: {}",
                    e.to_string().lines().next().unwrap_or_default()
                )),
            })?;
        if df.height() == 0 {
            return Err(err("has a header but no data rows".into()));
        }
        Ok(Table {
            origin: Origin::File(name.to_string()),
            row_offset: 0,
            df,
            headers,
            sha256: OnceLock::new(),
            distinct: OnceLock::new(),
        })
    }

    /// A table from an in-memory DataFrame of any column types: text stays text, numbers become
    /// their shortest exact text, NaN and null are missing. Column names are trimmed.
    pub fn from_frame(df: &DataFrame) -> Result<Self> {
        ensure!(df.height() != 0, data, "the DataFrame has no rows");
        let headers: Vec<String> = df
            .columns()
            .iter()
            .map(|c| c.name().trim().to_string())
            .collect();
        check_unique(&headers).map_err(|c| {
            Error::data(format!(
                "column '{c}' appears more than once (after trimming names)"
            ))
        })?;
        let mut cols = Vec::with_capacity(headers.len());
        for (c, name) in df.columns().iter().zip(&headers) {
            let values: Vec<Option<String>> = match c.dtype() {
                DataType::String => c.str()?.iter().map(|v| v.map(str::to_string)).collect(),
                DataType::Float64 => c
                    .f64()?
                    .iter()
                    .map(|v| v.filter(|f| !f.is_nan()).map(|f| f.to_string()))
                    .collect(),
                DataType::Boolean => c.bool()?.iter().map(|v| v.map(|b| b.to_string())).collect(),
                d if d.is_unsigned_integer() => c
                    .strict_cast(&DataType::UInt64)?
                    .u64()?
                    .iter()
                    .map(|v| v.map(|i| i.to_string()))
                    .collect(),
                d if d.is_integer() => c
                    .strict_cast(&DataType::Int64)?
                    .i64()?
                    .iter()
                    .map(|v| v.map(|i| i.to_string()))
                    .collect(),
                _ => {
                    let s = c.as_materialized_series();
                    (0..s.len())
                        .map(|i| s.get(i).map(cell_text))
                        .collect::<PolarsResult<_>>()?
                }
            };
            cols.push(Column::new(name.as_str().into(), values));
        }
        Ok(Table {
            origin: Origin::Frame,
            row_offset: 0,
            df: DataFrame::new(df.height(), cols)?,
            headers,
            sha256: OnceLock::new(),
            distinct: OnceLock::new(),
        })
    }

    /// Where the rows came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The file name for messages and records, or `"(DataFrame)"`.
    pub fn source_name(&self) -> &str {
        match &self.origin {
            Origin::File(f) | Origin::Parquet(f) => f,
            Origin::Frame => "(DataFrame)",
        }
    }

    /// SHA-256 of the content: of the file's bytes for a CSV, else of the column names and
    /// cell texts (so a renamed file or a re-built frame with the same data hashes the same).
    pub fn sha256(&self) -> &str {
        self.sha256.get_or_init(|| {
            let mut h = Fingerprint::new();
            for (name, col) in self.headers.iter().zip(self.df.columns()) {
                h.update(name.as_bytes());
                h.update(b"\x1e");
                if let Ok(ca) = col.str() {
                    for v in ca.iter() {
                        match v {
                            Some(s) => {
                                h.update(s.as_bytes());
                                h.update(b"\x1f");
                            }
                            None => h.update(b"\x00\x1f"),
                        }
                    }
                }
                h.update(b"\x1d");
            }
            h.hex()
        })
    }

    /// Column names in order.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Number of data rows.
    pub fn n_rows(&self) -> usize {
        self.df.height()
    }

    /// Whether the table has `name`.
    pub fn has_column(&self, name: &str) -> bool {
        self.headers.iter().any(|h| h == name)
    }

    /// The underlying polars frame (all `String` columns).
    pub fn frame(&self) -> &DataFrame {
        &self.df
    }

    /// An error naming the file's columns unless the table has `name`.
    pub(crate) fn require_column(&self, name: &str) -> Result<()> {
        if self.has_column(name) {
            Ok(())
        } else {
            Err(self.missing_column(name))
        }
    }

    /// A column's cells, trimmed; blank cells are `None`.
    pub fn column(&self, name: &str) -> Result<Vec<Option<&str>>> {
        Ok(self.cells(name)?.collect())
    }

    /// [`Table::column`] as an iterator, for a pass that needs no vector of cells.
    pub(crate) fn cells(&self, name: &str) -> Result<impl Iterator<Item = Option<&str>> + '_> {
        // Look the column up by position: names were trimmed, polars' were not.
        let idx = self
            .headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| self.missing_column(name))?;
        let ca = self.df.columns()[idx].str()?;
        Ok(ca
            .iter()
            .map(|v| v.map(str::trim).filter(|s| !s.is_empty())))
    }

    /// Parse a column as numbers; blank cells are `None`, anything else non-numeric is an error
    /// naming the line (or row).
    pub fn numeric_column(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let cells = self.column(name)?;
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| c.map(|s| self.parse_number(name, i, s)).transpose())
            .collect()
    }

    /// Cell `s` of `column` at data row `row` as a finite number, or an error naming the place.
    pub(crate) fn parse_number(&self, column: &str, row: usize, s: &str) -> Result<f64> {
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) => Err(self.bad_value(column, row, format!("'{s}' is not a finite number"))),
            Err(_) => Err(self.bad_value(column, row, format!("'{s}' is not a number"))),
        }
    }

    /// Rows that are not exact duplicates (over every column) of an earlier row, ascending: what
    /// pandas' `drop_duplicates` keeps. Computed once per table (schema inference and the split
    /// both ask).
    pub fn distinct_rows(&self) -> &[usize] {
        self.distinct.get_or_init(|| {
            // Each row's fingerprint is built column by column (a row's cells are far apart in a
            // columnar table): 16 bytes a row instead of every cell's text at once.
            let n = self.n_rows();
            let mut prints = vec![RowPrint::default(); n];
            for c in self.df.columns() {
                match c.str() {
                    Ok(ca) => {
                        for (p, v) in prints.iter_mut().zip(ca.iter()) {
                            p.add(v.map(str::trim).filter(|s| !s.is_empty()));
                        }
                    }
                    Err(_) => prints.iter_mut().for_each(|p| p.add(None)),
                }
            }
            let mut seen: HashSet<u128, BuildHasherDefault<U128Hasher>> =
                HashSet::with_capacity_and_hasher(n, Default::default());
            (0..n)
                .filter(|&i| seen.insert(prints[i].finish()))
                .collect()
        })
    }

    /// The position of data row `row` (0-based) as the user sees it.
    pub(crate) fn position(&self, row: usize) -> Position {
        let row = row + self.row_offset;
        match self.origin {
            Origin::File(_) => Position::Line(row + 2),
            Origin::Parquet(_) | Origin::Frame => Position::Row(row),
        }
    }

    /// Rows of the same file before this table (0 unless it is a chunk of a file).
    pub fn row_offset(&self) -> usize {
        self.row_offset
    }

    /// An error about this table as a whole (names the file for CSV input).
    pub(crate) fn error(&self, message: impl Into<String>) -> Error {
        let e = Error::data(message);
        match &self.origin {
            Origin::File(f) | Origin::Parquet(f) => e.in_file(f),
            Origin::Frame => e,
        }
    }

    /// A bad cell: data row `row` (0-based) of `column`.
    pub(crate) fn bad_value(&self, column: &str, row: usize, problem: String) -> Error {
        self.error(problem)
            .in_column(column)
            .at(Some(self.position(row)))
    }

    /// A column-wide problem (e.g. the target's classes).
    pub(crate) fn bad_column(&self, column: &str, problem: String) -> Error {
        self.error(problem).in_column(column)
    }

    fn missing_column(&self, name: &str) -> Error {
        let what = match self.origin {
            Origin::File(_) | Origin::Parquet(_) => "the file has",
            Origin::Frame => "the table has",
        };
        self.error(format!(
            "missing required column '{name}' ({what}: {})",
            few(&self.headers, 10)
        ))
    }
}

/// A row's 128-bit fingerprint, fed one cell at a time: two independent 64-bit lanes of a
/// multiply-rotate hash over the cell bytes, each cell length-prefixed (so `("ab", "c")` and
/// `("a", "bc")` differ) and missing cells marked apart from empty ones. 128 bits make a false
/// "duplicate" at millions of rows vanishingly unlikely; fixed constants make the same rows give
/// the same fingerprints in every process.
#[derive(Clone, Copy)]
struct RowPrint(u64, u64);

impl Default for RowPrint {
    fn default() -> Self {
        RowPrint(0x243F_6A88_85A3_08D3, 0x1319_8A2E_0370_7344)
    }
}

impl RowPrint {
    #[inline]
    fn mix(&mut self, w: u64) {
        self.0 = (self.0 ^ w)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
        self.1 = (self.1 ^ w.rotate_left(17))
            .wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
            .rotate_left(31);
    }

    fn add(&mut self, cell: Option<&str>) {
        let Some(s) = cell else {
            self.mix(u64::MAX);
            return;
        };
        self.mix(s.len() as u64);
        let mut chunks = s.as_bytes().chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(b));
        }
    }

    fn finish(self) -> u128 {
        // A final avalanche of each lane, so nearby inputs spread over the whole word.
        let f = |mut x: u64| {
            x ^= x >> 33;
            x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
            x ^= x >> 33;
            x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
            x ^ (x >> 33)
        };
        (u128::from(f(self.0)) << 64) | u128::from(f(self.1))
    }
}

/// A hasher for fingerprints, which are already uniformly spread: their low 64 bits.
#[derive(Default)]
struct U128Hasher(u64);

impl std::hash::Hasher for U128Hasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

/// A fast hasher for short keys (cells, category names): FxHash's multiply-rotate over 8-byte
/// words, several times faster than the default SipHash per cell. It does not resist crafted
/// collisions; the worst a crafted file can do is make its own preprocessing slow.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.add(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        let mut last = [0u8; 8];
        let rest = words.remainder();
        last[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 56));
    }
    fn write_u8(&mut self, v: u8) {
        self.add(u64::from(v));
    }
    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }
}

/// Hash maps and sets keyed by cells.
pub(crate) type FastHash = BuildHasherDefault<FxHasher>;

fn check_unique(headers: &[String]) -> std::result::Result<(), &str> {
    let mut seen = HashSet::new();
    match headers.iter().find(|h| !seen.insert(h.as_str())) {
        Some(dup) => Err(dup),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> Result<Table> {
        Table::from_csv_bytes(text.as_bytes().to_vec(), "t.csv")
    }

    #[test]
    fn header_split_honours_quotes() {
        assert_eq!(
            split_header(r#"a, "b,c" ,"d""e""#),
            vec!["a", "b,c", "d\"e"]
        );
    }

    #[test]
    fn bad_files_are_named_with_line_numbers() {
        let e = csv("").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv: file is empty (expected a CSV header line)"
        );
        assert!(csv("a,b\n")
            .unwrap_err()
            .to_string()
            .contains("no data rows"));
        assert!(csv("a,a\n1,2\n")
            .unwrap_err()
            .to_string()
            .contains("'a' appears more"));
        let e = csv("a,b\n1,2\n3,4,5\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv: column '(row)', line 3: has 3 fields, the header has 2"
        );
        let t = csv("a,b\n1,x\n").unwrap();
        let e = t.numeric_column("b").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv: column 'b', line 2: 'x' is not a number"
        );
        assert!(t
            .column("zz")
            .unwrap_err()
            .to_string()
            .contains("the file has: a, b"));
    }

    #[test]
    fn frames_keep_values_and_report_rows() {
        let df = df!(
            "n" => [Some(1.5), None, Some(f64::NAN)],
            "i" => [1i64, 2, 3],
            "b" => [true, false, true],
            "s" => [" x ", "", "z"],
        )
        .unwrap();
        let t = Table::from_frame(&df).unwrap();
        assert_eq!(t.numeric_column("n").unwrap(), vec![Some(1.5), None, None]);
        assert_eq!(
            t.numeric_column("i").unwrap(),
            vec![Some(1.0), Some(2.0), Some(3.0)]
        );
        assert_eq!(
            t.column("b").unwrap(),
            vec![Some("true"), Some("false"), Some("true")]
        );
        assert_eq!(t.column("s").unwrap(), vec![Some("x"), None, Some("z")]);
        let e = t.numeric_column("s").unwrap_err();
        assert_eq!(e.to_string(), "column 's', row 0: 'x' is not a number");
        // The content hash depends on the cells, not on where they came from.
        let same = Table::from_frame(&df.clone()).unwrap();
        assert_eq!(t.sha256(), same.sha256());
        let other = Table::from_frame(&df!("n" => [1.0]).unwrap()).unwrap();
        assert_ne!(t.sha256(), other.sha256());
    }

    #[test]
    fn csv_hash_is_the_hash_of_the_bytes() {
        let text = "a,b\n1,2\n";
        let t = csv(text).unwrap();
        assert_eq!(t.sha256(), crate::data::io::sha256_bytes(text.as_bytes()));
    }
}
