//! Serving HTTP with a model (`--serve ADDR`, `CONTRACT.md` "Serving"): everything but the
//! model's own way of waiting.
//!
//! - [`exchange`]: one connection's HTTP/1.1, sans I/O — parsing, routing, keep-alive,
//!   pipelining, 400/404/431, the slow-client deadline — driven by every model.
//! - [`stop`]: SIGINT and SIGTERM as a flag and a descriptor to wait on.
//! - [`listen`]: the listening socket, and refusing a connection when descriptors run out.
//! - [`tally`]: the counts, refusals named at most once a second, and the report.
//! - [`loop_conns`]: the connections and timers of the hand-written loops, `epoll` and `ring`.
//! - [`blocking`]: one connection on a blocking socket, and the accept loop, for `serial`,
//!   `procs` and `threads`.

pub mod blocking;
pub mod exchange;
pub mod listen;
pub mod loop_conns;
pub mod stop;
pub mod tally;

pub use exchange::{Counts, Exchange, Step};

/// What every server does before it serves: raise the descriptor limit (each connection is
/// one), then listen on `--serve`'s address.
pub fn open(args: &crate::Args) -> Result<std::net::TcpListener, Box<dyn std::error::Error>> {
    crate::measure::raise_nofile_limit()?;
    Ok(listen(args.serve.expect("serving: --serve was given"))?)
}
pub use listen::listen;
pub use stop::Stop;
pub use tally::{exit, Counters, ServeReport, Totals};
