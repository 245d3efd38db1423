#![no_main]
//! Fuzz target `v1_parse`: see `tests/fuzz/mod.rs` for what it checks.

#[path = "../../tests/fuzz/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::v1_parse(data));
