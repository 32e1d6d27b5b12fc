//! The connections of a server's hand-written loop (`epoll`, `ring`), and their timers: the
//! same in both loops, so that the two differ only in how they wait and move bytes.
//!
//! Each connection sits in a slab slot, and its slot number is its token (epoll) or the tag
//! on its operations (ring). A connection has at most one timer it counts on — for the
//! `/query` delay or for its deadline — and arms a new one only when it needs one sooner, so
//! a keep-alive connection answering thousands of requests adds one timer per `--timeout-ms`,
//! not one per request. A timer that fires for a slot finds out for itself whether anything
//! is due: a later deadline, or a new connection in a reused slot, just drives it once more.

use std::time::{Duration, Instant};

use slab::Slab;

use super::exchange::Exchange;
use super::tally::Counters;
use crate::timers::Timers;

/// One connection: the model's socket state `S` and the protocol.
pub struct LoopConn<S> {
    pub io: S,
    pub exchange: Exchange,
    /// The earliest timer set for this slot and not yet fired.
    armed: Option<Instant>,
}

pub struct LoopConns<S> {
    pub slots: Slab<LoopConn<S>>,
    timers: Timers<u32>,
    start: Instant,
    pub counters: Counters,
    /// SIGINT or SIGTERM came: no more accepting; each connection closes after its answer.
    pub stopping: bool,
    timeout: Duration,
}

impl<S> LoopConns<S> {
    pub fn new(timeout: Duration) -> LoopConns<S> {
        LoopConns {
            slots: Slab::new(),
            timers: Timers::default(),
            start: Instant::now(),
            counters: Counters::default(),
            stopping: false,
            timeout,
        }
    }

    /// A connection accepted now; its slot.
    pub fn insert(&mut self, io: S) -> usize {
        self.counters.accepted();
        let exchange = Exchange::new(self.timeout, Instant::now());
        self.slots.insert(LoopConn { io, exchange, armed: None })
    }

    /// `slot` must be driven again at `at`, if nothing else drives it before.
    pub fn arm(&mut self, slot: usize, at: Instant) {
        let conn = &mut self.slots[slot];
        if conn.armed.is_none_or(|armed| at < armed) {
            conn.armed = Some(at);
            self.timers.set(at.saturating_duration_since(self.start), slot as u32);
        }
    }

    /// How long the loop may wait: until the nearest timer; `None` when there is none, or
    /// when every connection has closed after the stop (their timers are stale).
    pub fn wait_at_most(&self) -> Option<Duration> {
        if self.done() {
            return None;
        }
        self.timers.next_in(self.start.elapsed())
    }

    /// The next slot whose timer is due, if its connection is still there.
    pub fn next_due(&mut self) -> Option<Option<usize>> {
        let now = Instant::now();
        let slot = self.timers.pop_due(now.saturating_duration_since(self.start))? as usize;
        Some(self.slots.get_mut(slot).map(|conn| {
            if conn.armed.is_some_and(|armed| armed <= now) {
                conn.armed = None;
            }
            slot
        }))
    }

    /// Take the connection out of its slot and count what it did.
    pub fn close(&mut self, slot: usize) -> S {
        let conn = self.slots.remove(slot);
        self.counters.closed(conn.exchange.counts());
        conn.io
    }

    /// Stopping, and every connection closed: the loop is done.
    pub fn done(&self) -> bool {
        self.stopping && self.slots.is_empty()
    }
}
