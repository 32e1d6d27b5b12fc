//! A real PostgreSQL for the db tests and `bench db`: `scripts/pg_cluster.py serve`, a
//! throwaway cluster made, seeded and started for this process, and stopped and deleted when
//! the process lets go of it — or dies, since the script stops its server when its stdin
//! closes. Nothing is left running, whoever runs it (root included: the script runs the
//! server as `nobody` then). The one handle on a cluster the project has.

use std::io::{BufRead, BufReader};
use std::process::{ChildStdin, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The rows a test cluster holds: few, so it is made in a second or two.
pub const ROWS: u32 = 1000;

/// A running cluster; dropped, it is stopped and deleted.
pub struct Cluster {
    /// `postgres://conclab@127.0.0.1:PORT/conclab`: trust, the superuser.
    pub url: String,
    stdin: Mutex<Option<ChildStdin>>,
    script: Mutex<child::Group>,
}

impl Cluster {
    /// A cluster seeded with `rows` rows, its server pinned to `core` where one is given.
    pub fn serve(rows: u32, core: Option<usize>) -> Result<Cluster, String> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg_cluster.py");
        let argv = ["python3", script, "serve", "--rows", &rows.to_string()].map(String::from);
        let mut command = child::argv(&child::on_core(core, &argv));
        command.stdout(Stdio::piped());
        let mut script =
            child::Group::spawn(command).map_err(|e| format!("python3 {script}: {e}"))?;
        let stdin = script.child.stdin.take();
        let mut line = String::new();
        let stdout = script.child.stdout.take().expect("piped");
        let _ = BufReader::new(stdout).read_line(&mut line);
        if !line.starts_with("postgres://") {
            return Err("scripts/pg_cluster.py serve did not start a cluster (is PostgreSQL installed? `make postgresql`)".into());
        }
        let url = line.trim().to_string();
        Ok(Cluster { url, stdin: Mutex::new(stdin), script: Mutex::new(script) })
    }

    /// A cluster of this test's own, seeded with [`ROWS`] rows: for a test that stops it or
    /// fills its connections, which would disturb the others'.
    pub fn start() -> Cluster {
        Cluster::serve(ROWS, None).unwrap_or_else(|why| panic!("{why}"))
    }

    /// The port it listens on.
    pub fn port(&self) -> &str {
        let after_host = self.url.rsplit(':').next().unwrap_or_default();
        after_host.split('/').next().unwrap_or_default()
    }

    /// The cluster this test process shares between its tests that only read and write rows.
    /// It lives as long as the process: the script stops it when the process exits.
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(Cluster::start)
    }

    /// The URL with another role and password: `conclab_scram` must log in with SCRAM.
    pub fn url_as(&self, credentials: &str) -> String {
        self.url.replacen("conclab@", &format!("{credentials}@"), 1)
    }

    /// The URL with another database.
    pub fn url_of_database(&self, name: &str) -> String {
        let (server, _) = self.url.rsplit_once('/').expect("a /dbname");
        format!("{server}/{name}")
    }

    /// Stop the server now (a fast shutdown: every connection is ended) and delete it: the
    /// script does both when its stdin closes.
    pub fn stop(&self) {
        drop(self.stdin.lock().unwrap_or_else(|e| e.into_inner()).take());
        let mut script = self.script.lock().unwrap_or_else(|e| e.into_inner());
        let _ = script.wait_for(Duration::from_secs(60));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}
