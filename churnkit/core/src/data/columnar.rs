//! A processed split as one binary columnar file (`data/processed/split.bin`), beside the CSVs
//! the guide's layout keeps: reading 1M rows of CSV text costs more than fitting a forest on
//! them; reading this is a copy.
//!
//! Layout (all little-endian):
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `CKSPLIT1` |
//! | 8 | `u64` length of the header |
//! | header | JSON: `format` (`churnkit-split`), `format_version` (1), `names` (the feature columns), `train_rows`, `test_rows`, `sources` (free JSON the writer records, e.g. the CSVs' sizes and times) |
//! | 8 x columns x train rows | training features, column after column, `f64` (NaN: missing) |
//! | 8 x columns x test rows | test features, likewise |
//! | train rows | training labels, one byte each (0/1) |
//! | test rows | test labels |
//!
//! `head -c 4096 split.bin` shows the header. [`read`] checks the magic, the version, that the
//! sizes add up to the file's and that labels are 0 or 1.

use crate::data::frame::Frame;
use crate::ensure;
use crate::error::{Error, Result};
use serde_json::{json, Value};

/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"CKSPLIT1";
/// The format name in the header.
pub const FORMAT: &str = "churnkit-split";
/// The header's format version.
pub const FORMAT_VERSION: u64 = 1;

/// A split read back: the header and the four parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The header JSON (with the writer's `sources`).
    pub header: Value,
    /// Training features.
    pub x_train: Frame,
    /// Training labels.
    pub y_train: Vec<u8>,
    /// Test features.
    pub x_test: Frame,
    /// Test labels.
    pub y_test: Vec<u8>,
}

/// The file's bytes for a split, with `sources` recorded in the header.
pub fn write(
    x_train: &Frame,
    y_train: &[u8],
    x_test: &Frame,
    y_test: &[u8],
    sources: Value,
) -> Vec<u8> {
    let mut out = Vec::new();
    write_to(&mut out, x_train, y_train, x_test, y_test, sources).expect("a Vec takes any write");
    out
}

/// [`write`] into a writer (a file: the split is never a second copy in memory).
pub fn write_to(
    w: &mut impl std::io::Write,
    x_train: &Frame,
    y_train: &[u8],
    x_test: &Frame,
    y_test: &[u8],
    sources: Value,
) -> std::io::Result<()> {
    let header = json!({
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "names": x_train.names,
        "train_rows": y_train.len(),
        "test_rows": y_test.len(),
        "sources": sources,
    })
    .to_string();
    w.write_all(MAGIC)?;
    w.write_all(&(header.len() as u64).to_le_bytes())?;
    w.write_all(header.as_bytes())?;
    let mut buf = Vec::with_capacity(8 << 13);
    for frame in [x_train, x_test] {
        for c in &frame.columns {
            for chunk in c.chunks(1 << 13) {
                buf.clear();
                buf.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
                w.write_all(&buf)?;
            }
        }
    }
    w.write_all(y_train)?;
    w.write_all(y_test)
}

/// Only the header of a split file (cheap: it is at the front).
pub fn header(bytes: &[u8]) -> Result<Value> {
    let bad = |why: &str| Error::model(format!("not a churnkit split file: {why}"));
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err(bad("no CKSPLIT1 magic"));
    }
    let len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
    let text = bytes
        .get(16..16 + len)
        .ok_or_else(|| bad("truncated header"))?;
    let h: Value = serde_json::from_slice(text).map_err(|e| bad(&format!("header: {e}")))?;
    if h["format"] != FORMAT {
        return Err(bad("header format is not churnkit-split"));
    }
    ensure!(
        h["format_version"] == FORMAT_VERSION,
        model,
        "split file format_version {} is not supported (this churnkit reads {FORMAT_VERSION})",
        h["format_version"]
    );
    Ok(h)
}

/// Read a split file, checking it whole.
pub fn read(bytes: &[u8]) -> Result<Split> {
    let h = header(bytes)?;
    let bad = |why: String| Error::model(format!("damaged churnkit split file: {why}"));
    let names: Vec<String> =
        serde_json::from_value(h["names"].clone()).map_err(|e| bad(format!("names: {e}")))?;
    let (n_train, n_test) = match (h["train_rows"].as_u64(), h["test_rows"].as_u64()) {
        (Some(a), Some(b)) => (a as usize, b as usize),
        _ => return Err(bad("no train_rows / test_rows".into())),
    };
    let start = 16 + u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
    let cols = names.len();
    let want = 8 * cols * (n_train + n_test) + n_train + n_test;
    if bytes.len() - start != want {
        return Err(bad(format!(
            "{} bytes of data where {} columns x ({n_train} + {n_test}) rows need {want}",
            bytes.len() - start,
            cols
        )));
    }
    let mut at = start;
    let mut frame = |rows: usize| -> Frame {
        let columns = (0..cols)
            .map(|_| {
                let c: Vec<f64> = bytes[at..at + 8 * rows]
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                    .collect();
                at += 8 * rows;
                c
            })
            .collect();
        Frame {
            names: names.clone(),
            columns,
        }
    };
    let x_train = frame(n_train);
    let x_test = frame(n_test);
    let y_train = bytes[at..at + n_train].to_vec();
    let y_test = bytes[at + n_train..].to_vec();
    if let Some(v) = y_train.iter().chain(&y_test).find(|&&v| v > 1) {
        return Err(bad(format!("label {v} is not 0 or 1")));
    }
    Ok(Split {
        header: h,
        x_train,
        y_train,
        x_test,
        y_test,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(rows: usize, names: &[&str]) -> Frame {
        Frame {
            names: names.iter().map(|s| s.to_string()).collect(),
            columns: (0..names.len())
                .map(|j| {
                    (0..rows)
                        .map(|i| {
                            if i == 2 {
                                f64::NAN
                            } else {
                                (i * 10 + j) as f64 / 3.0
                            }
                        })
                        .collect()
                })
                .collect(),
        }
    }

    #[test]
    fn a_split_reads_back_bit_for_bit_and_damage_is_refused() {
        let (a, b) = (frame(5, &["x", "y"]), frame(3, &["x", "y"]));
        let bytes = write(
            &a,
            &[0, 1, 1, 0, 1],
            &b,
            &[1, 0, 0],
            json!({"X_train.csv": 12}),
        );
        let s = read(&bytes).unwrap();
        assert_eq!((s.x_train, s.x_test), (a, b));
        assert_eq!((s.y_train, s.y_test), (vec![0, 1, 1, 0, 1], vec![1, 0, 0]));
        assert_eq!(s.header["sources"]["X_train.csv"], 12);
        assert!(std::str::from_utf8(&bytes[16..60])
            .unwrap()
            .contains("churnkit-split"));
        let short = &bytes[..bytes.len() - 1];
        assert!(read(short).unwrap_err().to_string().contains("damaged"));
        let mut label = bytes.clone();
        *label.last_mut().unwrap() = 7;
        assert!(read(&label).unwrap_err().to_string().contains("label 7"));
        assert!(read(b"CKSPLIT0........")
            .unwrap_err()
            .to_string()
            .contains("magic"));
    }
}
