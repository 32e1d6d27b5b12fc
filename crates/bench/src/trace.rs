//! `make strace`, `make perf`, `make flame` and `make syscalls`: one binary under
//! `strace -f -c`, `perf stat` or `perf record` (`flame.rs` draws it), with the service
//! started and stopped around it when the workload is http.

use workload::Workload;

use serde::{Deserialize, Serialize};

use crate::cli::{Syscalls, Tool, Trace};
use crate::programs::Programs;
use crate::service::Service;
use crate::stats::median;
use crate::table::{Table, DASH};

/// `program` (a model binary, or a peer and its script) with the contract's arguments for the
/// workload — `--ms MS` where given, and `extra` — and the service when it needs one.
pub fn command(
    program: &[String],
    workload: Workload,
    tasks: u64,
    ms: Option<u64>,
    extra: &[String],
) -> anyhow::Result<(Vec<String>, Option<Service>)> {
    let http = workload == Workload::Http;
    let service = if http { Some(Service::start()?) } else { None };
    let mut argv = program.to_vec();
    argv.extend(["--workload", workload.name(), "--tasks", &tasks.to_string()].map(String::from));
    if let Some(ms) = ms {
        argv.extend(["--ms".to_string(), ms.to_string()]);
    }
    if let Some(s) = &service {
        argv.extend(["--addr".to_string(), s.addr.clone()]);
    }
    argv.extend(extra.iter().cloned());
    Ok((argv, service))
}

pub fn one(options: &Trace) -> anyhow::Result<()> {
    // The flags that do not apply to the workload (`--ms` on cpu, say) are the model's to
    // refuse, with the reason: one table of them, the models'.
    let mut extra = Vec::new();
    if let Some(work) = options.work {
        extra.extend(["--work".to_string(), work.to_string()]);
    }
    if let Some(workers) = options.workers {
        extra.extend(["--workers".to_string(), workers.to_string()]);
    }
    if options.offload {
        extra.push("--offload".to_string());
    }
    let (argv, _service) = command(
        &Programs::with(crate::programs::places(None)).row(&options.model, &[]).argv,
        options.workload,
        options.tasks.into(),
        options.ms,
        &extra,
    )?;
    if options.tool == Tool::Flame {
        let name = options.workload.name();
        let out =
            options.out.clone().unwrap_or_else(|| crate::flame::default_out(&options.model, name));
        let title = format!("{} · {name} · {} tasks", options.model, options.tasks);
        return crate::flame::draw(&argv, &out, &options.inferno, &title);
    }
    let tool: Vec<&str> = match options.tool {
        Tool::Strace => vec!["strace", "-f", "-c"],
        // Hardware counters are not available on this machine kind: software events only.
        Tool::Perf => {
            vec!["perf", "stat", "-e", "task-clock,context-switches,cpu-migrations,page-faults"]
        }
        Tool::Flame => unreachable!("drawn above"),
    };
    eprintln!("$ {} {}", tool.join(" "), argv.join(" "));
    let mut command = child::argv(&tool);
    command.args(&argv);
    let limit = child::limit();
    match child::run_attached(command, limit) {
        Ok(Some(status)) if status.success() => Ok(()),
        // The program refused its arguments (strace and perf pass its status on), and said
        // why above: bad input, exit 2, as it does.
        Ok(Some(status)) if status.code() == Some(2) => std::process::exit(2),
        Ok(Some(status)) => Err(anyhow::anyhow!("{} exited with {status}", tool[0])),
        Ok(None) => Err(anyhow::anyhow!("{} timed out after {} s", tool[0], limit.as_secs())),
        Err(e) => Err(anyhow::anyhow!("cannot run {}: {e}", tool[0])),
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
        let errors = if fields.len() == 6 { fields[4].parse().unwrap_or(0) } else { 0 };
        rows.push((fields.last().unwrap().to_string(), calls, errors));
    }
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    rows
}

const SOCKET_IO: &str = "read,write,recvfrom,sendto,readv,writev,recvmsg,sendmsg";

/// Run `argv` under strace with `flags`, output to `scratch`; the service is stopped after.
pub fn strace(
    flags: &[&str],
    scratch: &std::path::Path,
    argv: Vec<String>,
    service: Option<Service>,
) -> anyhow::Result<String> {
    eprintln!("strace {} {}", flags.join(" "), argv.join(" "));
    let traced: Vec<String> = ["strace".to_string()]
        .into_iter()
        .chain(flags.iter().map(|f| f.to_string()))
        .chain(["-o".to_string(), scratch.display().to_string()])
        .chain(argv)
        .collect();
    // Its own process group and the children's time limit: a hung model cannot hang the run.
    let ran = child::run_argv(&traced, &[], child::limit());
    drop(service);
    ran.map_err(|e| anyhow::anyhow!("cannot run strace: {e}"))?;
    std::fs::read_to_string(scratch).map_err(|e| anyhow::anyhow!("strace wrote nothing: {e}"))
}

/// What `strace -f -c` counted of one run on a ladder's rung: the calls into the ring, and
/// every call.
#[derive(Clone, Serialize, Deserialize)]
pub struct Calls {
    pub io_uring_enter: u64,
    pub all: u64,
}

impl Calls {
    /// `argv` run once under `strace -f -c`, with `variable` (`NAME=value`) set by strace
    /// itself (-E), so that no `env` of its own is counted.
    pub fn counted(variable: &str, argv: Vec<String>) -> anyhow::Result<Calls> {
        let scratch = std::env::temp_dir().join(format!("conclab-calls-{}", std::process::id()));
        let text = strace(&["-f", "-c", "-E", variable], &scratch, argv, None);
        let _ = std::fs::remove_file(&scratch);
        let calls = parse_strace_summary(&text?);
        let count = |name: &str| calls.iter().find(|c| c.0 == name).map_or(0, |c| c.1);
        Ok(Calls { io_uring_enter: count("io_uring_enter"), all: calls.iter().map(|c| c.1).sum() })
    }
}

/// What one model did under strace for one workload; `results/syscalls.json` holds them all.
#[derive(Serialize, Deserialize)]
pub struct Counts {
    pub workload: String,
    pub model: String,
    pub tasks: u64,
    pub top: String,
    pub clones: u64,
    pub futex: u64,
    pub io_uring_enter: u64,
    pub epoll_wait: u64,
    /// Every system call of the run (the median, where it ran more than once).
    pub total: u64,
    /// Every run's system calls and `io_uring_enter` calls, in the order they ran (http:
    /// `--runs` of them; one for sleep).
    #[serde(default)]
    pub totals: Vec<u64>,
    #[serde(default)]
    pub enters: Vec<u64>,
    /// read/write/recv/send calls whose file descriptor was a socket (http only).
    pub socket_io: Option<u64>,
}

fn measure(
    name: &str,
    program: &[String],
    workload: Workload,
    tasks: u64,
    runs: u32,
    scratch: &std::path::Path,
) -> anyhow::Result<Counts> {
    let summary = || -> anyhow::Result<Vec<(String, u64, u64)>> {
        let (argv, service) = command(program, workload, tasks, Some(100), &[])?;
        Ok(parse_strace_summary(&strace(&["-f", "-c"], scratch, argv, service)?))
    };
    let calls = summary()?;
    let count_in = |calls: &[(String, u64, u64)], names: &[&str]| {
        calls.iter().filter(|c| names.contains(&c.0.as_str())).map(|c| c.1).sum::<u64>()
    };
    let count = |names: &[&str]| count_in(&calls, names);
    let (mut totals, mut enters) =
        (vec![calls.iter().map(|c| c.1).sum::<u64>()], vec![count(&["io_uring_enter"])]);
    // The http counts vary from run to run with how completions and readiness batch: run
    // it again, for the median and the range.
    for _ in 1..if workload == Workload::Http { runs } else { 1 } {
        let again = summary()?;
        totals.push(again.iter().map(|c| c.1).sum());
        enters.push(count_in(&again, &["io_uring_enter"]));
    }
    let socket_io = if workload == Workload::Http {
        // A second run that names every descriptor (-y): count the calls made on sockets.
        let (argv, service) = command(program, workload, tasks, Some(100), &[])?;
        let trace =
            strace(&["-f", "-y", "-e", &format!("trace={SOCKET_IO}")], scratch, argv, service)?;
        Some(trace.lines().filter(|l| l.contains("<socket:[") || l.contains("<TCP")).count() as u64)
    } else {
        None
    };
    Ok(Counts {
        workload: workload.name().into(),
        model: name.into(),
        tasks,
        top: calls
            .iter()
            .take(6)
            .map(|(n, c, _)| format!("{n} {c}"))
            .collect::<Vec<_>>()
            .join(", "),
        clones: count(&["clone", "clone3", "fork", "vfork"]),
        futex: count(&["futex"]),
        io_uring_enter: median(enters.iter().copied()).unwrap_or(0),
        epoll_wait: count(&["epoll_wait", "epoll_pwait", "epoll_pwait2"]),
        total: median(totals.iter().copied()).unwrap_or(0),
        totals,
        enters,
        socket_io,
    })
}

/// One run's count, or the median and the range of several: "2594 (653–3538)", each number
/// written by `show`.
pub fn spread(values: &[u64], show: impl Fn(u64) -> String) -> String {
    match (values.iter().min(), values.iter().max()) {
        (Some(lo), Some(hi)) if lo != hi => {
            let mid = median(values.iter().copied()).unwrap_or(0);
            format!("{} ({}–{})", show(mid), show(*lo), show(*hi))
        }
        (Some(v), _) => show(*v),
        _ => DASH.into(),
    }
}

/// How many tasks a model runs under strace for a workload, if it runs: N = 10,000, but
/// fewer where thousands of processes or threads under strace say nothing new, and serial's
/// 10,000 sleeps of 100 ms would take 17 minutes.
pub fn tasks_under_strace(model: &str, workload: Workload) -> Option<u64> {
    match (model, workload) {
        ("serial", Workload::Sleep) => None,
        ("serial", _) => Some(100),
        ("procs" | "threads", Workload::Http) => Some(1_000),
        _ => Some(10_000),
    }
}

pub fn syscalls(options: &Syscalls) -> anyhow::Result<()> {
    let out = &options.out;
    let roster_programs = Programs::find(&options.python);
    // The models, then the two runtimes uvloop's claim names, where they can run here.
    let mut programs: Vec<(&str, Vec<String>)> = Vec::new();
    for id in crate::programs::models().into_iter().chain(["node-promises", "go-goroutines"]) {
        let row = roster_programs.row(id, &[]);
        match row.missing {
            None => programs.push((id, row.argv)),
            Some(why) => eprintln!("{id}: not run: {why}"),
        }
    }
    let scratch = std::env::temp_dir().join(format!("conclab-strace-{}", std::process::id()));
    let mut tables = String::new();
    let mut all = Vec::new();
    for workload in [Workload::Sleep, Workload::Http] {
        let mut table = Table::headed(
            "model | top syscalls (calls) | all syscalls | clone | \
            futex | io_uring_enter | epoll_wait | reads and writes on sockets",
        );
        for (name, program) in &programs {
            let Some(tasks) = tasks_under_strace(name, workload) else { continue };
            let c = measure(name, program, workload, tasks, options.runs, &scratch)?;
            table.push(vec![
                format!("`{name}` (N = {tasks})"),
                c.top.clone(),
                spread(&c.totals, |n| n.to_string()),
                c.clones.to_string(),
                c.futex.to_string(),
                spread(&c.enters, |n| n.to_string()),
                c.epoll_wait.to_string(),
                c.socket_io.map_or(DASH.into(), |n| n.to_string()),
            ]);
            all.push(c);
        }
        tables += &format!("## {}\n\n{}\n", workload.name(), table.render());
    }
    let _ = std::fs::remove_file(&scratch);
    let mut facts = crate::facts::collect(None, roster_programs.versions());
    facts.push(("strace", crate::facts::first_line("strace", &["-V"])));
    let text = crate::template::fill(
        "syscalls.md",
        crate::template::SYSCALLS,
        &[
            ("tables", &tables),
            ("runs", &options.runs.to_string()),
            ("claims", &claims(&all)),
            ("machine", &crate::facts::markdown(&facts)),
        ],
    )?;
    crate::run::write(out, &text)?;
    crate::run::write(&out.with_extension("json"), &crate::run::to_json(&all))?;
    println!("{text}");
    Ok(())
}

/// A claim a reader should be able to check in the tables: which runs it is about, what must
/// hold of their counts (beside another model's in the same workload, where it compares),
/// and how to say it with them.
struct Claim {
    workloads: &'static [&'static str],
    model: &'static str,
    versus: Option<&'static str>,
    holds: fn(&Counts, Option<&Counts>) -> bool,
    says: fn(&str, &Counts, Option<&Counts>) -> String,
}

const CLAIMS: [Claim; 10] = [
    Claim {
        workloads: &["http"],
        model: "uring",
        versus: None,
        holds: |c, _| c.io_uring_enter > 0 && c.socket_io == Some(0),
        says: |_, c, _| {
            let (enters, io) = (c.io_uring_enter, c.socket_io.unwrap_or(0));
            format!("`uring` moves socket I/O into the ring: {enters} `io_uring_enter`, {io} reads or writes on a socket")
        },
    },
    Claim {
        workloads: &["sleep", "http"],
        model: "epoll",
        versus: None,
        holds: |c, _| c.clones == 0 && c.epoll_wait > 0,
        says: |workload, c, _| {
            let (clones, waits) = (c.clones, c.epoll_wait);
            format!("`epoll` ({workload}) runs in one thread on `epoll_wait`: {clones} clones, {waits} epoll_wait")
        },
    },
    Claim {
        workloads: &["sleep"],
        model: "ring",
        versus: None,
        holds: |c, _| c.io_uring_enter > 0 && c.epoll_wait == 0 && c.clones == 0,
        says: |_, c, _| {
            let (enters, waits, clones) = (c.io_uring_enter, c.epoll_wait, c.clones);
            format!("`ring` (sleep) waits for its timers in the ring: {enters} `io_uring_enter`, {waits} epoll_wait, {clones} clones")
        },
    },
    Claim {
        workloads: &["http"],
        model: "ring",
        versus: Some("epoll"),
        holds: |c, epoll| c.socket_io == Some(0) && epoll.is_some_and(|e| c.total * 10 <= e.total),
        says: |_, c, epoll| {
            let (io, total) = (c.socket_io.unwrap_or(0), c.total);
            let epoll = epoll.map_or("not measured".into(), |e| e.total.to_string());
            format!("`ring` (http) does every socket operation in the ring, in a tenth of `epoll`'s system calls or fewer: {io} reads or writes on a socket, {total} system calls against {epoll}")
        },
    },
    Claim {
        workloads: &["sleep"],
        model: "threads",
        versus: None,
        holds: |c, _| c.clones >= c.tasks && c.futex > 0,
        says: |_, c, _| {
            let (clones, tasks, futex) = (c.clones, c.tasks, c.futex);
            format!("`threads` clones per task and waits in `futex`: {clones} clones for {tasks} tasks, {futex} futex")
        },
    },
    Claim {
        workloads: &["sleep"],
        model: "procs",
        versus: None,
        holds: |c, _| c.clones >= c.tasks,
        says: |_, c, _| {
            format!("`procs` forks per task: {} clones for {} tasks", c.clones, c.tasks)
        },
    },
    Claim {
        workloads: &["sleep"],
        model: "uring",
        versus: None,
        holds: |c, _| c.epoll_wait > 0,
        says: |_, c, _| {
            let waits = c.epoll_wait;
            format!(
                "`uring`'s timers are tokio's, woken by `epoll_wait`: {waits} epoll_wait for sleep"
            )
        },
    },
    Claim {
        workloads: &["sleep"],
        model: "go-goroutines",
        versus: None,
        holds: |c, _| c.clones < c.tasks / 100 && c.futex > 0 && c.epoll_wait > 0,
        says: |_, c, _| {
            let (tasks, clones, futex, waits) = (c.tasks, c.clones, c.futex, c.epoll_wait);
            format!("goroutines are not threads: {tasks} sleeping goroutines on {clones} clones, parked and woken with {futex} futex and the netpoller's {waits} epoll_pwait")
        },
    },
    Claim {
        workloads: &["sleep", "http"],
        model: "node-promises",
        versus: None,
        holds: |c, _| c.epoll_wait > 0 && c.clones < 32,
        says: |workload, c, _| {
            let (waits, clones) = (c.epoll_wait, c.clones);
            format!("Node ({workload}) runs its loop on libuv's `epoll_pwait`: {waits} epoll_wait, {clones} clones (V8's and libuv's helper threads, none per task)")
        },
    },
    Claim {
        workloads: &["sleep"],
        model: "tokio",
        versus: None,
        holds: |c, _| c.epoll_wait > 0 && c.io_uring_enter == 0,
        says: |_, c, _| {
            let waits = c.epoll_wait;
            format!("`tokio` parks its workers in `epoll_wait`: {waits} epoll_wait for sleep")
        },
    },
];

/// Every claim, checked against the counts: "holds", "does not hold", or "not measured".
fn claims(all: &[Counts]) -> String {
    let find = |workload: &str, model: &str| {
        all.iter().find(|c| c.workload == workload && c.model == model)
    };
    let mut out = String::new();
    for claim in &CLAIMS {
        for &workload in claim.workloads {
            let versus = claim.versus.and_then(|other| find(workload, other));
            out += &match find(workload, claim.model) {
                Some(c) => {
                    let holds = (claim.holds)(c, versus);
                    let verdict = if holds { "holds" } else { "**does not hold**" };
                    format!("- {}: {verdict}.\n", (claim.says)(workload, c, versus))
                }
                None => format!("- `{}` ({workload}): not measured.\n", claim.model),
            };
        }
    }
    out
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
