//! libFuzzer's entry for the `response` target; the properties are in `conclab_fuzz::response`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| conclab_fuzz::response::check(data));
