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

/// How many more threads may start, and the limit that sets that number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Headroom {
    pub threads: u64,
    /// The binding limit, with its value and how much of it is in use, e.g.
    /// `vm.max_map_count (65530; 120 mappings in use, 4 per thread)`.
    pub limit: String,
}

/// Mappings the process may still need for itself (allocator arenas, buffers) while its
/// threads run: a margin, so the last thread does not take the mapping malloc needed.
const MAPPING_MARGIN: u64 = 1024;

/// The headroom for new threads of this process, each taking `mappings_per_thread`.
pub fn thread_headroom(mappings_per_thread: u64) -> Headroom {
    let tasks_running = system_tasks();
    let mut candidates: Vec<Headroom> = mapping_headroom(mappings_per_thread).into_iter().collect();
    for (path, name) in [
        ("/proc/sys/kernel/threads-max", "kernel.threads-max"),
        ("/proc/sys/kernel/pid_max", "kernel.pid_max"),
    ] {
        if let (Some(max), Some(running)) = (read_number(path), tasks_running) {
            candidates.push(Headroom {
                threads: max.saturating_sub(running),
                limit: format!("{name} ({max}; {running} threads in use system-wide)"),
            });
        }
    }
    if let Some(nproc) = nproc_limit() {
        let mine = user_tasks();
        candidates.push(Headroom {
            threads: nproc.saturating_sub(mine),
            limit: format!(
                "RLIMIT_NPROC (`ulimit -u` = {nproc}; {mine} of this user's threads in use)"
            ),
        });
    }
    candidates
        .into_iter()
        .min_by_key(|h| h.threads)
        .unwrap_or(Headroom { threads: u64::MAX, limit: "no limit could be read".into() })
}

/// The headroom vm.max_map_count leaves for new threads of this process — the one limit
/// that aborts the process instead of failing `clone` — or `None` where it cannot be read.
/// A long-running server checks only this one beforehand: the others move with what the
/// rest of the machine does, and `clone` says EAGAIN when one is reached.
pub fn mapping_headroom(mappings_per_thread: u64) -> Option<Headroom> {
    let max = read_number("/proc/sys/vm/max_map_count")?;
    let maps = fs::read("/proc/self/maps").ok()?;
    let in_use = maps.iter().filter(|&&b| b == b'\n').count() as u64;
    Some(Headroom {
        threads: max.saturating_sub(in_use + MAPPING_MARGIN) / mappings_per_thread,
        limit: format!(
            "vm.max_map_count ({max}; {in_use} mappings in use, {mappings_per_thread} per thread)"
        ),
    })
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
        let h = thread_headroom(4);
        assert!(h.threads > 10, "{h:?}");
        assert!(h.limit.contains('('), "{h:?}");
    }

    #[test]
    fn more_mappings_per_thread_means_less_headroom() {
        let by_maps = |per| {
            let h = thread_headroom(per);
            h.limit.starts_with("vm.max_map_count").then_some(h.threads)
        };
        if let (Some(four), Some(eight)) = (by_maps(4), by_maps(1000)) {
            assert!(eight < four);
        }
    }
}
