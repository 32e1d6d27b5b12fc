//! `make soak`: every Rust model's server, with nginx as the reference, under the project's
//! own mixed load for a while (10 minutes by default), all at once: checked keep-alive and
//! pipelined clients, `/cpu`, slowloris, garbage, resets mid-request, 10 KiB heads, and a
//! flood of connections past each server's descriptor limit (lowered to `--nofile` for the
//! soak). Their memory, descriptors and threads are sampled once a second.
//!
//! What it asserts is correctness and the return to rest, never speed: no wrong answer, no
//! crash, resident memory flat after the warm-up (which holds one flood), and descriptors
//! back to the pre-load count once the load stops. `tables` writes the page and the plots.
//!
//! # Layout
//!
//! - [`clients`]: the load, one thread per kind of client and server, and its tally.
//! - `wire`: one blocking client connection, responses split by `Content-Length`.
//! - `probe`: /proc figures of a server's process tree, and its descriptor limit.
//! - [`tables`]: soak.json to a page, a plot per server, and the README's section.

pub mod clients;
mod probe;
pub mod tables;
mod wire;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::serve::servers::{self, Running, Spec};
use crate::suite::Suite;
use clients::{Client, Expect, Tally};
pub use probe::Sample;

/// One server's soak.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Soaked {
    pub name: String,
    /// Why it did not run (nginx not installed, say).
    pub missing: Option<String>,
    /// How it ended before the load did, if it did.
    pub crashed: Option<String>,
    #[serde(flatten)]
    pub clients: Tally,
    #[serde(flatten)]
    pub rest: Rest,
    #[serde(flatten)]
    pub memory: Memory,
    pub samples: Vec<Sample>,
}

/// The return to rest: what the server's process tree held before the load and once it had
/// stopped, and how long after the stop its descriptors were back to their count before.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Rest {
    pub fds_before: u64,
    pub fds_after: u64,
    pub fds_back_ms: Option<u64>,
    pub threads_before: u64,
    pub threads_after: u64,
}

/// Resident memory over the soak, from the samples taken with no flood open
/// (`tables::tally_into`).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Memory {
    pub rss_after_warmup_kib: u64,
    pub rss_end_kib: u64,
    /// The judged drift: what the server settles at between floods (the 90th percentile of
    /// the quiet samples) in the second half after the warm-up, less the first half's.
    pub rss_drift_kib: i64,
    /// The rise of the least-squares line through the same samples, for comparison.
    #[serde(default)]
    pub rss_fitted_rise_kib: i64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SoakReport {
    pub seconds: u64,
    pub warmup_s: u64,
    pub flood_every_s: u64,
    pub nofile: u64,
    pub timeout_ms: u64,
    pub servers: Vec<Soaked>,
}

/// The servers `--servers` names (default: every model and nginx).
fn specs(names: &Option<String>) -> anyhow::Result<Vec<Spec>> {
    let all = || crate::programs::models().into_iter().map(String::from).chain(["nginx".into()]);
    let names: Vec<String> = match names {
        Some(list) => list.split(',').map(|s| s.trim().to_string()).collect(),
        None => all().collect(),
    };
    names
        .iter()
        .map(|n| match n.as_str() {
            "nginx" => Ok(servers::nginx()),
            m if crate::programs::models().contains(&m) => Ok(servers::model(m)),
            other => Err(anyhow::anyhow!(
                "--servers: no server {other:?}: {}",
                all().collect::<Vec<_>>().join(", ")
            )),
        })
        .collect()
}

/// `make soak` → results/soak/.
pub const SUITE: Suite<crate::cli::Soak, SoakReport> =
    Suite::own("soak", run, tables::write, tables::section);

/// The soak, and which servers did not hold.
pub fn soak(o: &crate::cli::Soak) -> anyhow::Result<()> {
    SUITE.main(o)?;
    let report: SoakReport = crate::run::read_json(&o.out.join("soak.json"))?;
    let failed: Vec<&str> = report
        .servers
        .iter()
        .filter(|s| !tables::holds(s, &report))
        .map(|s| s.name.as_str())
        .collect();
    if failed.is_empty() {
        println!("soak: every server held; {}", o.out.join("README.md").display());
    } else {
        println!(
            "soak: {} did not hold; see {}",
            failed.join(", "),
            o.out.join("README.md").display()
        );
    }
    Ok(())
}

/// Start the servers, load them all at once for `o.seconds`, and see them back to rest.
pub fn run(o: &crate::cli::Soak) -> anyhow::Result<SoakReport> {
    let specs = specs(&o.servers)?;
    let have = workload::measure::raise_nofile_limit()
        .map_err(|e| anyhow::anyhow!("RLIMIT_NOFILE: {e}"))?;
    // Each server's flood holds nofile + 256 connections, and the floods may overlap.
    let need = specs.len() as u64 * (o.nofile + 256 + 64) + 64;
    if have < need {
        return Err(anyhow::anyhow!(
            "the soak needs {need} descriptors ({} servers × (--nofile {} + 320)), and \
             RLIMIT_NOFILE's hard limit is {have}: lower --nofile or raise the limit",
            specs.len(),
            o.nofile
        ));
    }
    let scratch = std::env::temp_dir().join(format!("conclab-soak-{}", std::process::id()));
    let (mut soaked, mut running) = start_all(specs, o, &scratch)?;
    std::thread::sleep(Duration::from_secs(1));
    for (i, r, _) in &running {
        let before = probe::sample(r.pid(), 0.0);
        let rest = &mut soaked[*i].rest;
        (rest.fds_before, rest.threads_before) = (before.fds, before.threads);
    }
    let (warmup, window) = (tables::warmup(o.seconds), tables::window(o.seconds));
    let flood_every = Duration::from_secs((o.seconds / 10).clamp(5, 60));
    let tallies: Vec<Tally> = running.iter().map(|_| Tally::default()).collect();
    let stop = AtomicBool::new(false);
    let clients: Vec<Client> = running
        .iter()
        .zip(&tallies)
        .map(|((_, r, nginx), tally)| Client {
            addr: r.addr,
            expect: if *nginx { Expect::Nginx } else { Expect::Model },
            tally,
            stop: &stop,
            nofile: o.nofile,
            flood_every,
            floods_from: Instant::now() + Duration::from_secs(warmup + window),
            floods_until: Instant::now() + Duration::from_secs(o.seconds - window - 4),
        })
        .collect();
    let mut samples: Vec<Vec<Sample>> = running.iter().map(|_| Vec::new()).collect();
    let mut crashed: Vec<Option<String>> = running.iter().map(|_| None).collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for (k, client) in clients.iter().enumerate() {
            let seed = 1 + k as u64 * 1000;
            scope.spawn(move || client.checked(seed, false, false));
            scope.spawn(move || client.checked(seed + 1, false, false));
            scope.spawn(move || client.checked(seed + 2, true, false));
            scope.spawn(move || client.checked(seed + 3, false, true));
            scope.spawn(move || client.hostile(seed + 4));
            scope.spawn(move || client.slowloris());
            // Every server's first flood falls in the warm-up, one after another.
            let offset = Duration::from_secs(1 + (warmup - 5) * k as u64 / running.len() as u64);
            scope.spawn(move || client.flood(offset));
        }
        // One sampler a server: a forking server's tree is slow to read mid-flood, and must
        // not hold up the others' samples.
        for (((_, r, _), tally), (samples, crashed)) in
            running.iter_mut().zip(&tallies).zip(samples.iter_mut().zip(crashed.iter_mut()))
        {
            let stop = &stop;
            scope.spawn(move || {
                while !stop.load(Relaxed) && crashed.is_none() {
                    let t = started.elapsed().as_secs_f64();
                    *crashed = r.exited();
                    let flood = tally.flooding.load(Relaxed);
                    samples.push(Sample { flood, ..probe::sample(r.pid(), t) });
                    let next = Duration::from_secs(t as u64 + 1);
                    std::thread::sleep(next.saturating_sub(started.elapsed()));
                }
            });
        }
        std::thread::sleep(Duration::from_secs(o.seconds));
        stop.store(true, Relaxed);
    });
    back_to_rest(&mut running, &mut soaked);
    drop(clients);
    let ran = running.into_iter().zip(tallies).zip(samples.into_iter().zip(crashed));
    for (((i, mut r, _), tally), (samples, crashed)) in ran {
        let s = &mut soaked[i];
        s.samples = samples;
        s.crashed = crashed.or_else(|| r.exited());
        r.stop();
        tables::tally_into(s, tally, o.seconds);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(SoakReport {
        seconds: o.seconds,
        warmup_s: warmup,
        flood_every_s: flood_every.as_secs(),
        nofile: o.nofile,
        timeout_ms: o.timeout_ms,
        servers: soaked,
    })
}

/// A server of the soak: its row's index, the server, and whether it is nginx.
type Started = (usize, Running, bool);

/// Start every server with the soak's `--timeout-ms` and its descriptor limit; a row for
/// each, started or not. If one fails to start, the others are stopped: nothing is left
/// running.
fn start_all(
    specs: Vec<Spec>,
    o: &crate::cli::Soak,
    scratch: &std::path::Path,
) -> anyhow::Result<(Vec<Soaked>, Vec<Started>)> {
    let timeout = o.timeout_ms.to_string();
    let mut soaked = Vec::new();
    let mut running: Vec<Started> = Vec::new();
    for spec in specs {
        let s =
            Soaked { name: spec.name.clone(), missing: spec.missing.clone(), ..Soaked::default() };
        if s.missing.is_none() {
            let extra = ["--timeout-ms", timeout.as_str()];
            let started = Running::start_limited(&spec, &extra, scratch, o.nofile);
            // nginx's workers run as another user: its config holds the limit instead.
            let limited = started.and_then(|r| match spec.nginx {
                true => Ok(r),
                false => match probe::limit_descriptors(r.pid(), o.nofile) {
                    Ok(()) => Ok(r),
                    Err(e) => {
                        r.stop();
                        Err(anyhow::anyhow!("{}: lowering RLIMIT_NOFILE: {e}", spec.name))
                    }
                },
            });
            match limited {
                Ok(r) => running.push((soaked.len(), r, spec.nginx)),
                Err(e) => {
                    running.into_iter().for_each(|(_, r, _)| drop(r.stop()));
                    return Err(e);
                }
            }
        }
        soaked.push(s);
    }
    Ok((soaked, running))
}

/// After the load: how long until each server holds no more descriptors than before it
/// (polled every 50 ms, for up to 5 s).
fn back_to_rest(running: &mut [Started], soaked: &mut [Soaked]) {
    let stopped = Instant::now();
    while stopped.elapsed() < Duration::from_secs(5) {
        for (i, r, _) in running.iter() {
            let rest = &mut soaked[*i].rest;
            let now = probe::sample(r.pid(), 0.0);
            (rest.fds_after, rest.threads_after) = (now.fds, now.threads);
            if rest.fds_back_ms.is_none() && now.fds <= rest.fds_before {
                rest.fds_back_ms = Some(stopped.elapsed().as_millis() as u64);
            }
        }
        if running.iter().all(|(i, _, _)| soaked[*i].rest.fds_back_ms.is_some()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
