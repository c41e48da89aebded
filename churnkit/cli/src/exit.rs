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
            Failure::Step(e) => e.to_string(),
        };
        // One line: the first line of the message, whatever a dependency put after it.
        eprintln!("churnkit: error: {}", msg.lines().next().unwrap_or(&msg));
        ExitCode::from(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
