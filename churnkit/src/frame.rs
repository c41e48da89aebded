//! Numeric feature matrices as plain columns, and their CSV form in `data/processed/`.
//!
//! Columns are `Vec<f64>` so the forest can bin them without copies; [`Frame::to_array2`]
//! gives linfa's ndarray 0.16 view when a linfa algorithm needs it.

use crate::table::DataError;
use polars::prelude::*;
use std::io::{self, Write};
use std::path::Path;

/// Named numeric columns of equal length.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Column names.
    pub names: Vec<String>,
    /// Column values.
    pub columns: Vec<Vec<f64>>,
}

impl Frame {
    /// Rows.
    pub fn n_rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    /// Columns.
    pub fn n_cols(&self) -> usize {
        self.columns.len()
    }

    /// Row-major ndarray (ndarray 0.16, as linfa 0.8 expects).
    pub fn to_array2(&self) -> ndarray::Array2<f64> {
        let (n, m) = (self.n_rows(), self.n_cols());
        ndarray::Array2::from_shape_fn((n, m), |(i, j)| self.columns[j][i])
    }

    /// Write as CSV with a header. Numbers use the shortest text that reads back exactly.
    pub fn write_csv(&self, w: &mut impl Write) -> io::Result<()> {
        writeln!(w, "{}", self.names.join(","))?;
        let mut line = String::new();
        for i in 0..self.n_rows() {
            line.clear();
            for (j, c) in self.columns.iter().enumerate() {
                if j > 0 {
                    line.push(',');
                }
                push_number(&mut line, c[i]);
            }
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
        Ok(())
    }

    /// Read a numeric CSV written by [`Frame::write_csv`] (or any all-numeric CSV).
    pub fn read_csv(path: impl AsRef<Path>) -> Result<Frame, DataError> {
        let path = path.as_ref();
        let df = read_numeric_csv(path)?;
        let mut names = Vec::with_capacity(df.width());
        let mut columns = Vec::with_capacity(df.width());
        for col in df.columns() {
            let name = col.name().to_string();
            let bad = |problem: String| DataError::BadColumn {
                file: path.to_path_buf(),
                column: name.clone(),
                problem,
            };
            let cast = col
                .cast(&DataType::Float64)
                .map_err(|_| bad(format!("expected numbers, found {}", col.dtype())))?;
            let ca = cast.f64().map_err(|e| bad(e.to_string()))?;
            let mut values = Vec::with_capacity(ca.len());
            for (i, v) in ca.iter().enumerate() {
                match v {
                    Some(x) if x.is_finite() => values.push(x),
                    _ => {
                        return Err(DataError::BadValue {
                            file: path.to_path_buf(),
                            column: name,
                            line: i + 2,
                            problem: "missing or non-numeric value".into(),
                        })
                    }
                }
            }
            names.push(name);
            columns.push(values);
        }
        Ok(Frame { names, columns })
    }
}

/// Append `v` as text: integers without a fraction, others in shortest round-trip form.
pub fn push_number(s: &mut String, v: f64) {
    use std::fmt::Write as _;
    let _ = write!(s, "{v}");
}

fn read_numeric_csv(path: &Path) -> Result<DataFrame, DataError> {
    if !path.exists() {
        return Err(DataError::Io {
            file: path.to_path_buf(),
            source: io::Error::new(io::ErrorKind::NotFound, "file not found"),
        });
    }
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(10_000))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(|e| DataError::Csv {
            file: path.to_path_buf(),
            message: e.to_string().lines().next().unwrap_or_default().to_string(),
        })
}

/// Write 0/1 labels as a one-column CSV.
pub fn write_labels(w: &mut impl Write, name: &str, y: &[u8]) -> io::Result<()> {
    writeln!(w, "{name}")?;
    let mut buf = Vec::with_capacity(y.len() * 2);
    for &v in y {
        buf.push(b'0' + v);
        buf.push(b'\n');
    }
    w.write_all(&buf)
}

/// Read a one-column 0/1 label CSV.
pub fn read_labels(path: impl AsRef<Path>) -> Result<(String, Vec<u8>), DataError> {
    let path = path.as_ref();
    let frame = Frame::read_csv(path)?;
    if frame.n_cols() != 1 {
        return Err(DataError::Csv {
            file: path.to_path_buf(),
            message: format!("expected one label column, found {}", frame.n_cols()),
        });
    }
    let name = frame.names[0].clone();
    let mut y = Vec::with_capacity(frame.n_rows());
    for (i, &v) in frame.columns[0].iter().enumerate() {
        if v != 0.0 && v != 1.0 {
            return Err(DataError::BadValue {
                file: path.to_path_buf(),
                column: name,
                line: i + 2,
                problem: format!("label {v} is not 0 or 1"),
            });
        }
        y.push(v as u8);
    }
    Ok((name, y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip_is_exact() {
        let f = Frame {
            names: vec!["a".into(), "b".into()],
            columns: vec![vec![0.1 + 0.2, -1.5e-7], vec![2.0, 3.0]],
        };
        let dir = std::env::temp_dir().join(format!("churnkit-frame-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.csv");
        let mut buf = Vec::new();
        f.write_csv(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf).contains("\n0.30000000000000004,2\n"));
        std::fs::write(&p, &buf).unwrap();
        assert_eq!(Frame::read_csv(&p).unwrap(), f);
        let a = f.to_array2();
        assert_eq!(a[[1, 0]], -1.5e-7);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
