//! What the binaries measure about themselves: rusage, children's peak memory, lateness.
//!
//! hyperfine's memory field is a high-water mark over every child it ever waited for, so it
//! cannot tell one command's memory; each binary reports its own instead.

use std::io;
use std::time::Duration;

use nix::sys::resource::{getrlimit, getrusage, setrlimit, Resource, Usage, UsageWho};

/// The process's own resource usage, plus that of the children it has reaped.
pub struct Rusage {
    pub max_rss_kib: u64,
    /// The largest peak RSS of any child reaped so far.
    pub children_max_rss_kib: u64,
    pub voluntary_ctx_switches: u64,
    pub involuntary_ctx_switches: u64,
    pub user_s: f64,
    pub sys_s: f64,
}

/// Read `getrusage` for this process (all its threads) and its reaped children.
///
/// Context switches and CPU time add the children's in, since for `procs` that is where the
/// work happens; peak RSS is this process's own (children's is summed from `wait4`).
pub fn rusage() -> Rusage {
    let me = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage(RUSAGE_SELF) cannot fail");
    let kids =
        getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage(RUSAGE_CHILDREN) cannot fail");
    let secs = |u: &Usage| {
        let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
        (t(u.user_time()), t(u.system_time()))
    };
    let ((mu, ms), (ku, ks)) = (secs(&me), secs(&kids));
    Rusage {
        max_rss_kib: me.max_rss() as u64,
        children_max_rss_kib: kids.max_rss() as u64,
        voluntary_ctx_switches: (me.voluntary_context_switches()
            + kids.voluntary_context_switches()) as u64,
        involuntary_ctx_switches: (me.involuntary_context_switches()
            + kids.involuntary_context_switches()) as u64,
        user_s: mu + ku,
        sys_s: ms + ks,
    }
}

/// How a reaped child ended, and its peak RSS.
pub struct Reaped {
    pub pid: i32,
    pub status: i32,
    pub max_rss_kib: u64,
}

impl Reaped {
    /// A one-line description of an abnormal end, or `None` for `exit(0)`.
    pub fn failure(&self) -> Option<String> {
        let s = self.status;
        if libc::WIFEXITED(s) && libc::WEXITSTATUS(s) == 0 {
            None
        } else if libc::WIFEXITED(s) {
            Some(format!("child {} exited with status {}", self.pid, libc::WEXITSTATUS(s)))
        } else if libc::WIFSIGNALED(s) {
            Some(format!("child {} was killed by signal {}", self.pid, libc::WTERMSIG(s)))
        } else {
            Some(format!("child {} ended with wait status {s:#x}", self.pid))
        }
    }
}

/// Reap one child with `wait4` (`pid` -1: any child), returning its status and peak RSS.
/// nix has no `wait4`, and only `wait4` gives one child's own rusage.
pub fn wait4(pid: i32) -> io::Result<Reaped> {
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `usage` are valid, writable and outlive the call.
        let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if got >= 0 {
            return Ok(Reaped { pid: got, status, max_rss_kib: usage.ru_maxrss as u64 });
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Raise the soft `RLIMIT_NOFILE` to the hard limit, and return it: every socket is a file
/// descriptor, and the default soft limit (often 1024) would stop the models long before the
/// machine does.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(hard)
}

/// p50, p99 and max of a set of durations, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// Lateness of each completion against a perfect model that runs `concurrency` tasks at a
/// time, each taking `each`: the k-th task to finish (k from 0) ideally finishes at
/// `(k / concurrency + 1) × each`. Comparing in completion order makes the figure fair to
/// models that finish tasks out of id order. Negative lateness is possible (a task the
/// ideal schedule would have queued) and is kept, not clipped.
pub fn lateness(
    finished: &mut [Duration],
    concurrency: u32,
    each: Duration,
) -> Option<Percentiles> {
    if finished.is_empty() {
        return None;
    }
    finished.sort_unstable();
    let late: Vec<f64> = finished
        .iter()
        .enumerate()
        .map(|(k, at)| {
            let ideal = each * (k as u32 / concurrency.max(1) + 1);
            (at.as_nanos() as f64 - ideal.as_nanos() as f64) / 1e6
        })
        .collect();
    Percentiles::of(late)
}

impl Percentiles {
    /// Nearest-rank percentiles of values in ms; `None` for no values.
    pub fn of(mut ms: Vec<f64>) -> Option<Percentiles> {
        if ms.is_empty() {
            return None;
        }
        ms.sort_unstable_by(f64::total_cmp);
        let pick = |q: f64| nearest_rank(&ms, q).expect("not empty");
        Some(Percentiles { p50: pick(0.50), p99: pick(0.99), max: ms[ms.len() - 1] })
    }
}

/// The value at quantile `q` (0 ≤ q ≤ 1) of `sorted` by nearest rank: the ⌈q × len⌉-th
/// smallest, the first for q = 0; `None` for none. The one rule every percentile and median
/// of the project follows, the reports' and the benchmarks' alike.
pub fn nearest_rank<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    let rank = ((sorted.len() as f64 * q).ceil() as usize).max(1);
    sorted.get(rank.min(sorted.len()).checked_sub(1)?).copied()
}

/// Nearest-rank percentiles of microsecond figures, reported in ms; `None` for none.
pub fn percentiles_ms(us: &mut [f32]) -> Option<Percentiles> {
    Percentiles::of(us.iter().map(|&u| f64::from(u) / 1e3).collect())
}

/// The most threads the process has been seen with. Linux keeps no high-water mark of a
/// process's threads, so it is sampled: `num_threads` of `/proc/self/stat`, read through one
/// descriptor kept open (one `pread` a sample). The kernel's own workers count too, where
/// they join the process's thread group (io_uring's `iou-wrk` threads do).
pub struct ThreadPeak {
    stat: Option<std::fs::File>,
    pub peak: u32,
    last: std::time::Instant,
}

impl ThreadPeak {
    pub fn new() -> ThreadPeak {
        let stat = std::fs::File::open("/proc/self/stat").ok();
        let mut peak = ThreadPeak { stat, peak: 1, last: std::time::Instant::now() };
        peak.sample();
        peak
    }

    /// Look now.
    pub fn sample(&mut self) {
        use std::os::unix::fs::FileExt;
        let Some(stat) = &self.stat else { return };
        let mut buf = [0u8; 1024];
        let Ok(n) = stat.read_at(&mut buf, 0) else { return };
        // The command name, in parentheses, may hold spaces: count fields after its `)`.
        let text = String::from_utf8_lossy(&buf[..n]);
        let after = text.rsplit_once(')').map_or("", |(_, rest)| rest);
        if let Some(threads) = after.split_whitespace().nth(17).and_then(|t| t.parse().ok()) {
            self.peak = self.peak.max(threads);
        }
        self.last = std::time::Instant::now();
    }

    /// Look, unless the last look was less than `period` before `now`.
    pub fn sample_every(&mut self, now: std::time::Instant, period: Duration) {
        if now.saturating_duration_since(self.last) >= period {
            self.sample();
        }
    }
}

impl Default for ThreadPeak {
    fn default() -> ThreadPeak {
        ThreadPeak::new()
    }
}

/// An event loop's pulse: a timer that should fire every [`Pulse::PERIOD`], and how late
/// each tick woke. While the loop runs a cpu task itself, the pulse stops until it is done;
/// while it hands the task to a pool (`--offload`), the pulse keeps time. `tokio` and
/// `uring` run it as a task (`tokio_task::pulse`); `epoll` keeps its timer in its own heap.
#[derive(Clone, Default)]
pub struct Pulse(std::sync::Arc<std::sync::Mutex<PulseState>>);

#[derive(Default)]
struct PulseState {
    late_ms: Vec<f64>,
    /// Each tick: when it was due and when it woke (for `--timeline`).
    ticks: Vec<(std::time::Instant, std::time::Instant)>,
    /// The tick being waited for: if the run ends before the loop gets to it, it still counts.
    pending: Option<std::time::Instant>,
}

impl Pulse {
    pub const PERIOD: Duration = Duration::from_millis(10);

    fn state(&self) -> std::sync::MutexGuard<'_, PulseState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next tick is due at `due`: call before waiting for it.
    pub fn expect(&self, due: std::time::Instant) {
        self.state().pending = Some(due);
    }

    /// The pending tick woke now.
    pub fn tick(&self) {
        let mut state = self.state();
        if let Some(due) = state.pending.take() {
            let now = std::time::Instant::now();
            state.late_ms.push(now.saturating_duration_since(due).as_secs_f64() * 1e3);
            state.ticks.push((due, now));
        }
    }

    /// How late every tick woke, counting a tick still waiting as woken now.
    pub fn lag(&self) -> Option<Percentiles> {
        self.tick();
        Percentiles::of(self.state().late_ms.clone())
    }

    /// Every tick so far: (due, woke).
    pub fn ticks(&self) -> Vec<(std::time::Instant, std::time::Instant)> {
        self.state().ticks.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn lateness_compares_each_completion_with_the_ideal_schedule() {
        // Two at a time, 100 ms each: ideal finishes 100, 100, 200, 200.
        let mut done = vec![ms(203), ms(101), ms(205), ms(100)];
        let p = lateness(&mut done, 2, ms(100)).unwrap();
        assert!((p.p50 - 1.0).abs() < 1e-9, "{p:?}");
        assert!((p.max - 5.0).abs() < 1e-9, "{p:?}");
        assert!((p.p99 - 5.0).abs() < 1e-9, "{p:?}");
    }

    #[test]
    fn serial_lateness_grows_only_with_real_delay() {
        let mut done: Vec<_> = (1..=10).map(|k| ms(k * 100 + 1)).collect();
        let p = lateness(&mut done, 1, ms(100)).unwrap();
        assert!((p.max - 1.0).abs() < 1e-9, "{p:?}");
        assert!(lateness(&mut [], 1, ms(100)).is_none());
    }

    #[test]
    fn the_thread_peak_sees_threads_that_are_up() {
        let mut peak = ThreadPeak::new();
        let (holds, waiters): (Vec<_>, Vec<_>) = (0..3)
            .map(|_| {
                let (hold, wait) = std::sync::mpsc::channel::<()>();
                (hold, std::thread::spawn(move || wait.recv().unwrap_or_default()))
            })
            .unzip();
        peak.sample();
        drop(holds);
        waiters.into_iter().for_each(|t| t.join().unwrap());
        assert!(peak.peak >= 4, "{}", peak.peak);
    }

    #[test]
    fn rusage_reports_a_nonzero_peak() {
        assert!(rusage().max_rss_kib > 0);
    }

    #[test]
    fn the_nofile_limit_can_be_raised_to_the_hard_limit() {
        let hard = raise_nofile_limit().unwrap();
        assert_eq!(getrlimit(Resource::RLIMIT_NOFILE).unwrap().0, hard);
    }
}
