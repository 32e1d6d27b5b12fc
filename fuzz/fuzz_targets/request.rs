//! libFuzzer's entry for the `request` target; the properties are in `conclab_fuzz::request`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| conclab_fuzz::request::check(data));
