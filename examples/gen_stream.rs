//! Writes a realistic subunit v2 run to stdout, for benchmarks and samples:
//! parallel workers interleaving their tests, tags, attachments, tracebacks,
//! skips and expected failures. With `--tap`, TAP output instead.
//!
//! ```text
//! cargo run --release --example gen_stream -- [--size MIB] [--tests N] [--seed S]
//!     [--workers W] [--chatter PERCENT] [--no-failures] [--attachments PERCENT]
//!     [--unfinished N] [--unfinished-percent PERCENT] [--prefix MIB] [--tap]
//! ```
//!
//! - `--attachments PERCENT`: tests with stdout/stderr attachments (20).
//! - `--unfinished N`: the last N tests start and never finish.
//! - `--unfinished-percent PERCENT`: tests all through the run that start
//!   and never finish (0).
//! - `--prefix MIB`: stop after about MIB, writing the first part of the
//!   run `--size` would write, byte for byte (a slice of the same input).
//! - `--tap`: a TAP stream of `--size` MiB (or `--tests` lines): a plan,
//!   then short `ok N - name` lines, some `not ok` with `#` diagnostics,
//!   `# SKIP` and `# TODO` directives.

use std::io::Write;

#[path = "../tests/common/runs.rs"]
mod runs;

fn main() {
    let mut shape = runs::RunShape {
        tests: 1000,
        ..runs::RunShape::default()
    };
    let mut chatter = 0;
    let mut unfinished_percent = 0;
    let mut prefix = None;
    let mut tap = false;
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
            "--attachments" => shape.attachment_percent = value("--attachments"),
            "--unfinished" => shape.unfinished = value("--unfinished") as usize,
            "--unfinished-percent" => unfinished_percent = value("--unfinished-percent"),
            "--prefix" => prefix = Some((value("--prefix") as usize) << 20),
            "--tap" => tap = true,
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
    let stream = if tap {
        tap_stream(&shape)
    } else {
        // Test ids are made up front, so bound them by the size asked for.
        shape.tests = shape.tests.min(shape.max_bytes / 100);
        if let Some(prefix) = prefix {
            shape.max_bytes = shape.max_bytes.min(prefix);
        }
        if chatter > 0 || unfinished_percent > 0 {
            runs::stream_with(&shape, chatter, unfinished_percent)
        } else {
            runs::stream(&shape)
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if out.write_all(&stream).and_then(|()| out.flush()).is_err() {
        std::process::exit(1);
    }
}

/// TAP as a test script writes it: the plan, then one short line per test.
fn tap_stream(shape: &runs::RunShape) -> Vec<u8> {
    use std::fmt::Write as _;
    const WORDS: &[&str] = &[
        "create", "delete", "list", "show", "update", "resize", "attach", "boot",
    ];
    let mut rng = runs::Rng::new(shape.seed);
    let mut body = String::new();
    let mut n = 0;
    while n < shape.tests && body.len() < shape.max_bytes {
        n += 1;
        let word = rng.pick(WORDS);
        let _ = match rng.below(100) {
            0..=2 => writeln!(
                body,
                "not ok {n} - {word} {n}\n# Failed test at t/{word}.t line {}.\n#   got: 1",
                rng.below(500)
            ),
            3..=4 => writeln!(body, "ok {n} - {word} {n} # SKIP no {word} here"),
            5 => writeln!(body, "not ok {n} - {word} {n} # TODO flaky"),
            _ => writeln!(body, "ok {n} - {word} {n}"),
        };
    }
    format!("TAP version 13\n1..{n}\n{body}").into_bytes()
}

fn usage(message: &str) -> ! {
    eprintln!("gen_stream: {message}");
    std::process::exit(2);
}
