//! `service`: the local HTTP/1.1 service the http workload queries — see the library,
//! [`service`]. This binary adds only the command line, the file-descriptor limit and a clean
//! stop on SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};

/// Serve the http workload's queries on loopback.
#[derive(Parser)]
#[command(name = "service", version)]
struct Cli {
    /// Where to listen; port 0 picks a free one (the `listening on` line tells which)
    #[arg(long, default_value = workload::cli::SERVICE_ADDR)]
    addr: SocketAddr,
}

fn main() -> ExitCode {
    let cli: Cli = workload::cli::parse_or_exit();
    match run(cli.addr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(addr: SocketAddr) -> std::io::Result<()> {
    // Tens of thousands of open connections need as many descriptors.
    workload::measure::raise_nofile_limit()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = service::listen(addr)?;
        println!("listening on {}", listener.local_addr()?);
        let (mut sigint, mut sigterm) =
            (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
        let stop = async move {
            tokio::select! {
                _ = sigint.recv() => {},
                _ = sigterm.recv() => {},
            }
        };
        service::serve(listener, stop).await;
        eprintln!("service: stopping");
        Ok(())
    })
}
