//! What a server holds, read from /proc for its whole process tree (procs forks, nginx has a
//! worker): resident memory, open descriptors, threads. And its descriptor limit, lowered
//! for the soak so that a flood reaches it.

use std::io;

use crate::serve::servers::proc_field;

/// One sample of a process tree.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Sample {
    /// Seconds since the load started (negative before).
    pub t: f64,
    /// Resident memory: the tree's proportional set size (PSS), which counts a page that
    /// forked processes share once, not once a process (for one process, about its RSS).
    pub rss_kib: u64,
    pub fds: u64,
    pub threads: u64,
    /// A flood of this server was open, or had just closed: left out of the memory figures.
    #[serde(default)]
    pub flood: bool,
}

/// `pid` and every descendant, from /proc/PID/task/*/children.
pub fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", all[i])).into_iter().flatten();
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            all.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        }
        i += 1;
    }
    all
}

/// The tree's memory, descriptors and threads now.
pub fn sample(pid: u32, t: f64) -> Sample {
    let mut s = Sample { t, ..Sample::default() };
    for p in tree(pid) {
        s.rss_kib += proc_field(p, "smaps_rollup", "Pss");
        s.threads += proc_field(p, "status", "Threads");
        s.fds += std::fs::read_dir(format!("/proc/{p}/fd")).map_or(0, |d| d.count() as u64);
    }
    s
}

/// Lower RLIMIT_NOFILE (soft and hard) of every process in the tree to `n`.
pub fn limit_descriptors(pid: u32, n: u64) -> io::Result<()> {
    for p in tree(pid) {
        let limit = libc::rlimit { rlim_cur: n, rlim_max: n };
        // SAFETY: prlimit reads `limit`, a valid rlimit on our stack, and writes nothing
        // back (the old-limit pointer is null); it touches no other memory of ours.
        let rc = unsafe {
            libc::prlimit(p as libc::pid_t, libc::RLIMIT_NOFILE, &limit, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
