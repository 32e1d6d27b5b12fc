//! The brigade on monoio: a task per link and a pipe per pair, link i on core i mod R, each
//! `read` of its pipe and the `write` that hands the token on io_uring entries. With R cores
//! every hand-off crosses to another core: the kernel's pipe carries the token and wakes the
//! other core's ring — the one way two cores that share nothing can talk. With `--workers 1`
//! it is `uring`'s brigade on monoio.

use std::os::fd::OwnedFd;
use std::sync::mpsc::Sender;
use std::time::Instant;

use monoio::fs::File;
use workload::brigade::{self, Circle};
use workload::{Args, Done, Runner, TaskError};

use crate::cores::{Core, Finished, Job};

/// Link `id`: the pipe it reads the token from, and the next link's, it writes it to.
pub struct Link {
    id: u32,
    from: OwnedFd,
    next: OwnedFd,
}

/// The circle's pipes, dealt out to `cores` cores as their tasks are, with the token already
/// in the first link's pipe.
pub fn links(args: &Args, cores: u32) -> Result<Vec<Vec<Link>>, TaskError> {
    let circle = Circle::of(args);
    let (reads, mut writes): (Vec<OwnedFd>, Vec<Option<OwnedFd>>) =
        brigade::pipes(circle.tasks, false)?.into_iter().map(|(r, w)| (r, Some(w))).unzip();
    let first = writes[0].as_ref().expect("every write end is there");
    brigade::send(first, 0).map_err(|e| TaskError::starting("starting the circle", &e))?;
    let mut dealt: Vec<Vec<Link>> = (0..cores).map(|_| Vec::new()).collect();
    for (id, from) in (0..).zip(reads) {
        let next = writes[circle.next_task(id) as usize].take().expect("one reader each");
        dealt[(id % cores) as usize].push(Link { id, from, next });
    }
    Ok(dealt)
}

/// Core `core`'s job: its links, each a task, and each link's end sent to the tally.
pub fn job(
    args: &'static Args,
    core: Core,
    links: &mut [Vec<Link>],
    started: Instant,
    done: &Sender<Vec<Done>>,
) -> Job {
    let (circle, mine, mut done) =
        (Circle::of(args), std::mem::take(&mut links[core.index as usize]), Finished::new(done));
    Box::new(move || {
        Box::pin(async move {
            let handles: Vec<_> = mine
                .into_iter()
                .map(|link| {
                    monoio::spawn(async move {
                        let result = one_link(circle, link.from, link.next).await;
                        let (ended, runner) = (Instant::now(), Runner::cached());
                        Done { id: link.id, result, started, ended, runner }
                    })
                })
                .collect();
            for handle in handles {
                done.push(handle.await);
            }
        })
    })
}

/// A pipe's end on the core's ring.
struct Pipe(File);

impl tokio_task::brigade::Pipe for Pipe {
    async fn read_exact(&self, buf: Vec<u8>) -> (std::io::Result<()>, Vec<u8>) {
        self.0.read_exact_at(buf, 0).await
    }

    async fn write(&self, bytes: Vec<u8>) -> std::io::Result<()> {
        self.0.write_all_at(bytes, 0).await.0
    }
}

/// One link, on the core's ring: the shared one of `tokio_task::brigade`.
async fn one_link(circle: Circle, from: OwnedFd, next: OwnedFd) -> Result<u64, TaskError> {
    let open = |fd: OwnedFd| File::from_std(fd.into()).map(Pipe);
    let (from, next) = match (open(from), open(next)) {
        (Ok(from), Ok(next)) => (from, next),
        (Err(e), _) | (_, Err(e)) => return Err(TaskError::starting("a pipe on the ring", &e)),
    };
    tokio_task::brigade::link(circle, &from, &next).await
}
