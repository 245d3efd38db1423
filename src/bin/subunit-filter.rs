use std::process::ExitCode;

use clap::CommandFactory;
use subunit_tools::cli;
use subunit_tools::commands::filter::{Args, NAME, run};

fn main() -> ExitCode {
    // The switches are read left to right, so run() needs the matches.
    match cli::matches(Args::command()) {
        Ok(matches) => cli::finish(NAME, run(&matches)),
        Err(code) => code,
    }
}
