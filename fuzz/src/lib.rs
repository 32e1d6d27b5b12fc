//! Fuzz targets for the three parsers in conclab that read bytes from strangers.
//!
//! Each module holds one target's properties as a plain function, `check(data)`, which
//! panics when a property fails. libFuzzer calls it from `fuzz_targets/` (`make fuzz`,
//! coverage-guided), and `tests/replay.rs` calls it on every input of the committed corpus
//! and on every input that once failed (`make test`). A target asserts more than "no
//! panic":
//!
//! - **bounds**: the parser never holds more bytes than its stated bound;
//! - **splits**: the same bytes fed whole and in pieces of the fuzzer's choosing (one byte
//!   at a time among them) give the same result;
//! - **re-encoding**: what a parser accepts, written out again, parses to the same fields.
//!
//! The fourth property, agreement with an independent implementation, needs Python's h11,
//! so it runs outside the fuzzer: `verdicts` prints what our parsers made of every corpus
//! input and `differential.py` compares it with h11 (see `make fuzz`).
//!
//! # Layout
//!
//! - [`split`]: the first byte of an input chooses how the rest is cut into reads.
//! - [`response`]: the http client's `ResponseParser` (bytes from any server).
//! - [`request`]: the server's `Exchange` (bytes from any client).
//! - [`db`]: the PostgreSQL `Session` (bytes from any server claiming to be PostgreSQL).

pub mod db;
pub mod request;
pub mod response;
pub mod split;
