use std::process::ExitCode;

use subunit_tools::cli;
use subunit_tools::commands::subunit2junitxml::{Args, NAME, run};

fn main() -> ExitCode {
    match cli::parse::<Args>() {
        Ok(args) => cli::finish(NAME, run(&args)),
        Err(code) => code,
    }
}
