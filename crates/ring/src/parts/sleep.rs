//! sleep on the completion loop: a task is a 16-byte timer in the loop's heap, as in
//! `epoll`, and the loop waits in `io_uring_enter` with a timeout to the nearest one, to the
//! nanosecond. There is no timeout entry per task: `examples/timeout_per_task.rs` measures
//! that variant, and the crate's doc says why it lost.
//!
//! Under `strace -f -c`: one `io_uring_setup` and an `io_uring_enter` per wait — no
//! `epoll_wait`, no `clock_nanosleep`, no `clone`.

use std::io;

use workload::sleep::SleepingTasks;
use workload::timers::Due;

use crate::event_loop::{Cx, Part};
use crate::queues::Completion;

/// Every task is a timer, set when the run starts: its sleep counts from there.
pub struct Sleep(SleepingTasks);

impl Sleep {
    pub fn start(cx: &mut Cx) -> Sleep {
        Sleep(SleepingTasks::start(cx.tasks))
    }
}

impl Part for Sleep {
    fn on_complete(&mut self, done: Completion, _: &mut Cx) -> io::Result<()> {
        let Completion { tag, .. } = done;
        unreachable!("sleeps submit nothing, yet {tag:?} completed")
    }

    fn on_timer(&mut self, due: Due, cx: &mut Cx) -> io::Result<()> {
        self.0.on_timer(cx.tasks, due);
        Ok(())
    }
}
