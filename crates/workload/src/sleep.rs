//! The sleep workload on a hand-written loop (`epoll`, `ring`): every task is a timer in the
//! loop's heap, set when the run starts, and nothing else — no stack, no future, no thread.
//! Both loops' sleep parts are this; they differ only in how the loop waits for the timer.

use crate::loop_tasks::LoopTasks;
use crate::task;
use crate::timers::Due;

/// The run's sleeping tasks: their timers, in the loop's heap.
pub struct SleepingTasks;

impl SleepingTasks {
    /// Every task's timer, set now: its sleep counts from the run's start.
    pub fn start(tasks: &mut LoopTasks) -> SleepingTasks {
        let at = tasks.args.sleep();
        (0..tasks.args.tasks).for_each(|id| tasks.set_timer(at, Due::Task(id)));
        SleepingTasks
    }

    /// A task's timer is due: its sleep is over, and the task done.
    pub fn on_timer(&self, tasks: &mut LoopTasks, due: Due) {
        if let Due::Task(id) = due {
            tasks.finish(id, Ok(task::sleep_value(id)));
        }
    }
}
