//! `cargo fuzz run retry_after`: see `cxsync::fuzzing::retry_after`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cxsync::fuzzing::retry_after(data));
