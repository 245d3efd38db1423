use std::process::ExitCode;

use clap::CommandFactory;
use subunit_tools::cli;
use subunit_tools::commands::mux::{Args, NAME, run};

fn main() -> ExitCode {
    // Inputs and --command are numbered in command-line order, so run()
    // needs the matches.
    cli::finish(NAME, run(&Args::command().get_matches()))
}
