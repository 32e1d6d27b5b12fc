//! Running one child to its end or to a time limit: the child gets a process group of its
//! own, its pipes are read on threads (a chatty child cannot fill them and stall), and at the
//! limit the whole group is killed — grandchildren too, which would otherwise keep the pipes
//! open — and reaped.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// How a run ended.
pub struct Ran {
    /// `None`: killed at the limit.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// "ok", "exit 1: <why>", or "timed out after N s". Why is the last `Error` line on
    /// stderr, else the first line of a runtime's fatal error (Go's comes before a dump of
    /// every goroutine), else the last line.
    pub fn outcome(&self, limit: Duration) -> String {
        let lines = || self.stderr.lines().filter(|l| !l.trim().is_empty());
        match self.status {
            Some(s) if s.success() => "ok".into(),
            Some(s) => {
                let why = lines()
                    .rfind(|l| l.starts_with("Error"))
                    .or_else(|| lines().find(|l| l.contains("fatal") || l.starts_with("runtime:")))
                    .or_else(|| lines().next_back())
                    .unwrap_or("");
                match s.code() {
                    Some(code) => format!("exit {code}: {}", why.trim()),
                    None => format!("ended by {s}: {}", why.trim()),
                }
            }
            None => format!("timed out after {} s", limit.as_secs()),
        }
    }
}

/// How long a one-shot child of the benchmarks may run before its group is killed: far past
/// any run they make (the longest are a few seconds to a minute), so that only a hung
/// binary meets it, and the benchmark goes on with a row that says so. `CONCLAB_KILL_AFTER_S`
/// sets another (the tests' hung peer meets it in seconds), as it does for the test kit.
pub fn limit() -> Duration {
    let secs = std::env::var("CONCLAB_KILL_AFTER_S").ok().and_then(|s| s.parse().ok());
    Duration::from_secs(secs.filter(|&s| s > 0).unwrap_or(600))
}

/// Run `argv` to its end or [`limit`]: its stdout if it exited 0; else, with `any_status`,
/// its stdout still; else why it failed, or "timed out after N s".
pub fn output(argv: &[String], any_status: bool) -> anyhow::Result<String> {
    let limit = limit();
    let ran = run(argv, &[], limit).map_err(|e| anyhow::anyhow!("{}: {e}", argv[0]))?;
    match ran.status {
        Some(s) if s.success() || any_status => Ok(ran.stdout),
        _ => Err(anyhow::anyhow!("{}: {}", argv.join(" "), ran.outcome(limit))),
    }
}

/// Run `argv` with `env` added, for at most `limit`.
pub fn run(argv: &[String], env: &[(&str, String)], limit: Duration) -> std::io::Result<Ran> {
    let started = Instant::now();
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let group = Pid::from_raw(child.id() as i32);
    let status = loop {
        match child.try_wait()? {
            Some(status) => break Some(status),
            None if started.elapsed() > limit => {
                let _ = killpg(group, Signal::SIGKILL);
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    // Whatever the child left in its group goes with it.
    let _ = killpg(group, Signal::SIGKILL);
    let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    Ok(Ran { status, stdout, stderr })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_that_hangs_is_killed_with_its_group_at_the_limit() {
        let argv: Vec<String> = ["sh", "-c", "sleep 30 & sleep 30"].map(String::from).into();
        let started = std::time::Instant::now();
        let ran = run(&argv, &[], Duration::from_millis(300)).unwrap();
        assert!(ran.status.is_none());
        // Had the background sleep kept the pipes open, draining them would wait 30 s.
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        assert_eq!(ran.outcome(Duration::from_secs(1)), "timed out after 1 s");
    }

    #[test]
    fn a_failure_is_named_by_its_last_line() {
        let argv: Vec<String> =
            ["sh", "-c", "echo first >&2; echo why >&2; exit 3"].map(String::from).into();
        let ran = run(&argv, &[], Duration::from_secs(10)).unwrap();
        assert_eq!(ran.outcome(Duration::from_secs(10)), "exit 3: why");
    }
}
