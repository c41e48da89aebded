//! Raw CSV input: every column read as text by polars, so that churnkit (not a type-inference
//! heuristic) decides what a cell means and can name the exact file, column and line of bad data.

use polars::prelude::*;
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Problems with input data. Each message names the file, and the column and line where known;
/// lines count from 1 and include the header line.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Zero bytes, or nothing but blank lines.
    #[error("{}: file is empty (expected a CSV header line)", file.display())]
    Empty {
        /// The file.
        file: PathBuf,
    },
    /// A header but no data rows.
    #[error("{}: has a header but no data rows", file.display())]
    HeaderOnly {
        /// The file.
        file: PathBuf,
    },
    /// The same column name twice in the header.
    #[error("{}: column '{column}' appears more than once in the header", file.display())]
    DuplicateColumn {
        /// The file.
        file: PathBuf,
        /// The repeated name.
        column: String,
    },
    /// A column the schema requires is absent.
    #[error("{}: missing required column '{column}' (the file has: {available})", file.display())]
    MissingColumn {
        /// The file.
        file: PathBuf,
        /// The required column.
        column: String,
        /// The header, comma-separated.
        available: String,
    },
    /// A bad cell.
    #[error("{}: column '{column}', line {line}: {problem}", file.display())]
    BadValue {
        /// The file.
        file: PathBuf,
        /// The column.
        column: String,
        /// 1-based line in the file (the header is line 1).
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// A column-wide problem (e.g. the target's classes).
    #[error("{}: column '{column}': {problem}", file.display())]
    BadColumn {
        /// The file.
        file: PathBuf,
        /// The column.
        column: String,
        /// What is wrong with it.
        problem: String,
    },
    /// polars could not parse the file as CSV.
    #[error("{}: not readable as CSV: {message}", file.display())]
    Csv {
        /// The file.
        file: PathBuf,
        /// polars' message.
        message: String,
    },
}

/// A CSV file held as text columns.
#[derive(Debug, Clone)]
pub struct RawTable {
    path: PathBuf,
    df: DataFrame,
    headers: Vec<String>,
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

/// After polars rejected a file: find the first line whose field count differs from the
/// header's, to name it (polars' own message does not).
fn ragged_line(path: &Path, n_fields: usize) -> Option<DataError> {
    let text = std::fs::read_to_string(path).ok()?;
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let n = split_header(line).len();
        if n != n_fields {
            return Some(DataError::BadValue {
                file: path.to_path_buf(),
                column: "(row)".into(),
                line: i + 1,
                problem: format!("has {n} fields, the header has {n_fields}"),
            });
        }
    }
    None
}

impl RawTable {
    /// Read `path` as CSV with a header; all columns as text.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, DataError> {
        let path = path.as_ref().to_path_buf();
        let io_err = |source| DataError::Io {
            file: path.clone(),
            source,
        };
        // Check the header ourselves first: polars would silently rename duplicate columns and
        // reports empty files in its own words.
        let f = File::open(&path).map_err(io_err)?;
        let mut header_line = String::new();
        let mut reader = BufReader::new(f);
        loop {
            header_line.clear();
            if reader.read_line(&mut header_line).map_err(io_err)? == 0 {
                return Err(DataError::Empty { file: path });
            }
            if !header_line.trim().is_empty() {
                break;
            }
        }
        let header_line = header_line.trim_start_matches('\u{feff}').trim_end();
        let headers = split_header(header_line);
        let mut seen = HashSet::new();
        for h in &headers {
            if !seen.insert(h.as_str()) {
                return Err(DataError::DuplicateColumn {
                    file: path,
                    column: h.clone(),
                });
            }
        }
        let has_data = reader
            .lines()
            .map_while(Result::ok)
            .any(|l| !l.trim().is_empty());
        if !has_data {
            return Err(DataError::HeaderOnly { file: path });
        }
        let df = CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(path.clone()))
            .and_then(|r| r.finish())
            .map_err(|e| {
                ragged_line(&path, headers.len()).unwrap_or_else(|| DataError::Csv {
                    file: path.clone(),
                    message: e.to_string().lines().next().unwrap_or_default().to_string(),
                })
            })?;
        if df.height() == 0 {
            return Err(DataError::HeaderOnly { file: path });
        }
        Ok(RawTable { path, df, headers })
    }

    /// The file this table came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Column names in file order.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Number of data rows.
    pub fn n_rows(&self) -> usize {
        self.df.height()
    }

    /// Whether the file has `name`.
    pub fn has_column(&self, name: &str) -> bool {
        self.headers.iter().any(|h| h == name)
    }

    /// The underlying polars frame (all `String` columns).
    pub fn frame(&self) -> &DataFrame {
        &self.df
    }

    /// A column's cells, trimmed; blank cells are `None`.
    pub fn column(&self, name: &str) -> Result<Vec<Option<&str>>, DataError> {
        let missing = || DataError::MissingColumn {
            file: self.path.clone(),
            column: name.to_string(),
            available: self.headers.join(","),
        };
        // Look the column up by position: polars trims nothing, our header split does.
        let idx = self
            .headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(missing)?;
        let col = self.df.columns().get(idx).ok_or_else(missing)?;
        let ca = col.str().map_err(|e| DataError::Csv {
            file: self.path.clone(),
            message: e.to_string(),
        })?;
        Ok(ca
            .iter()
            .map(|v| v.map(str::trim).filter(|s| !s.is_empty()))
            .collect())
    }

    /// Parse a column as numbers; blank cells are `None`, anything else non-numeric is an error
    /// naming the line.
    pub fn numeric_column(&self, name: &str) -> Result<Vec<Option<f64>>, DataError> {
        let cells = self.column(name)?;
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| match c {
                None => Ok(None),
                Some(s) => match s.parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(Some(v)),
                    Ok(_) => Err(self.bad_value(name, i, format!("'{s}' is not a finite number"))),
                    Err(_) => Err(self.bad_value(name, i, format!("'{s}' is not a number"))),
                },
            })
            .collect()
    }

    /// A [`DataError::BadValue`] for data row `row` (0-based).
    pub fn bad_value(&self, column: &str, row: usize, problem: String) -> DataError {
        DataError::BadValue {
            file: self.path.clone(),
            column: column.to_string(),
            line: row + 2,
            problem,
        }
    }

    /// A [`DataError::BadColumn`].
    pub fn bad_column(&self, column: &str, problem: String) -> DataError {
        DataError::BadColumn {
            file: self.path.clone(),
            column: column.to_string(),
            problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_split_honours_quotes() {
        assert_eq!(
            split_header(r#"a, "b,c" ,"d""e""#),
            vec!["a", "b,c", "d\"e"]
        );
    }
}
