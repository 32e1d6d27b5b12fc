//! The timer heap a hand-written event loop sleeps on (`epoll`, `ring`): every deadline in
//! one binary heap, nearest first. A timer is 16 bytes, and for a sleeping task it is all the
//! memory the task takes: no stack, no future, no thread.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

/// What a timer is for: a task's, whose meaning is its workload's (a sleep ends, a request
/// runs out of time), or the loop's own pulse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Due {
    /// Task `id`'s timer.
    Task(u32),
    /// The loop's 10 ms pulse ([`crate::measure::Pulse`]).
    Pulse,
}

/// Every timer of a loop, nearest first; times count from the run's start. What a timer is
/// for is a [`Due`] for tasks; a server's loop keys its timers by connection.
pub struct Timers<T = Due> {
    heap: BinaryHeap<Reverse<Timer<T>>>,
}

impl<T: Ord> Default for Timers<T> {
    fn default() -> Self {
        Timers { heap: BinaryHeap::new() }
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Timer<T> {
    /// Nanoseconds since the run's start: a `Duration` would take 8 bytes more a timer.
    due_ns: u64,
    what: T,
}

const _: () = assert!(std::mem::size_of::<Timer<Due>>() == 16);

impl<T: Ord + Copy> Timers<T> {
    /// Room for `timers` at once, or the error that says the machine has not that much.
    pub fn with_capacity(timers: usize) -> Result<Timers<T>, crate::TaskError> {
        let room = crate::limits::room_for(timers, "tasks' timers")?;
        Ok(Timers { heap: BinaryHeap::from(room) })
    }

    /// A timer due `at` after the run's start.
    pub fn set(&mut self, at: Duration, what: T) {
        self.heap.push(Reverse(Timer { due_ns: at.as_nanos() as u64, what }));
    }

    /// How long from `now` until the nearest timer is due (zero if one is overdue); `None`
    /// when there is no timer.
    pub fn next_in(&self, now: Duration) -> Option<Duration> {
        let now = now.as_nanos() as u64;
        self.heap.peek().map(|Reverse(t)| Duration::from_nanos(t.due_ns.saturating_sub(now)))
    }

    /// The nearest timer, taken off the heap, if it is due at `now`.
    pub fn pop_due(&mut self, now: Duration) -> Option<T> {
        let now = now.as_nanos() as u64;
        self.heap.peek().filter(|Reverse(t)| t.due_ns <= now)?;
        self.heap.pop().map(|Reverse(t)| t.what)
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fall_due_nearest_first_and_not_before_their_time() {
        let ms = Duration::from_millis;
        let mut t: Timers = Timers::default();
        t.set(ms(30), Due::Task(3));
        t.set(ms(10), Due::Pulse);
        t.set(ms(20), Due::Task(2));
        assert_eq!(t.next_in(ms(4)), Some(ms(6)));
        assert_eq!(t.pop_due(ms(9)), None);
        assert_eq!(t.pop_due(ms(25)), Some(Due::Pulse));
        assert_eq!(t.pop_due(ms(25)), Some(Due::Task(2)));
        assert_eq!(t.pop_due(ms(25)), None);
        assert_eq!(t.next_in(ms(40)), Some(Duration::ZERO));
        assert_eq!(t.pop_due(ms(40)), Some(Due::Task(3)));
        assert!(t.is_empty() && t.next_in(ms(40)).is_none());
    }
}
