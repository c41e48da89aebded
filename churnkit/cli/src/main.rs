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
            // One line: clap's first line, plus the indented lines under it that name what is
            // missing ("  --target <TARGET>"), up to the blank line before "Usage:".
            let text = e.render().to_string();
            let mut lines = text.lines();
            let mut msg = lines
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ")
                .to_string();
            let named: Vec<&str> = lines
                .take_while(|l| l.starts_with("  "))
                .map(str::trim)
                .collect();
            if !named.is_empty() {
                msg = format!("{} {}", msg.trim_end(), named.join(", "));
            }
            let usage = format!("{msg} (see --help)");
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
