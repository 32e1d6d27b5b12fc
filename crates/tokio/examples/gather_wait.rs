//! `asyncio.gather` against `asyncio.wait`, in tokio.
//!
//! gather: await the tasks' handles in the order they were started — results come back in
//! submission order, whatever order the tasks finish in. wait: a `JoinSet` hands back each
//! task as it finishes; with a deadline, what is done is done, and the rest is pending —
//! and, unlike asyncio, pending tasks are aborted when the set is dropped or told to.
//!
//! `cargo run -p conclab-tokio --example gather_wait`

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{sleep, timeout_at, Instant};

/// A task that waits `ms` and returns it, noting in `finished` when it is done.
async fn wait_and_return(ms: u64, finished: Arc<Mutex<Vec<u64>>>) -> u64 {
    sleep(Duration::from_millis(ms)).await;
    finished.lock().unwrap().push(ms);
    ms
}

/// gather: (results in submission order, the order the tasks finished in).
async fn gather(delays: &[u64]) -> (Vec<u64>, Vec<u64>) {
    let finished = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> =
        delays.iter().map(|&ms| tokio::spawn(wait_and_return(ms, finished.clone()))).collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.expect("no panic"));
    }
    let order = finished.lock().unwrap().clone();
    (results, order)
}

/// wait / as_completed: results in the order the tasks finish.
async fn as_completed(delays: &[u64]) -> Vec<u64> {
    let mut set = JoinSet::new();
    for &ms in delays {
        set.spawn(wait_and_return(ms, Arc::default()));
    }
    let mut results = Vec::new();
    while let Some(result) = set.join_next().await {
        results.push(result.expect("no panic"));
    }
    results
}

/// wait(timeout=…): (done by the deadline, how many were pending, how many were aborted).
async fn wait_with_timeout(delays: &[u64], timeout: Duration) -> (Vec<u64>, usize, usize) {
    let mut set = JoinSet::new();
    for &ms in delays {
        set.spawn(wait_and_return(ms, Arc::default()));
    }
    let deadline = Instant::now() + timeout;
    let mut done = Vec::new();
    while let Ok(Some(result)) = timeout_at(deadline, set.join_next()).await {
        done.push(result.expect("no panic"));
    }
    let pending = set.len();
    set.abort_all();
    let mut aborted = 0;
    while let Some(result) = set.join_next().await {
        aborted += usize::from(result.is_err_and(|e| e.is_cancelled()));
    }
    (done, pending, aborted)
}

#[tokio::main]
async fn main() {
    let delays = [300, 100, 200];
    let (results, order) = gather(&delays).await;
    println!("gather {delays:?}: results {results:?}, though they finished as {order:?}");
    println!("as completed: {:?}", as_completed(&delays).await);
    let (done, pending, aborted) = wait_with_timeout(&delays, Duration::from_millis(250)).await;
    println!("wait(timeout = 250 ms): done {done:?}, {pending} pending, {aborted} aborted");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gather_returns_submission_order_though_tasks_finish_in_another() {
        let (results, order) = gather(&[300, 100, 200]).await;
        assert_eq!(results, vec![300, 100, 200]);
        assert_eq!(order, vec![100, 200, 300]);
    }

    #[tokio::test]
    async fn a_join_set_returns_tasks_as_they_complete() {
        assert_eq!(as_completed(&[300, 100, 200]).await, vec![100, 200, 300]);
    }

    #[tokio::test]
    async fn a_deadline_splits_done_from_pending_and_the_pending_are_aborted() {
        let (done, pending, aborted) =
            wait_with_timeout(&[100, 600, 50, 700], Duration::from_millis(300)).await;
        assert_eq!(done, vec![50, 100]);
        assert_eq!((pending, aborted), (2, 2));
    }
}
