//! `cargo fuzz run yaml`: see `cxsync::fuzzing::yaml`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cxsync::fuzzing::yaml(data));
