//! sleep on the readiness loop: a task is a 16-byte timer in the loop's heap, and nothing
//! else — no stack, no future, no thread. The loop sleeps in `epoll_wait` until the nearest
//! timer, whose timeout is whole milliseconds: a sleep ends up to a millisecond late.
//!
//! Under `strace -f -c`: `epoll_wait` and little else — one thread, no `futex`, no `clone`.

use workload::sleep::SleepingTasks;
use workload::timers::Due;

use crate::event_loop::{Cx, Part};

/// Every task is a timer, set when the run starts: its sleep counts from there.
pub struct Sleep(SleepingTasks);

impl Sleep {
    pub fn start(cx: &mut Cx) -> Sleep {
        Sleep(SleepingTasks::start(cx.tasks))
    }
}

impl Part for Sleep {
    fn on_timer(&mut self, due: Due, cx: &mut Cx) {
        self.0.on_timer(cx.tasks, due);
    }
}
