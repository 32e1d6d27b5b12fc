//! The peer programs beside the Rust models: the article's Python models, and the two
//! runtimes uvloop's claim names, Go and Node.js — where each is, and whether it can run here.
//! `make peers` puts all three runtimes in the project's `.venv`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run::Row;

/// The runtime a row runs on, as its name says: peers' names start with `py-`, `go-` or
/// `node-`, the Rust models' with nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Rust,
    Python,
    Go,
    Node,
}

impl Runtime {
    pub fn of(name: &str) -> Runtime {
        match name {
            n if n.starts_with("py-") => Runtime::Python,
            n if n.starts_with("go-") => Runtime::Go,
            n if n.starts_with("node-") => Runtime::Node,
            _ => Runtime::Rust,
        }
    }

    /// The row of this runtime that runs one cpu task at a time: what a speedup is over.
    pub fn one_at_a_time(self) -> &'static str {
        match self {
            Runtime::Rust => "serial",
            Runtime::Python => "py-serial",
            Runtime::Go => "go-goroutines (1 worker)",
            Runtime::Node => "node-promises",
        }
    }
}

/// The peers and whether they can run here; a row that cannot says why instead of a figure.
pub struct Peers {
    pub python: String,
    python_missing: Option<String>,
    uvloop_missing: Option<String>,
    /// The built Go peer, or why there is none.
    go: Result<PathBuf, String>,
    /// The virtualenv's `node`, or why there is none.
    node: Result<PathBuf, String>,
}

/// The peers' sources: `scripts/peers`, by absolute path, for the bench runs from the
/// repository root and its tests from the crate.
fn script(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/peers").join(name);
    path.canonicalize().unwrap_or(path).display().to_string()
}

fn runs(program: &Path, args: &[&str]) -> bool {
    Command::new(program).args(args).output().is_ok_and(|o| o.status.success())
}

impl Peers {
    /// The peers for `python`; Go and Node are looked for beside it (in `.venv/bin`).
    pub fn find(python: &str) -> Peers {
        let python_missing =
            (!runs(Path::new(python), &["--version"])).then(|| "python3 not found".to_string());
        let uvloop_missing = python_missing.clone().or_else(|| {
            (!runs(Path::new(python), &["-c", "import uvloop"]))
                .then(|| "uvloop not installed (make peers)".into())
        });
        let venv_bin = Path::new(python).parent().unwrap_or(Path::new("")).to_path_buf();
        let found = |name: &str, args: &[&str]| {
            let path = venv_bin.join(name);
            if runs(&path, args) {
                Ok(path)
            } else {
                Err(format!("{} not found (make peers)", path.display()))
            }
        };
        Peers {
            python: python.to_string(),
            python_missing,
            uvloop_missing,
            go: found("go-goroutines", &["--tasks", "1", "--ms", "0"]),
            node: found("node", &["--version"]),
        }
    }

    /// A Python peer: `python scripts/peers/SCRIPT ARGS`.
    pub fn python(&self, name: &str, script_name: &str, args: &[String]) -> Row {
        let mut argv = vec![self.python.clone(), script(script_name)];
        argv.extend(args.iter().cloned());
        let missing = match script_name {
            "py_uvloop.py" => &self.uvloop_missing,
            _ => &self.python_missing,
        };
        Row { missing: missing.clone(), ..Row::new(name, argv) }
    }

    /// The Go peer: one goroutine per task (or `--workers W` of them).
    pub fn go(&self, name: &str, args: &[String]) -> Row {
        let program = self.go.as_ref().map_or("go-goroutines".into(), |p| p.display().to_string());
        let argv = [vec![program], args.to_vec()].concat();
        Row { missing: self.go.as_ref().err().cloned(), ..Row::new(name, argv) }
    }

    /// The Node peer: `node scripts/peers/node_peer.mjs ARGS`.
    pub fn node(&self, name: &str, args: &[String]) -> Row {
        let program = self.node.as_ref().map_or("node".into(), |p| p.display().to_string());
        let argv = [vec![program, script("node_peer.mjs")], args.to_vec()].concat();
        Row { missing: self.node.as_ref().err().cloned(), ..Row::new(name, argv) }
    }

    /// Every peer with no extra arguments, in the order the tables list them: the article's
    /// five Python models, then Go and Node.
    pub fn every(&self) -> Vec<Row> {
        vec![
            self.python("py-serial", "py_serial.py", &[]),
            self.python("py-processes", "py_processes.py", &[]),
            self.python("py-threads", "py_threads.py", &[]),
            self.python("py-asyncio", "py_asyncio.py", &[]),
            self.python("py-uvloop", "py_uvloop.py", &[]),
            self.go("go-goroutines", &[]),
            self.node("node-promises", &[]),
        ]
    }

    /// The runtimes' versions, for the machine facts beside every result.
    pub fn versions(&self) -> Vec<(&'static str, String)> {
        // Go's version is its toolchain's, beside the peer it built; Node's its own.
        let version = |tool: &Result<PathBuf, String>, program: &str, args: &[&str]| match tool {
            Ok(path) => {
                crate::facts::first_line(&path.with_file_name(program).display().to_string(), args)
            }
            Err(why) => why.clone(),
        };
        vec![
            ("python", crate::facts::first_line(&self.python, &["--version"])),
            (
                "uvloop",
                crate::facts::first_line(
                    &self.python,
                    &["-c", "import uvloop; print(uvloop.__version__)"],
                ),
            ),
            ("go", version(&self.go, "go", &["version"])),
            ("node", version(&self.node, "node", &["--version"])),
        ]
    }
}
