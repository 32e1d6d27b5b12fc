//! The crawl on W child processes (`--workers`, 10 by default), the parent holding the
//! frontier and the seen set: the ProcessPoolExecutor's shape, where nothing is shared and
//! everything crosses as bytes. Each child has a pipe of jobs and a pipe of results: it reads
//! a URL, fetches it on a blocking socket, parses the page itself — the parsing runs in
//! parallel, on every core — and writes back one JSON line: what came of it, with the page's
//! links. The parent waits in `poll` on the children's result pipes, or until a retry's time.
//!
//! A child keeps its last connection open for its origin's next URL. The parent knows which
//! origin each child holds a connection to, so it gives a URL to a child that holds its
//! origin's, and lets a child drop one to open another only below `--per-host`: the limit
//! holds across processes that share no memory.
//!
//! Under `strace -f -c`: a `clone` per child; per page, in the child, a `read` of its job,
//! `sendto`, `recvfrom`s and a `write` of its result; in the parent, `poll`, a `write` and
//! a `read`.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::{pipe, Pid};
use process_pool::start_child;
use serde::{Deserialize, Serialize};
use workload::crawl::{blocking, Crawl, Failure, Fetch, Fetched, Origin};
use workload::limits::{headroom, Worker};
use workload::measure::wait4;
use workload::{Args, Runner, Tally, TaskError, Width};

/// A URL for a child: what it needs to fetch it.
#[derive(Serialize, Deserialize)]
struct Job {
    url: String,
    origin: usize,
    at: Origin,
}

/// What a child sends back for a job.
#[derive(Serialize, Deserialize)]
struct Answer {
    fetched: Fetched,
    opened: u32,
    closed: u32,
    /// It keeps the connection open, for its origin's next URL.
    kept: bool,
}

/// One child, as the parent sees it.
struct Child {
    pid: Pid,
    jobs: File,
    results: BufReader<File>,
    /// The fetch it works on.
    fetch: Option<Fetch>,
    /// The origin it keeps a connection open to.
    holds: Option<usize>,
}

pub fn run(args: &Args, tally: &mut Tally) -> std::io::Result<()> {
    let mut crawl = Crawl::new(args);
    let workers = crawl.most_in_flight();
    headroom(Worker::Process).admit(workers.into(), "worker processes (--workers)")?;
    tally.set_width(Width::one_each(workers));
    let mut children: Vec<Child> = Vec::new();
    for n in 0..workers {
        // A child must not hold the other children's pipes: one whose job pipe another child
        // kept open would never see it close, and never exit.
        let inherited: Vec<RawFd> = children
            .iter()
            .flat_map(|c| [c.jobs.as_raw_fd(), c.results.get_ref().as_raw_fd()])
            .collect();
        match fork_child(args, &inherited) {
            Ok(child) => children.push(child),
            // The pool starts whole or not at all: the user asked for W workers.
            Err(e) => {
                drop(children); // their job pipes close: they exit
                reap_all(tally)?;
                tally.fail(1, TaskError::starting(&format!("fork after {n} workers"), &e));
                return Ok(());
            }
        }
    }
    tally.sample_threads();
    loop {
        while let Some(fetch) = crawl.next(Instant::now()) {
            let w = pick(&children, fetch.origin);
            let child = &mut children[w];
            if let Some(held) = child.holds.take().filter(|&o| o != fetch.origin) {
                crawl.closed(held); // the child drops it to open its new origin's
            }
            let job = Job {
                url: fetch.url.to_string(),
                origin: fetch.origin,
                at: crawl.origin(fetch.origin).clone(),
            };
            let line = serde_json::to_string(&job).expect("a job serializes") + "\n";
            if child.jobs.write_all(line.as_bytes()).is_err() {
                let why = TaskError::new(format!("child {} is gone", child.pid));
                crawl
                    .finish(fetch, Fetched::Failed(Failure::Reset, why), Instant::now())
                    .record(tally, Runner::here());
                continue;
            }
            child.fetch = Some(fetch);
        }
        if crawl.is_over() {
            break;
        }
        let wait = crawl.next_retry().map(|at| at.saturating_duration_since(Instant::now()));
        for w in ready(&children, wait)? {
            let child = &mut children[w];
            let fetch = child.fetch.take().expect("a child that answers works on a fetch");
            let mut line = String::new();
            let answer = match child.results.read_line(&mut line) {
                Ok(n) if n > 0 => serde_json::from_str::<Answer>(&line).ok(),
                _ => None,
            };
            let runner = Runner { pid: child.pid.as_raw() as u32, tid: child.pid.as_raw() as u32 };
            let fetched = match answer {
                Some(a) => {
                    let churn = blocking::Churn { opened: a.opened, closed: a.closed };
                    crawl.churned(fetch.origin, churn);
                    child.holds = a.kept.then_some(fetch.origin);
                    a.fetched
                }
                None => Fetched::Failed(
                    Failure::Reset,
                    TaskError::new(format!("child {} died", child.pid)),
                ),
            };
            crawl.finish(fetch, fetched, Instant::now()).record(tally, runner);
        }
    }
    drop(children); // their job pipes close: they exit
    reap_all(tally)?;
    crawl.end(tally);
    Ok(())
}

/// Which idle child takes a URL of `origin`: one that holds a connection to it, else one that
/// holds none, else any (which drops the one it holds). The crawl lets a URL start only
/// under `--per-host`, so past the limit a child holding its origin's connection is idle.
fn pick(children: &[Child], origin: usize) -> usize {
    let idle = || children.iter().enumerate().filter(|(_, c)| c.fetch.is_none());
    idle()
        .find(|(_, c)| c.holds == Some(origin))
        .or_else(|| idle().find(|(_, c)| c.holds.is_none()))
        .or_else(|| idle().next())
        .map(|(w, _)| w)
        .expect("the crawl lets no more start than --workers: a child is idle")
}

/// The children whose results are ready, waiting at most `wait` (`None`: until one is).
fn ready(children: &[Child], wait: Option<Duration>) -> std::io::Result<Vec<usize>> {
    let busy: Vec<usize> = (0..children.len()).filter(|&w| children[w].fetch.is_some()).collect();
    let mut fds: Vec<PollFd> = busy
        .iter()
        .map(|&w| PollFd::new(children[w].results.get_ref().as_fd(), PollFlags::POLLIN))
        .collect();
    let timeout = match wait {
        Some(d) => PollTimeout::try_from(d.as_millis().min(i32::MAX as u128) as i32 + 1)
            .unwrap_or(PollTimeout::MAX),
        None => PollTimeout::NONE,
    };
    match poll(&mut fds, timeout) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => {}
        Err(e) => return Err(e.into()),
    }
    let got = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
    Ok(busy.into_iter().zip(&fds).filter(|(_, f)| got(f)).map(|(w, _)| w).collect())
}

/// Fork a child that fetches the URLs its job pipe brings, until the pipe closes; in it,
/// the `inherited` descriptors (the other children's pipes) are closed first.
fn fork_child(args: &Args, inherited: &[RawFd]) -> std::io::Result<Child> {
    let (jobs_rx, jobs_tx) = pipe()?;
    let (results_rx, results_tx) = pipe()?;
    let timeout = args.timeout();
    let parents = [jobs_tx.as_raw_fd(), results_rx.as_raw_fd()];
    let pid = start_child(move || {
        for fd in inherited.iter().chain(&parents) {
            let _ = nix::unistd::close(*fd);
        }
        serve_jobs(jobs_rx, results_tx, timeout)
    })?;
    Ok(Child {
        pid,
        jobs: File::from(jobs_tx),
        results: BufReader::new(File::from(results_rx)),
        fetch: None,
        holds: None,
    })
}

/// A child's life: fetch each job's URL, parse it here, write back what came of it.
fn serve_jobs(jobs: OwnedFd, results: OwnedFd, timeout: Duration) -> std::io::Result<()> {
    let mut results = File::from(results);
    let mut held: Option<(usize, std::net::TcpStream)> = None;
    for line in BufReader::new(File::from(jobs)).lines() {
        let job: Job = serde_json::from_str(&line?).map_err(std::io::Error::other)?;
        let reused = held.take().filter(|(o, _)| *o == job.origin).map(|(_, s)| s);
        let (fetched, kept, churn) = blocking::fetch(&job.url, &job.at, reused, timeout);
        let answer = Answer {
            fetched: fetched.parsed(),
            opened: churn.opened,
            closed: churn.closed,
            kept: kept.is_some(),
        };
        held = kept.map(|s| (job.origin, s));
        results.write_all(
            (serde_json::to_string(&answer).map_err(std::io::Error::other)? + "\n").as_bytes(),
        )?;
    }
    Ok(())
}

/// Reap every child, adding its peak RSS.
fn reap_all(tally: &mut Tally) -> std::io::Result<()> {
    loop {
        match wait4(-1) {
            Ok(child) => tally.add_child(&child),
            Err(e) if e.raw_os_error() == Some(nix::libc::ECHILD) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(nix::libc::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}
