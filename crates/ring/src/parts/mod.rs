//! Which part runs each workload on the completion loop: the one place the loop's crate
//! names the workloads. The loop starts the part `args.workload` picks, once, and hands it
//! every completion from then on.
//!
//! In the order to read them:
//! - sleep: [`sleep.rs`](sleep.rs), a timer per task;
//! - http: [`http.rs`](http.rs), a request as a chain of ring entries, on the rung of
//!   [`client_path.rs`](client_path.rs) that `CONCLAB_RING_CLIENT_PATH` picks (results/http's
//!   variant table measures each at N = 10,000);
//! - cpu: [`cpu.rs`](cpu.rs), hashing on the loop's thread, or with `--offload` on a pool
//!   that wakes the loop through a posted READ (`../wake.rs`);
//! - disk: [`disk.rs`](disk.rs), each read an entry, where epoll must use threads;
//! - brigade: [`brigade.rs`](brigade.rs), pipe reads and writes on the ring;
//! - db: [`db.rs`](db.rs), PostgreSQL connections as chains of entries, and a queue for a pool;
//! - crawl: [`crawl.rs`](crawl.rs), kept-alive connections as chains of entries, read
//!   one-shot or multishot as [`crawl_path.rs`](crawl_path.rs) and
//!   `CONCLAB_RING_CRAWL_PATH` pick (results/crawl measures both), the frontier the loop's
//!   own, each page parsed on the loop (`--offload`: on a pool).

mod brigade;
mod client_path;
mod cpu;
mod crawl;
mod crawl_path;
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
        Workload::Http => Box::new(http::Http::start(cx)?),
        Workload::Cpu => Box::new(cpu::Cpu::start(cx)?),
        Workload::Disk => Box::new(disk::Disk::start(cx)?),
        Workload::Brigade => Box::new(brigade::Brigade::start(cx)?),
        Workload::Db => Box::new(db::Db::start(cx)?),
        Workload::Crawl => Box::new(crawl::Crawl::start(cx)?),
    })
}
