//! `make bench-serve`: every model and peer as a server, under the same loads, beside nginx.
//!
//! Four cases (README, "Serving"): many fresh connections at once (C10K), throughput on
//! keep-alive connections (uvloop's setup), an open loop at one fixed rate, and `/cpu` work
//! on the server while `/health` is timed. The server runs on core 0 and the load on core 1,
//! so the load never takes the server's core. Results go to `results/serve/serve.json`, and
//! the tables to its README and to the top-level README.
//!
//! - `servers.rs`: the servers, started and stopped; nginx's configuration.
//! - `load.rs`: wrk, oha and the `epoll` client, and what each measured.
//! - `ladder.rs`: `ring` on each rung of its io_uring path, plain to modern, beside `epoll`.
//! - `tables.rs`: the tables and the targets' verdicts, from the JSON.

pub mod ladder;
pub mod load;
pub mod servers;
pub mod tables;

use std::path::Path;

use serde::{Deserialize, Serialize};
use workload::serve::ServeReport;
use workload::Report;

use crate::cli;
use crate::programs::Programs;
use crate::suite::Suite;
pub use load::Latency;
use servers::{Running, Spec};

/// The open loop's one rate for every server, requests a second.
pub const RATE: u32 = 5_000;

#[derive(Serialize, Deserialize)]
pub struct Results {
    pub facts: serde_json::Value,
    pub secs: u32,
    pub rate: u32,
    pub c10k: Vec<C10k>,
    pub throughput: Vec<Throughput>,
    pub open_loop: Vec<OpenLoop>,
    pub cpu: Vec<CpuCase>,
    /// The servers with a thread per core, free on both cores, at c = 100.
    #[serde(default)]
    pub both_cores: Vec<Throughput>,
    /// `ring` on each rung of its io_uring path, and `epoll`, round after round.
    #[serde(default)]
    pub ladder: Vec<ladder::Rung>,
}

/// The servers run on both cores (`--workers 2`), beside each other: tokio's work-stealing
/// workers against monoio's runtime a core.
pub const BOTH_CORES: [&str; 2] = ["tokio", "monoio"];

/// One server under one load: what the load measured, the server's own report when it
/// stopped, its RSS before the load began, and why the load has no figures, if it has none
/// (a server not installed, a load that failed).
#[derive(Serialize, Deserialize)]
pub struct Served<T> {
    pub server: String,
    #[serde(alias = "client")]
    pub load: Option<T>,
    pub server_report: Option<ServeReport>,
    #[serde(default)]
    pub baseline_rss_kib: u64,
    pub note: Option<String>,
}

/// N fresh connections at once, each answered after 100 ms: the client's report, and the
/// wall time a perfectly concurrent server would take.
#[derive(Serialize, Deserialize)]
pub struct C10k {
    #[serde(flatten)]
    pub served: Served<Report>,
    pub n: u32,
    pub ideal_s: f64,
    /// Connections the listen queue had no room for while the server ran: each is a SYN
    /// dropped, which the client's kernel sends again after 1 s, then 3 s.
    #[serde(default)]
    pub listen_overflows: Option<u64>,
}

/// wrk's closed loop at a number of connections.
#[derive(Serialize, Deserialize)]
pub struct Throughput {
    #[serde(flatten)]
    pub served: Served<Latency>,
    pub connections: u32,
}

/// oha's open loop at [`RATE`].
pub type OpenLoop = Served<Latency>;

/// `/cpu` at c = 10 and `/health` timed beside it, with or without `--offload`.
#[derive(Serialize, Deserialize)]
pub struct CpuCase {
    pub server: String,
    pub offload: bool,
    pub health: Option<Latency>,
    pub cpu: Option<Latency>,
    pub note: Option<String>,
}

/// `make bench-serve` → results/serve/.
pub const SUITE: Suite<cli::Serve, Results> = Suite::new("serve", run, tables::TEMPLATES);

fn run(o: &cli::Serve) -> anyhow::Result<Results> {
    let peers = Programs::find(&o.sweep.python);
    let specs = servers::all(&peers);
    let scratch = std::env::temp_dir().join(format!("conclab-serve-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(anyhow::Error::msg)?;
    let secs = if o.sweep.quick { 2 } else { 5 };
    let sizes: &[u32] = if o.sweep.quick { &[100, 1_000] } else { &[1_000, 10_000] };
    let mut more = peers.versions();
    more.push(("wrk", crate::facts::first_line(&o.wrk, &["-v"])));
    more.push(("oha", crate::facts::first_line(&o.oha, &["--version"])));
    more.push(("pinning", "server on core 0, load on core 1 (taskset)".into()));
    let mut r = Results {
        facts: crate::facts::json(&crate::facts::collect(None, more)),
        secs,
        rate: RATE,
        c10k: vec![],
        throughput: vec![],
        open_loop: vec![],
        cpu: vec![],
        both_cores: vec![],
        ladder: vec![],
    };
    let specs = if o.only_ladder { vec![] } else { specs };
    for spec in &specs {
        eprintln!("bench serve: {}", spec.name);
        // One connection at a time: N = 100, where the ideal is already 10 s.
        let sizes = if crate::programs::is_serial(&spec.name) { &[100][..] } else { sizes };
        if !spec.nginx {
            for &n in sizes {
                r.c10k.push(c10k(spec, n, &r.c10k, &scratch));
            }
        }
        for connections in [10, 100] {
            r.throughput.push(throughput(spec, connections, secs, o, &scratch));
        }
        r.open_loop.push(open_loop(spec, secs, o, &scratch));
        if spec.can_offload || ["threads", "go-goroutines"].contains(&spec.name.as_str()) {
            r.cpu.push(cpu(spec, false, secs, o, &scratch));
            if spec.can_offload {
                r.cpu.push(cpu(spec, true, secs, o, &scratch));
            }
        }
    }
    for spec in specs.iter().filter(|s| BOTH_CORES.contains(&s.name.as_str())) {
        eprintln!("bench serve: {} on both cores", spec.name);
        r.both_cores.push(both_cores(spec, secs, o, &scratch));
    }
    r.ladder = ladder::run(if o.sweep.quick { 1 } else { 3 }, secs, o, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(r)
}

/// Run `load` against `spec` started with `extra`: what it measured, and what the server
/// said of itself.
fn with_server<T>(
    spec: &Spec,
    extra: &[&str],
    scratch: &Path,
    load: impl FnOnce(&Running) -> anyhow::Result<T>,
) -> Served<T> {
    let served = |load: anyhow::Result<T>, server_report, baseline_rss_kib| Served {
        server: spec.name.clone(),
        note: load.as_ref().err().map(|e| format!("{e:#}")),
        load: load.ok(),
        server_report,
        baseline_rss_kib,
    };
    if let Some(missing) = &spec.missing {
        return served(Err(anyhow::anyhow!(missing.clone())), None, 0);
    }
    match Running::start(spec, extra, scratch) {
        Ok(server) => {
            let baseline = server.baseline_rss_kib;
            let result = load(&server);
            served(result, server.stop(), baseline)
        }
        Err(e) => served(Err(e), None, 0),
    }
}

fn c10k(spec: &Spec, n: u32, done: &[C10k], scratch: &Path) -> C10k {
    let serial = crate::programs::is_serial(&spec.name);
    let ideal_s = if serial { f64::from(n) * 0.1 } else { 0.1 };
    let skip = |note: String| C10k {
        served: Served {
            server: spec.name.clone(),
            load: None,
            server_report: None,
            baseline_rss_kib: 0,
            note: Some(note),
        },
        n,
        ideal_s,
        listen_overflows: None,
    };
    // A process per connection: run at 10,000 only if the children measured at 1,000 fit.
    let child_kib = done
        .iter()
        .filter(|c| c.served.server == spec.name)
        .filter_map(|c| c.served.server_report.as_ref().map(|r| r.children_max_rss_kib))
        .max()
        .unwrap_or(0);
    let mem_kib = crate::facts::mem_total_kib();
    if child_kib > 0 && u64::from(n) * child_kib > mem_kib / 2 {
        return skip(format!(
            "not run: its children peaked at {:.1} MiB RSS each at the smaller N, so {n} could need more than half of this machine's {:.0} GiB",
            child_kib as f64 / 1024.0,
            mem_kib as f64 / 1024.0 / 1024.0
        ));
    }
    let before = load::listen_overflows();
    let served = with_server(spec, &[], scratch, |s| load::fresh_connections(s.addr, n));
    let listen_overflows = before.zip(load::listen_overflows()).map(|(a, b)| b.saturating_sub(a));
    C10k { served, n, ideal_s, listen_overflows }
}

fn throughput(
    spec: &Spec,
    connections: u32,
    secs: u32,
    o: &cli::Serve,
    scratch: &Path,
) -> Throughput {
    let served = with_server(spec, &[], scratch, |s| {
        load::wrk(
            &o.wrk,
            &format!("http://{}/query?id=1&delay_ms=0", s.addr),
            connections,
            secs,
            scratch,
        )
    });
    Throughput { served, connections }
}

/// wrk at c = 100 against `spec` with `--workers 2`, free on both cores (wrk stays on core 1,
/// sharing it with the server's second thread, as it does for every server in this case).
fn both_cores(spec: &Spec, secs: u32, o: &cli::Serve, scratch: &Path) -> Throughput {
    let served = |load: anyhow::Result<Latency>, server_report| Served {
        server: format!("{} --workers 2", spec.name),
        note: load.as_ref().err().map(|e| format!("{e:#}")),
        load: load.ok(),
        server_report,
        baseline_rss_kib: 0,
    };
    let served = match Running::start_unpinned(spec, &["--workers", "2"]) {
        Ok(server) => {
            let url = format!("http://{}/query?id=1&delay_ms=0", server.addr);
            let load = load::wrk(&o.wrk, &url, 100, secs, scratch);
            served(load, server.stop())
        }
        Err(e) => served(Err(e), None),
    };
    Throughput { served, connections: 100 }
}

fn open_loop(spec: &Spec, secs: u32, o: &cli::Serve, scratch: &Path) -> OpenLoop {
    with_server(spec, &[], scratch, |s| {
        load::oha(&o.oha, &format!("http://{}/query?id=1&delay_ms=0", s.addr), RATE, 50, secs)
    })
}

fn cpu(spec: &Spec, offload: bool, secs: u32, o: &cli::Serve, scratch: &Path) -> CpuCase {
    let extra: &[&str] = if offload { &["--offload"] } else { &[] };
    let both = with_server(spec, extra, scratch, |s| {
        let (wrk, cpu_url) = (o.wrk.clone(), format!("http://{}/cpu?id=1&work=100000", s.addr));
        let scratch = scratch.to_path_buf();
        let hashing = std::thread::spawn(move || load::wrk(&wrk, &cpu_url, 10, secs, &scratch));
        std::thread::sleep(std::time::Duration::from_millis(200)); // the hashing has begun
                                                                   // 20 connections, so that a slow answer delays the requests due after it only by
                                                                   // what the server does, not by waiting for a connection of the load's own.
        let health = load::oha(&o.oha, &format!("http://{}/health", s.addr), 100, 20, secs);
        let cpu = hashing.join().map_err(|_| anyhow::anyhow!("the wrk thread panicked"))?;
        Ok((health?, cpu?))
    });
    let (health, cpu) = both.load.map_or((None, None), |(h, c)| (Some(h), Some(c)));
    CpuCase { server: both.server, offload, health, cpu, note: both.note }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_record_reads_its_older_shape_and_its_own() {
        let older = r#"{"server": "tokio", "n": 10, "ideal_s": 0.1, "client": null,
            "server_report": null, "baseline_rss_kib": 7, "note": "not run"}"#;
        let c: C10k = serde_json::from_str(older).expect("the older c10k shape");
        assert_eq!((c.served.server.as_str(), c.served.baseline_rss_kib, c.n), ("tokio", 7, 10));
        let again: C10k = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(again.served.note.as_deref(), Some("not run"));
        let open: OpenLoop =
            serde_json::from_str(r#"{"server": "ring", "load": null, "note": null}"#).unwrap();
        assert_eq!((open.server.as_str(), open.baseline_rss_kib), ("ring", 0));
    }
}
