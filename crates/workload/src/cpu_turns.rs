//! cpu tasks on a hand-written loop's own thread (`epoll`, `ring`): each waits its turn, one
//! a turn of the loop, and holds the loop while it runs. A 10 ms pulse on the loop's timers
//! shows for how long: the lateness a blocked loop gives every other task.

use std::collections::VecDeque;
use std::time::Instant;

use crate::loop_tasks::LoopTasks;
use crate::measure::Pulse;
use crate::task;
use crate::timers::Due;

/// cpu tasks on the loop's own thread: each waits its turn, one a turn of the loop, and
/// holds the loop while it runs. A 10 ms pulse on the loop's timers shows for how long.
pub struct CpuTurns {
    /// The tasks waiting for their turn (none, when they are offloaded).
    ready: VecDeque<u32>,
    pulse: Pulse,
}

impl CpuTurns {
    /// Every task waiting its turn, unless `offloaded`; and the pulse's first tick.
    pub fn start(tasks: &mut LoopTasks, offloaded: bool) -> CpuTurns {
        let ready = if offloaded { VecDeque::new() } else { (0..tasks.args.tasks).collect() };
        let turns = CpuTurns { ready, pulse: Pulse::default() };
        turns.set_pulse(tasks);
        turns
    }

    /// Run the next waiting task, if one waits. Whether more wait, in which case the loop
    /// must not sleep.
    pub fn run_one(&mut self, tasks: &mut LoopTasks) -> bool {
        if let Some(id) = self.ready.pop_front() {
            let started = Instant::now();
            let value = task::sha256_chain(id, tasks.args.work);
            tasks.finish_started(id, Ok(value), started);
        }
        !self.ready.is_empty()
    }

    /// The pulse's timer is due: it ticks, and the next is set a period on.
    pub fn on_pulse(&mut self, tasks: &mut LoopTasks) {
        self.pulse.tick();
        self.set_pulse(tasks);
    }

    fn set_pulse(&self, tasks: &mut LoopTasks) {
        let at = tasks.now() + Pulse::PERIOD;
        self.pulse.expect(tasks.tally().start + at);
        tasks.set_timer(at, Due::Pulse);
    }

    /// How late the pulse ticked, into the report.
    pub fn end(&self, tasks: &mut LoopTasks) {
        tasks.tally().loop_pulse(&self.pulse);
    }
}
