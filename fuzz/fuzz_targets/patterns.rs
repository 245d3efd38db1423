#![no_main]
//! Fuzz target `patterns`: see `tests/fuzz/mod.rs` for what it checks.

#[path = "../../tests/fuzz/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::patterns(data));
