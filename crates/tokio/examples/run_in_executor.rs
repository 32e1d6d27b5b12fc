//! `loop.run_in_executor(ThreadPoolExecutor(3), requests.get, …)`, in tokio: the article's
//! way of using a blocking HTTP client from an event loop. `spawn_blocking` hands each call
//! to the runtime's blocking pool — here capped at three threads — so at most three
//! requests are in flight, and six 200 ms requests take two rounds: about 400 ms.
//!
//! The project's service answers them; the example starts it on a free port itself.
//!
//! `cargo run -p conclab-tokio --example run_in_executor`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BLOCKING_THREADS: usize = 3;

/// Run `requests` blocking GETs of `delay_ms` each through the blocking pool; returns the
/// values, the most requests ever in flight at once, and the time it took.
fn blocking_requests(requests: u32, delay_ms: u64) -> (Vec<u64>, usize, Duration) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let listener = service::listen("127.0.0.1:0".parse().unwrap()).expect("listen");
        let addr = listener.local_addr().unwrap();
        let service = tokio::spawn(service::serve(listener, std::future::pending()));

        let (in_flight, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let started = Instant::now();
        let handles: Vec<_> = (0..requests)
            .map(|id| {
                let (in_flight, peak) = (in_flight.clone(), peak.clone());
                tokio::task::spawn_blocking(move || {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    let value =
                        workload::task::blocking_get(addr, id, delay_ms, Duration::from_secs(10));
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    value.expect("the service answers")
                })
            })
            .collect();
        let mut values = Vec::new();
        for handle in handles {
            values.push(handle.await.expect("no panic"));
        }
        let took = started.elapsed();
        service.abort();
        (values, peak.load(Ordering::SeqCst), took)
    })
}

fn main() {
    let (values, peak, took) = blocking_requests(6, 200);
    println!("6 blocking requests of 200 ms on {BLOCKING_THREADS} threads: values {values:?}");
    println!("at most {peak} in flight at once; took {took:?} (two rounds of three)");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_blocking_threads_run_six_requests_three_at_a_time() {
        let (values, peak, took) = blocking_requests(6, 200);
        assert_eq!(values, vec![100, 101, 102, 103, 104, 105]);
        assert_eq!(peak, BLOCKING_THREADS);
        assert!(took >= Duration::from_millis(400), "two rounds of 200 ms: {took:?}");
        assert!(took < Duration::from_millis(1200), "not one at a time: {took:?}");
    }
}
