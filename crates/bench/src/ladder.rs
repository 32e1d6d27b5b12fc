//! `ring`'s ladders as bench climbs them: the server's (`serve/ladder.rs`), the http
//! client's (`client_ladder.rs`) and the crawl's (`crawl/`). Each rung adds one io_uring
//! feature to the rung below it; bench runs `ring` on every rung once a round, the rung named
//! in an environment variable, and a variant table gives each rung's medians over the rounds
//! and what its feature changed. A name `ring` does not know makes it refuse to start, so the
//! tests hold these lists to the source that declares the rungs.

use serde::{Deserialize, Serialize};

use crate::stats::median;
use crate::table::{Table, DASH};

/// One of `ring`'s ladders.
pub struct Ladder {
    /// The environment variable that picks a rung.
    pub variable: &'static str,
    /// Its rungs, plain to modern, as `ring` names them.
    pub rungs: &'static [&'static str],
    /// The rung `ring` runs unless told (its `BEST`): the targets judge it.
    pub default: &'static str,
    /// The file under `crates/` that declares the rungs, and its enum: the tests read it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub declared: (&'static str, &'static str),
}

/// The server's: `crates/ring/src/serve/path.rs`.
pub const SERVE: Ladder = Ladder {
    variable: "CONCLAB_RING_SERVE_PATH",
    rungs: &["plain", "multishot-accept", "provided-buffers", "multishot-recv", "fixed-files"],
    default: "multishot-recv",
    declared: ("ring/src/serve/path.rs", "ServePath"),
};

/// The http client's: `crates/ring/src/parts/client_path.rs`.
pub const CLIENT: Ladder = Ladder {
    variable: "CONCLAB_RING_CLIENT_PATH",
    rungs: &["plain", "provided-buffers", "fixed-files", "linked"],
    default: "provided-buffers",
    declared: ("ring/src/parts/client_path.rs", "ClientPath"),
};

/// The crawl's: `crates/ring/src/parts/crawl_path.rs`.
pub const CRAWL: Ladder = Ladder {
    variable: "CONCLAB_RING_CRAWL_PATH",
    rungs: &["one-shot", "multishot-recv"],
    default: "multishot-recv",
    declared: ("ring/src/parts/crawl_path.rs", "CrawlPath"),
};

impl Ladder {
    /// `VARIABLE=rung`, as `env` and strace's `-E` take it.
    pub fn setting(&self, rung: &str) -> String {
        format!("{}={rung}", self.variable)
    }

    /// `argv` on `rung`: `env VARIABLE=rung argv…`.
    pub fn on(&self, rung: &str, argv: Vec<String>) -> Vec<String> {
        ["env".into(), self.setting(rung)].into_iter().chain(argv).collect()
    }
}

/// One rung (or an anchor measured beside the rungs) in one round, and what was measured.
#[derive(Serialize, Deserialize)]
pub struct Rung<T> {
    /// The rung's name, or the anchor's.
    pub path: String,
    pub round: u32,
    #[serde(flatten)]
    pub measured: T,
}

/// The median over the rounds of `path` of what `f` finds in each, where it finds one.
pub fn median_of<T>(rungs: &[Rung<T>], path: &str, f: impl Fn(&T) -> Option<f64>) -> Option<f64> {
    median(rungs.iter().filter(|r| r.path == path).filter_map(|r| f(&r.measured)))
}

/// The rounds `rungs` ran.
pub fn rounds<T>(rungs: &[Rung<T>]) -> u32 {
    rungs.iter().map(|r| r.round + 1).max().unwrap_or(0)
}

/// What a variant table gives of a rung after its first figure (its wall, its rate): its
/// CPU in µs a unit of work, its calls into the kernel, its peak memory.
pub struct Costs {
    pub user_us: f64,
    pub sys_us: f64,
    /// `io_uring_enter` calls, and system calls in all, in one run under strace.
    pub enters: f64,
    pub syscalls: f64,
    pub rss_kib: f64,
}

impl Costs {
    pub fn cpu_us(&self) -> f64 {
        self.user_us + self.sys_us
    }
}

/// A variant table under `header`: a row a rung of `ladder`, plain to modern, from what
/// `figures` finds of it — the first figure's cell and its [`Costs`], CPU to `decimals`
/// places — or the rung's name alone where it finds none.
pub fn costs_table(
    header: &str,
    ladder: &Ladder,
    decimals: usize,
    figures: impl Fn(&str) -> Option<(String, Costs)>,
) -> Table {
    let mut t = Table::headed(header);
    let mut climb = Climb::default();
    for rung in ladder.rungs {
        let name = format!("`ring` {rung}");
        let Some((first, c)) = figures(rung) else {
            t.push_without_figures(vec![name]);
            continue;
        };
        let mut row = vec![name, first];
        row.extend(climb.step(c.user_us, c.sys_us, decimals));
        let rss = format!("{:.1} MiB", c.rss_kib / 1024.0);
        row.extend([format!("{:.0}", c.enters), format!("{:.0}", c.syscalls), rss]);
        t.push(row);
    }
    t
}

/// The CPU columns of a variant table — user, system, both, in µs a unit of work — and the
/// last, "against the rung below": each rung's CPU less the last rung's.
#[derive(Default)]
pub struct Climb(Option<f64>);

impl Climb {
    /// A rung's CPU cells, to `decimals` places (a dash against the first rung); its CPU is
    /// the next rung's "below".
    pub fn step(&mut self, user: f64, sys: f64, decimals: usize) -> [String; 4] {
        let cpu = user + sys;
        let against =
            self.0.map_or(DASH.into(), |below| format!("{:+.*} µs", decimals, cpu - below));
        self.0 = Some(cpu);
        let us = |v: f64| format!("{v:.*} µs", decimals);
        [us(user), us(sys), us(cpu), against]
    }

    /// The same cells for a row beside the ladder (an anchor): nothing against a rung, and
    /// the climb goes on past it.
    pub fn beside(&self, user: f64, sys: f64, decimals: usize) -> [String; 4] {
        let mut cells = Climb::default().step(user, sys, decimals);
        cells[3] = DASH.into();
        cells
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each ladder's source declares every one of its rungs by name, and its default as
    /// `BEST`: a rung renamed in ring must be renamed here, or the ladder would measure a
    /// program that refuses to start.
    #[test]
    fn every_ladder_is_rings_own() {
        for ladder in [SERVE, CLIENT, CRAWL] {
            let (file, kind) = ladder.declared;
            let path = format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"));
            let source = std::fs::read_to_string(&path).expect("the file that declares the rungs");
            for rung in ladder.rungs {
                let named = format!("=> \"{rung}\"");
                assert!(source.contains(&named), "{rung} is not a rung of {file}");
            }
            let camel: String =
                ladder.default.split('-').map(|w| w[..1].to_uppercase() + &w[1..]).collect();
            let best = format!("BEST: {kind} = {kind}::{camel};");
            assert!(source.contains(&best), "BEST is not {} in {file}", ladder.default);
        }
    }

    #[test]
    fn a_climb_says_what_each_rung_changed() {
        let mut climb = Climb::default();
        assert_eq!(climb.step(1.0, 4.0, 2), ["1.00 µs", "4.00 µs", "5.00 µs", DASH]);
        assert_eq!(climb.beside(9.0, 9.0, 2)[3], DASH);
        assert_eq!(climb.step(1.0, 3.5, 2)[3], "-0.50 µs");
        assert_eq!(climb.step(1.0, 3.8, 1)[3], "+0.3 µs");
    }
}
