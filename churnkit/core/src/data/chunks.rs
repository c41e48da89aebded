//! A customer file read a part at a time: each part a [`Table`] of at most a given number of
//! rows, so that scoring a file of any size holds one part in memory. CSV records are cut only
//! between records (a quoted field may hold newlines); Parquet parts are row ranges, read from the
//! row groups that hold them. Errors name the file's own lines (or rows), as a whole read does.
//!
//! ```
//! use churnkit_core::data::chunks::TableChunks;
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("c.csv");
//! std::fs::write(&path, "id,note\n1,\"two\nlines\"\n2,b\n3,c\n")?;
//! let mut chunks = TableChunks::open(&path, 2)?;
//! let first = chunks.next_chunk()?.unwrap();
//! assert_eq!(first.column("note")?, vec![Some("two\nlines"), Some("b")]);
//! assert_eq!(chunks.next_chunk()?.unwrap().column("id")?, vec![Some("3")]);
//! assert!(chunks.next_chunk()?.is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::data::table::Table;
use crate::error::{Error, ErrorKind, Result};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Parts of a customer file, in order (see the module's documentation).
#[derive(Debug)]
pub struct TableChunks {
    source: Source,
    rows_per_chunk: usize,
    rows_done: usize,
}

#[derive(Debug)]
enum Source {
    Csv(Box<Csv>),
    Parquet {
        path: PathBuf,
        total: usize,
        started: bool,
    },
}

#[derive(Debug)]
struct Csv {
    reader: BufReader<File>,
    name: String,
    header: Vec<u8>,
    // Lines after the header already handed out, for the line numbers of errors.
    lines_done: usize,
    bytes_done: u64,
    total_bytes: u64,
    started: bool,
    eof: bool,
}

fn is_parquet(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some(e) if e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq")
    )
}

impl TableChunks {
    /// Open `path` (Parquet if it ends in `.parquet` or `.pq`, else CSV) to read parts of at most
    /// `rows_per_chunk` rows.
    pub fn open(path: impl AsRef<Path>, rows_per_chunk: usize) -> Result<Self> {
        let path = path.as_ref();
        let rows_per_chunk = rows_per_chunk.max(1);
        let source = if is_parquet(path) {
            Source::Parquet {
                path: path.to_path_buf(),
                total: Table::parquet_rows(path)?,
                started: false,
            }
        } else {
            let io = |e| Error::io(path, e).with_kind(ErrorKind::Data);
            let file = File::open(path).map_err(io)?;
            let total_bytes = file.metadata().map_err(io)?.len();
            let mut reader = BufReader::with_capacity(1 << 20, file);
            // The header: the first line that is not blank (as a whole read takes it).
            let mut header = Vec::new();
            let mut bytes_done = 0;
            loop {
                header.clear();
                let n = reader.read_until(b'\n', &mut header).map_err(io)?;
                bytes_done += n as u64;
                if n == 0 || !header.iter().all(u8::is_ascii_whitespace) {
                    break;
                }
            }
            Source::Csv(Box::new(Csv {
                reader,
                name: path.display().to_string(),
                header,
                lines_done: 0,
                bytes_done,
                total_bytes,
                started: false,
                eof: false,
            }))
        };
        Ok(TableChunks {
            source,
            rows_per_chunk,
            rows_done: 0,
        })
    }

    /// The next part, or `None` after the last.
    pub fn next_chunk(&mut self) -> Result<Option<Table>> {
        let t = match &mut self.source {
            Source::Parquet {
                path,
                total,
                started,
            } => {
                // The first part always goes through, so that a file with no rows says so as
                // a whole read does.
                if *started && self.rows_done >= *total {
                    return Ok(None);
                }
                *started = true;
                let len = self.rows_per_chunk.min(*total - self.rows_done);
                Table::read_parquet_rows(path, self.rows_done, len)?
            }
            Source::Csv(csv) => match csv.next(self.rows_per_chunk, self.rows_done)? {
                Some(t) => t,
                None => return Ok(None),
            },
        };
        self.rows_done += t.n_rows();
        Ok(Some(t))
    }

    /// How far the reading is: `(done, total)` in bytes for CSV, in rows for Parquet.
    pub fn progress(&self) -> (u64, u64) {
        match &self.source {
            Source::Csv(c) => (c.bytes_done, c.total_bytes),
            Source::Parquet { total, .. } => (self.rows_done as u64, *total as u64),
        }
    }

    /// Rows handed out so far.
    pub fn rows_done(&self) -> usize {
        self.rows_done
    }
}

impl Csv {
    fn next(&mut self, rows: usize, rows_before: usize) -> Result<Option<Table>> {
        if self.eof && self.started {
            return Ok(None);
        }
        let io = |e| Error::io(&self.name, e).with_kind(ErrorKind::Data);
        let mut body = Vec::new();
        let (mut records, mut lines, mut in_quotes) = (0usize, 0usize, false);
        let mut line = Vec::new();
        while records < rows || in_quotes {
            line.clear();
            let n = self.reader.read_until(b'\n', &mut line).map_err(io)?;
            if n == 0 {
                self.eof = true;
                break;
            }
            self.bytes_done += n as u64;
            lines += 1;
            // A doubled quote inside a quoted field flips twice: parity says whether the
            // record goes on past this newline.
            let quotes = line.iter().filter(|&&b| b == b'"').count();
            let blank = !in_quotes && line.iter().all(u8::is_ascii_whitespace);
            in_quotes ^= quotes % 2 == 1;
            body.extend_from_slice(&line);
            if !in_quotes && !blank {
                records += 1;
            }
        }
        let first = !self.started;
        self.started = true;
        // Only blank lines left: done (the first part always goes through, so that a file
        // with no rows says so as a whole read does).
        if records == 0 && !first {
            return Ok(None);
        }
        let lines_before = self.lines_done;
        self.lines_done += lines;
        let mut bytes = Vec::with_capacity(self.header.len() + body.len() + 1);
        bytes.extend_from_slice(&self.header);
        if !self.header.ends_with(b"\n") && !body.is_empty() {
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(&body);
        Table::from_csv_chunk(bytes, &self.name, rows_before, lines_before).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    fn all(path: &Path, rows: usize) -> Vec<Table> {
        let mut c = TableChunks::open(path, rows).unwrap();
        let mut out = Vec::new();
        while let Some(t) = c.next_chunk().unwrap() {
            out.push(t);
        }
        out
    }

    #[test]
    fn chunks_hold_the_rows_of_a_whole_read_in_order() {
        let mut text = String::from("id,x,note\r\n");
        for i in 0..103 {
            let note = if i % 10 == 0 {
                format!("\"a \"\"q\"\"\nb{i}\"")
            } else {
                format!("n{i}")
            };
            text.push_str(&format!("{i},{},{note}\r\n", i * 2));
        }
        let (_d, p) = csv(&text);
        let whole = Table::read_csv(&p).unwrap();
        for rows in [1, 7, 50, 103, 1000] {
            let parts = all(&p, rows);
            assert_eq!(parts.len(), 103usize.div_ceil(rows), "{rows}");
            let mut ids = Vec::new();
            let mut notes = Vec::new();
            for t in &parts {
                ids.extend(
                    t.column("id")
                        .unwrap()
                        .into_iter()
                        .map(|v| v.map(String::from)),
                );
                notes.extend(
                    t.column("note")
                        .unwrap()
                        .into_iter()
                        .map(|v| v.map(String::from)),
                );
            }
            let want = |c| {
                whole
                    .column(c)
                    .unwrap()
                    .into_iter()
                    .map(|v| v.map(String::from))
                    .collect::<Vec<_>>()
            };
            assert_eq!(ids, want("id"));
            assert_eq!(notes, want("note"));
        }
    }

    #[test]
    fn errors_name_the_files_lines_and_an_empty_file_says_so() {
        let (_d, p) = csv("a,b\n1,2\n3,4\n5,6,7\n");
        let mut c = TableChunks::open(&p, 2).unwrap();
        assert_eq!(c.next_chunk().unwrap().unwrap().row_offset(), 0);
        let e = c.next_chunk().unwrap_err().to_string();
        assert!(e.ends_with("line 4: has 3 fields, the header has 2"), "{e}");
        let (_d, p) = csv("a,b\n");
        let e = TableChunks::open(&p, 2)
            .unwrap()
            .next_chunk()
            .unwrap_err()
            .to_string();
        assert!(e.contains("has a header but no data rows"), "{e}");
        let (_d, p) = csv("a,b\n1,2\n\n\n");
        assert_eq!(all(&p, 1).len(), 1);
    }
}
