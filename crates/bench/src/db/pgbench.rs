//! pgbench, the anchor: PostgreSQL's own load generator (C and libpq), running the workload's
//! very statement on the same table as a prepared statement (`-M prepared`), W clients on
//! one thread, as the programs run on one core. Its figure is the server's ceiling for that
//! statement at W connections; its CPU per query, what a lean C client spends.

use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::resource::{getrusage, UsageWho};

use super::{Point, ROWS};

/// What `pg_cluster.py` sets; read back from the server in [`Pgbench::new`] all the same.
pub const MAX_CONNECTIONS: u32 = 100;

pub struct Pgbench {
    port: String,
    dir: PathBuf,
}

impl Pgbench {
    /// Scripts for the select and the update, and a check that the server says
    /// max_connections is what the results will say it was.
    pub fn new(port: &str) -> anyhow::Result<Pgbench> {
        let dir = std::env::temp_dir().join(format!("conclab-pgbench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
        let row = format!("\\set id random(1, {ROWS})\n");
        let select = format!("{row}SELECT value FROM items WHERE id = :id;\n");
        let update =
            format!("{row}UPDATE items SET hits = hits + 1 WHERE id = :id RETURNING value;\n");
        crate::run::write(&dir.join("select.sql"), &select)?;
        crate::run::write(&dir.join("update.sql"), &update)?;
        let psql: Vec<String> =
            ["psql", "-X", "-At", "-h", "127.0.0.1", "-p", port, "-U", "conclab"]
                .into_iter()
                .chain(["-d", "conclab", "-c", "SHOW max_connections"])
                .map(String::from)
                .collect();
        let shown = child::output(&psql, false).map_err(anyhow::Error::msg)?;
        if shown.trim() != MAX_CONNECTIONS.to_string() {
            return Err(anyhow::anyhow!(
                "the cluster has max_connections {}, not {MAX_CONNECTIONS}",
                shown.trim()
            ));
        }
        Ok(Pgbench { port: port.into(), dir })
    }

    /// `n` selects from one client that connects for each (`-C`): what a connection costs.
    pub fn connecting(&self, core: Option<usize>, n: u32) -> Point {
        self.run(core, n, 1, "select.sql", &["-C"])
    }

    /// About `n` transactions from `clients` clients: ⌈n / clients⌉ each.
    pub fn point(&self, core: Option<usize>, n: u32, clients: u32, write: bool) -> Point {
        self.run(core, n, clients, if write { "update.sql" } else { "select.sql" }, &[])
    }

    /// pgbench's command for ⌈n / clients⌉ transactions of `script` from each of `clients`.
    pub fn argv(&self, n: u32, clients: u32, script: &str, more: &[&str]) -> Vec<String> {
        let each = n.div_ceil(clients);
        let script = self.dir.join(script);
        ["pgbench", "-n", "-M", "prepared", "-j", "1", "-h", "127.0.0.1"]
            .into_iter()
            .chain(more.iter().copied())
            .map(String::from)
            .chain(["-p".into(), self.port.clone(), "-U".into(), "conclab".into()])
            .chain(["-c".into(), clients.to_string(), "-t".into(), each.to_string()])
            .chain(["-f".into(), script.display().to_string(), "conclab".into()])
            .collect()
    }

    fn run(&self, core: Option<usize>, n: u32, clients: u32, script: &str, more: &[&str]) -> Point {
        let argv = self.argv(n, clients, script, more);
        let total = n.div_ceil(clients) * clients;
        let mut point = Point::missing("pgbench", total, Some(clients), String::new());
        let before = getrusage(UsageWho::RUSAGE_CHILDREN).ok();
        let limit = Duration::from_secs(300);
        let ran = match child::run_argv(&child::on_core(core, &argv), &[], limit) {
            Ok(ran) => ran,
            Err(e) => {
                point.status = format!("cannot run pgbench: {e}");
                return point;
            }
        };
        let after = getrusage(UsageWho::RUSAGE_CHILDREN).ok();
        point.status = ran.outcome(limit);
        let tps = ran.stdout.lines().find_map(|l| {
            let rest = l.strip_prefix("tps = ")?;
            rest.split_whitespace().next()?.parse::<f64>().ok()
        });
        if point.ok() && tps.is_none() {
            point.status = "pgbench printed no tps".into();
        }
        point.qps = tps;
        point.wall_s = tps.map(|t| f64::from(total) / t);
        point.failed = Some(0);
        if let (Some(a), Some(b)) = (after, before) {
            let secs = |r: &nix::sys::resource::Usage| {
                let (u, s) = (r.user_time(), r.system_time());
                u.tv_sec() as f64
                    + u.tv_usec() as f64 / 1e6
                    + s.tv_sec() as f64
                    + s.tv_usec() as f64 / 1e6
            };
            point.cpu_us_per_query = Some((secs(&a) - secs(&b)) / f64::from(total) * 1e6);
        }
        point
    }
}

impl Drop for Pgbench {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
