//! `future.add_done_callback(…)`, in tokio: run a callback with a task's result as soon as
//! the task finishes, on the thread that finished it. The article prints which thread ran
//! the request and which ran the callback; so does this.
//!
//! `cargo run -p conclab-tokio --example done_callback`

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

/// Spawn `task`; when it completes, `callback` gets its output. A tokio future has no
/// callback list: the callback is simply the next thing the task does.
fn spawn_with_callback<T: Send + 'static>(
    task: impl Future<Output = T> + Send + 'static,
    callback: impl FnOnce(T) + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move { callback(task.await) })
}

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("unnamed").to_string()
}

/// What happened, in order: each entry is (event, thread that ran it).
async fn request_then_callback() -> Vec<(String, String)> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (request_log, callback_log) = (log.clone(), log.clone());
    let request = async move {
        request_log.lock().unwrap().push(("request".to_string(), thread_name()));
        tokio::time::sleep(Duration::from_millis(100)).await; // the "service query"
        42
    };
    let callback = move |value: u64| {
        callback_log.lock().unwrap().push((format!("callback got {value}"), thread_name()));
    };
    log.lock().unwrap().push(("main".to_string(), thread_name()));
    spawn_with_callback(request, callback).await.expect("no panic");
    let entries = log.lock().unwrap().clone();
    entries
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    for (event, thread) in request_then_callback().await {
        println!("{event:>16}: thread {thread}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_callback_runs_after_the_request_on_a_runtime_worker() {
        let log = request_then_callback().await;
        let events: Vec<&str> = log.iter().map(|(e, _)| e.as_str()).collect();
        assert_eq!(events, vec!["main", "request", "callback got 42"]);
        // The task and its callback run on the runtime's workers (named "tokio-rt-worker" or
        // "tokio-runtime-worker", by version), never on the caller's thread.
        assert!(log[1].1.starts_with("tokio-r"), "{log:?}");
        assert!(log[2].1.starts_with("tokio-r"), "{log:?}");
    }
}
