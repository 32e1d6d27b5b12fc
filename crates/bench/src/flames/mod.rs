//! `make bench-flames`: where every model's CPU goes, drawn. Each model runs three times under
//! `perf record` (the software clock, user and kernel stacks; `flame.rs`): as a client, the
//! http workload at N = 10,000 against the service; as a server, at c = 100 under wrk with the
//! server on core 0; and as the db workload's client, point selects at W = 10 against
//! PostgreSQL, with pgbench profiled beside the models. Each run gives one flame graph in
//! results/flames/ and one line that says where its samples fell — TCP, io_uring, epoll,
//! futexes, the scheduler, memory, the program's own code — computed from its folded stacks
//! (`flame::shares`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use workload::Workload;

use crate::cli::Flames;
use crate::flame::{self, Where};
use crate::programs::models;
use crate::run::model_program;
use crate::serve::servers::{Running, Spec};
use crate::suite::{Drawn, Plots, Suite, Templates};
use crate::table::{thousands, Table, DASH};
use testkit::postgres::Cluster;

/// The db case: point selects from a pool of [`DB_POOL`] connections (one, for a model that
/// runs one task at a time), as results/db's CPU a query is read at W = 10.
const DB_QUERIES: u32 = 100_000;
const DB_POOL: u32 = 10;

/// One flame graph: which model, which case, and where its samples fell.
#[derive(Serialize, Deserialize)]
pub struct Flame {
    pub model: String,
    /// `http` (the client), `serve` (the server) or `db` (PostgreSQL's client).
    pub case: String,
    /// What ran, in words: "http, N = 10,000, 100 ms".
    pub what: String,
    /// The SVG, beside the page.
    pub svg: String,
    /// Each category's share of the samples, largest first.
    pub shares: Vec<(Where, f64)>,
    /// The CPU time the samples stand for, in seconds (`flame::cpu_seconds`).
    #[serde(default)]
    pub cpu_s: f64,
    /// Why there is no graph, if there is none.
    pub note: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub struct Results {
    pub facts: serde_json::Value,
    pub flames: Vec<Flame>,
}

/// `make bench-flames` → results/flames/.
pub const SUITE: Suite<Flames, Results> = Suite::new(
    "flames",
    run,
    Templates::new(include_str!("page.md"), include_str!("readme.md"), draw),
);

fn run(o: &Flames) -> anyhow::Result<Results> {
    std::fs::create_dir_all(&o.out)?;
    let mut more = vec![("perf", crate::facts::first_line("perf", &["--version"]))];
    more.push(("wrk", crate::facts::first_line(&o.wrk, &["-v"])));
    more.push(("sampling", "perf record -F 997 -e cpu-clock --call-graph dwarf".into()));
    let mut flames = vec![];
    for model in models() {
        eprintln!("bench flames: {model}, http");
        flames.push(client(o, model));
        eprintln!("bench flames: {model}, serve");
        flames.push(server(o, model));
    }
    // The db client: one cluster for every model, the server on its own core.
    let cluster = Cluster::serve(crate::db::ROWS, child::server_core());
    for model in models() {
        eprintln!("bench flames: {model}, db");
        flames.push(db_client(o, model, &cluster));
    }
    eprintln!("bench flames: pgbench, db");
    flames.push(pgbench(o, &cluster));
    drop(cluster);
    Ok(Results { facts: crate::facts::json(&crate::facts::collect(None, more)), flames })
}

fn flame(model: &str, case: &str, what: String, result: anyhow::Result<String>) -> Flame {
    let svg = format!("{model}-{case}.svg");
    match result {
        Ok(folded) => Flame {
            model: model.into(),
            case: case.into(),
            what,
            svg,
            shares: flame::shares(&folded),
            cpu_s: flame::cpu_seconds(&folded),
            note: None,
        },
        Err(e) => Flame {
            model: model.into(),
            case: case.into(),
            what,
            svg,
            shares: vec![],
            cpu_s: 0.0,
            note: Some(format!("{e:#}")),
        },
    }
}

/// The model as the http workload's client, under perf record from start to end.
fn client(o: &Flames, model: &str) -> Flame {
    let n = crate::trace::tasks_under_strace(model, Workload::Http).unwrap_or(100);
    let what = format!("http, N = {n}, each answered after 100 ms");
    let folded = (|| {
        let (argv, service) =
            crate::trace::command(&model_program(model), Workload::Http, n, Some(100), &[])?;
        flame::record(&argv, &data(o, model, "http"))?;
        drop(service);
        draw_one(o, model, "http", &format!("{model} · the http client · N = {n}"))
    })();
    flame(model, "http", what, folded)
}

/// The model as a server on core 0, under perf record while wrk loads it from core 1.
fn server(o: &Flames, model: &str) -> Flame {
    let what = format!("serve, c = 100, {} s of wrk, server on one core", o.secs);
    let folded = (|| {
        let mut spec: Spec = crate::serve::servers::model(model);
        let mut argv = flame::perf_record(&data(o, model, "serve"));
        argv.append(&mut spec.argv);
        spec.argv = argv;
        let scratch = std::env::temp_dir().join(format!("conclab-flames-{}", std::process::id()));
        std::fs::create_dir_all(&scratch)?;
        let server = Running::start(&spec, &[], &scratch)?;
        let url = format!("http://{}/query?id=1&delay_ms=0", server.addr);
        let load = crate::serve::load::wrk(&o.wrk, &url, 100, o.secs, &scratch);
        let report = server.stop();
        let _ = std::fs::remove_dir_all(&scratch);
        load?;
        anyhow::ensure!(report.is_some(), "the server gave no report when stopped");
        draw_one(o, model, "serve", &format!("{model} · serving · c = 100"))
    })();
    flame(model, "serve", what, folded)
}

/// The model as the db workload's client on core 1, point selects from its pool, under perf
/// record from start to end.
fn db_client(o: &Flames, model: &str, cluster: &Result<Cluster, String>) -> Flame {
    let w = if crate::programs::is_serial(model) { 1 } else { DB_POOL };
    let what = format!("db, {} point selects, W = {w}", thousands(u64::from(DB_QUERIES)));
    let folded = (|| {
        let cluster = cluster.as_ref().map_err(|e| anyhow::anyhow!("no PostgreSQL: {e}"))?;
        let mut argv = model_program(model);
        let queries = DB_QUERIES.to_string();
        let args = ["--workload", "db", "--db-url", &cluster.url, "--tasks", &queries];
        argv.extend(args.into_iter().chain(["--ms", "0"]).map(String::from));
        // A pool even of one: without --workers each query would open its own connection.
        argv.extend(["--workers".into(), w.to_string()]);
        flame::record(&child::on_core(child::client_core(), &argv), &data(o, model, "db"))?;
        draw_one(o, model, "db", &format!("{model} · the db client · point selects, W = {w}"))
    })();
    flame(model, "db", what, folded)
}

/// pgbench, the anchor of results/db, as the models' db client runs: the same selects,
/// prepared, W clients on one thread.
fn pgbench(o: &Flames, cluster: &Result<Cluster, String>) -> Flame {
    let name = "pgbench";
    let what = format!("db, {} point selects, W = {DB_POOL}", thousands(u64::from(DB_QUERIES)));
    let folded = (|| {
        let cluster = cluster.as_ref().map_err(|e| anyhow::anyhow!("no PostgreSQL: {e}"))?;
        let pgbench = crate::db::pgbench::Pgbench::new(cluster.port())?;
        let argv = pgbench.argv(DB_QUERIES, DB_POOL, "select.sql", &[]);
        flame::record(&child::on_core(child::client_core(), &argv), &data(o, name, "db"))?;
        draw_one(o, name, "db", &format!("pgbench · point selects, W = {DB_POOL}"))
    })();
    flame(name, "db", what, folded)
}

/// Where perf writes a run's samples: scratch, beside the page.
fn data(o: &Flames, model: &str, case: &str) -> PathBuf {
    o.out.join(format!("{model}-{case}.perf.data"))
}

fn draw_one(o: &Flames, model: &str, case: &str, title: &str) -> anyhow::Result<String> {
    let out = o.out.join(format!("{model}-{case}.svg"));
    flame::fold_and_draw(&data(o, model, case), &out, &o.inferno, title)
}

/// "TCP/IP 41 %, the scheduler 18 %, its own code 12 %": the categories that hold 5 % or
/// more, largest first.
fn line(shares: &[(Where, f64)]) -> String {
    let kept: Vec<String> = shares
        .iter()
        .filter(|(_, s)| *s >= 0.05)
        .map(|(w, s)| format!("{} {:.0} %", w.words(), s * 100.0))
        .collect();
    if kept.is_empty() {
        DASH.into()
    } else {
        kept.join(", ")
    }
}

fn table(r: &Results, case: &str, link: &Path) -> String {
    let mut t = Table::headed("model | what ran | where its time goes | flame graph");
    for f in r.flames.iter().filter(|f| f.case == case) {
        let (where_, graph) = match &f.note {
            Some(note) => (format!("— ({})", note.lines().next().unwrap_or("")), DASH.into()),
            None => (line(&f.shares), format!("[{}]({}/{})", f.svg, link.display(), f.svg)),
        };
        t.push(vec![format!("`{}`", f.model), f.what.clone(), where_, graph]);
    }
    t.render()
}

fn draw(r: &Results) -> Drawn {
    let slots = vec![
        ("facts", crate::facts::markdown_of_json(&r.facts)),
        ("client", table(r, "http", Path::new("."))),
        ("server", table(r, "serve", Path::new("."))),
        ("db", table(r, "db", Path::new("."))),
        ("db_costs", db_costs(r)),
        ("client_readme", table(r, "http", Path::new("results/flames"))),
        ("server_readme", table(r, "serve", Path::new("results/flames"))),
    ];
    Drawn::new(slots, Plots::new())
}

/// Where a db client's CPU goes, in µs a query: what perf's samples stand for, split as
/// the shares split them; the rest is every category not named.
const DB_COLUMNS: [Where; 4] = [Where::Tcp, Where::Scheduler, Where::OwnCode, Where::Memory];

/// The db flames as µs a query, by where, beside pgbench's; and what the Rust event loops
/// spend past pgbench, by where.
fn db_costs(r: &Results) -> String {
    let db: Vec<&Flame> = r.flames.iter().filter(|f| f.case == "db" && f.cpu_s > 0.0).collect();
    if db.is_empty() {
        return String::new();
    }
    let a_query = |f: &Flame, w: Option<Where>| {
        let share = match w {
            Some(w) => f.shares.iter().find(|s| s.0 == w).map_or(0.0, |s| s.1),
            None => {
                1.0 - f
                    .shares
                    .iter()
                    .filter(|s| DB_COLUMNS.contains(&s.0))
                    .map(|s| s.1)
                    .sum::<f64>()
            }
        };
        f.cpu_s * share / f64::from(DB_QUERIES) * 1e6
    };
    let mut head = String::from("model | CPU a query, by the samples");
    for w in DB_COLUMNS {
        head += &format!(" | {}", w.words());
    }
    let mut t = Table::headed(&(head + " | the rest"));
    for f in &db {
        let all = f.cpu_s / f64::from(DB_QUERIES) * 1e6;
        let mut row = vec![format!("`{}`", f.model), format!("{all:.1} µs")];
        row.extend(DB_COLUMNS.iter().map(|w| format!("{:.1} µs", a_query(f, Some(*w)))));
        row.push(format!("{:.1} µs", a_query(f, None)));
        t.push(row);
    }
    let mut out = t.render();
    let Some(anchor) = db.iter().find(|f| f.model == "pgbench") else { return out };
    for model in ["tokio", "uring"] {
        let Some(f) = db.iter().find(|f| f.model == model) else { continue };
        let mut past: Vec<(String, f64)> = DB_COLUMNS
            .iter()
            .map(|w| (w.words().to_string(), a_query(f, Some(*w)) - a_query(anchor, Some(*w))))
            .chain([("the rest".to_string(), a_query(f, None) - a_query(anchor, None))])
            .collect();
        past.sort_by(|a, b| b.1.total_cmp(&a.1));
        let said: Vec<String> = past.iter().map(|(w, d)| format!("{w} {d:+.1} µs")).collect();
        out += &format!("\n`{model}` against pgbench, µs a query by where: {}.\n", said.join(", "));
    }
    out
}

/// The book's databases chapter: the db client's profiles (linked from the repository's
/// root, as every section is, and rebased for the book), and what they come to a query.
pub fn db_section(results: &Path) -> anyhow::Result<String> {
    let file = results.join("flames").join("flames.json");
    let r: Results = crate::run::read_json(&file)?;
    if !r.flames.iter().any(|f| f.case == "db") {
        return Ok("Not profiled yet: `make bench-flames` profiles the db client.\n".into());
    }
    let costs = db_costs(&r);
    Ok(table(&r, "db", Path::new("results/flames")) + "\n" + &costs)
}
