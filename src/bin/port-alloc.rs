use std::process::ExitCode;

use clap::Parser;
use subunit_tools::cli;
use subunit_tools::commands::port_alloc::{Args, NAME, run};

fn main() -> ExitCode {
    cli::finish(NAME, run(&Args::parse()))
}
