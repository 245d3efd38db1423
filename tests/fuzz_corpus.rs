//! Replays every checked-in fuzz corpus (`tests/data/fuzz/TARGET/`) through
//! the fuzz targets' checks, so CI runs them without a fuzzer or nightly.
//! A crash the fuzzer finds is added to its target's corpus, and so becomes
//! a regression test here.

mod common;
mod fuzz;

use std::fs;
use std::path::Path;

#[test]
fn every_corpus_file_passes_its_target_s_checks() {
    let root = common::data_dir().join("fuzz");
    let mut total = 0;
    for (target, check) in fuzz::TARGETS {
        let dir = root.join(target);
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(files.len() >= 5, "{target}: only {} seeds", files.len());
        for file in &files {
            let data = fs::read(file).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(
                outcome.is_ok(),
                "{target}: {} fails its check",
                file.display()
            );
        }
        total += files.len();
    }
    eprintln!("replayed {total} corpus files");
}

#[test]
fn every_target_has_a_fuzz_binary() {
    let manifest =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/Cargo.toml"));
    // A packaged crate has no fuzz/ (it is a package of its own).
    let Ok(manifest) = manifest else { return };
    for (target, _) in fuzz::TARGETS {
        assert!(
            manifest.contains(&format!("path = \"fuzz_targets/{target}.rs\"")),
            "fuzz/Cargo.toml lacks {target}"
        );
        let source = fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fuzz/fuzz_targets/{target}.rs")),
        )
        .unwrap();
        assert!(
            source.contains(&format!("checks::{target}(")),
            "{target}.rs does not call its check"
        );
    }
}
