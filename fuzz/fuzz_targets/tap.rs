#![no_main]
//! Fuzz target `tap`: see `tests/fuzz/mod.rs` for what it checks.

#[path = "../../tests/fuzz/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::tap(data));
