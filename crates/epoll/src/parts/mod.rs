//! Which part runs each workload on the readiness loop: the one place the loop's crate names
//! the workloads. The loop starts the part `args.workload` picks, once, and hands it every
//! event from then on.
//!
//! In the order to read them:
//! - sleep: [`sleep.rs`](sleep.rs), a timer per task;
//! - http: [`http.rs`](http.rs), a request as a state machine on a non-blocking socket;
//! - cpu: [`cpu.rs`](cpu.rs), hashing on the loop's thread, or with `--offload` on a pool;
//! - disk: [`disk.rs`](disk.rs), reads handed to threads, since a file is never "not ready";
//! - brigade: [`brigade.rs`](brigade.rs), a pipe per task read when epoll says it is ready;
//! - db: [`db.rs`](db.rs), PostgreSQL connections as state machines, and a queue for a pool;
//! - crawl: [`crawl.rs`](crawl.rs), kept-alive connections as state machines, the
//!   frontier the loop's own, each page parsed on the loop (`--offload`: on a pool).

mod brigade;
mod cpu;
mod crawl;
mod db;
mod disk;
mod http;
mod sleep;

use std::io;

use workload::Workload;

use crate::event_loop::{Cx, Part};

/// Start the run's workload on the loop.
pub fn start(cx: &mut Cx) -> io::Result<Box<dyn Part>> {
    Ok(match cx.tasks.args.workload {
        Workload::Sleep => Box::new(sleep::Sleep::start(cx)),
        Workload::Http => Box::new(http::Http::start(cx)),
        Workload::Cpu => Box::new(cpu::Cpu::start(cx)?),
        Workload::Disk => Box::new(disk::Disk::start(cx)?),
        Workload::Brigade => Box::new(brigade::Brigade::start(cx)),
        Workload::Db => Box::new(db::Db::start(cx)),
        Workload::Crawl => Box::new(crawl::Crawl::start(cx)?),
    })
}
