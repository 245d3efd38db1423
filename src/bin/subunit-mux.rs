use std::process::ExitCode;

use clap::CommandFactory;
use subunit_tools::cli;
use subunit_tools::commands::mux::{Args, NAME, run};

fn main() -> ExitCode {
    // Inputs and --command are numbered in command-line order, so run()
    // needs the matches.
    match cli::matches(Args::command()) {
        Ok(matches) => cli::finish(NAME, run(&matches)),
        Err(code) => code,
    }
}
