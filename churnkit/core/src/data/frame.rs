//! Numeric feature matrices as plain columns, and their CSV text (what `data/processed/` holds).
//!
//! Columns are `Vec<f64>` so the forest can bin them without copies; [`Frame::to_array2`]
//! gives linfa's ndarray 0.16 view when a linfa algorithm needs it, [`Frame::to_data_frame`] a
//! polars frame for display.

use crate::data::table::Table;
use crate::ensure;
use crate::error::{Error, Result};
use polars::prelude::{Column, DataFrame};
use std::io::{self, Write};

/// Named numeric columns of equal length; NaN is a missing value.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Column names.
    pub names: Vec<String>,
    /// Column values.
    pub columns: Vec<Vec<f64>>,
}

impl PartialEq for Frame {
    /// Equal names and bit-identical values, so two frames with a missing value in the same
    /// place are equal (NaN != NaN as numbers).
    fn eq(&self, o: &Frame) -> bool {
        self.names == o.names
            && self.columns.len() == o.columns.len()
            && self.columns.iter().zip(&o.columns).all(|(a, b)| {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(x, y)| x.to_bits() == y.to_bits() || x.is_nan() && y.is_nan())
            })
    }
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

    /// The rows at `rows`, in that order.
    pub fn take(&self, rows: &[usize]) -> Frame {
        Frame {
            names: self.names.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| rows.iter().map(|&i| c[i]).collect())
                .collect(),
        }
    }

    /// The rows of `self`, then those of `other` (same columns).
    pub fn concat(&self, other: &Frame) -> Result<Frame> {
        ensure!(
            self.names == other.names,
            data,
            "frames with different columns cannot be stacked",
        );
        Ok(Frame {
            names: self.names.clone(),
            columns: self
                .columns
                .iter()
                .zip(&other.columns)
                .map(|(a, b)| a.iter().chain(b).copied().collect())
                .collect(),
        })
    }

    /// Row-major ndarray (ndarray 0.16, as linfa 0.8 expects).
    pub fn to_array2(&self) -> ndarray::Array2<f64> {
        let (n, m) = (self.n_rows(), self.n_cols());
        ndarray::Array2::from_shape_fn((n, m), |(i, j)| self.columns[j][i])
    }

    /// As a polars DataFrame of `f64` columns.
    pub fn to_data_frame(&self) -> Result<DataFrame> {
        let cols = self
            .names
            .iter()
            .zip(&self.columns)
            .map(|(n, c)| Column::new(n.as_str().into(), c.clone()))
            .collect();
        Ok(DataFrame::new(self.n_rows(), cols)?)
    }

    /// Write as CSV with a header. Numbers use the shortest text that reads back exactly; a
    /// missing value (NaN) is a blank cell, as pandas reads it.
    pub fn write_csv(&self, w: &mut impl Write) -> io::Result<()> {
        use rayon::prelude::*;
        writeln!(w, "{}", self.names.join(","))?;
        // Formatting the shortest round-trip text of each number is the cost: rows are
        // formatted in parallel chunks, written in order.
        const CHUNK: usize = 32_768;
        let n = self.n_rows();
        let starts: Vec<usize> = (0..n).step_by(CHUNK).collect();
        for wave in starts.chunks(rayon::current_num_threads().max(1) * 2) {
            let texts: Vec<String> = wave
                .par_iter()
                .map(|&first| {
                    let mut text = String::new();
                    for i in first..(first + CHUNK).min(n) {
                        for (j, c) in self.columns.iter().enumerate() {
                            if j > 0 {
                                text.push(',');
                            }
                            if !c[i].is_nan() {
                                push_number(&mut text, c[i]);
                            }
                        }
                        text.push('\n');
                    }
                    text
                })
                .collect();
            for t in texts {
                w.write_all(t.as_bytes())?;
            }
        }
        Ok(())
    }

    /// Parse an all-numeric CSV (as [`Frame::write_csv`] writes); `name` is how errors refer to
    /// it. A blank cell is missing (NaN); a non-numeric cell is an error naming its column and
    /// line.
    pub fn from_csv(bytes: Vec<u8>, name: &str) -> Result<Frame> {
        let table = Table::parse_csv(bytes, name)?;
        let mut columns = Vec::with_capacity(table.headers().len());
        for h in table.headers() {
            let values = table.numeric_column(h)?;
            columns.push(values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect());
        }
        Ok(Frame {
            names: table.headers().to_vec(),
            columns,
        })
    }
}

/// Append `v` as text: integers without a fraction, others in shortest round-trip form.
pub(crate) fn push_number(s: &mut String, v: f64) {
    use std::fmt::Write as _;
    // What `{v}` writes (the shortest text that reads back as `v`, never an exponent), faster:
    // integers through itoa, other values in ryu's decimal range through ryu. Where two
    // shortest texts are equally close, ryu may take the other one (it rounds half to even).
    // A test checks the round trip and the length against `{v}`.
    let a = v.abs();
    if v.fract() == 0.0 && a < 1e15 && v != 0.0 {
        s.push_str(itoa::Buffer::new().format(v as i64));
    } else if (1e-4..1e15).contains(&a) {
        s.push_str(ryu::Buffer::new().format_finite(v));
    } else {
        let _ = write!(s, "{v}");
    }
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

/// Parse a one-column 0/1 label CSV: (column name, labels).
pub fn labels_from_csv(bytes: Vec<u8>, name: &str) -> Result<(String, Vec<u8>)> {
    let frame = Frame::from_csv(bytes, name)?;
    if frame.n_cols() != 1 {
        return Err(Error::data(format!(
            "expected one label column, found {}",
            frame.n_cols()
        ))
        .in_file(name));
    }
    let column = frame.names[0].clone();
    let mut y = Vec::with_capacity(frame.n_rows());
    for (i, &v) in frame.columns[0].iter().enumerate() {
        if v != 0.0 && v != 1.0 {
            return Err(Error::data(format!("label {v} is not 0 or 1"))
                .in_file(name)
                .in_column(&column)
                .at_line(i + 2));
        }
        y.push(v as u8);
    }
    Ok((column, y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_shortest_and_read_back_exactly() {
        let mut r = crate::rng::Rng::new(9);
        let mut values = vec![
            0.0, -0.0, 1.0, -1.0, 0.1, 77.0, 5422.24, 1e-4, 9.99e-5, 1e15, 1e16,
        ];
        values.extend([
            f64::MIN_POSITIVE,
            f64::MAX,
            123456789012345.6,
            0.000123,
            -3.5e-7,
        ]);
        for _ in 0..200_000 {
            let mantissa = r.below(1 << 30) as f64 / (1 << 20) as f64;
            let exp = r.below(44) as i32 - 22;
            let v = mantissa * 10f64.powi(exp);
            values.extend([v, -v, v.round(), (v * 100.0).round() / 100.0]);
        }
        let mut same = 0;
        for v in &values {
            let mut s = String::new();
            push_number(&mut s, *v);
            let display = format!("{v}");
            assert_eq!(s.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{s}");
            assert_eq!(s.len(), display.len(), "{s} vs {display}");
            assert!(!s.contains('e'), "{s}");
            same += usize::from(s == display);
        }
        // Only exact ties between two shortest texts differ.
        assert!(
            same as f64 > 0.99 * values.len() as f64,
            "{same} of {}",
            values.len()
        );
    }

    #[test]
    fn csv_round_trip_is_exact() {
        let f = Frame {
            names: vec!["a".into(), "b".into()],
            columns: vec![vec![0.1 + 0.2, -1.5e-7, f64::NAN], vec![2.0, 3.0, 4.0]],
        };
        let mut buf = Vec::new();
        f.write_csv(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf);
        assert!(text.contains("\n0.30000000000000004,2\n"), "{text}");
        assert!(
            text.ends_with("\n,4\n"),
            "a missing value is a blank cell: {text}"
        );
        assert_eq!(Frame::from_csv(buf, "x.csv").unwrap(), f);
        assert_eq!(f.to_array2()[[1, 0]], -1.5e-7);
        assert_eq!(f.take(&[1]).columns, vec![vec![-1.5e-7], vec![3.0]]);
        assert_eq!(f.to_data_frame().unwrap().shape(), (3, 2));
    }

    #[test]
    fn bad_cells_and_labels_are_named() {
        let e = Frame::from_csv(b"a\n1\n2\nx\n".to_vec(), "x.csv").unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.csv: column 'a', line 4: 'x' is not a number"
        );
        let mut buf = Vec::new();
        write_labels(&mut buf, "Churn", &[0, 1, 1]).unwrap();
        assert_eq!(
            labels_from_csv(buf, "y.csv").unwrap(),
            ("Churn".into(), vec![0, 1, 1])
        );
        let e = labels_from_csv(b"y\n0\n2\n".to_vec(), "y.csv").unwrap_err();
        assert_eq!(
            e.to_string(),
            "y.csv: column 'y', line 3: label 2 is not 0 or 1"
        );
    }
}
