//! `web`: serve the synthetic web the crawl workload crawls (`CONTRACT.md`, "The web"), print
//! where it listens and its answer sheet, and stop on SIGINT or SIGTERM. `web --answer` prints
//! the sheet for fixed ports and serves nothing.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};
use web::graph::{answer, Graph, Latency, Shape};

/// Serve a synthetic web to crawl, on loopback.
#[derive(Parser)]
#[command(name = "web", version)]
struct Cli {
    /// Host 0's address; host h listens on its port + h, and the extra origins after them
    /// (port 0: each on a free port)
    #[arg(long, default_value = "127.0.0.1:7880")]
    addr: SocketAddr,
    /// Pages in all
    #[arg(long, value_name = "P", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pages: u32,
    /// Hosts (origins) they are spread over
    #[arg(long, value_name = "H", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    hosts: u32,
    /// Links a page
    #[arg(long, value_name = "K", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1000))]
    links: u32,
    /// The graph's seed: another value, another web of the same shape
    #[arg(long, value_name = "G", default_value_t = 1)]
    graph: u64,
    /// How long each response waits before its first byte: 0, a fixed 50ms, or a log-normal
    /// spread across the hosts given by its p50 and p99, 20ms/200ms
    #[arg(long, value_name = "L", default_value = "0", value_parser = latency)]
    latency: Latency,
    /// The fault profile: 503s and resets on first requests, and a host that never answers,
    /// one that drips, one that refuses, and a trap
    #[arg(long)]
    faults: bool,
    /// Print the answer sheet for --addr's fixed ports and exit, serving nothing
    #[arg(long)]
    answer: bool,
}

fn latency(text: &str) -> Result<Latency, String> {
    let duration = |t: &str| -> Result<Duration, String> {
        let t = t.trim();
        let (number, unit) = match t.strip_suffix("ms") {
            Some(n) => (n, 1e-3),
            None => (t.strip_suffix('s').unwrap_or(t), if t == "0" { 0.0 } else { 1.0 }),
        };
        let n: f64 = number.parse().map_err(|_| format!("{t:?} is not a duration (say 50ms)"))?;
        if !(0.0..=600.0).contains(&(n * unit)) {
            return Err(format!("{t:?} is not from 0 to 600 s"));
        }
        Ok(Duration::from_secs_f64(n * unit))
    };
    match text.split_once('/') {
        None => Ok(Latency::Fixed(duration(text)?)),
        Some((p50, p99)) => {
            let (p50, p99) = (duration(p50)?, duration(p99)?);
            if p50.is_zero() || p99 < p50 {
                return Err("a spread p50/p99 needs 0 < p50 ≤ p99".into());
            }
            Ok(Latency::LogNormal { p50, p99 })
        }
    }
}

fn main() -> ExitCode {
    let cli: Cli = workload::cli::parse_or_exit();
    let shape = Shape {
        pages: cli.pages,
        hosts: cli.hosts,
        links: cli.links,
        graph: cli.graph,
        latency: cli.latency,
        faults: cli.faults,
    };
    let graph = Graph::new(shape);
    if cli.answer {
        if cli.addr.port() == 0 {
            eprintln!(
                "Error: --answer needs --addr's port fixed: with port 0 the ports are not known\n"
            );
            return ExitCode::from(2);
        }
        let ports = web::fixed_ports(&graph, cli.addr);
        println!("{}", serde_json::to_string(&answer(&graph, &ports)).expect("a sheet serializes"));
        return ExitCode::SUCCESS;
    }
    match run(graph, cli.addr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(graph: Graph, addr: SocketAddr) -> std::io::Result<()> {
    workload::measure::raise_nofile_limit()?;
    let (listeners, ports) = web::bind(&graph, addr).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {addr} and the ports after it: {e}"),
        )
    })?;
    let sheet = answer(&graph, &ports);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let (mut sigint, mut sigterm) =
            (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
        println!("listening on 127.0.0.1:{}", ports.hosts[0]);
        println!("{}", serde_json::to_string(&sheet).expect("a sheet serializes"));
        let stop = async move {
            tokio::select! {
                _ = sigint.recv() => {},
                _ = sigterm.recv() => {},
            }
        };
        web::serve(graph, ports, listeners, stop).await
    })
}
