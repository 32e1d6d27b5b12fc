//! The loop asyncio hides: callbacks registered on a timer (`loop.call_later`) and on a
//! socket (`loop.add_reader`), run by a hand-written loop on `mio`. Every coroutine
//! framework is this underneath: a heap of deadlines, a poller for sockets, and a loop that
//! sleeps in `epoll_wait` until the nearer of the two, then runs what is ready.
//!
//! `cargo run -p conclab-epoll --example callbacks`

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{self, Read};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

type TimerCallback = Box<dyn FnOnce(&mut EventLoop)>;
/// Called each time the socket is readable; returns whether to keep watching it.
type ReaderCallback = Box<dyn FnMut(&mut TcpStream, &mut EventLoop) -> bool>;

struct EventLoop {
    poll: Poll,
    started: Instant,
    /// (due, sequence number): the sequence breaks ties in registration order.
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    timer_callbacks: HashMap<u64, TimerCallback>,
    readers: HashMap<Token, (TcpStream, ReaderCallback)>,
    next_id: u64,
    /// What ran, with milliseconds since the start: for the reader of the output (and tests).
    log: Vec<(u128, String)>,
}

impl EventLoop {
    fn new() -> io::Result<EventLoop> {
        Ok(EventLoop {
            poll: Poll::new()?,
            started: Instant::now(),
            timers: BinaryHeap::new(),
            timer_callbacks: HashMap::new(),
            readers: HashMap::new(),
            next_id: 0,
            log: Vec::new(),
        })
    }

    fn note(&mut self, what: impl Into<String>) {
        self.log.push((self.started.elapsed().as_millis(), what.into()));
    }

    /// `loop.call_later(delay, callback)`.
    fn call_later(&mut self, delay: Duration, callback: impl FnOnce(&mut EventLoop) + 'static) {
        self.next_id += 1;
        self.timers.push(Reverse((Instant::now() + delay, self.next_id)));
        self.timer_callbacks.insert(self.next_id, Box::new(callback));
    }

    /// `loop.add_reader(socket, callback)`: the loop owns the socket while it watches it.
    fn add_reader(
        &mut self,
        mut stream: TcpStream,
        callback: impl FnMut(&mut TcpStream, &mut EventLoop) -> bool + 'static,
    ) -> io::Result<()> {
        self.next_id += 1;
        let token = Token(self.next_id as usize);
        self.poll.registry().register(&mut stream, token, Interest::READABLE)?;
        self.readers.insert(token, (stream, Box::new(callback)));
        Ok(())
    }

    /// Run until no timer is left and no socket is watched.
    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(64);
        while !self.timers.is_empty() || !self.readers.is_empty() {
            // Sleep until the nearest deadline, or for as long as it takes a socket.
            let timeout = self
                .timers
                .peek()
                .map(|Reverse((due, _))| due.saturating_duration_since(Instant::now()));
            self.poll.poll(&mut events, timeout)?;
            let ready: Vec<Token> = events.iter().map(|e| e.token()).collect();
            for token in ready {
                if let Some((mut stream, mut callback)) = self.readers.remove(&token) {
                    if callback(&mut stream, self) {
                        self.readers.insert(token, (stream, callback));
                    } else {
                        self.poll.registry().deregister(&mut stream)?;
                    }
                }
            }
            while let Some(&Reverse((due, id))) = self.timers.peek() {
                if due > Instant::now() {
                    break;
                }
                self.timers.pop();
                let callback =
                    self.timer_callbacks.remove(&id).expect("every timer has its callback");
                callback(self);
            }
        }
        Ok(())
    }
}

/// A server on a free port that, for each connection, says "hello" after `after`.
fn slow_greeter(after: Duration) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::sleep(after);
            let _ = io::Write::write_all(&mut stream, b"hello");
        }
    });
    addr
}

/// Two timers, one socket and a timer set from inside a callback; returns the log.
fn demo() -> io::Result<Vec<(u128, String)>> {
    let mut event_loop = EventLoop::new()?;
    event_loop.call_later(Duration::from_millis(300), |l| l.note("timer set for 300 ms"));
    event_loop.call_later(Duration::from_millis(100), |l| {
        l.note("timer set for 100 ms");
        // A callback may schedule more work: this one fires at 100 + 100 ms.
        l.call_later(Duration::from_millis(100), |l| l.note("timer set by a callback"));
    });
    let stream = TcpStream::connect(slow_greeter(Duration::from_millis(150)))?;
    let mut received = Vec::new();
    event_loop.add_reader(stream, move |stream, l| {
        // Edge-triggered: read until the socket has nothing more (or has closed).
        let mut buf = [0u8; 64];
        let closed = loop {
            match stream.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => received.extend_from_slice(&buf[..n]),
                // Nothing more for now (or, woken early, still connecting): wait for the next event.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::NotConnected
                    ) =>
                {
                    break false
                }
                Err(e) => {
                    l.note(format!("socket failed: {e}"));
                    return false;
                }
            }
        };
        if received.ends_with(b"hello") {
            l.note(format!("socket said {:?}", String::from_utf8_lossy(&received)));
            return false;
        }
        !closed // keep watching until it says hello or closes
    })?;
    event_loop.run()?;
    Ok(event_loop.log)
}

fn main() -> io::Result<()> {
    for (ms, what) in demo()? {
        println!("{ms:>4} ms  {what}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_run_in_deadline_order_with_the_socket_in_between() {
        let log = demo().unwrap();
        let events: Vec<&str> = log.iter().map(|(_, what)| what.as_str()).collect();
        assert_eq!(
            events,
            vec![
                "timer set for 100 ms",
                "socket said \"hello\"",
                "timer set by a callback",
                "timer set for 300 ms"
            ]
        );
        // Timers fire no earlier than their deadline.
        let at = |i: usize| log[i].0;
        assert!(at(0) >= 100 && at(1) >= 150 && at(2) >= 200 && at(3) >= 300, "{log:?}");
    }
}
