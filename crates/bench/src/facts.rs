//! The machine facts recorded beside every result: a figure means little without them.

use std::time::Duration;

/// `command args…`'s first line of output, or why there is none.
pub fn first_line(program: &str, args: &[&str]) -> String {
    let mut command = child::command(program);
    command.args(args);
    match child::run(command, Duration::from_secs(30)) {
        Ok(out) if out.status.is_some_and(|s| s.success()) => {
            let text = if out.stdout.is_empty() { out.stderr } else { out.stdout };
            text.lines().next().unwrap_or("").trim().to_string()
        }
        // `wrk -v` prints its version, then its usage, and exits 1: a first line that names
        // the program is its version all the same.
        Ok(out) if out.stdout.starts_with(program.rsplit('/').next().unwrap_or(program)) => {
            out.stdout.lines().next().unwrap_or("").trim().to_string()
        }
        Ok(out) => format!("unavailable ({})", out.stderr.lines().last().unwrap_or("").trim()),
        Err(_) => format!("{program} not found"),
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_else(|_| "unknown".into())
}

/// MemTotal from /proc/meminfo, in KiB (0 where unknown).
pub fn mem_total_kib() -> u64 {
    read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Machine facts as (name, value) pairs, in the order they are printed.
pub type Facts = Vec<(&'static str, String)>;

/// The machine, and `more` facts about the tools a bench used (the peers' runtimes, say).
pub fn collect(hyperfine: Option<&str>, more: Facts) -> Facts {
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string());
    let cores =
        std::thread::available_parallelism().map(|n| n.get().to_string()).unwrap_or_default();
    let mut nofile = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit only writes the struct we pass it.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut nofile) };
    let mut facts = vec![
        ("date", first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
        ("cpu", cpu.unwrap_or_else(|| "unknown".into())),
        ("cores", cores),
        (
            "memory",
            read("/proc/meminfo")
                .lines()
                .next()
                .unwrap_or("")
                .replace("MemTotal:", "")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        ),
        ("kernel", read("/proc/sys/kernel/osrelease")),
        ("rustc", first_line("rustc", &["--version"])),
        (
            "limits",
            format!(
            "pid_max {}, threads-max {}, vm.max_map_count {}, somaxconn {}, RLIMIT_NOFILE {}/{}",
            read("/proc/sys/kernel/pid_max"), read("/proc/sys/kernel/threads-max"),
            read("/proc/sys/vm/max_map_count"), read("/proc/sys/net/core/somaxconn"),
            nofile.rlim_cur, nofile.rlim_max,
        ),
        ),
    ];
    facts.extend(commit());
    if let Some(h) = hyperfine {
        facts.push(("hyperfine", first_line(h, &["--version"])));
    }
    facts.extend(more);
    facts
}

/// The commit the run was made at, and whether the code it measures (`stale::MEASURED`)
/// was as committed ("clean") or had changes of its own; nothing outside a git checkout.
fn commit() -> Vec<(&'static str, String)> {
    let git = |args: &[&str]| crate::git::output(std::path::Path::new("."), args).ok();
    let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) else { return Vec::new() };
    let mut status = vec!["status", "--porcelain", "--"];
    status.extend(crate::stale::MEASURED);
    let tree = match git(&status) {
        Some(changes) if changes.trim().is_empty() => "clean".to_string(),
        Some(changes) => format!("{} files of the measured code changed", changes.lines().count()),
        None => "unknown".to_string(),
    };
    vec![("commit", commit.trim().to_string()), ("tree", tree)]
}

pub fn markdown(facts: &[(&str, String)]) -> String {
    facts.iter().map(|(k, v)| format!("- {k}: {v}\n")).collect()
}

/// The facts a results file holds as JSON, as the Markdown list `markdown` writes.
pub fn markdown_of_json(facts: &serde_json::Value) -> String {
    let pairs = facts.as_object().into_iter().flatten();
    pairs.map(|(k, v)| format!("- {k}: {}\n", v.as_str().unwrap_or(""))).collect()
}

pub fn json(facts: &[(&str, String)]) -> serde_json::Value {
    facts
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(v.clone())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}
