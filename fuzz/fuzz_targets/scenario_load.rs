//! `cargo fuzz run scenario_load`: see `cxsync::fuzzing::scenario_load`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cxsync::fuzzing::scenario_load(data));
