use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use subunit_tools::cli;
use subunit_tools::commands::tags::{Args, NAME, command_line, run};

fn main() -> ExitCode {
    // Tags may start with `-`: they go after a `--` before clap reads them.
    let matches = match cli::matches_from(Args::command(), command_line(std::env::args_os())) {
        Ok(matches) => matches,
        Err(code) => return code,
    };
    match Args::from_arg_matches(&matches) {
        Ok(args) => cli::finish(NAME, run(&args)),
        Err(err) => {
            eprintln!("{NAME}: {}", err.kind());
            ExitCode::from(cli::EXIT_ERROR)
        }
    }
}
