//! What every program must do with the crawl workload, against the project's web (`web`)
//! served in-process — with its fault profile and without — and checked against the answer
//! sheet the web computes from its own graph: the models' `crawl_tests!` and the peers alike.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use web::graph::{answer, Graph, Latency, Shape};

use crate::run::run;

/// A web served on a thread of its own, on free ports; stopped when dropped.
pub struct Web {
    pub sheet: Value,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Web {
    /// The web of `pages` pages over `hosts` hosts, graph `graph`, with `faults` or not.
    pub fn start(pages: u32, hosts: u32, graph: u64, faults: bool) -> Web {
        let shape = Shape {
            pages,
            hosts,
            links: 8,
            graph,
            latency: Latency::Fixed(Duration::ZERO),
            faults,
        };
        let g = Graph::new(shape);
        let any: SocketAddr = "127.0.0.1:0".parse().expect("an address");
        let (listeners, ports) = web::bind(&g, any).expect("the web binds its ports");
        let sheet = serde_json::to_value(answer(&g, &ports)).expect("a sheet");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            let serving = web::serve(g, ports, listeners, async move {
                let _ = stopped.await;
            });
            let _ = runtime.block_on(serving);
        });
        Web { sheet, stop: Some(stop), thread: Some(thread) }
    }

    /// `--seed` and `--allow` for a full crawl of it.
    pub fn scope(&self) -> Vec<String> {
        let mut args =
            vec!["--seed".to_string(), self.sheet["seed"].as_str().expect("a seed").to_string()];
        for origin in self.sheet["allow"].as_array().into_iter().flatten() {
            args.extend(["--allow".to_string(), origin.as_str().expect("an origin").to_string()]);
        }
        args
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn crawl(program: &str, lead: &[&str], scope: &[String], extra: &[&str]) -> crate::Outcome {
    let mut args: Vec<&str> = lead.to_vec();
    args.extend(["--workload", "crawl", "--json"]);
    args.extend(scope.iter().map(String::as_str));
    args.extend(extra);
    run(program, &args)
}

/// What the crawl found is what the sheet says: pages, failures by kind, redirects, checksum.
fn matches_the_sheet(report: &Value, sheet: &Value, what: &str) {
    let c = &report["crawl"];
    assert_eq!(report["ok"], sheet["pages"], "{what}: pages; {report}");
    assert_eq!(report["failed"], sheet["failed"], "{what}: failed; {report}");
    assert_eq!(report["checksum"], sheet["checksum"], "{what}: checksum; {report}");
    if !c.is_null() {
        assert_eq!(c["redirects"], sheet["redirects"], "{what}: redirects; {report}");
        assert_eq!(c["failures"], sheet["failures"], "{what}: failures by kind; {report}");
    }
}

/// Webs of three shapes, each crawled whole: the sheet's pages, failures and checksum; the
/// exit status 0, broken links being findings.
pub fn crawls_every_web_to_its_sheet(program: &str, lead: &[&str], workers: &[&str]) {
    for (pages, hosts, graph) in [(40, 1, 3), (300, 4, 5), (1_000, 9, 11)] {
        let web = Web::start(pages, hosts, graph, false);
        let outcome = crawl(program, lead, &web.scope(), workers);
        assert_eq!(outcome.code, Some(0), "{pages} pages: {}", outcome.stderr);
        matches_the_sheet(&outcome.report(), &web.sheet, &format!("{pages} pages, {hosts} hosts"));
    }
}

/// With the fault profile: 503s and resets retried, the hosts that never answer, drip and
/// refuse failed by kind, and no request outliving `--timeout-ms` and its retries' waits.
pub fn survives_the_fault_profile(program: &str, lead: &[&str], workers: &[&str]) {
    let web = Web::start(300, 4, 7, true);
    let limit = ["--timeout-ms", "1000"];
    let outcome = crawl(program, lead, &web.scope(), &[workers, &limit[..]].concat());
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    let report = outcome.report();
    matches_the_sheet(&report, &web.sheet, "the fault profile");
    assert!(report["crawl"]["retries"].as_u64() > Some(0), "{report}");
    // Two retries of at most 1 s each beside the request's own 1 s: far under 10 s.
    let slowest = report["crawl"]["latency_ms"]["max"].as_f64().expect("latency");
    assert!(slowest < 10_000.0, "a URL took {slowest} ms; {report}");
}

/// Into the trap with `--tasks 50`: 50 URLs requested, the report says it was limited, and
/// the frontier never held more than 50 × K.
pub fn stops_at_tasks_in_the_trap(program: &str, lead: &[&str], workers: &[&str]) {
    let web = Web::start(20, 1, 1, true);
    let trap = web.sheet["trap"].as_str().expect("a trap").to_string();
    let scope = ["--seed".to_string(), format!("{trap}/trap/0")];
    let outcome = crawl(program, lead, &scope, &[workers, &["--tasks", "50"][..]].concat());
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    let report = outcome.report();
    assert_eq!(report["tasks"], 50, "{report}");
    assert_eq!(report["crawl"]["limited"], true, "{report}");
    assert!(report["crawl"]["peak_frontier"].as_u64() <= Some(50 * 8), "{report}");
}

/// `--per-host C` holds: never more than C connections to an origin (hosts × C in all).
pub fn holds_per_host(program: &str, lead: &[&str], workers: &[&str]) {
    let web = Web::start(300, 3, 2, false);
    let outcome = crawl(program, lead, &web.scope(), &[workers, &["--per-host", "2"][..]].concat());
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    let report = outcome.report();
    assert!(report["crawl"]["peak_connections"].as_u64() <= Some(3 * 2), "{report}");
    matches_the_sheet(&report, &web.sheet, "--per-host 2");
}

/// Bad input exits 2 with a reason; a seed that cannot be reached exits 1, naming it.
pub fn bad_crawl_input_exits_2_and_no_seed_exits_1(program: &str, lead: &[&str]) {
    let mut lead_crawl: Vec<&str> = lead.to_vec();
    lead_crawl.extend(["--workload", "crawl"]);
    for bad in [
        &["--per-host", "0"][..],
        &["--seed", "ftp://127.0.0.1/"],
        &["--seed", "no url"],
        &["--allow", "mailto:a@b"],
    ] {
        let outcome = run(program, &[&lead_crawl[..], bad].concat());
        assert_eq!(outcome.code, Some(2), "{bad:?}: {}", outcome.stderr);
        assert!(outcome.stdout.trim().is_empty() && !outcome.stderr.trim().is_empty(), "{bad:?}");
    }
    let closed =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port");
    let seed = format!("http://{closed}/");
    let outcome = run(program, &[&lead_crawl[..], &["--seed", &seed, "--json"]].concat());
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    assert!(outcome.stderr.contains(&closed.to_string()), "{}", outcome.stderr);
}

/// The crawl workload (`CONTRACT.md`, "The crawl"): webs of three shapes crawled to their
/// answer sheet, the fault profile survived, the trap stopped at `--tasks`, `--per-host`
/// held, bad input refused and an unreachable seed named. The models that size their
/// requests in flight crawl with `--workers 20`; serial crawls one at a time.
#[macro_export]
macro_rules! crawl_tests {
    ($bin:literal) => {
        use $crate::crawl_checks as check;

        fn workers() -> &'static [&'static str] {
            let sized = |p: &$crate::roster::Program| p.sizes($crate::roster::Sizes::Crawl);
            if $crate::suites::declares($bin, sized) {
                &["--workers", "20"]
            } else {
                &[]
            }
        }

        $crate::checks_as_tests!($bin, Crawl, crawl_checks: [
            survives_the_fault_profile,
            stops_at_tasks_in_the_trap,
            holds_per_host,
        ], extra: workers());
        $crate::checks_as_tests!($bin, Crawl, crawl_checks: [
            bad_crawl_input_exits_2_and_no_seed_exits_1,
        ]);

        #[test]
        fn crawls_every_web_to_its_sheet() {
            $crate::unless_it_runs!($bin, Crawl);
            check::crawls_every_web_to_its_sheet(BIN, &[], workers());
            // A loop that hands its parsing to a pool parses the same pages.
            if $crate::suites::declares($bin, |p| p.takes($crate::roster::Flag::Offload)) {
                let offload = [workers(), &["--offload"][..]].concat();
                check::crawls_every_web_to_its_sheet(BIN, &[], &offload);
            }
        }

    };
}

/// The crawl's checks, where the program runs it, with no `--workers` of the checks' own.
pub const GROUP: crate::checks::CheckGroup = crate::checks::CheckGroup::new(
    "crawl",
    "The crawl workload, against the project's web served in-process, faults on and off",
    || {
        crate::checks!(crate::Needs::CRAWL, crawl_checks: [
            crawls_every_web_to_its_sheet(&[]),
            survives_the_fault_profile(&[]),
            stops_at_tasks_in_the_trap(&[]),
            holds_per_host(&[]),
            bad_crawl_input_exits_2_and_no_seed_exits_1,
        ])
    },
);
