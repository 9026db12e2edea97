//! `cargo fuzz run spec_load`: see `cxsync::fuzzing::spec_load`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cxsync::fuzzing::spec_load(data));
