//! The server's path through io_uring, plain to modern: each rung adds one feature to the one
//! before, so that what each costs and saves is measured alone (results/serve, "The io_uring
//! path"). Read the plain path first: an ACCEPT, then per connection a RECV into its own
//! buffer and a SEND, one entry at a time, as a readiness loop would do it.
//!
//! The server takes the rung named by `CONCLAB_RING_SERVE_PATH` (the benchmark's variant
//! table sets it), else the best (`Rung::BEST` below); `ladder.rs` says how a ladder reads.

use crate::ladder::Rung;

/// One rung of the ladder; each holds every feature of the rungs below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, strum::EnumIter)]
pub enum ServePath {
    /// One ACCEPT at a time, posted again after each connection; a RECV into the
    /// connection's own 4 KiB buffer whenever the exchange asks to read; a SEND of its answer.
    Plain,
    /// One ACCEPT entry completes once per connection (Linux 5.19).
    MultishotAccept,
    /// A RECV names a buffer group instead of a buffer: the kernel takes a buffer from a ring
    /// the loop shares with it only when bytes come (Linux 5.19), and the loop gives it back
    /// once the bytes are copied. An idle connection holds no buffer.
    ProvidedBuffers,
    /// One RECV entry per connection completes once per arrival of bytes, for the
    /// connection's life (Linux 6.0): no entry to post again after each request.
    MultishotRecv,
    /// Each accepted socket goes straight into the ring's table of registered files (a
    /// direct descriptor): no file descriptor in the process, and no lookup or reference
    /// count of one on each RECV and SEND (Linux 5.19).
    FixedFiles,
}

impl Rung for ServePath {
    /// results/serve's variant table measured the multishot RECV as the one rung that saves
    /// kernel time a request; registered files on top of it saved nothing the rounds could
    /// tell from noise, and would cost every connection its TCP_NODELAY of its own (a direct
    /// descriptor takes no setsockopt) and the server the `/proc/PID/fd` view of its sockets.
    /// So: the multishot RECV.
    const BEST: ServePath = ServePath::MultishotRecv;

    const VARIABLE: &'static str = "CONCLAB_RING_SERVE_PATH";

    fn name(self) -> &'static str {
        match self {
            ServePath::Plain => "plain",
            ServePath::MultishotAccept => "multishot-accept",
            ServePath::ProvidedBuffers => "provided-buffers",
            ServePath::MultishotRecv => "multishot-recv",
            ServePath::FixedFiles => "fixed-files",
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_rung_has_a_name_of_its_own() {
        assert!(crate::ladder::names_are_distinct::<super::ServePath>());
    }
}
