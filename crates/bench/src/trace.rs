//! `make strace`, `make perf` and `make syscalls`: one binary under `strace -f -c` or
//! `perf stat`, with the service started and stopped around it when the workload is http.

use std::process::Command;

use crate::service::Service;
use crate::table::Table;
use crate::{bin_dir, Options};

const MODELS: [&str; 6] = ["serial", "procs", "threads", "tokio", "epoll", "uring"];

/// The model's command line for the workload; the service when it needs one.
fn command(
    model: &str,
    workload: &str,
    tasks: &str,
    ms: &str,
) -> Result<(Vec<String>, Option<Service>), String> {
    if !MODELS.contains(&model) {
        return Err(format!(
            "MODEL={model:?} is not one of {}",
            MODELS.join(", ")
        ));
    }
    let service = if workload == "http" {
        Some(Service::start(&bin_dir())?)
    } else {
        None
    };
    let mut argv = vec![bin_dir().join(model).display().to_string()];
    argv.extend(["--workload", workload, "--tasks", tasks, "--ms", ms].map(String::from));
    if let Some(s) = &service {
        argv.extend(["--addr".to_string(), s.addr.clone()]);
    }
    Ok((argv, service))
}

pub fn one(options: &Options) -> Result<(), String> {
    let (argv, _service) = command(
        options.get("model")?,
        options.get_or("workload", "sleep"),
        options.get_or("tasks", "10000"),
        options.get_or("ms", "100"),
    )?;
    let tool: Vec<&str> = match options.get("tool")? {
        "strace" => vec!["strace", "-f", "-c"],
        // Hardware counters are not available on this machine kind: software events only.
        "perf" => vec![
            "perf",
            "stat",
            "-e",
            "task-clock,context-switches,cpu-migrations,page-faults",
        ],
        other => return Err(format!("--tool {other:?}: strace or perf")),
    };
    eprintln!("$ {} {}", tool.join(" "), argv.join(" "));
    let status = Command::new(tool[0])
        .args(&tool[1..])
        .args(&argv)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", tool[0]))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} exited with {status}", tool[0]))
    }
}

/// One line of `strace -c`'s table: (syscall, calls, errors).
pub fn parse_strace_summary(text: &str) -> Vec<(String, u64, u64)> {
    let mut rows = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // % time, seconds, usecs/call, calls, [errors,] syscall
        if fields.len() < 5 || fields[0].parse::<f64>().is_err() || fields.last() == Some(&"total")
        {
            continue;
        }
        let calls = fields[3].parse().unwrap_or(0);
        let errors = if fields.len() == 6 {
            fields[4].parse().unwrap_or(0)
        } else {
            0
        };
        rows.push((fields.last().unwrap().to_string(), calls, errors));
    }
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    rows
}

const SOCKET_IO: [&str; 6] = ["read", "write", "recvfrom", "sendto", "readv", "writev"];

pub fn syscalls(options: &Options) -> Result<(), String> {
    let out = options.out()?;
    let scratch = std::env::temp_dir().join(format!("conclab-strace-{}", std::process::id()));
    let mut text = String::from(
        "# Syscalls per model\n\nWritten by `make syscalls` ([`crates/bench/src/trace.rs`](../crates/bench/src/trace.rs)): \
         each model under `strace -f -c` (all threads and children), the top syscalls by count. strace slows every \
         syscall down, so read the counts, not the times.\n\n",
    );
    for (workload, tasks) in [("sleep", "10000"), ("http", "1000")] {
        text += &format!("## {workload}, N = {tasks}\n\n");
        let mut table = Table::new(&[
            "model",
            "top syscalls (calls)",
            "socket read/write calls",
            "clone + fork",
            "futex",
            "io_uring_enter",
            "epoll_wait",
        ]);
        for model in MODELS {
            if model == "serial" && workload == "sleep" {
                continue; // 10,000 × 100 ms one after another: 17 minutes of nothing new
            }
            let tasks = if model == "serial" { "100" } else { tasks };
            let (argv, service) = command(model, workload, tasks, "100")?;
            eprintln!("strace -f -c {}", argv.join(" "));
            let status = Command::new("strace")
                .args(["-f", "-c", "-o"])
                .arg(&scratch)
                .args(&argv)
                .stdout(std::process::Stdio::null())
                .status();
            drop(service);
            status.map_err(|e| format!("cannot run strace: {e}"))?;
            let summary = std::fs::read_to_string(&scratch)
                .map_err(|e| format!("strace wrote nothing: {e}"))?;
            let calls = parse_strace_summary(&summary);
            let count = |names: &[&str]| {
                calls
                    .iter()
                    .filter(|c| names.contains(&c.0.as_str()))
                    .map(|c| c.1)
                    .sum::<u64>()
            };
            let top = calls
                .iter()
                .take(6)
                .map(|(n, c, _)| format!("{n} {c}"))
                .collect::<Vec<_>>()
                .join(", ");
            table.push(vec![
                format!(
                    "`{model}`{}",
                    if tasks == "100" && workload == "http" && model == "serial" {
                        " (N = 100)"
                    } else {
                        ""
                    }
                ),
                top,
                count(&SOCKET_IO).to_string(),
                count(&["clone", "clone3", "fork", "vfork"]).to_string(),
                count(&["futex"]).to_string(),
                count(&["io_uring_enter"]).to_string(),
                count(&["epoll_wait", "epoll_pwait", "epoll_pwait2"]).to_string(),
            ]);
        }
        text += &table.render();
        text += "\n";
    }
    let _ = std::fs::remove_file(&scratch);
    text += "`socket read/write calls` counts read, write, recvfrom, sendto, readv and writev of any file descriptor \
             (the pipes of `procs` included); for `uring`'s http run they are the ring's job instead.\n";
    std::fs::write(&out, &text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_strace_summary;

    #[test]
    fn the_strace_summary_is_read_by_count() {
        let text = "% time     seconds  usecs/call     calls    errors syscall\n\
                    ------ ----------- ----------- --------- --------- ----------------\n\
                     60.00    0.006000           6      1000           epoll_wait\n\
                     30.00    0.003000           1      2000       100 futex\n\
                     10.00    0.001000         500         2           clone3\n\
                    ------ ----------- ----------- --------- --------- ----------------\n\
                    100.00    0.010000           3      3002       100 total\n";
        let rows = parse_strace_summary(text);
        assert_eq!(
            rows,
            vec![
                ("futex".into(), 2000, 100),
                ("epoll_wait".into(), 1000, 0),
                ("clone3".into(), 2, 0)
            ]
        );
    }
}
