//! `bench`: the benchmark driver behind `make bench`, `bench-quick`, `bench-http`, `bench-cpu`,
//! `strace`, `perf` and `syscalls`.
//!
//! It times the six model binaries and the Python peers with hyperfine — in one hyperfine
//! run per group, so their figures compare as ratios on a noisy machine — runs each once
//! more with `--json` for the figures only the process itself knows (peak RSS, children's
//! RSS, context switches, lateness), and writes the JSON, a Markdown table and the machine
//! facts to `results/…`. The tables are produced here from that JSON, never by hand.

mod facts;
mod readme;
mod run;
mod scale;
mod service;
mod suites;
mod svg;
mod table;
mod trace;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str =
    "Usage: bench <seed [--quick] | http | cpu> --hyperfine PATH --python PATH --out DIR
       bench trace --tool strace|perf --model M [--workload W] [--tasks N] [--ms MS]
       bench syscalls --out FILE
       bench readme [--readme README.md] [--results results]";

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = argv.split_first() else {
        eprintln!("Error: no command\n\n{USAGE}");
        return ExitCode::from(2);
    };
    let options = match Options::parse(rest) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("Error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let outcome = match command.as_str() {
        "seed" => suites::seed(&options),
        "http" => suites::http(&options),
        "cpu" => suites::cpu(&options),
        "scale" => scale::scale(&options),
        "plots" => scale::plots(&options),
        "trace" => trace::one(&options),
        "syscalls" => trace::syscalls(&options),
        "readme" => readme::readme(&options),
        other => {
            eprintln!("Error: unknown command {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(1)
        }
    }
}

/// `--key value` pairs and `--flag`s.
pub struct Options {
    values: HashMap<String, String>,
    flags: Vec<String>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let (mut values, mut flags) = (HashMap::new(), Vec::new());
        let mut it = args.iter().peekable();
        while let Some(arg) = it.next() {
            let key =
                arg.strip_prefix("--").ok_or_else(|| format!("unexpected argument {arg:?}"))?;
            match it.peek() {
                Some(v) if !v.starts_with("--") => {
                    values.insert(key.to_string(), it.next().unwrap().clone());
                }
                _ => flags.push(key.to_string()),
            }
        }
        Ok(Options { values, flags })
    }

    pub fn get(&self, key: &str) -> Result<&str, String> {
        self.values.get(key).map(String::as_str).ok_or_else(|| format!("--{key} is required"))
    }

    pub fn get_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.values.get(key).map_or(default, String::as_str)
    }

    pub fn flag(&self, key: &str) -> bool {
        self.flags.iter().any(|f| f == key)
    }

    pub fn out(&self) -> Result<PathBuf, String> {
        self.get("out").map(PathBuf::from)
    }
}

/// Where the model binaries are: next to this one (target/release).
pub fn bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("target/release"))
}
