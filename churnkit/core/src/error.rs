//! One error type for all of churnkit, in the manner of `polars-error`: a [`ErrorKind`] a caller
//! can act on (the CLI maps it to an exit code), a one-line message, and where the problem is
//! (file, column, line or row) when that is known.
//!
//! ```
//! use churnkit_core::error::{Error, ErrorKind};
//! let e = Error::data("'forty' is not a number").in_file("customers.csv").in_column("Age").at_line(42);
//! assert_eq!(e.kind(), ErrorKind::Data);
//! assert_eq!(e.to_string(), "customers.csv: column 'Age', line 42: 'forty' is not a number");
//! ```

use std::fmt;
use std::path::Path;

/// What went wrong, in terms of what the caller can do about it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input data cannot be used: a bad cell, a missing column, a target with three classes.
    Data,
    /// A schema contradicts itself or is malformed.
    Schema,
    /// A hyperparameter or option is out of range.
    Params,
    /// A model or fitted preprocessor is missing, corrupt, or does not match the data.
    Model,
    /// Reading or writing a local file failed.
    Io,
    /// A chart could not be drawn.
    Plot,
    /// Experiment tracking failed on the server's side or on the way to it.
    Tracking(Transience),
}

/// Whether a tracking failure is worth retrying later.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transience {
    /// The server could not be reached or failed (5xx): keep the run and sync it later.
    Transient,
    /// The server rejected the request (4xx) or answered nonsense: retrying will not help.
    Permanent,
}

/// Where in the input a problem is.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// 1-based line of a file; the header is line 1.
    Line(usize),
    /// 0-based row of an in-memory table (as polars counts).
    Row(usize),
}

/// A churnkit error: kind, message and context. One pointer wide, so `Result`s stay small.
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    message: String,
    file: Option<String>,
    column: Option<String>,
    position: Option<Position>,
    code: Option<String>,
    status: Option<u16>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// Return early with an [`Error`] of one kind: `bail!(params, "max_depth {d} is not positive")`
/// is `return Err(Error::params(format!(..)))`. The kind is one of the message-only constructors
/// (`data`, `schema`, `params`, `model`, `plot`, `transient`, `rejected`); after the kind come
/// `format!`'s arguments, or one expression that is the message.
///
/// ```
/// use churnkit_core::{bail, Result};
/// fn trees(n: usize) -> Result<usize> {
///     if n == 0 {
///         bail!(params, "n_estimators must be at least 1, got {n}");
///     }
///     Ok(n)
/// }
/// assert_eq!(trees(0).unwrap_err().to_string(), "n_estimators must be at least 1, got 0");
/// ```
#[macro_export]
macro_rules! bail {
    ($kind:ident, $fmt:literal $(, $arg:expr)* $(,)?) => {
        return ::std::result::Result::Err($crate::Error::$kind(::std::format!($fmt $(, $arg)*)))
    };
    ($kind:ident, $message:expr $(,)?) => {
        return ::std::result::Result::Err($crate::Error::$kind($message))
    };
}

/// [`bail!`] unless `cond` holds: `ensure!(n > 0, params, "n_estimators must be positive")`.
///
/// ```
/// use churnkit_core::{ensure, ErrorKind, Result};
/// fn share(v: f64) -> Result<f64> {
///     ensure!((0.0..=1.0).contains(&v), params, "{v} is not a share");
///     Ok(v)
/// }
/// assert_eq!(share(2.0).unwrap_err().kind(), ErrorKind::Params);
/// ```
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $kind:ident, $($rest:tt)+) => {
        if !$cond {
            $crate::bail!($kind, $($rest)+);
        }
    };
}

/// `Result` with churnkit's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `message` and no context yet.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            message: message.into(),
            file: None,
            column: None,
            position: None,
            code: None,
            status: None,
            source: None,
        }))
    }

    /// [`ErrorKind::Data`].
    pub fn data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Data, message)
    }

    /// [`ErrorKind::Schema`].
    pub fn schema(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Schema, message)
    }

    /// [`ErrorKind::Params`].
    pub fn params(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Params, message)
    }

    /// [`ErrorKind::Model`].
    pub fn model(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Model, message)
    }

    /// [`ErrorKind::Plot`].
    pub fn plot(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Plot, format!("chart: {}", message.into()))
    }

    /// [`ErrorKind::Io`] for `path`, keeping the OS error as the source.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        let mut e = Self::new(ErrorKind::Io, source.to_string());
        e.0.file = Some(path.as_ref().display().to_string());
        e.0.source = Some(Box::new(source));
        e
    }

    /// A tracking failure worth retrying later (unreachable server, 5xx).
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Tracking(Transience::Transient), message)
    }

    /// A tracking failure that retrying will not fix (a 4xx rejection, a bad answer).
    pub fn rejected(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Tracking(Transience::Permanent), message)
    }

    /// Set the file (or other named source) the problem is in.
    pub fn in_file(mut self, file: impl fmt::Display) -> Self {
        self.0.file = Some(file.to_string());
        self
    }

    /// Set the column.
    pub fn in_column(mut self, column: impl Into<String>) -> Self {
        self.0.column = Some(column.into());
        self
    }

    /// Set the 1-based file line.
    pub fn at_line(mut self, line: usize) -> Self {
        self.0.position = Some(Position::Line(line));
        self
    }

    /// Set the 0-based row of an in-memory table.
    pub fn at_row(mut self, row: usize) -> Self {
        self.0.position = Some(Position::Row(row));
        self
    }

    /// Set a position.
    pub fn at(mut self, position: Option<Position>) -> Self {
        self.0.position = position;
        self
    }

    /// Attach a machine-readable code (e.g. MLflow's `RESOURCE_DOES_NOT_EXIST`).
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.0.code = Some(code.into());
        self
    }

    /// Attach an HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.0.status = Some(status);
        self
    }

    /// Attach the underlying error.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    /// Put `before` in front of the message (e.g. which tree of a model a problem is in).
    pub fn prefixed(mut self, before: impl fmt::Display) -> Self {
        self.0.message = format!("{before}: {}", self.0.message);
        self
    }

    /// Replace the kind, keeping everything else (e.g. an I/O error reading a model file).
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.0.kind = kind;
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The message without context.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The file, if known.
    pub fn file(&self) -> Option<&str> {
        self.0.file.as_deref()
    }

    /// The column, if known.
    pub fn column(&self) -> Option<&str> {
        self.0.column.as_deref()
    }

    /// The line or row, if known.
    pub fn position(&self) -> Option<Position> {
        self.0.position
    }

    /// The machine-readable code, if any (MLflow's `error_code`).
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    /// The HTTP status, if the error came from a server.
    pub fn http_status(&self) -> Option<u16> {
        self.0.status
    }

    /// True for tracking failures worth retrying later.
    pub fn is_transient(&self) -> bool {
        self.0.kind == ErrorKind::Tracking(Transience::Transient)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.0.file {
            write!(f, "{file}: ")?;
        }
        let mut located = false;
        if let Some(c) = &self.0.column {
            write!(f, "column '{c}'")?;
            located = true;
        }
        if let Some(p) = self.0.position {
            if located {
                f.write_str(", ")?;
            }
            match p {
                Position::Line(n) => write!(f, "line {n}")?,
                Position::Row(n) => write!(f, "row {n}")?,
            }
            located = true;
        }
        if located {
            f.write_str(": ")?;
        }
        f.write_str(&self.0.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({:?}: {self})", self.0.kind)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<polars::error::PolarsError> for Error {
    fn from(e: polars::error::PolarsError) -> Self {
        // polars' messages can span lines (hints); churnkit's errors are one line.
        let text = e.to_string();
        Error::data(format!(
            "polars: {}",
            text.lines().next().unwrap_or_default()
        ))
    }
}

impl From<linfa::Error> for Error {
    fn from(e: linfa::Error) -> Self {
        Error::model(format!("decision tree: {e}"))
    }
}

/// The most items a message lists.
pub const MAX_LISTED: usize = 10;

/// `a, b, c` for at most `max` items (never more than [`MAX_LISTED`]), then `... (N more)`:
/// long lists in messages stay short.
///
/// ```
/// let names = ["a", "b", "c", "d"];
/// assert_eq!(churnkit_core::error::few(&names, 2), "a, b, ... (2 more)");
/// assert_eq!(churnkit_core::error::few(&names, 4), "a, b, c, d");
/// let many: Vec<String> = (0..30).map(|i| i.to_string()).collect();
/// assert!(churnkit_core::error::few(&many, 50).ends_with("9, ... (20 more)"));
/// ```
pub fn few<S: AsRef<str>>(items: &[S], max: usize) -> String {
    let max = max.min(MAX_LISTED);
    let shown: Vec<&str> = items.iter().take(max).map(AsRef::as_ref).collect();
    let mut s = shown.join(", ");
    if items.len() > max {
        s.push_str(&format!(", ... ({} more)", items.len() - max));
    }
    s
}

/// The names among `candidates` closest to `name` (a typo, another case, a part of the name),
/// best first, at most `k`; none when nothing is close.
///
/// ```
/// let cols = ["Age", "Balance", "Geography", "Exited"];
/// assert_eq!(churnkit_core::error::closest(&cols, "Agee", 3), ["Age"]);
/// assert_eq!(churnkit_core::error::closest(&cols, "geo", 3), ["Geography"]);
/// assert!(churnkit_core::error::closest(&cols, "Salary", 3).is_empty());
/// ```
pub fn closest<'a, S: AsRef<str>>(candidates: &'a [S], name: &str, k: usize) -> Vec<&'a str> {
    let want = name.to_lowercase();
    let mut scored: Vec<(usize, &str)> = candidates
        .iter()
        .map(AsRef::as_ref)
        .filter_map(|c| {
            let low = c.to_lowercase();
            let d = edit_distance(&low, &want);
            let close = d <= (want.chars().count() / 3).max(1)
                || (want.len() >= 3 && low.contains(&want))
                || (low.len() >= 3 && want.contains(&low));
            close.then_some((d, c))
        })
        .collect();
    scored.sort_by_key(|&(d, c)| (d, c.len()));
    scored.into_iter().take(k).map(|(_, c)| c).collect()
}

/// "no column 'x'; closest: 'a', 'b'", or the first columns when none is close.
pub fn no_column<S: AsRef<str>>(name: &str, columns: &[S]) -> String {
    let near = closest(columns, name, 3);
    if near.is_empty() {
        format!("no column '{name}' (columns: {})", few(columns, 8))
    } else {
        let near: Vec<String> = near.iter().map(|c| format!("'{c}'")).collect();
        format!("no column '{name}'; closest: {}", near.join(", "))
    }
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != b[j]))
                .min(row[j] + 1)
                .min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_puts_context_before_the_message() {
        assert_eq!(
            Error::schema("no feature columns").to_string(),
            "no feature columns"
        );
        assert_eq!(
            Error::data("blank target value")
                .in_column("Churn")
                .at_row(3)
                .to_string(),
            "column 'Churn', row 3: blank target value"
        );
        assert_eq!(
            Error::model("not found").in_file("m.json").to_string(),
            "m.json: not found"
        );
        let io = Error::io("x/y.csv", std::io::Error::other("disk full"));
        assert_eq!(io.kind(), ErrorKind::Io);
        assert_eq!(io.to_string(), "x/y.csv: disk full");
        assert!(std::error::Error::source(&io).is_some());
    }

    #[test]
    fn transience_is_only_for_tracking() {
        assert!(Error::transient("down").is_transient());
        assert!(!Error::rejected("409").is_transient());
        assert!(!Error::io("a", std::io::Error::other("b")).is_transient());
        let e = Error::rejected("bad")
            .with_code("INVALID_PARAMETER_VALUE")
            .with_status(400);
        assert_eq!(
            (e.code(), e.http_status()),
            (Some("INVALID_PARAMETER_VALUE"), Some(400))
        );
    }
}
