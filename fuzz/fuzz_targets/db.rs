//! libFuzzer's entry for the `db` target; the properties are in `conclab_fuzz::db`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| conclab_fuzz::db::check(data));
