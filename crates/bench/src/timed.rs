//! The timed tables (hyperfine's): which commands `seed`, `http` and `cpu` run, in which
//! groups, the page each writes, and its compact form in the README. The prose of the pages
//! is in `templates/`, what the figures say is computed in [`crate::reading`].

use std::path::Path;

use anyhow::Context;

use crate::cli::Timed;
use crate::programs::{self, roster, Programs};
use crate::run::{read_json, Bench, Group, HyperfineExport, Measured, ReportEntry, Row};
use crate::table::{lateness_p99, loop_lag, memory, own_wall, seconds, Table, DASH};
use crate::{facts, reading, table, template};
use roster::{Flag, Workload};

fn args(text: &str) -> Vec<String> {
    text.split_whitespace().map(String::from).collect()
}

fn group(label: &str, rows: Vec<Row>, warmup: u32, runs: u32) -> Group {
    Group { label: label.to_string(), rows, warmup, runs }
}

/// The bench, the peers and the machine facts (also written to `machine.json`).
fn setup(options: &Timed) -> anyhow::Result<(Bench, Programs, facts::Facts)> {
    let programs = Programs::find(&options.python);
    let bench = Bench::new(options.hyperfine.clone(), &options.out)?;
    let facts = facts::collect(Some(&options.hyperfine), programs.versions());
    bench.write("machine.json", &crate::run::to_json(&facts::json(&facts)))?;
    Ok((bench, programs, facts))
}

/// Every program that runs `workload`, a row each by its id, and after the rows of the
/// programs `more` names, the rows it adds: `more(program)` gives (label, extra arguments).
fn every_and(
    programs: &Programs,
    workload: Workload,
    a: &[String],
    more: impl Fn(&programs::Program) -> Vec<(String, Vec<String>)>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for p in roster().running(workload) {
        rows.push(programs.row(&p.id, a));
        for (label, extra) in more(p) {
            rows.push(programs.row(&label, &[a.to_vec(), extra].concat()));
        }
    }
    rows
}

// ---- make bench: the article's table ----------------------------------------------------

/// The article's figures for "10 tasks, each waits 1 s", beside the rows that reproduce
/// them: the Python rows it measured, and the Rust rows that are their analogs.
const ARTICLE: [(&str, &str); 10] = [
    ("serial", "10.0751 s (serial)"),
    ("procs", "1.1639 s (processes)"),
    ("threads", "1.0146 s (threads)"),
    ("tokio", "1.0110 s (asyncio)"),
    ("epoll", "1.01 s (asyncio + uvloop)"),
    ("py-serial", "10.0751 s"),
    ("py-processes (10 workers)", "1.1639 s"),
    ("py-threads (10 workers)", "1.0146 s"),
    ("py-asyncio", "1.0110 s"),
    ("py-uvloop", "1.01 s"),
];

pub fn article_figure(name: &str) -> Option<&'static str> {
    ARTICLE.iter().find(|(n, _)| *n == name).map(|(_, figure)| *figure)
}

pub fn seed(options: &crate::cli::Seed) -> anyhow::Result<()> {
    let quick = options.quick;
    let (bench, programs, facts) = setup(&options.timed)?;
    let (ms, fast_runs, slow_runs) = if quick { (100, 3, 2) } else { (1000, 5, 3) };
    let a = args(&format!("--tasks 10 --ms {ms}"));
    // Every program that sleeps; the article's Python pools also at one worker a task, as
    // it sized them.
    let sized = |p: &programs::Program| match p.id.as_str() {
        "py-processes" | "py-threads" => {
            vec![(format!("{} (10 workers)", p.id), args("--workers 10"))]
        }
        _ => vec![],
    };
    let mut all = bench.reports(every_and(&programs, Workload::Sleep, &a, sized));
    for m in &mut all {
        m.row.article = article_figure(&m.row.name);
    }
    // The programs that ran one task at a time take tasks × ms a run: fewer runs of them.
    let one_at_a_time = |m: &Measured| m.report.as_ref().is_some_and(|r| r.concurrency == 1);
    let (slow, fast): (Vec<Measured>, Vec<Measured>) = all.into_iter().partition(one_at_a_time);
    let mut rows = bench.time("serial", slow, 0, slow_runs)?;
    rows.extend(bench.time("concurrent", fast, 1, fast_runs)?);
    bench.write_reports(&rows, "reports.json")?;
    // The article's order: each runtime's rows together, the one-at-a-time row first.
    let order = |m: &Measured| {
        let runtime = roster().of(&m.row.name).map(|p| p.runtime.as_str()).unwrap_or_default();
        let first = roster().program.iter().position(|p| p.runtime == runtime);
        (first.unwrap_or(usize::MAX), !one_at_a_time(m))
    };
    rows.sort_by_key(order);

    let table = table::timed_table(&rows, !quick, Some(ms as f64 / 1000.0));
    let reading = reading::seed(&rows, ms as f64 / 1000.0);
    let title = if quick {
        format!("10 tasks × {ms} ms (bench-quick)")
    } else {
        "10 tasks, each waits 1 s".into()
    };
    let target = if quick { "bench-quick" } else { "bench" };
    let (slow_runs, fast_runs, ms) = (slow_runs.to_string(), fast_runs.to_string(), ms.to_string());
    write_page(
        &bench,
        ("seed.md", template::SEED),
        &facts,
        &[
            ("title", &title),
            ("target", target),
            ("slow_runs", &slow_runs),
            ("fast_runs", &fast_runs),
            ("ms", &ms),
            ("table", &table),
            ("reading", &reading),
        ],
    )?;
    println!("\n{table}\n{reading}");
    println!("written to {}/README.md", bench.out.display());
    Ok(())
}

// ---- make bench-cpu: parallelism without a GIL -------------------------------------------

/// SHA-256 rounds per cpu task: about 0.19 s of one core in Rust on the machine the seed
/// results come from (SHA-NI), about 0.9 s in Python's hashlib. Fixed, never calibrated.
pub const CPU_WORK: u32 = 4_000_000;
const CPU_TASKS: u32 = 8;

pub fn cpu(options: &Timed) -> anyhow::Result<()> {
    let (bench, all_programs, facts) = setup(options)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let a = args(&format!("--workload cpu --tasks {CPU_TASKS} --work {CPU_WORK}"));
    // Every program, and after it: its runtime's one-at-a-time row where that is its own
    // with a flag (Go's single worker), a Rust pool at one worker a core, an event loop's
    // --offload. The article's Python pools are already at their default size.
    let variants = |p: &programs::Program| {
        let mut more = Vec::new();
        let one = roster().runtime[&p.runtime].one_at_a_time.clone();
        if programs::id_of(&one) == p.id && one != p.id {
            more.push((one.clone(), roster::flags_of(&one)));
        }
        if p.is_rust() && p.has_pool() {
            more.push((format!("{} ({cores} workers)", p.id), args(&format!("--workers {cores}"))));
        }
        if p.takes(Flag::Offload) {
            more.push((format!("{} --offload", p.id), args("--offload")));
        }
        more
    };
    let all = every_and(&all_programs, Workload::Cpu, &a, variants);
    // One hyperfine run per group: the Rust models, the Python peers, every other runtime.
    let kind = |r: &Row| match programs::runtime_of(&r.name) {
        Ok("rust") => "rust",
        Ok("python") => "python",
        _ => "others",
    };
    let runs = |group: &str| if group == "rust" { (1, 5) } else { (0, 3) };
    let mut measured = Vec::new();
    for group in ["rust", "python", "others"] {
        let rows: Vec<Row> = all.iter().filter(|r| kind(r) == group).cloned().collect();
        let (warmup, n) = runs(group);
        measured.extend(bench.time(group, bench.reports(rows), warmup, n)?);
    }
    bench.write_reports(&measured, "reports.json")?;
    let of = |group: &str| -> Vec<Measured> {
        measured.iter().filter(|m| kind(&m.row) == group).cloned().collect()
    };
    let (rust, python, others) = (of("rust"), of("python"), of("others"));
    let table = |rows: &[Measured]| {
        let serial = |m: &Measured| programs::one_at_a_time(&m.row.name).unwrap_or("");
        table::cpu_table(rows, cores, |m| reading::wall(rows, serial(m)))
    };
    let tables = [
        ("rust_table", table(&rust)),
        ("python_table", table(&python)),
        ("others_table", table(&others)),
    ];
    let reading = reading::cpu(&rust, &python, &others, cores);
    let (tasks, work, cores) = (CPU_TASKS.to_string(), CPU_WORK.to_string(), cores.to_string());
    let mut slots = vec![("tasks", &*tasks), ("work", &*work), ("cores", &*cores)];
    slots.extend(tables.iter().map(|(slot, table)| (*slot, table.as_str())));
    slots.push(("reading", &reading));
    write_page(&bench, ("cpu.md", template::CPU), &facts, &slots)?;
    let shown: Vec<&str> = tables.iter().map(|(_, table)| table.as_str()).collect();
    println!("\n{}\n{reading}", shown.join("\n"));
    Ok(())
}

// ---- make bench-http: real sockets ------------------------------------------------------

pub fn http(options: &Timed) -> anyhow::Result<()> {
    let (bench, programs, facts) = setup(options)?;
    let service = crate::service::Service::start()?;
    let mut sections = String::new();
    for n in [100u32, 1_000, 10_000] {
        let a = args(&format!("--workload http --tasks {n} --ms 100 --addr {}", service.addr));
        // A row with the flags its label names ("threads (100 workers)").
        let row = |label: &str| programs.row(label, &[a.clone(), roster::flags_of(label)].concat());
        let mut groups = Vec::new();
        if n == 100 {
            groups.push(group("n100-serial", vec![row("serial"), row("py-serial")], 0, 2));
        }
        let mut rows = Vec::new();
        if n <= 1_000 {
            rows.push(row("procs"));
            rows.push(row("threads (100 workers)"));
            rows.push(row(&format!("py-threads ({n} workers)")));
        }
        rows.extend(["threads", "tokio", "epoll", "uring", "ring", "monoio"].map(row));
        rows.extend(["py-asyncio", "py-uvloop", "node-promises", "go-goroutines"].map(row));
        // Every other program the roster says runs http, as it comes: a new peer is here.
        // (The one-at-a-time programs are at n = 100 alone; procs and py-threads have their
        // rows above where they fit — a process a request, a pool sized to the requests —
        // and py-processes none: a pool of one process a core takes n / cores rounds.)
        let left_out = ["serial", "py-serial", "py-processes", "procs", "py-threads"];
        let listed = rows.iter().map(|r| r.name.as_str()).chain(left_out);
        let rest = programs.the_rest(Workload::Http, listed, &a);
        rows.extend(rest);
        groups.push(group(&format!("n{n}"), rows, 1, if n >= 10_000 { 3 } else { 5 }));
        let rows = bench.measure(groups, &format!("reports-n{n}.json"))?;
        let table = table::timed_table(&rows, false, None);
        println!("\nN = {n}\n{table}");
        sections += &format!("## N = {n} requests, 100 ms each\n\n{table}\n");
    }
    let ladder = crate::client_ladder::run(&bench, &programs, &service.addr)?;
    bench.write("ladder.json", &crate::run::to_json(&ladder))?;
    sections += &format!(
        "## The io_uring client path, N = {}\n\n{}\n",
        crate::table::thousands(u64::from(crate::client_ladder::N)),
        crate::client_ladder::render(&ladder)
    );
    drop(service);
    write_page(&bench, ("http.md", template::HTTP), &facts, &[("sections", &sections)])
}

/// The bench's page, its README.md: `template` (`name`) filled with `slots` and the
/// machine's facts.
fn write_page(
    bench: &Bench,
    (name, template): (&str, &str),
    facts: &facts::Facts,
    slots: &[(&str, &str)],
) -> anyhow::Result<()> {
    let machine = facts::markdown(facts);
    let slots: Vec<(&str, &str)> = slots.iter().copied().chain([("machine", &*machine)]).collect();
    bench.write("README.md", &template::fill(name, template, &slots)?)
}

// ---- the README's sections of the timed tables, from results/ ----

/// The rows a bench wrote to `dir`: timings from its `hyperfine-*.json` files whose name
/// contains `filter`, reports from `reports_file`, in the order of the reports.
pub fn load(dir: &Path, filter: &str, reports_file: &str) -> anyhow::Result<Vec<Measured>> {
    let mut timings = std::collections::HashMap::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| dir.display().to_string())?
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap_or_default().to_string_lossy().to_string();
        if name.starts_with("hyperfine-") && name.contains(filter) {
            for timing in read_json::<HyperfineExport>(&path)?.results {
                timings.insert(timing.command.clone(), timing);
            }
        }
    }
    let reports: Vec<ReportEntry> = read_json(&dir.join(reports_file))?;
    Ok(reports
        .into_iter()
        .map(|entry| {
            let mut row = Row::new(entry.name.clone(), entry.argv);
            row.article = crate::timed::article_figure(&entry.name);
            Measured { timing: timings.remove(&entry.name), report: entry.report, row }
        })
        .collect())
}

fn median_cell(m: &Measured) -> String {
    m.timing.as_ref().map_or(DASH.into(), |t| seconds(t.median))
}

/// The article's table: the compact form of `results/seed/README.md`.
pub fn seed_section(results: &Path) -> anyhow::Result<String> {
    let rows = load(&results.join("seed"), "", "reports.json")?;
    let table = compact_table(&rows, true);
    template::fill("readme-seed.md", template::README_SEED, &[("table", &table)])
}

/// 10,000 requests at once: the compact form of `results/http/README.md`.
pub fn http_section(results: &Path) -> anyhow::Result<String> {
    let rows = load(&results.join("http"), "n10000", "reports-n10000.json")?;
    let table = compact_table(&rows, false);
    template::fill("readme-http.md", template::README_HTTP, &[("table", &table)])
}

/// A timed table in the README: each row's median, own wall, peak memory and p99 lateness,
/// and with `article` the article's figure beside it.
fn compact_table(rows: &[Measured], article: bool) -> String {
    let mut header = vec!["model", "median (hyperfine)", "own wall", "peak memory", "p99 lateness"];
    if article {
        header.insert(1, "article");
        header[4] = "peak memory (self + children)";
    }
    let mut t = Table::new(&header);
    for m in rows {
        let report = m.report.as_ref();
        let mut cells = vec![
            format!("`{}`", m.row.name),
            median_cell(m),
            own_wall(report),
            memory(report),
            lateness_p99(report),
        ];
        if article {
            cells.insert(1, m.row.article.unwrap_or(DASH).to_string());
        }
        t.push(cells);
    }
    t.render()
}

/// The GIL contrast: speedup over each language's serial row, and the loop's lag.
pub fn cpu_section(results: &Path) -> anyhow::Result<String> {
    let rows = load(&results.join("cpu"), "", "reports.json")?;
    let median_of = |name: &str| crate::reading::wall(&rows, name);
    let mut t = Table::headed(
        "model | median | speedup over its serial | CPU / wall | loop's 10 ms timer: max lag",
    );
    for m in &rows {
        // A row whose program is not in the roster has no runtime to be compared within.
        let serial = crate::programs::one_at_a_time(&m.row.name)?;
        let speedup = m.timing.as_ref().and_then(|t| Some(median_of(serial)? / t.median));
        t.push(vec![
            format!("`{}`", m.row.name),
            median_cell(m),
            speedup.map_or(DASH.into(), |s| format!("{s:.2}×")),
            m.timing
                .as_ref()
                .map_or(DASH.into(), |t| format!("{:.2}", (t.user + t.system) / t.mean)),
            loop_lag(m.report.as_ref()),
        ]);
    }
    template::fill("readme-cpu.md", template::README_CPU, &[("table", &t.render())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_load_from_the_json_a_bench_wrote() {
        let results = std::env::temp_dir().join(format!("conclab-timed-{}", std::process::id()));
        let dir = results.join("seed");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hyperfine-concurrent.json"), r#"{"results":[{"command":"tokio","mean":1.0021,"stddev":0.0004,"median":1.0019,"min":1.0015,"max":1.003,"user":0.002,"system":0.003,"exit_codes":[0,0]}]}"#).unwrap();
        std::fs::write(dir.join("reports.json"), r#"[{"name":"tokio","argv":[],"report":{"model":"tokio","workload":"sleep","tasks":10,"workers":2,"ok":10,"failed":0,"checksum":1045,"wall_s":1.0012,"ideal_s":1.0,"max_rss_kib":3174,"children_max_rss_kib_sum":0,"voluntary_ctx_switches":31,"involuntary_ctx_switches":2,"lateness_ms":{"p50":0.4,"p99":1.14,"max":1.2}}},{"name":"py-uvloop","argv":[],"report":null}]"#).unwrap();
        let text = seed_section(&results).unwrap();
        assert!(
            text.contains(
                "| `tokio` | 1.0110 s (asyncio) | 1.0019 s | 1.0012 s | 3.1 MiB | 1.1 ms |"
            ),
            "{text}"
        );
        assert!(text.contains("| `py-uvloop` | 1.01 s | — | — | — | — |"), "{text}");
        std::fs::remove_dir_all(&results).unwrap();
    }
}
