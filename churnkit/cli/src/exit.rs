//! Exit codes (documented in `--help`) and the one-line error report.

use churnkit::{Error, ErrorKind, Transience};
use std::process::ExitCode;

/// Why the CLI failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The command line itself is wrong (exit 2).
    Usage(String),
    /// A library step failed.
    Step(Error),
    /// `monitor` found drift: its outputs are written, and the exit code says so (10).
    Drift(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Step(e)
    }
}

impl Failure {
    /// The exit status for this failure (see `flags::EXIT_CODES`).
    pub(crate) fn code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Drift(_) => 10,
            Failure::Step(e) => match e.kind() {
                ErrorKind::Data | ErrorKind::Schema => 3,
                ErrorKind::Model | ErrorKind::Params => 4,
                ErrorKind::Io => 5,
                ErrorKind::Tracking(Transience::Transient) => 7,
                ErrorKind::Tracking(_) => 6,
                _ => 1,
            },
        }
    }

    /// Print the error as one line on stderr and return the exit code.
    pub(crate) fn report(&self) -> ExitCode {
        let msg = match self {
            Failure::Usage(m) => m.clone(),
            Failure::Step(e) => flag_words(&e.to_string()),
            Failure::Drift(m) => {
                eprintln!("churnkit: drift: {m}");
                return ExitCode::from(self.code());
            }
        };
        // One line: the first line of the message, whatever a dependency put after it.
        eprintln!("churnkit: error: {}", msg.lines().next().unwrap_or(&msg));
        ExitCode::from(self.code())
    }
}

/// A library message in the command line's words: the library names its options ("the `keep`
/// option", "the `max_depth` option"), the CLI their flags (`--keep`, `--max-depth`).
pub(crate) fn flag_words(msg: &str) -> String {
    const OPEN: &str = "the `";
    const CLOSE: &str = "` option";
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find(OPEN) {
        let after = &rest[i + OPEN.len()..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with(CLOSE) {
            out.push_str(&rest[..i]);
            out.push_str("--");
            out.push_str(&after[..name_len].replace('_', "-"));
            rest = &after[name_len + CLOSE.len()..];
        } else {
            out.push_str(&rest[..i + OPEN.len()]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_options_become_flags() {
        assert_eq!(
            flag_words("to use it, give the `keep` option Surname"),
            "to use it, give --keep Surname"
        );
        assert_eq!(
            flag_words("try a smaller value of the `max_depth` option or a larger one of the `min_samples_leaf` option"),
            "try a smaller value of --max-depth or a larger one of --min-samples-leaf"
        );
        // Anything else is left as it is.
        assert_eq!(flag_words("the `x` column, the `"), "the `x` column, the `");
    }

    #[test]
    fn kinds_map_to_the_documented_codes() {
        let code = |e: Error| Failure::Step(e).code();
        assert_eq!(code(Error::data("x")), 3);
        assert_eq!(code(Error::schema("x")), 3);
        assert_eq!(code(Error::model("x")), 4);
        assert_eq!(code(Error::params("x")), 4);
        assert_eq!(code(Error::io("f", std::io::Error::other("disk full"))), 5);
        assert_eq!(code(Error::rejected("409")), 6);
        assert_eq!(code(Error::transient("down")), 7);
        assert_eq!(code(Error::plot("x")), 1);
        assert_eq!(Failure::Usage("bad".into()).code(), 2);
        // A local-disk failure while tracking is a file-system error, not a rejection.
        let disk = Error::io("mlruns/x/run.json", std::io::Error::other("read-only"));
        assert_eq!(code(disk), 5);
    }
}
