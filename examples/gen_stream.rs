//! Writes a realistic subunit v2 run to stdout, for benchmarks and samples:
//! parallel workers interleaving their tests, tags, attachments, tracebacks,
//! skips and expected failures.
//!
//! ```text
//! cargo run --release --example gen_stream -- [--size MIB] [--tests N] [--seed S]
//!     [--workers W] [--chatter PERCENT] [--no-failures]
//! ```

use std::io::Write;

#[path = "../tests/common/runs.rs"]
mod runs;

fn main() {
    let mut shape = runs::RunShape {
        tests: 1000,
        ..runs::RunShape::default()
    };
    let mut chatter = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage(&format!("{name} needs a number")))
        };
        match arg.as_str() {
            "--size" => {
                let mib = value("--size") as usize;
                shape.max_bytes = mib << 20;
                shape.tests = usize::MAX / 2;
            }
            "--tests" => shape.tests = value("--tests") as usize,
            "--seed" => shape.seed = value("--seed"),
            "--workers" => shape.workers = value("--workers") as usize,
            "--chatter" => chatter = value("--chatter"),
            "--no-failures" => {
                shape.fail_percent = 0;
                shape.uxsuccess_percent = 0;
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if shape.tests == usize::MAX / 2 && shape.max_bytes == usize::MAX {
        usage("give --size or --tests");
    }
    // Test ids are made up front, so bound them by the size asked for.
    shape.tests = shape.tests.min(shape.max_bytes / 100);
    let stream = if chatter > 0 {
        runs::stream_with_chatter(&shape, chatter)
    } else {
        runs::stream(&shape)
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if out.write_all(&stream).and_then(|()| out.flush()).is_err() {
        std::process::exit(1);
    }
}

fn usage(message: &str) -> ! {
    eprintln!("gen_stream: {message}");
    std::process::exit(2);
}
