//! The kernel limits on how many threads a process can start, read before starting them.
//!
//! Most limits announce themselves: `clone` fails with EAGAIN at kernel.threads-max,
//! kernel.pid_max or RLIMIT_NPROC, and the model can stop there. One does not: each
//! `std::thread` takes 4 memory mappings (its stack and guard page, and std's alternate
//! signal stack and its guard), and when vm.max_map_count runs out mid-spawn std aborts the
//! whole process ("failed to set up alternative stack guard page"). So a model that starts
//! threads by the thousand reads the limits first and stops before the first one it would
//! cross.

use std::fs;

use crate::TaskError;

/// What one worker of a pool asks the kernel for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Worker {
    /// A thread: a task id, [`MAPPINGS_PER_THREAD`] mappings and a stack in this address
    /// space.
    Thread,
    /// A process: a task id; its memory is its own, shared with the parent until written.
    Process,
}

/// The mappings each `std::thread` (and so each of tokio's) takes: its stack and guard page,
/// and std's alternate signal stack and its guard.
pub const MAPPINGS_PER_THREAD: u64 = 4;

/// How many more workers may start, and the limit that sets that number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Headroom {
    pub threads: u64,
    /// The binding limit, with its value and how much of it is in use, e.g.
    /// `vm.max_map_count (65530; 120 mappings in use, 4 per thread)`.
    pub limit: String,
    /// What that limit must be raised to for `n` workers: `in_use + n × per_worker`.
    in_use: u64,
    per_worker: u64,
}

impl Headroom {
    /// A limit of `max` of which `in_use` is taken, each worker taking `per_worker` more.
    fn of(max: u64, in_use: u64, per_worker: u64, limit: String) -> Headroom {
        Headroom { threads: max.saturating_sub(in_use) / per_worker, limit, in_use, per_worker }
    }

    /// Where no limit can be read: room for any number.
    pub fn unknown() -> Headroom {
        Headroom::of(u64::MAX, 0, 1, "no limit could be read".into())
    }

    /// Refuse a pool of `workers` that would cross the limit, before any of it starts: the
    /// error says how many could start, and what to raise the limit to (exit 1).
    /// `what` names them: "worker threads (--workers)".
    pub fn admit(&self, workers: u64, what: &str) -> Result<(), TaskError> {
        if workers <= self.threads {
            return Ok(());
        }
        let needed = self.in_use.saturating_add(workers.saturating_mul(self.per_worker));
        Err(TaskError {
            message: format!(
                "{workers} {what} cannot start: {} more fit under the limit",
                self.threads
            ),
            limit: Some(format!("{}, to at least {needed}", self.limit)),
        })
    }
}

/// Mappings the process may still need for itself (allocator arenas, buffers) while its
/// threads run: a margin, so the last thread does not take the mapping malloc needed.
const MAPPING_MARGIN: u64 = 1024;

/// The headroom for new workers of this process: the tightest of every limit that can be
/// read — for threads vm.max_map_count, the address space their stacks need (RLIMIT_AS, and
/// the commit limit when overcommit is off), and for both kernel.threads-max,
/// kernel.pid_max and RLIMIT_NPROC.
pub fn headroom(worker: Worker) -> Headroom {
    let tasks_running = system_tasks();
    let mut candidates: Vec<Headroom> = Vec::new();
    if worker == Worker::Thread {
        candidates.extend(mapping_headroom());
        candidates.extend(stack_headroom());
    }
    for (path, name) in [
        ("/proc/sys/kernel/threads-max", "kernel.threads-max"),
        ("/proc/sys/kernel/pid_max", "kernel.pid_max"),
    ] {
        if let (Some(max), Some(running)) = (read_number(path), tasks_running) {
            let limit = format!("{name} ({max}; {running} threads in use system-wide)");
            candidates.push(Headroom::of(max, running, 1, limit));
        }
    }
    if let Some(nproc) = nproc_limit() {
        let mine = user_tasks();
        let limit =
            format!("RLIMIT_NPROC (`ulimit -u` = {nproc}; {mine} of this user's threads in use)");
        candidates.push(Headroom::of(nproc, mine, 1, limit));
    }
    candidates.into_iter().min_by_key(|h| h.threads).unwrap_or_else(Headroom::unknown)
}

/// The headroom vm.max_map_count leaves for new threads of this process — the one limit
/// that aborts the process instead of failing `clone` — or `None` where it cannot be read.
/// A long-running server checks only this one beforehand: the others move with what the
/// rest of the machine does, and `clone` says EAGAIN when one is reached.
pub fn mapping_headroom() -> Option<Headroom> {
    let max = read_number("/proc/sys/vm/max_map_count")?;
    let maps = fs::read("/proc/self/maps").ok()?;
    let in_use = maps.iter().filter(|&&b| b == b'\n').count() as u64 + MAPPING_MARGIN;
    let limit = format!(
        "vm.max_map_count ({max}; {} mappings in use, {MAPPINGS_PER_THREAD} per thread)",
        in_use - MAPPING_MARGIN
    );
    Some(Headroom::of(max, in_use, MAPPINGS_PER_THREAD, limit))
}

/// Descriptors this process may still open for itself (the data file, pipes, the loop's
/// own) besides the ones a pool holds.
const DESCRIPTOR_MARGIN: u64 = 64;

/// The headroom RLIMIT_NOFILE leaves for a pool's descriptors (a connection each): its hard
/// limit, which the models raise the soft one to, less the descriptors open now; `None`
/// where it cannot be read.
pub fn descriptor_headroom() -> Option<Headroom> {
    use nix::sys::resource::{getrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    let open = fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    let limit = format!("RLIMIT_NOFILE (`ulimit -n`, hard limit {hard}; {open} descriptors open)");
    Some(Headroom::of(hard, open + DESCRIPTOR_MARGIN, 1, limit))
}

/// A thread's stack: std's 2 MiB, or `RUST_MIN_STACK`, and its guard page.
fn stack_bytes() -> u64 {
    let stack = std::env::var("RUST_MIN_STACK").ok().and_then(|s| s.parse().ok());
    stack.unwrap_or(2 << 20) + 4096
}

/// The room the threads' stacks have: RLIMIT_AS against this process's address space, and,
/// when overcommit is off (`vm.overcommit_memory = 2`), the machine's commit limit. With
/// overcommit on, a stack is only address space until it is touched, and no limit applies.
fn stack_headroom() -> Vec<Headroom> {
    use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};
    let stack = stack_bytes();
    let mut found = Vec::new();
    if let (Ok((soft, _)), Some(size)) = (getrlimit(Resource::RLIMIT_AS), status_kib("VmSize:")) {
        if soft != RLIM_INFINITY {
            let limit = format!(
                "RLIMIT_AS (`ulimit -v` = {} KiB; {size} KiB in use, {} KiB of stack per thread)",
                soft / 1024,
                stack / 1024
            );
            found.push(Headroom::of(soft / 1024, size, stack / 1024, limit));
        }
    }
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib = |name: &str| -> Option<u64> {
        meminfo.lines().find_map(|l| l.strip_prefix(name))?.split_whitespace().next()?.parse().ok()
    };
    if let (Some(2), Some(max), Some(used)) =
        (read_number("/proc/sys/vm/overcommit_memory"), kib("CommitLimit:"), kib("Committed_AS:"))
    {
        let limit = format!(
            "the commit limit (vm.overcommit_memory = 2: CommitLimit {max} KiB, {used} KiB committed; raise vm.overcommit_ratio or add swap)"
        );
        found.push(Headroom::of(max, used, stack / 1024, limit));
    }
    found
}

/// A `kB` field of /proc/self/status.
fn status_kib(name: &str) -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix(name))?.split_whitespace().next()?.parse().ok()
}

/// An empty vector with room for `n` of what each task keeps, or, where the machine cannot
/// give that much, an error naming memory as the limit: Rust's allocator would abort the
/// whole process instead ("memory allocation of … bytes failed").
pub fn room_for<T>(n: usize, what: &str) -> Result<Vec<T>, TaskError> {
    let mut room = Vec::new();
    room.try_reserve_exact(n).map_err(|_| TaskError {
        message: format!(
            "{n} {what} need {} bytes, more than this process can allocate",
            n.saturating_mul(std::mem::size_of::<T>())
        ),
        limit: Some("memory: RAM and swap (vm.overcommit_memory), or fewer --tasks".into()),
    })?;
    Ok(room)
}

/// What bounds the number of processes and threads, with the values read now: said when
/// `fork` or `clone` fails with EAGAIN, so the reader sees which limit was reached.
pub fn process_limits_now() -> String {
    let show = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
    let nproc = match nproc_limit() {
        Some(limit) => format!(
            "`ulimit -u` (RLIMIT_NPROC) = {limit}, with {} of this user's threads alive",
            user_tasks()
        ),
        None => "`ulimit -u` (RLIMIT_NPROC) does not apply (root, or unlimited)".to_string(),
    };
    format!(
        "kernel.pid_max = {} and kernel.threads-max = {}, with {} threads alive on the machine; {nproc}",
        show(read_number("/proc/sys/kernel/pid_max")),
        show(read_number("/proc/sys/kernel/threads-max")),
        show(system_tasks()),
    )
}

fn read_number(path: &str) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Threads alive on the whole system: the fourth field of /proc/loadavg, "running/total".
fn system_tasks() -> Option<u64> {
    let loadavg = fs::read_to_string("/proc/loadavg").ok()?;
    loadavg.split_whitespace().nth(3)?.split('/').nth(1)?.parse().ok()
}

/// RLIMIT_NPROC as it applies to this process: root (CAP_SYS_RESOURCE) is exempt from it.
fn nproc_limit() -> Option<u64> {
    use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};
    let (soft, _) = getrlimit(Resource::RLIMIT_NPROC).ok()?;
    (soft != RLIM_INFINITY && !nix::unistd::geteuid().is_root()).then_some(soft)
}

/// Threads of this process's real user, which is what RLIMIT_NPROC counts.
fn user_tasks() -> u64 {
    threads_of_user(nix::unistd::getuid().as_raw())
}

/// Threads alive on the machine whose process has real user id `uid`: the count RLIMIT_NPROC
/// compares with its limit when that user forks or starts a thread.
pub fn threads_of_user(uid: u32) -> u64 {
    let uid = uid.to_string();
    let Ok(dir) = fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|e| fs::read_to_string(e.path().join("status")).ok())
        .filter(|status| {
            let field =
                |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
            field("Uid:").and_then(|u| u.split_whitespace().next()) == Some(uid.as_str())
        })
        .filter_map(|status| {
            status.lines().find_map(|l| l.strip_prefix("Threads:"))?.trim().parse::<u64>().ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headroom_names_a_real_limit_with_room_for_a_few_threads() {
        let h = headroom(Worker::Thread);
        assert!(h.threads > 10, "{h:?}");
        assert!(h.limit.contains('('), "{h:?}");
    }

    #[test]
    fn a_pool_past_the_headroom_is_refused_naming_what_to_raise_the_limit_to() {
        let h = Headroom::of(100, 20, 4, "vm.max_map_count (100; 20 in use)".into());
        assert_eq!(h.threads, 20);
        assert!(h.admit(20, "threads").is_ok());
        let e = h.admit(21, "threads").unwrap_err();
        assert!(e.message.contains("21 threads cannot start: 20 more"), "{e}");
        assert!(e.limit.unwrap().ends_with("to at least 104"));
    }
}
