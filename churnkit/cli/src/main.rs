//! The `churnkit` command line: flags (`flags.rs`) become library values (`args.rs`), each
//! subcommand is a few library calls (`commands.rs`), output is `print.rs`, failures map to the
//! exit codes of `exit.rs`.

mod args;
mod commands;
mod exit;
mod flags;
mod print;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match flags::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: print as clap formats them.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            let usage = format!("{} (see --help)", first.trim_start_matches("error: "));
            return exit::Failure::Usage(usage).report();
        }
    };
    let ctx = commands::Ctx {
        quiet: cli.quiet,
        track: !cli.no_track,
        tracker: Default::default(),
    };
    match commands::run(cli.command, &ctx) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => f.report(),
    }
}
