//! The crawl on an async runtime's tasks — `tokio`'s, `uring`'s and `monoio`'s alike: one task owns the
//! frontier (the crawl's dispatcher, below), and every request is a task of its own that
//! fetches its URL, parses the page where it ran (on one of tokio's workers; on uring's one
//! thread), and sends back what it found. `--workers` bounds the tasks in flight and
//! `--per-host` the connections to an origin, both in the crawl; a kept-alive connection goes
//! back to the dispatcher with the result, for its origin's next URL. The dispatcher waits
//! on the results' channel, or until a retry's time comes.
//!
//! The models differ in how a socket moves bytes, and in whose timer waits: each names its
//! [`Wire`] (and, through it, its [`Timer`]) to [`fetch`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use workload::crawl::blocking::Churn;
use workload::crawl::{request, Crawl, Failure, Fetch, Fetched, Origin, MAX_BODY};
use workload::http::{Response, ResponseParser};
use workload::{Args, Runner, Tally, TaskError};

use crate::wire::Wire;
use crate::Timer;

/// What a fetch's task sends back: its fetch, what came of it (parsed where it ran), the
/// connection if it stays open, the connections it opened and closed, and where it ran.
pub struct Back<C> {
    pub fetch: Fetch,
    pub fetched: Fetched,
    pub kept: Option<C>,
    pub churn: Churn,
    pub runner: Runner,
}

/// Crawl `args`' web: `spawn` starts a task for each fetch, given its origin, an idle
/// connection to it if there is one, and where to send its [`Back`]; the task runs [`fetch`].
pub async fn run<W: Wire + 'static>(
    args: &'static Args,
    tally: &mut Tally,
    mut spawn: impl FnMut(Fetch, Origin, Option<Kept<W>>, UnboundedSender<Back<Kept<W>>>),
) {
    let mut crawl = Crawl::new(args);
    let mut idle: HashMap<usize, Vec<Kept<W>>> = HashMap::new();
    let (tx, mut rx) = unbounded_channel();
    loop {
        while let Some(fetch) = crawl.next(Instant::now()) {
            let origin = crawl.origin(fetch.origin).clone();
            let reused = idle.get_mut(&fetch.origin).and_then(Vec::pop);
            spawn(fetch, origin, reused, tx.clone());
        }
        if crawl.is_over() {
            break;
        }
        let back = match crawl.next_retry() {
            Some(at) => tokio::select! {
                back = rx.recv() => back,
                () = W::Timer::sleep_until(at) => None,
            },
            None => rx.recv().await,
        };
        if let Some(Back { fetch, fetched, kept, churn, runner }) = back {
            let at = fetch.origin;
            crawl.churned(at, churn);
            if let Some(connection) = kept {
                idle.entry(at).or_default().push(connection);
            }
            crawl.finish(fetch, fetched, Instant::now()).record(tally, runner);
        }
    }
    crawl.end(tally);
}

/// Why an exchange on a connection gave no whole response: what it means, and whether not
/// one byte of an answer had come (a kept-alive connection the server had closed).
pub type NoAnswer = (Fetched, bool);

/// A connection kept alive for its origin's next URL, and the address its errors name.
pub struct Kept<W> {
    wire: W,
    addr: SocketAddr,
}

/// Fetch `fetch` from `origin` within `timeout`, on `reused` if given or a new connection. The
/// page is parsed here, in the task. A reused connection the server had closed is replaced
/// once by a new one, as every HTTP client does; that is not a retry.
pub async fn fetch<W: Wire>(
    fetch: Fetch,
    origin: Origin,
    reused: Option<Kept<W>>,
    timeout: Duration,
) -> Back<Kept<W>> {
    let mut churn = Churn::default();
    // Whether the future holds an open connection: one it was dropped with is closed.
    let mut holding = reused.is_some();
    let whole = async {
        let Some(addr) = origin.addr else {
            let why = TaskError::new(format!("{}: cannot resolve {}", fetch.url, origin.authority));
            return (Fetched::Failed(Failure::Refused, why), None);
        };
        let mut connection = reused;
        loop {
            let was_reused = connection.is_some();
            let c = match connection.take() {
                Some(c) => c,
                None => match W::connect(addr).await {
                    Ok(wire) => {
                        churn.opened += 1;
                        holding = true;
                        Kept { wire, addr }
                    }
                    Err(e) => return (Fetched::from_io(addr, "connect to", &e), None),
                },
            };
            match exchange(c, request(&fetch.url, &origin)).await {
                Err((_, true)) if was_reused => {
                    churn.closed += 1;
                    holding = false;
                }
                Err((fetched, _)) => {
                    churn.closed += 1;
                    holding = false;
                    return (fetched, None);
                }
                Ok((response, c)) => {
                    let keep = !response.close;
                    if !keep {
                        churn.closed += 1;
                    }
                    holding = false;
                    return (Fetched::Answer(response).parsed(), keep.then_some(c));
                }
            }
        }
    };
    let (fetched, kept) = match W::Timer::timeout(timeout, whole).await {
        Some(done) => done,
        None => {
            // The connection it held, if any, was dropped with the future: closed.
            if holding {
                churn.closed += 1;
            }
            let why = TaskError::timed_out("the request", timeout);
            (Fetched::Failed(Failure::Timeout, why), None)
        }
    };
    Back { fetch, fetched, kept, churn, runner: Runner::cached() }
}

/// Write `request` on the connection and read its whole response.
async fn exchange<W: Wire>(
    mut c: Kept<W>,
    request: Vec<u8>,
) -> Result<(Response, Kept<W>), NoAnswer> {
    if let (Err(e), _) = c.wire.write_all(request).await {
        return Err((Fetched::from_io(c.addr, "write to", &e), true));
    }
    let mut parser = ResponseParser::any_status(MAX_BODY);
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut got_any = false;
    loop {
        let (read, returned) = c.wire.read(buf).await;
        let n = match read {
            Ok(n) => n,
            Err(e) => return Err((Fetched::from_io(c.addr, "read from", &e), !got_any)),
        };
        if n == 0 {
            return match parser.eof_response() {
                Ok(response) => Ok((response, c)),
                Err(e) => Err((Fetched::from_http(e), !got_any)),
            };
        }
        got_any = true;
        match parser.feed_response(&returned[..n]) {
            Ok(Some(response)) => return Ok((response, c)),
            Ok(None) => {}
            Err(e) => return Err((Fetched::from_http(e), false)),
        }
        buf = returned;
        buf.clear();
    }
}
