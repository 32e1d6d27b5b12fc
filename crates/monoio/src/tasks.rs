//! What a core does with its share of the tasks: spawn each on its runtime, then gather them
//! in order and send the results to the main thread, which tallies, a batch at a time. A task sleeps on monoio's
//! timer (a timeout entry on the core's ring wakes it), hashes on the core itself, or goes to
//! the workload's file.

use std::sync::mpsc::Sender;
use std::time::Instant;

use tokio_task::Outcome;
use workload::measure::Pulse;
use workload::{task, Args, Done, TaskError, Workload};

use crate::cores::{Core, Finished, Job};

/// Core `core`'s job: its tasks, and on the first core the pulse, if there is one.
pub fn job(
    args: &'static Args,
    core: Core,
    start: Instant,
    done: &Sender<Vec<Done>>,
    pulse: Option<&Pulse>,
) -> Job {
    let (done, pulse) = (Finished::new(done), pulse.filter(|_| core.index == 0).cloned());
    Box::new(move || Box::pin(run(args, core, start, done, pulse)))
}

async fn run(
    args: &'static Args,
    core: Core,
    start: Instant,
    mut done: Finished,
    pulse: Option<Pulse>,
) {
    match args.workload {
        Workload::Disk => crate::disk::open(args, core),
        Workload::Db => crate::db::open(args, core),
        _ => {}
    }
    // Spawned first, so that it waits on its timer before any task can hold the core; it
    // is never awaited, and goes with the runtime.
    if let Some(pulse) = pulse {
        monoio::spawn(beat(pulse));
    }
    let handles: Vec<_> = core.ids(args.tasks).map(|id| monoio::spawn(one(args, id))).collect();
    for (id, handle) in core.ids(args.tasks).zip(handles) {
        let Outcome { result, started, ended, runner } = handle.await;
        let started = started.unwrap_or(start);
        done.push(Done { id, result, started, ended, runner });
    }
    drop(done);
    if args.workload == Workload::Disk {
        crate::disk::close(); // on the runtime, which closes the file through its ring
    }
}

/// Task `id`.
async fn one(args: &'static Args, id: u32) -> Outcome {
    let (result, started) = match args.workload {
        Workload::Sleep => {
            monoio::time::sleep(args.sleep()).await;
            (Ok(task::sleep_value(id)), None)
        }
        // Boxed, as in `tokio_task`: a sleeping task should not carry room for a socket.
        Workload::Http => (Box::pin(crate::http::get(args, id)).await, None),
        Workload::Disk => return Box::pin(crate::disk::one(args, id)).await,
        Workload::Cpu => {
            let started = Instant::now();
            (Ok(task::sha256_chain(id, args.work)), Some(started))
        }
        // A query through the shared db task, bounded once it holds a connection.
        Workload::Db => (Box::pin(crate::db::query(args, id)).await, None),
        // The brigade's links and the crawl's URLs are tasks of their own files.
        Workload::Brigade | Workload::Crawl => {
            (Err(TaskError::new("not one of monoio's tasks")), None)
        }
    };
    Outcome::now(result, started)
}

/// Tick `pulse` every [`Pulse::PERIOD`] on this core's timer, for as long as the core runs.
async fn beat(pulse: Pulse) {
    loop {
        let due = Instant::now() + Pulse::PERIOD;
        pulse.expect(due);
        monoio::time::sleep_until(monoio::time::Instant::from_std(due)).await;
        pulse.tick();
    }
}
