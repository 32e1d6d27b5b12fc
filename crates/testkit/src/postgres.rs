//! A real PostgreSQL for the db tests: `scripts/pg_cluster.py serve`, a throwaway cluster
//! made, seeded and started for this test process, and stopped and deleted when the
//! process lets go of it — or dies, since the script stops its server when its stdin
//! closes. Nothing is left running, whoever runs the tests (root included: the script runs
//! the server as `nobody` then).

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The rows a test cluster holds: few, so it is made in a second or two.
pub const ROWS: u32 = 1000;

/// A running cluster; dropped, it is stopped and deleted.
pub struct Cluster {
    /// `postgres://conclab@127.0.0.1:PORT/conclab`: trust, the superuser.
    pub url: String,
    stdin: Mutex<Option<ChildStdin>>,
    child: Mutex<Child>,
}

impl Cluster {
    /// A cluster of this test's own, seeded with [`ROWS`] rows: for a test that stops it or
    /// fills its connections, which would disturb the others'.
    pub fn start() -> Cluster {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg_cluster.py");
        let mut child = Command::new("python3")
            .args([script, "serve", "--rows", &ROWS.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs scripts/pg_cluster.py");
        let stdin = child.stdin.take();
        let mut line = String::new();
        let stdout = child.stdout.take().expect("its stdout");
        BufReader::new(stdout).read_line(&mut line).expect("the cluster's URL");
        assert!(
            line.starts_with("postgres://"),
            "scripts/pg_cluster.py serve did not start a cluster (is PostgreSQL installed? `make postgresql`)"
        );
        Cluster { url: line.trim().to_string(), stdin: Mutex::new(stdin), child: Mutex::new(child) }
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

    /// Stop the server now (a fast shutdown: every connection is ended) and delete it.
    pub fn stop(&self) {
        drop(self.stdin.lock().expect("stdin").take());
        let _ = self.child.lock().expect("child").wait();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}
