//! `cargo fuzz run dlq_record`: see `cxsync::fuzzing::dlq_record`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cxsync::fuzzing::dlq_record(data));
