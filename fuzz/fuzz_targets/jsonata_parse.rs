//! `cargo fuzz run jsonata_parse`: see `cxsync::fuzzing::jsonata_parse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cxsync::fuzzing::jsonata_parse(data));
