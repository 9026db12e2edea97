//! `cargo fuzz run transform_eval`: see `cxsync::fuzzing::transform_eval`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cxsync::fuzzing::transform_eval(data));
