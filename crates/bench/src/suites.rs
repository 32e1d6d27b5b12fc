//! The hyperfine suites: which commands `seed`, `http` and `cpu` run, in which groups, and
//! the page each writes. The prose of the pages is in `templates/`, what the figures say is
//! computed in [`crate::reading`].

use crate::cli::Suite;
use crate::peers::{Peers, Runtime};
use crate::run::{model_program, Bench, Group, Measured, Row};
use crate::{facts, reading, table, template};

/// A model binary with the contract's arguments.
fn model(name: &str, binary: &str, args: &[String]) -> Row {
    Row::new(name, [model_program(binary), args.to_vec()].concat())
}

fn args(text: &str) -> Vec<String> {
    text.split_whitespace().map(String::from).collect()
}

fn group(label: &str, rows: Vec<Row>, warmup: u32, runs: u32) -> Group {
    Group { label: label.to_string(), rows, warmup, runs }
}

/// The bench, the peers and the machine facts (also written to `machine.json`).
fn setup(options: &Suite) -> Result<(Bench, Peers, facts::Facts), String> {
    let peers = Peers::find(&options.python);
    let bench = Bench::new(options.hyperfine.clone(), &options.out)?;
    let facts = facts::collect(Some(&options.hyperfine), peers.versions());
    bench.write("machine.json", &crate::run::to_json(&facts::json(&facts)))?;
    Ok((bench, peers, facts))
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

pub fn seed(options: &crate::cli::Seed) -> Result<(), String> {
    let quick = options.quick;
    let (bench, peers, facts) = setup(&options.suite)?;
    let (ms, fast_runs, slow_runs) = if quick { (100, 3, 2) } else { (1000, 5, 3) };
    let a = args(&format!("--tasks 10 --ms {ms}"));
    let per_task = args(&format!("--tasks 10 --ms {ms} --workers 10"));
    let slow = vec![model("serial", "serial", &a), peers.python("py-serial", "py_serial.py", &a)];
    let fast = vec![
        model("procs", "procs", &a),
        model("threads", "threads", &a),
        model("tokio", "tokio", &a),
        model("epoll", "epoll", &a),
        model("uring", "uring", &a),
        model("ring", "ring", &a),
        peers.python("py-processes (default workers)", "py_processes.py", &a),
        peers.python("py-processes (10 workers)", "py_processes.py", &per_task),
        peers.python("py-threads (default workers)", "py_threads.py", &a),
        peers.python("py-threads (10 workers)", "py_threads.py", &per_task),
        peers.python("py-asyncio", "py_asyncio.py", &a),
        peers.python("py-uvloop", "py_uvloop.py", &a),
        peers.node("node-promises", &a),
        peers.go("go-goroutines", &a),
    ];
    let [slow, fast] = [slow, fast].map(|rows| {
        rows.into_iter()
            .map(|mut row| {
                row.article = article_figure(&row.name);
                row
            })
            .collect::<Vec<_>>()
    });
    let groups = vec![group("serial", slow, 0, slow_runs), group("concurrent", fast, 1, fast_runs)];
    let mut rows = bench.measure(groups, "reports.json")?;
    // The article's order: Rust rows first, serial at the top of each language.
    let order = ["serial", "procs", "threads", "tokio", "epoll", "uring", "ring", "py-serial"];
    rows.sort_by_key(|m| order.iter().position(|n| *n == m.row.name).unwrap_or(order.len()));

    let table = table::timed_table(&rows, !quick, Some(ms as f64 / 1000.0));
    let reading = reading::seed(&rows, ms as f64 / 1000.0);
    let title = if quick {
        format!("10 tasks × {ms} ms (bench-quick)")
    } else {
        "10 tasks, each waits 1 s".into()
    };
    let text = template::fill(
        "seed.md",
        template::SEED,
        &[
            ("title", &title),
            ("target", if quick { "bench-quick" } else { "bench" }),
            ("slow_runs", &slow_runs.to_string()),
            ("fast_runs", &fast_runs.to_string()),
            ("ms", &ms.to_string()),
            ("table", &table),
            ("reading", &reading),
            ("machine", &facts::markdown(&facts)),
        ],
    )?;
    bench.write("README.md", &text)?;
    println!("\n{table}\n{reading}");
    println!("written to {}/README.md", bench.out.display());
    Ok(())
}

// ---- make bench-cpu: parallelism without a GIL -------------------------------------------

/// SHA-256 rounds per cpu task: about 0.19 s of one core in Rust on the machine the seed
/// results come from (SHA-NI), about 0.9 s in Python's hashlib. Fixed, never calibrated.
pub const CPU_WORK: u32 = 4_000_000;
const CPU_TASKS: u32 = 8;

pub fn cpu(options: &Suite) -> Result<(), String> {
    let (bench, peers, facts) = setup(options)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let a = args(&format!("--workload cpu --tasks {CPU_TASKS} --work {CPU_WORK}"));
    let with = |extra: &str| [a.clone(), args(extra)].concat();
    let pool = format!("--workers {cores}");
    let rust = vec![
        model("serial", "serial", &a),
        model("procs", "procs", &a),
        model(&format!("procs ({cores} workers)"), "procs", &with(&pool)),
        model("threads", "threads", &a),
        model(&format!("threads ({cores} workers)"), "threads", &with(&pool)),
        model("tokio", "tokio", &a),
        model("tokio --offload", "tokio", &with("--offload")),
        model("epoll", "epoll", &a),
        model("epoll --offload", "epoll", &with("--offload")),
        model("uring", "uring", &a),
        model("uring --offload", "uring", &with("--offload")),
        model("ring", "ring", &a),
        model("ring --offload", "ring", &with("--offload")),
    ];
    let python = vec![
        peers.python("py-serial", "py_serial.py", &a),
        peers.python("py-processes (default workers)", "py_processes.py", &a),
        peers.python("py-threads (default workers)", "py_threads.py", &a),
        peers.python("py-asyncio", "py_asyncio.py", &a),
        peers.python("py-asyncio --offload (process pool)", "py_asyncio.py", &with("--offload")),
        peers.python("py-uvloop", "py_uvloop.py", &a),
    ];
    // Go and Node each against its own one-at-a-time row: one goroutine worker, the loop.
    let others = vec![
        peers.go("go-goroutines (1 worker)", &with("--workers 1")),
        peers.go("go-goroutines", &a),
        peers.node("node-promises", &a),
        peers.node("node-promises --offload (worker_threads)", &with("--offload")),
    ];
    let groups = vec![
        group("rust", rust, 1, 5),
        group("python", python, 0, 3),
        group("go-node", others, 0, 3),
    ];
    let measured = bench.measure(groups, "reports.json")?;
    let of = |runtimes: &[Runtime]| -> Vec<Measured> {
        let runs_on = |m: &&Measured| runtimes.contains(&Runtime::of(&m.row.name));
        measured.iter().filter(runs_on).cloned().collect()
    };
    let (rust, python, others) =
        (of(&[Runtime::Rust]), of(&[Runtime::Python]), of(&[Runtime::Go, Runtime::Node]));
    let table = |rows: &[Measured]| {
        let serial = |m: &Measured| Runtime::of(&m.row.name).one_at_a_time();
        table::cpu_table(rows, cores, |m| reading::median(rows, serial(m)))
    };
    let (rust_table, python_table, others_table) = (table(&rust), table(&python), table(&others));
    let reading = reading::cpu(&rust, &python, &others, cores);
    let text = template::fill(
        "cpu.md",
        template::CPU,
        &[
            ("tasks", &CPU_TASKS.to_string()),
            ("work", &CPU_WORK.to_string()),
            ("cores", &cores.to_string()),
            ("rust_table", &rust_table),
            ("python_table", &python_table),
            ("others_table", &others_table),
            ("reading", &reading),
            ("machine", &facts::markdown(&facts)),
        ],
    )?;
    bench.write("README.md", &text)?;
    println!("\n{rust_table}\n{python_table}\n{others_table}\n{reading}");
    Ok(())
}

// ---- make bench-http: real sockets ------------------------------------------------------

pub fn http(options: &Suite) -> Result<(), String> {
    let (bench, peers, facts) = setup(options)?;
    let service = crate::service::Service::start()?;
    let mut sections = String::new();
    for n in [100u32, 1_000, 10_000] {
        let a = args(&format!("--workload http --tasks {n} --ms 100 --addr {}", service.addr));
        let with = |extra: &str| [a.clone(), args(extra)].concat();
        let mut groups = Vec::new();
        if n == 100 {
            let serial =
                vec![model("serial", "serial", &a), peers.python("py-serial", "py_serial.py", &a)];
            groups.push(group("n100-serial", serial, 0, 2));
        }
        let mut rows = Vec::new();
        if n <= 1_000 {
            rows.push(model("procs", "procs", &a));
            rows.push(model("threads (100 workers)", "threads", &with("--workers 100")));
            let workers = format!("--workers {n}");
            let name = format!("py-threads ({n} workers)");
            rows.push(peers.python(&name, "py_threads.py", &with(&workers)));
        }
        rows.push(model("threads", "threads", &a));
        rows.extend(["tokio", "epoll", "uring", "ring"].map(|m| model(m, m, &a)));
        rows.push(peers.python("py-asyncio", "py_asyncio.py", &a));
        rows.push(peers.python("py-uvloop", "py_uvloop.py", &a));
        rows.push(peers.node("node-promises", &a));
        rows.push(peers.go("go-goroutines", &a));
        groups.push(group(&format!("n{n}"), rows, 1, if n >= 10_000 { 3 } else { 5 }));
        let rows = bench.measure(groups, &format!("reports-n{n}.json"))?;
        let table = table::timed_table(&rows, false, None);
        println!("\nN = {n}\n{table}");
        sections += &format!("## N = {n} requests, 100 ms each\n\n{table}\n");
    }
    drop(service);
    let text = template::fill(
        "http.md",
        template::HTTP,
        &[("sections", &sections), ("machine", &facts::markdown(&facts))],
    )?;
    bench.write("README.md", &text)
}
