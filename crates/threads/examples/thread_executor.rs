//! The article's threading toolkit, in Rust: start and join threads, a queue between them,
//! a lock around shared state, and a pool with `submit` and `map` (ThreadPoolExecutor).
//!
//! `cargo run -p conclab-threads --example thread_executor`

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use thread_pool::ThreadPool;

/// `threading.Thread(target=…).start()` then `.join()`: here `join` also hands back the
/// thread's return value, which Python's threads cannot do.
fn spawn_and_join(count: usize) -> Vec<usize> {
    let handles: Vec<_> = (0..count).map(|i| thread::spawn(move || i * i)).collect();
    handles.into_iter().map(|h| h.join().expect("no panic")).collect()
}

/// `queue.Queue`: a producer thread puts items, the consumer gets them in the same order;
/// closing the channel (dropping the sender) is the "no more items" signal.
fn producer_and_consumer(items: u32) -> Vec<u32> {
    let (tx, rx) = crossbeam_channel::bounded(4); // a bounded queue blocks a fast producer
    let producer =
        thread::spawn(move || (0..items).for_each(|i| tx.send(i).expect("consumer alive")));
    let received: Vec<u32> = rx.iter().collect();
    producer.join().expect("no panic");
    received
}

/// `threading.Lock`: many threads add to one counter. The Mutex owns the counter, so it
/// cannot be touched without the lock — the race the article warns about cannot compile.
fn locked_counter(threads: u64, increments: u64) -> u64 {
    let counter = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let counter = counter.clone();
            thread::spawn(move || (0..increments).for_each(|_| *counter.lock().unwrap() += 1))
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().expect("no panic"));
    let total = *counter.lock().unwrap();
    total
}

/// `executor.map(f, items)`: results in input order, though here later items finish first.
/// Returns the results and the order the jobs finished in.
fn pool_map(pool: &ThreadPool, items: u64) -> (Vec<u64>, Vec<u64>) {
    let finished = Arc::new(Mutex::new(Vec::new()));
    let log = finished.clone();
    let results = pool.map(0..items, move |i| {
        thread::sleep(Duration::from_millis(20 * (items - i))); // the first item is the slowest
        log.lock().unwrap().push(i);
        i * 10
    });
    let order = finished.lock().unwrap().clone();
    (results, order)
}

fn main() {
    println!("spawn + join, values back from join: {:?}", spawn_and_join(5));
    println!("a queue between two threads keeps order: {:?}", producer_and_consumer(10));
    println!("8 threads x 10,000 increments under a Mutex: {}", locked_counter(8, 10_000));

    let pool = ThreadPool::new(4).expect("4 threads");
    let started = Instant::now();
    let handle = pool.submit(|| {
        thread::sleep(Duration::from_millis(100));
        format!("ran on {:?}", thread::current().id())
    });
    println!("submit returns at once ({:?}); wait() gives: {}", started.elapsed(), handle.wait());
    let (results, order) = pool_map(&pool, 4);
    println!("map: results {results:?} in input order; the jobs finished in the order {order:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_hands_back_each_threads_value() {
        assert_eq!(spawn_and_join(4), vec![0, 1, 4, 9]);
    }

    #[test]
    fn a_channel_delivers_every_item_in_order() {
        assert_eq!(producer_and_consumer(100), (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn the_lock_loses_no_increment() {
        assert_eq!(locked_counter(8, 10_000), 80_000);
    }

    #[test]
    fn map_returns_input_order_though_jobs_finish_in_reverse() {
        let pool = ThreadPool::new(4).unwrap();
        let (results, order) = pool_map(&pool, 4);
        assert_eq!(results, vec![0, 10, 20, 30]);
        assert_eq!(order, vec![3, 2, 1, 0]);
    }

    #[test]
    fn submit_returns_before_the_job_ends_and_wait_gives_its_value() {
        let pool = ThreadPool::new(2).unwrap();
        let started = Instant::now();
        let handle = pool.submit(|| {
            thread::sleep(Duration::from_millis(200));
            7
        });
        assert!(started.elapsed() < Duration::from_millis(150));
        assert_eq!(handle.wait(), 7);
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[test]
    fn a_pool_of_two_runs_four_jobs_two_at_a_time() {
        let pool = ThreadPool::new(2).unwrap();
        let started = Instant::now();
        pool.map(0..4, |_| thread::sleep(Duration::from_millis(100)));
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(200), "{took:?}");
    }

    #[test]
    #[should_panic(expected = "job failed")]
    fn a_panicking_job_reaches_whoever_waits() {
        let pool = ThreadPool::new(1).unwrap();
        pool.submit(|| panic!("job failed")).wait();
    }
}
