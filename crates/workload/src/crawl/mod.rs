//! The crawl workload (`CONTRACT.md`, "crawl"), sans I/O: what every model shares, so that the
//! models differ only in how they wait for a response and where they parse it.
//!
//! A [`Crawl`] is the frontier and everything a crawler must agree on: the URLs waiting (a
//! queue per origin, so that an origin at its `--per-host` limit holds up no other), the set
//! of URLs already seen, the requests in flight and the connections open to each origin, the
//! retries waiting for their time, and the figures of the report. A model asks it for the
//! next [`Fetch`] it may start ([`Crawl::next`]), does the I/O its own way, and gives back
//! what came of it ([`Crawl::finish`]); the crawl decides what that means — a page and its
//! links, a redirect, a retry, a failure of a named kind — and queues what it found.
//!
//! - [`page`]: a URL normalized, its origin and value; the links of an HTML page.
//! - [`Fetch`]: one request, [`request`] its bytes; [`Fetched`]: what came of it.
//! - [`blocking`]: a fetch on a blocking socket, kept alive per origin: what `serial`,
//!   `threads` and `procs` run.

pub mod blocking;
pub mod page;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::cli::Args;
use crate::error::TaskError;
use crate::http::{HttpError, Response};
use crate::loop_tasks::LoopTasks;
use crate::measure::Percentiles;
use crate::report::{CrawlEnd, Done, Runner, Tally, Width};
use crate::timers::Due;

/// The default seed: the project's web (`web`, `CONTRACT.md` "The web").
pub const DEFAULT_SEED: &str = "http://127.0.0.1:7880/";

/// The largest body the crawl reads; a larger one fails as `too_large` and is not parsed.
pub const MAX_BODY: usize = 4 << 20;

/// Retries after the first request, for a `503` or a connection reset or closed early.
const RETRIES: u32 = 2;
/// The wait before a retry without `Retry-After`, and the most `Retry-After` may ask.
const RETRY_WAIT: Duration = Duration::from_millis(50);
const MOST_RETRY_WAIT: Duration = Duration::from_secs(1);
/// Redirects followed in a row; the URL that would redirect once more fails.
const MOST_HOPS: u32 = 5;

/// Where a crawl starts and which origins it enters: `--seed` and `--allow`, checked.
#[derive(Clone, Debug)]
pub struct Scope {
    pub seeds: Vec<Url>,
    /// Every origin whose links are followed: the seeds' and `--allow`'s.
    pub origins: Vec<String>,
}

impl Scope {
    /// From the command line's `--seed` URLs (the default seed when none) and `--allow`
    /// origins; a reason when one is not an `http://` URL.
    pub fn parse(seeds: &[String], allow: &[String]) -> Result<Scope, String> {
        let http = |flag: &str, text: &str| -> Result<Url, String> {
            Url::parse(text)
                .ok()
                .filter(|u| u.scheme() == "http" && u.host().is_some())
                .ok_or_else(|| format!("{flag}: {text:?} is not an http:// URL"))
        };
        let default = [DEFAULT_SEED.to_string()];
        let seeds = if seeds.is_empty() { &default[..] } else { seeds };
        let seeds: Vec<Url> = seeds.iter().map(|s| http("--seed", s)).collect::<Result<_, _>>()?;
        let mut origins: Vec<String> = seeds.iter().map(page::origin).collect();
        for a in allow {
            origins.push(page::origin(&http("--allow", a)?));
        }
        origins.dedup();
        Ok(Scope { seeds, origins })
    }
}

/// A URL's kind of failure, as the report counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// No whole answer within `--timeout-ms`.
    Timeout,
    /// The connection was refused, or the host could not be reached.
    Refused,
    /// Reset or closed before the whole response, after its retries.
    Reset,
    /// Any status but `200` and the redirects (a `503` after its retries, a `404`).
    Status,
    /// A body over [`MAX_BODY`].
    TooLarge,
    /// Bytes that are not an HTTP response.
    Malformed,
    /// One redirect more than [`MOST_HOPS`] in a row.
    Redirects,
}

/// What came of one request, as the model saw it.
#[derive(Debug, Serialize, Deserialize)]
pub enum Fetched {
    /// A whole response, parsed by the crawl.
    Answer(Response),
    /// A whole response parsed where it was read — on a pool, in a task, in a child — so
    /// that the parsing runs there: its head (without the body), its body's length, and the
    /// `href`s of its links if it is a `200` HTML page.
    Parsed { head: Response, bytes: u64, hrefs: Vec<String> },
    /// No whole response: the kind, and the error as the model met it (it names the limit
    /// when the machine ran out of something).
    Failed(Failure, TaskError),
}

impl Fetched {
    /// Parse an answer's links here and now: what a model does to keep the parsing off the
    /// thread that owns the crawl.
    pub fn parsed(self) -> Fetched {
        match self {
            Fetched::Answer(mut head) => {
                let body = std::mem::take(&mut head.body);
                let hrefs = match head.status == 200 && head.html {
                    true => page::links(&body),
                    false => Vec::new(),
                };
                Fetched::Parsed { head, bytes: body.len() as u64, hrefs }
            }
            other => other,
        }
    }

    /// What a response parser's error means for the crawl.
    pub fn from_http(e: HttpError) -> Fetched {
        let kind = match e {
            HttpError::TooLarge(_) => Failure::TooLarge,
            HttpError::Truncated(_) => Failure::Reset,
            HttpError::Status(_) | HttpError::Malformed(_) => Failure::Malformed,
        };
        Fetched::Failed(kind, TaskError::from(e))
    }

    /// What an I/O error `stage` ("connect to", "read from") meant for the crawl.
    pub fn from_io(addr: SocketAddr, stage: &str, e: &std::io::Error) -> Fetched {
        use std::io::ErrorKind::*;
        let kind = match e.kind() {
            TimedOut | WouldBlock => Failure::Timeout,
            ConnectionRefused | HostUnreachable | NetworkUnreachable | AddrNotAvailable
                if stage == "connect to" =>
            {
                Failure::Refused
            }
            _ if stage == "connect to" => Failure::Refused,
            _ => Failure::Reset,
        };
        Fetched::Failed(kind, crate::error::io_error(addr, stage, e))
    }
}

/// One request the crawl hands a model: task `id`, the `id`-th URL requested.
#[derive(Clone, Debug)]
pub struct Fetch {
    pub id: u32,
    /// The URL, normalized.
    pub url: Arc<str>,
    /// Its origin's index in [`Crawl::origin`].
    pub origin: usize,
    /// Its first request's try is 0, its retries 1 and 2.
    pub attempt: u32,
    /// Redirects that led to it.
    hops: u32,
    /// When it was first requested: its latency counts from there.
    pub started: Instant,
}

/// An origin the crawl has met: its name and its address.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Origin {
    /// `http://host[:port]`.
    pub name: String,
    /// `host[:port]`, for the `Host` field.
    pub authority: String,
    /// Its address, looked up once; `None` if it cannot be.
    pub addr: Option<SocketAddr>,
}

/// The bytes of `GET target HTTP/1.1`, kept alive, for `url` (normalized) at `origin`.
pub fn request(url: &str, origin: &Origin) -> Vec<u8> {
    let url = Url::parse(url).expect("a normalized URL parses");
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    format!(
        "GET {target} HTTP/1.1\r\nHost: {}\r\nUser-Agent: conclab\r\nAccept: */*\r\n\r\n",
        origin.authority
    )
    .into_bytes()
}

/// What finishing a fetch led to, for the model's tally.
#[derive(Debug)]
#[must_use]
pub enum Ended {
    /// The URL's task is over: its value, or why it failed.
    Task { id: u32, result: Result<u64, TaskError>, started: Instant },
    /// It redirected: neither ok nor failed; its `Location` is queued as a URL of its own.
    Redirected { id: u32 },
    /// It will be tried again, when [`Crawl::next_retry`] says.
    Retrying,
}

impl Ended {
    /// Into `tally`, the URL's task run by `runner`: its result if it is over, a redirect.
    pub fn record(self, tally: &mut Tally, runner: Runner) {
        match self {
            Ended::Task { id, result, started } => {
                tally.record(Done { id, result, started, ended: Instant::now(), runner })
            }
            Ended::Redirected { .. } => tally.redirected(),
            Ended::Retrying => {}
        }
    }
}

/// The crawl's figures for the report (`CONTRACT.md`, "The report").
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CrawlReport {
    pub pages: u32,
    pub failures: std::collections::BTreeMap<Failure, u32>,
    pub retries: u32,
    pub redirects: u32,
    pub bytes: u64,
    pub links: u64,
    pub unique: u32,
    pub peak_frontier: u32,
    pub peak_connections: u32,
    pub limited: bool,
    pub pages_per_s: f64,
    pub latency_ms: Option<Percentiles>,
}

impl CrawlReport {
    /// Its part of the human line: ` · 980 pages (2100/s), 12 redirects, 3 retries, failed:
    /// 8 status, 2 timeout · limited at --tasks`.
    pub fn human(&self) -> String {
        let mut line = format!(
            " · {} pages ({:.0}/s), {} redirects, {} retries",
            self.pages, self.pages_per_s, self.redirects, self.retries
        );
        if !self.failures.is_empty() {
            let kinds: Vec<String> = self
                .failures
                .iter()
                .map(|(kind, n)| {
                    let name = serde_json::to_value(kind).expect("a kind serializes");
                    format!("{n} {}", name.as_str().unwrap_or_default())
                })
                .collect();
            line += &format!(", failed: {}", kinds.join(", "));
        }
        if self.limited {
            line += " · limited at --tasks";
        }
        line
    }
}

/// A URL found and waiting its turn.
#[derive(Debug)]
struct Waiting {
    url: Arc<str>,
    hops: u32,
    /// Set for a retry: its task and its first request.
    retry: Option<(u32, u32, Instant)>,
}

/// The frontier, the seen set, the limits and the figures: the crawl, sans I/O.
pub struct Crawl {
    scope: Scope,
    /// `--tasks`, `--workers`, `--per-host`.
    most_urls: u32,
    most_in_flight: u32,
    per_origin: u32,
    /// Every origin met, by index; `origin_of` finds one by name.
    origins: Vec<Origin>,
    origin_of: HashMap<String, usize>,
    /// The URLs waiting, a queue per origin, and the origins to look at in turn.
    queues: Vec<VecDeque<Waiting>>,
    turn: usize,
    /// Retries waiting for their time: (when, sequence) → the waiting URL and its origin.
    retries: BinaryHeap<Reverse<(Instant, u64)>>,
    retrying: HashMap<u64, (usize, Waiting)>,
    sequence: u64,
    seen: HashSet<Arc<str>>,
    /// Requests in flight, in all and per origin; connections open per origin.
    in_flight: u32,
    busy: Vec<u32>,
    open: Vec<u32>,
    open_total: u32,
    /// URLs requested so far: the next task's id.
    requested: u32,
    /// URLs waiting in the queues, retries among them; and those never requested yet.
    waiting: u32,
    fresh: u32,
    /// The seeds' tasks, and whether any got an answer.
    seed_tasks: u32,
    seed_answered: bool,
    latencies_us: Vec<f32>,
    report: CrawlReport,
    /// A failure that names a limit the machine ran out of: it fails the crawl.
    out_of: Option<TaskError>,
}

impl Crawl {
    /// A crawl of `args` (its scope parsed with the arguments): the seeds queued.
    pub fn new(args: &Args) -> Crawl {
        let scope = args.crawl().clone();
        let mut crawl = Crawl {
            most_urls: args.tasks,
            most_in_flight: most_in_flight(args),
            per_origin: args.per_host,
            origins: Vec::new(),
            origin_of: HashMap::new(),
            queues: Vec::new(),
            turn: 0,
            retries: BinaryHeap::new(),
            retrying: HashMap::new(),
            sequence: 0,
            seen: HashSet::new(),
            in_flight: 0,
            busy: Vec::new(),
            open: Vec::new(),
            open_total: 0,
            requested: 0,
            waiting: 0,
            fresh: 0,
            seed_tasks: 0,
            seed_answered: false,
            latencies_us: Vec::new(),
            report: CrawlReport::default(),
            out_of: None,
            scope,
        };
        for seed in crawl.scope.seeds.clone() {
            crawl.queue(seed, 0);
        }
        crawl.seed_tasks = crawl.waiting;
        crawl
    }

    /// The crawl of a hand-written loop (`epoll`, `ring`): as many requests in flight on
    /// its one thread as the crawl allows, and a run that ends when the crawl says so, not
    /// after a count of tasks.
    pub fn on_loop(tasks: &mut LoopTasks) -> Crawl {
        let crawl = Crawl::new(&tasks.args);
        tasks.set_width(Width { workers: 1, at_once: crawl.most_in_flight() });
        tasks.open_ended();
        crawl
    }

    /// One request at a time, whatever `--workers` says: the serial models.
    pub fn one_at_a_time(mut self) -> Crawl {
        self.most_in_flight = 1;
        self
    }

    /// The most requests in flight.
    pub fn most_in_flight(&self) -> u32 {
        self.most_in_flight
    }

    /// Origin `i`.
    pub fn origin(&self, i: usize) -> &Origin {
        &self.origins[i]
    }

    /// Queue `url` if it is in scope, not seen, and the crawl has room for it.
    fn queue(&mut self, url: Url, hops: u32) {
        let name = page::origin(&url);
        if !self.scope.origins.contains(&name) {
            return;
        }
        let url: Arc<str> = page::normalize(url.clone()).into();
        if self.seen.contains(&url) {
            return;
        }
        // At most --tasks URLs are ever requested: found past that, a URL is not kept.
        if self.requested + self.fresh >= self.most_urls {
            self.report.limited = true;
            return;
        }
        self.seen.insert(url.clone());
        let at = self.origin_index(&url, name);
        self.queues[at].push_back(Waiting { url, hops, retry: None });
        self.waiting += 1;
        self.fresh += 1;
        self.report.peak_frontier = self.report.peak_frontier.max(self.waiting);
    }

    fn origin_index(&mut self, url: &str, name: String) -> usize {
        if let Some(&at) = self.origin_of.get(&name) {
            return at;
        }
        let parsed = Url::parse(url).expect("normalized");
        let host = parsed.host_str().unwrap_or_default().to_string();
        let port = parsed.port_or_known_default().unwrap_or(80);
        let authority = if port == 80 { host.clone() } else { format!("{host}:{port}") };
        let addr = (host.as_str(), port).to_socket_addrs().ok().and_then(|mut a| a.next());
        let at = self.origins.len();
        self.origins.push(Origin { name: name.clone(), authority, addr });
        self.origin_of.insert(name, at);
        self.queues.push(VecDeque::new());
        self.busy.push(0);
        self.open.push(0);
        at
    }

    /// The next request that may start at `now`: under `--workers` in flight, and under
    /// `--per-host` at its origin; retries first, once their time has come.
    pub fn next(&mut self, now: Instant) -> Option<Fetch> {
        // The retries whose time has come join their queues first, whether or not one may
        // start now: what `next_retry` says afterwards is always still to come, so that a
        // loop that sets its timer by it never sets one in the past.
        while let Some(&Reverse((at, seq))) = self.retries.peek() {
            if at > now {
                break;
            }
            self.retries.pop();
            let (origin, waiting) = self.retrying.remove(&seq).expect("a retry per timer");
            self.queues[origin].push_front(waiting);
            self.waiting += 1;
        }
        if self.in_flight >= self.most_in_flight {
            return None;
        }
        let origins = self.queues.len();
        for k in 0..origins {
            let at = (self.turn + k) % origins;
            if self.busy[at] >= self.per_origin {
                continue;
            }
            let Some(w) = self.queues[at].pop_front() else { continue };
            self.turn = (at + 1) % origins;
            self.waiting -= 1;
            self.in_flight += 1;
            self.busy[at] += 1;
            let (id, attempt, started) = match w.retry {
                Some(retry) => retry,
                None => {
                    self.fresh -= 1;
                    self.requested += 1;
                    (self.requested - 1, 0, now)
                }
            };
            return Some(Fetch { id, url: w.url, origin: at, attempt, hops: w.hops, started });
        }
        None
    }

    /// When the earliest retry waiting may start, if one waits.
    pub fn next_retry(&self) -> Option<Instant> {
        self.retries.peek().map(|Reverse((at, _))| *at)
    }

    /// Nothing waits, nothing waits to be retried, nothing is in flight: the crawl is over.
    pub fn is_over(&self) -> bool {
        self.waiting == 0 && self.retrying.is_empty() && self.in_flight == 0
    }

    /// A connection to `origin` was opened, or closed: `--per-host` counts connections.
    pub fn opened(&mut self, origin: usize) {
        self.open[origin] += 1;
        self.open_total += 1;
        self.report.peak_connections = self.report.peak_connections.max(self.open_total);
    }

    pub fn closed(&mut self, origin: usize) {
        self.open[origin] -= 1;
        self.open_total -= 1;
    }

    /// A blocking fetch to `origin` opened and closed connections.
    pub fn churned(&mut self, origin: usize, churn: blocking::Churn) {
        (0..churn.opened).for_each(|_| self.opened(origin));
        (0..churn.closed).for_each(|_| self.closed(origin));
    }

    /// `fetch` is over, at `now`, with `fetched`: what it means, and what it found queued.
    pub fn finish(&mut self, fetch: Fetch, fetched: Fetched, now: Instant) -> Ended {
        self.in_flight -= 1;
        self.busy[fetch.origin] -= 1;
        if fetch.id < self.seed_tasks && !matches!(fetched, Fetched::Failed(..)) {
            self.seed_answered = true;
        }
        match fetched.parsed() {
            Fetched::Parsed { head, bytes, hrefs } => {
                self.report.bytes += bytes;
                self.answered(fetch, head, &hrefs, now)
            }
            Fetched::Failed(Failure::Reset, _) if fetch.attempt < RETRIES => {
                self.retry(fetch, RETRY_WAIT, now)
            }
            Fetched::Failed(kind, error) => self.failed(fetch, kind, error, now),
            Fetched::Answer(_) => unreachable!("parsed above"),
        }
    }

    fn answered(&mut self, fetch: Fetch, r: Response, hrefs: &[String], now: Instant) -> Ended {
        match r.status {
            200 => {
                self.follow(&fetch, hrefs);
                self.report.pages += 1;
                let value = page::value(&fetch.url);
                self.over(&fetch, now);
                Ended::Task { id: fetch.id, result: Ok(value), started: fetch.started }
            }
            503 if fetch.attempt < RETRIES => {
                let asked = r.retry_after.map(Duration::from_secs);
                self.retry(fetch, asked.map_or(RETRY_WAIT, |w| w.min(MOST_RETRY_WAIT)), now)
            }
            301 | 302 | 307 | 308 if r.location.is_some() => {
                if fetch.hops >= MOST_HOPS {
                    let why =
                        TaskError::new(format!("{}: more than {MOST_HOPS} redirects", fetch.url));
                    return self.failed(fetch, Failure::Redirects, why, now);
                }
                let base = Url::parse(&fetch.url).expect("normalized");
                if let Some(to) = page::resolve(&base, r.location.as_deref().unwrap_or_default()) {
                    self.queue(to, fetch.hops + 1);
                }
                self.report.redirects += 1;
                self.over(&fetch, now);
                Ended::Redirected { id: fetch.id }
            }
            status => {
                let why = TaskError::new(format!("{}: HTTP {status}", fetch.url));
                self.failed(fetch, Failure::Status, why, now)
            }
        }
    }

    /// Queue the in-scope links of a page.
    fn follow(&mut self, fetch: &Fetch, hrefs: &[String]) {
        let base = Url::parse(&fetch.url).expect("normalized");
        for href in hrefs {
            self.report.links += 1;
            if let Some(url) = page::resolve(&base, href) {
                self.queue(url, 0);
            }
        }
    }

    fn retry(&mut self, fetch: Fetch, wait: Duration, now: Instant) -> Ended {
        self.report.retries += 1;
        self.sequence += 1;
        let retry = Some((fetch.id, fetch.attempt + 1, fetch.started));
        let waiting = Waiting { url: fetch.url, hops: fetch.hops, retry };
        self.retrying.insert(self.sequence, (fetch.origin, waiting));
        self.retries.push(Reverse((now + wait, self.sequence)));
        Ended::Retrying
    }

    fn failed(&mut self, fetch: Fetch, kind: Failure, error: TaskError, now: Instant) -> Ended {
        *self.report.failures.entry(kind).or_default() += 1;
        if error.limit.is_some() && self.out_of.is_none() {
            self.out_of = Some(error.clone());
        }
        self.over(&fetch, now);
        Ended::Task { id: fetch.id, result: Err(error), started: fetch.started }
    }

    /// The URL's task is over: its latency, from its first request.
    fn over(&mut self, fetch: &Fetch, now: Instant) {
        let took = now.saturating_duration_since(fetch.started);
        self.latencies_us.push(took.as_secs_f32() * 1e6);
    }

    /// The crawl is over: its figures into `tally`, and what failed it, if anything did —
    /// the machine ran out of something, or no seed got an answer.
    pub fn end(&mut self, tally: &mut Tally) {
        let mut figures = self.report.clone();
        figures.unique = self.seen.len() as u32;
        let wall = tally.start.elapsed().as_secs_f64().max(1e-9);
        figures.pages_per_s = f64::from(figures.pages) / wall;
        figures.latency_ms = crate::measure::percentiles_ms(&mut self.latencies_us);
        let first = tally.first_error().map_or(String::new(), |e| format!(": {e}"));
        let fatal = self.out_of.take().or_else(|| {
            let none = !self.seed_answered && self.requested > 0;
            none.then(|| TaskError::new(format!("no seed answered{first}")))
        });
        tally.crawl_over(CrawlEnd { figures, requested: self.requested, fatal });
    }
}

/// What a loop (`epoll`, `ring`) keeps of its crawl beside the crawl: the time its retry
/// timer is set for, and whether the crawl's end has been told.
#[derive(Debug, Default)]
pub struct Upkeep {
    retry_at: Option<Instant>,
    over: bool,
}

impl Upkeep {
    /// After the loop has started every fetch it may: its timer set for the earliest retry
    /// waiting, if that is sooner than the timer set (`due` when it fires); and once the
    /// crawl is over, its figures into the tally and the run told it is over. Whether the
    /// crawl ended just now.
    pub fn after_starting(&mut self, crawl: &mut Crawl, tasks: &mut LoopTasks, due: Due) -> bool {
        if let Some(at) = crawl.next_retry() {
            if self.retry_at.is_none_or(|set| at < set) {
                self.retry_at = Some(at);
                tasks.set_timer(tasks.now() + at.saturating_duration_since(Instant::now()), due);
            }
        }
        if !crawl.is_over() || self.over {
            return false;
        }
        self.over = true;
        crawl.end(tasks.tally());
        tasks.all_over();
        true
    }

    /// The retry timer fired.
    pub fn timer_fired(&mut self) {
        self.retry_at = None;
    }

    /// The crawl is over, and its figures are in the tally.
    pub fn is_over(&self) -> bool {
        self.over
    }
}

/// Requests in flight unless `--workers` says otherwise.
pub const DEFAULT_WORKERS: u32 = 10;

/// The most requests a crawl of `args` has in flight: `--workers`, or [`DEFAULT_WORKERS`].
pub fn most_in_flight(args: &Args) -> u32 {
    args.workers.unwrap_or(DEFAULT_WORKERS)
}

/// Parsing handed to a pool of threads (`--offload` in the hand-written loops): each page's
/// links found off the loop's thread — the article's `run_in_executor`, where the crawl
/// needs it — and each result waking the loop.
pub struct Parsing {
    pool: thread_pool::ThreadPool,
    done: crossbeam_channel::Sender<(Fetch, Fetched)>,
    results: crossbeam_channel::Receiver<(Fetch, Fetched)>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl Parsing {
    /// `threads` threads; `wake` is called after each page parsed.
    pub fn start(
        threads: usize,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<Parsing> {
        let pool = thread_pool::ThreadPool::new(threads)?;
        let (done, results) = crossbeam_channel::unbounded();
        Ok(Parsing { pool, done, results, wake: Arc::new(wake) })
    }

    /// Parse what `fetch` got on the pool.
    pub fn parse(&self, fetch: Fetch, fetched: Fetched) {
        let (done, wake) = (self.done.clone(), self.wake.clone());
        self.pool.submit(move || {
            let _ = done.send((fetch, fetched.parsed()));
            wake();
        });
    }

    /// Every page parsed so far.
    pub fn results(&self) -> impl Iterator<Item = (Fetch, Fetched)> + '_ {
        self.results.try_iter()
    }
}
