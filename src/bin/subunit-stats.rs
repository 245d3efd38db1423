use std::process::ExitCode;

use clap::Parser;
use subunit_tools::cli;
use subunit_tools::commands::stats::{Args, NAME, run};

fn main() -> ExitCode {
    cli::finish(NAME, run(&Args::parse()))
}
