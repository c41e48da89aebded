//! File output that is all-or-nothing, and content fingerprints. Generic helpers: which files a
//! step writes, and where, is decided by the layers above (`churnkit::layout`).
//!
//! Every command writes its outputs through [`StagedFiles`]: each file goes to a hidden temporary
//! file in its destination directory and is renamed into place only when the whole command has
//! succeeded. A failure part-way leaves the previous outputs untouched and no temporary files.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A set of output files written to temporaries and renamed into place together by
/// [`StagedFiles::commit`]. Dropped without commit, it deletes its temporaries.
///
/// ```
/// let tmp = tempfile::tempdir().unwrap();
/// let dir = tmp.path().join("out");
/// let mut out = churnkit_core::io::StagedFiles::new();
/// out.write(dir.join("a.txt"), |w| std::io::Write::write_all(w, b"hello")).unwrap();
/// assert!(!dir.join("a.txt").exists()); // nothing visible before commit
/// out.commit().unwrap();
/// assert_eq!(std::fs::read(dir.join("a.txt")).unwrap(), b"hello");
/// ```
#[derive(Debug, Default)]
pub struct StagedFiles {
    staged: Vec<(PathBuf, PathBuf)>,
}

impl StagedFiles {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Write `path`'s future content with `fill`, into a temporary beside it.
    pub fn write<F>(&mut self, path: impl AsRef<Path>, fill: F) -> Result<()>
    where
        F: FnOnce(&mut BufWriter<File>) -> io::Result<()>,
    {
        let path = path.as_ref();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        // Record the temporary before writing so that Drop removes it even if writing fails.
        self.staged.push((tmp.clone(), path.to_path_buf()));
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut w = BufWriter::new(file);
        fill(&mut w).map_err(|e| Error::io(path, e))?;
        let file = w
            .into_inner()
            .map_err(|e| Error::io(path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(path, e))?;
        Ok(())
    }

    /// Stage `bytes` as the content of `path`.
    pub fn write_bytes(&mut self, path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
        self.write(path, |w| w.write_all(bytes))
    }

    /// Paths that will be written, in staging order.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.staged.iter().map(|(_, p)| p.as_path())
    }

    /// Rename every temporary into place.
    pub fn commit(mut self) -> Result<Vec<PathBuf>> {
        let staged = std::mem::take(&mut self.staged);
        let mut done = Vec::with_capacity(staged.len());
        for (i, (tmp, dest)) in staged.iter().enumerate() {
            if let Err(e) = fs::rename(tmp, dest) {
                for (t, _) in &staged[i..] {
                    let _ = fs::remove_file(t);
                }
                return Err(Error::io(dest, e));
            }
            done.push(dest.clone());
        }
        Ok(done)
    }
}

impl Drop for StagedFiles {
    fn drop(&mut self) {
        for (tmp, _) in &self.staged {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// Write one file atomically (temporary + rename).
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let mut s = StagedFiles::new();
    s.write_bytes(path, bytes)?;
    s.commit().map(|_| ())
}

/// Incremental SHA-256, for hashing content that is not one buffer (a table's cells).
#[derive(Clone, Default)]
pub struct Fingerprint(Sha256);

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprint")
    }
}

impl Fingerprint {
    /// An empty hash.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Lower-case hex digest.
    pub fn hex(self) -> String {
        hex(&self.0.finalize())
    }
}

/// Lower-case hex SHA-256 of bytes.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_stage_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        {
            let mut s = StagedFiles::new();
            s.write_bytes(d.path().join("x.csv"), b"1").unwrap();
        }
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0);
    }

    #[test]
    fn failed_fill_leaves_nothing_and_keeps_old_file() {
        let d = tempfile::tempdir().unwrap();
        let x = d.path().join("x.csv");
        write_atomic(&x, b"old").unwrap();
        let mut s = StagedFiles::new();
        let err = s
            .write(&x, |w| {
                w.write_all(b"partial")?;
                Err(io::Error::other("boom"))
            })
            .unwrap_err();
        assert!(err.to_string().contains("x.csv"), "{err}");
        drop(s);
        assert_eq!(fs::read(&x).unwrap(), b"old");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn sha256_matches_known_vectors() {
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut f = Fingerprint::new();
        f.update(b"a");
        f.update(b"bc");
        assert_eq!(f.hex(), sha256_bytes(b"abc"));
    }
}
