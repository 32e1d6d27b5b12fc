//! The http client's path through io_uring, plain to modern, as the server has its own
//! (`serve/path.rs`): each rung adds one feature to the one below, and results/http's
//! variant table measures what each saves at N = 10,000. Read the plain chain first
//! (`http.rs`): SOCKET, CONNECT, SEND, RECV and CLOSE, each entry submitted when the one
//! before it completes.
//!
//! A request of the workload is a connection of its own that the service closes after its
//! answer (`Connection: close`), and the answer comes in one or two reads. So the multishot
//! RECV, the server's best rung, has nothing to save here: it would keep a RECV posted for
//! the EOF that follows the answer, one more completion a request. The rungs are those that
//! can change a one-shot connection's cost.
//!
//! The client takes the rung named by `CONCLAB_RING_CLIENT_PATH`, else the best.

use crate::ladder::Rung;

/// One rung; each holds every feature of the rungs below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, strum::EnumIter)]
pub enum ClientPath {
    /// The chain, one entry at a time; each RECV into the request's own 512-byte buffer.
    Plain,
    /// A RECV names a buffer group: the kernel takes a buffer from a ring shared with the
    /// loop only when the answer comes (`buffers.rs`). A request waiting on a slow service
    /// holds no buffer, so N = 10,000 requests need as many buffers as answers arrive in a
    /// turn, not 10,000.
    ProvidedBuffers,
    /// SOCKET puts its socket straight into the ring's registered files (a direct descriptor,
    /// Linux 5.19), and the rest of the chain names the slot: no descriptor in the process's
    /// table, and no lookup or reference count of one on each CONNECT, SEND, RECV and CLOSE.
    FixedFiles,
    /// SOCKET, CONNECT, SEND and RECV go to the kernel at once, linked (IOSQE_IO_LINK): each
    /// starts when the one before it succeeds, inside the kernel, without a turn of the
    /// loop between them. Only the slot being known in advance makes this possible: the
    /// request's id is its slot.
    Linked,
}

impl Rung for ClientPath {
    const VARIABLE: &'static str = "CONCLAB_RING_CLIENT_PATH";
    /// results/http's variant table is the judge. A first look, five interleaved rounds on a
    /// quiet machine before the table existed, put the provided buffers first: the fewest
    /// `io_uring_enter` calls, and the steadiest from run to run, for the same wall; the linked
    /// chains entered the ring most often and spent the most system time.
    const BEST: ClientPath = ClientPath::ProvidedBuffers;

    fn name(self) -> &'static str {
        match self {
            ClientPath::Plain => "plain",
            ClientPath::ProvidedBuffers => "provided-buffers",
            ClientPath::FixedFiles => "fixed-files",
            ClientPath::Linked => "linked",
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_rung_has_a_name_of_its_own() {
        assert!(crate::ladder::names_are_distinct::<super::ClientPath>());
    }
}
