//! sleep on the readiness loop: a task is a 16-byte timer in the loop's heap, and nothing
//! else — no stack, no future, no thread. The loop sleeps in `epoll_wait` until the nearest
//! timer, whose timeout is whole milliseconds: a sleep ends up to a millisecond late.
//!
//! Under `strace -f -c`: `epoll_wait` and little else — one thread, no `futex`, no `clone`.

use workload::timers::Due;

use crate::event_loop::{Cx, Part};

/// Every task's timer is set when the run starts (`LoopTasks::start_sleeps`).
pub struct Sleep;

impl Part for Sleep {
    fn on_timer(&mut self, due: Due, cx: &mut Cx) {
        cx.tasks.sleep_ends(due);
    }
}
