//! `make bench-scale`: from ten sleeping tasks to a million, every model, until it stops.
//!
//! Each point is one run with `--json` (a million-task point cannot be repeated five times
//! in a 15-minute budget; the seed and http benches repeat with hyperfine). A model that
//! fails a point — fork or clone refused, a thread limit, descriptors — is recorded as
//! stopping there, with the error it printed, and its line ends; a peer that takes longer
//! than a minute stops there too.
//!
//! The lines of the sweep are declared once, as data ([`sleep_lines`], [`http_lines`]);
//! [`point`] runs one point, [`tables`] and [`mod@plots`] draw what `scale.json` holds.

mod plots;
pub mod point;
mod tables;

use serde::{Deserialize, Serialize};

use crate::cli::{Out, Scale};
use crate::programs::Programs;
use crate::run::Row;
use crate::run::{read_json, write};
use crate::suite::Suite;
use crate::{facts, template};
use point::{Point, LIMIT};
use roster::Workload;

/// The page's fixed prose, and the README section's.
const PAGE: &str = include_str!("page.md");
const README: &str = include_str!("readme.md");

/// What `scale.json` holds: the machine, and every point of both sweeps.
#[derive(Serialize, Deserialize)]
pub struct ScaleData {
    pub machine: serde_json::Value,
    pub sleep_ms: u64,
    pub sleep: Vec<Point>,
    pub http: Vec<Point>,
}

/// One line of the sweep: a model or peer at every N of the grid.
struct Line {
    name: String,
    /// Program and arguments; `--tasks N` (and `--workers N` if `workers_per_task`) follow.
    argv: Vec<String>,
    workers_per_task: bool,
    /// Extra environment, e.g. LD_PRELOAD of another allocator.
    env: Vec<(String, String)>,
    skip: Skip,
}

/// Which points a line does not run, and why.
enum Skip {
    /// Every point runs.
    None,
    /// Tasks run `at_once` at a time: a point that would take over ten seconds says nothing
    /// new and costs the budget; a pool larger than N is the same as one worker per task.
    Rounds { at_once: u64, ms: u64 },
    /// The line cannot run here at all (no Python, no jemalloc).
    Always(String),
}

impl Skip {
    fn why(&self, n: u64) -> Option<String> {
        match self {
            Skip::None => None,
            Skip::Always(why) => Some(why.clone()),
            Skip::Rounds { at_once, ms } => {
                let total_ms = n / at_once * ms;
                let seconds = total_ms / 1000;
                match *at_once {
                    1 if total_ms > 10_000 => {
                        Some(format!("{n} tasks one after another take {seconds} s"))
                    }
                    pool if pool > 1 && n < pool => {
                        Some(format!("N < {pool}: the same as one per task"))
                    }
                    pool if pool > 1 && total_ms > 10_000 => {
                        Some(format!("{pool} at a time take {seconds} s"))
                    }
                    _ => None,
                }
            }
        }
    }
}

/// The scale sweep also runs tokio and uring on jemalloc: tokio aligns each task's memory to
/// 128 bytes, and glibc's posix_memalign pays for that alignment with memory that jemalloc's
/// size classes do not waste. Run, not assumed.
const JEMALLOC: &str = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";

/// The pool size of the pooled lines.
const POOL: u64 = 1000;

impl Line {
    /// A program's line, from its row (which says why, if it cannot run here).
    fn of(row: Row) -> Line {
        let skip = row.missing.map_or(Skip::None, Skip::Always);
        Line { name: row.name, argv: row.argv, workers_per_task: false, env: Vec::new(), skip }
    }

    fn skip(mut self, skip: Skip) -> Line {
        self.skip = skip;
        self
    }

    fn on_jemalloc(mut self) -> Line {
        self.env = vec![("LD_PRELOAD".into(), JEMALLOC.into())];
        if !std::path::Path::new(JEMALLOC).exists() {
            self.skip = Skip::Always(format!("{JEMALLOC} not found (apt install libjemalloc2)"));
        }
        self
    }

    fn argv(&self, n: u64) -> Vec<String> {
        let mut argv = self.argv.clone();
        argv.extend(["--tasks".into(), n.to_string()]);
        if self.workers_per_task {
            argv.extend(["--workers".into(), n.to_string()]);
        }
        argv
    }
}

/// Every line of the sleep sweep, in the order of the tables and the plots' legends.
fn sleep_lines(programs: &Programs, ms: u64) -> Vec<Line> {
    let base = ["--ms".to_string(), ms.to_string()];
    let line = |label: &str, extra: &[&str]| {
        let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        Line::of(programs.row(label, &[base.to_vec(), extra].concat()))
    };
    let pool = POOL.to_string();
    let mut threads_per_task = line("py-threads (N workers)", &[]);
    threads_per_task.workers_per_task = true;
    let mut lines = vec![
        line("serial", &[]).skip(Skip::Rounds { at_once: 1, ms }),
        line("procs", &[]),
        line(&format!("procs ({POOL} workers)"), &["--workers", &pool])
            .skip(Skip::Rounds { at_once: POOL, ms }),
        line("threads", &[]),
        line(&format!("threads ({POOL} workers)"), &["--workers", &pool])
            .skip(Skip::Rounds { at_once: POOL, ms }),
        line("tokio", &[]),
        line("epoll", &[]),
        line("uring", &[]),
        line("ring", &[]),
        line("monoio", &[]),
        line("tokio (jemalloc)", &[]).on_jemalloc(),
        line("uring (jemalloc)", &[]).on_jemalloc(),
        line("py-asyncio", &[]),
        line("py-uvloop", &[]),
        threads_per_task,
        line("node-promises", &[]),
        line("go-goroutines", &[]),
    ];
    // Every other program that sleeps, as it comes (a new peer is here). py-serial and the
    // Python pools at their default size would take N / pool rounds of a second.
    let listed = lines.iter().map(|l| l.name.as_str()).chain(["py-serial", "py-processes"]);
    let rest = programs.the_rest(Workload::Sleep, listed, &base);
    lines.extend(rest.into_iter().map(Line::of));
    lines
}

/// The http sweep, at 100 ms, for the models that hold every connection at once.
fn http_lines(programs: &Programs, addr: &str) -> Vec<Line> {
    let base = ["--workload", "http", "--ms", "100", "--addr", addr].map(String::from);
    let mut lines: Vec<Line> = [
        "threads",
        "tokio",
        "epoll",
        "uring",
        "ring",
        "monoio",
        "py-asyncio",
        "py-uvloop",
        "node-promises",
        "go-goroutines",
    ]
    .map(|label| Line::of(programs.row(label, &base)))
    .into();
    // Every other program that holds every connection at once; not those that run one at a
    // time or a process a connection, nor the Python pools.
    let left_out = ["serial", "procs", "py-serial", "py-processes", "py-threads"];
    let listed = lines.iter().map(|l| l.name.as_str()).chain(left_out);
    let rest = programs.the_rest(Workload::Http, listed, &base);
    lines.extend(rest.into_iter().map(Line::of));
    lines
}

/// Sweep `lines` over `grid`; each line stops at its first failure.
fn sweep(lines: &[Line], grid: &[u64]) -> Vec<Point> {
    let mut points = Vec::new();
    for line in lines {
        for &n in grid {
            if let Some(why) = line.skip.why(n) {
                eprintln!("{:>28} N = {n:>9}: not run: {why}", line.name);
                continue;
            }
            let point = Point::run(&line.name, n, &line.argv(n), &line.env);
            let stop = !point.ok();
            points.push(point);
            if stop {
                break;
            }
        }
    }
    points
}

/// `make bench-scale` → results/scale/.
pub const SUITE: Suite<Scale, ScaleData> = Suite::own("scale", run, draw, section);

fn run(options: &Scale) -> anyhow::Result<ScaleData> {
    let peers = Programs::find(&options.python);
    let (grid, http_grid, ms): (&[u64], &[u64], u64) = if options.smoke {
        (&[10, 100], &[10, 100], 50)
    } else {
        (&[10, 100, 1_000, 10_000, 100_000, 1_000_000], &[100, 1_000, 5_000, 10_000, 20_000], 1000)
    };
    let facts = facts::collect(None, peers.versions());
    let sleep = sweep(&sleep_lines(&peers, ms), grid);
    let service = crate::service::Service::start()?;
    let http = sweep(&http_lines(&peers, &service.addr), http_grid);
    drop(service);

    Ok(ScaleData { machine: facts::json(&facts), sleep_ms: ms, sleep, http })
}

/// The page and its plots.
fn draw(out: &std::path::Path, data: &ScaleData) -> anyhow::Result<()> {
    plots::write_plots(out, data.sleep_ms, &data.sleep, &data.http)?;
    let text = template::fill(
        "scale.md",
        PAGE,
        &[
            ("limit_s", &LIMIT.as_secs().to_string()),
            ("breaking_points", &tables::breaking_points(&data.sleep, &data.http)),
            ("targets", &tables::targets(&data.sleep)),
            ("ms", &data.sleep_ms.to_string()),
            ("sleep_points", &tables::point_table(&data.sleep)),
            ("http_points", &tables::point_table(&data.http)),
            ("machine", &facts::markdown_of_json(&data.machine)),
        ],
    )?;
    write(&out.join("README.md"), &text)
}

/// `bench plots`: draw the SVGs again from `scale.json`, without running anything.
pub fn plots(options: &Out) -> anyhow::Result<()> {
    let data: ScaleData = read_json(&options.out.join("scale.json"))?;
    plots::write_plots(&options.out, data.sleep_ms, &data.sleep, &data.http)
}

/// The README's scale section: the plots, the targets, where each stops.
fn section(data: &ScaleData) -> anyhow::Result<String> {
    template::fill(
        "readme-scale.md",
        README,
        &[
            ("targets", &tables::targets(&data.sleep)),
            ("breaking_points", &tables::breaking_points(&data.sleep, &data.http)),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::Skip;

    #[test]
    fn points_that_say_nothing_new_are_skipped_with_the_reason() {
        let serial = Skip::Rounds { at_once: 1, ms: 1000 };
        assert_eq!(serial.why(10), None);
        assert_eq!(serial.why(100).as_deref(), Some("100 tasks one after another take 100 s"));
        let pool = Skip::Rounds { at_once: 1000, ms: 1000 };
        assert_eq!(pool.why(100).as_deref(), Some("N < 1000: the same as one per task"));
        assert_eq!(pool.why(10_000), None);
        assert_eq!(pool.why(100_000).as_deref(), Some("1000 at a time take 100 s"));
    }
}
