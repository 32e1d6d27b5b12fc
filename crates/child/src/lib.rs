//! # child — every program the harness starts, started one way
//!
//! The benchmarks and the tests start many programs: the models and peers under test, the
//! service, the servers of the serve sweep, PostgreSQL's script, hyperfine, strace, wrk, oha,
//! fio, pgbench. Each is started here, and only here (`command` holds the harness's one
//! `Command::new`), so that each gets the same care:
//!
//! - a **process group** of its own, so that whatever it starts (a peer's workers, a shell's
//!   background jobs) can be killed with it, and never outlives the run;
//! - a **time limit** ([`limit`]: one for every child, `CONCLAB_KILL_AFTER_S` or 600 s),
//!   past which the group is killed and the run says "timed out after N s" instead of
//!   hanging;
//! - its pipes **drained on threads**, so that a chatty child cannot fill them and stall;
//! - and if the harness itself is stopped (Ctrl-C, SIGTERM), every group still running is
//!   killed before it exits: nothing is left behind.
//!
//! # Layout
//!
//! - [`run`]: a child run to its end, its output collected ([`Ran`]).
//! - [`Group`]: a child that runs beside the harness (a server, a cluster), killed with its
//!   group when dropped; [`Group::listening`] reads the contract's `listening on ADDR`.
//! - [`on_core`]: the `taskset -c` prefix that pins a child to a core.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{self, BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// How long a child may run before its group is killed: far past any run the harness makes
/// (the longest are a few minutes), so that only a hung program meets it. A caller with a
/// better bound passes its own; `CONCLAB_KILL_AFTER_S` sets this one (the tests' hung peer
/// meets it in seconds; `bench conform --timeout`).
pub fn limit() -> Duration {
    let secs = std::env::var("CONCLAB_KILL_AFTER_S").ok().and_then(|s| s.parse().ok());
    Duration::from_secs(secs.filter(|&s| s > 0).unwrap_or(600))
}

/// A command for `program`, to be started in a process group of its own by [`run`] or
/// [`Group::spawn`].
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command.process_group(0);
    command
}

/// The command `argv` spells: its program, then its arguments.
pub fn argv<S: AsRef<OsStr>>(argv: &[S]) -> Command {
    let mut command = command(&argv[0]);
    command.args(&argv[1..]);
    command
}

/// `argv`, pinned to `core` with `taskset -c` when there is one.
pub fn on_core(core: Option<usize>, argv: &[String]) -> Vec<String> {
    let pin = core.map(|c| ["taskset".to_string(), "-c".into(), c.to_string()]);
    pin.into_iter().flatten().chain(argv.iter().cloned()).collect()
}

/// The core a server runs on, where the machine has a second for its clients: core 0.
pub fn server_core() -> Option<usize> {
    two_cores().then_some(0)
}

/// The core a server's clients run on (the load, pgbench): core 1, where there are two.
pub fn client_core() -> Option<usize> {
    two_cores().then_some(1)
}

fn two_cores() -> bool {
    std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2
}

/// How a run ended.
pub struct Ran {
    /// `None`: killed at the limit.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
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

    /// Its stdout if it exited 0, else why not.
    pub fn stdout_if_ok(self, limit: Duration) -> Result<String, String> {
        match self.status {
            Some(s) if s.success() => Ok(self.stdout),
            _ => Err(self.outcome(limit)),
        }
    }
}

/// Run `command` to its end or `limit`, its stdin empty unless the caller set it, its output
/// collected; at the limit its group is killed, and so is whatever it left in its group
/// when it exits.
pub fn run(mut command: Command, limit: Duration) -> io::Result<Ran> {
    let started = Instant::now();
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut group = Group::spawn_with(command, Stdio::null())?;
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let out = drain(Box::new(group.child.stdout.take().expect("piped")));
    let err = drain(Box::new(group.child.stderr.take().expect("piped")));
    let status = group.wait_for(limit)?;
    // Whatever the child left in its group goes with it, or it would hold the pipes open.
    drop(group);
    let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    Ok(Ran { status, stdout, stderr, elapsed: started.elapsed() })
}

/// [`run`] for a command line, `argv` with `env` added.
pub fn run_argv(argv_: &[String], env: &[(&str, String)], limit: Duration) -> io::Result<Ran> {
    let mut command = argv(argv_);
    command.envs(env.iter().map(|(k, v)| (k, v)));
    run(command, limit)
}

/// Run `command` with the harness's own stdin, stdout and stderr (a tool whose output is
/// the user's to read: hyperfine, strace), to its end or `limit`.
pub fn run_attached(command: Command, limit: Duration) -> io::Result<Option<ExitStatus>> {
    Group::spawn_with(command, Stdio::inherit())?.wait_for(limit)
}

/// Run `argv` to its end or [`limit`]: its stdout if it exited 0 (or with `any_status`,
/// whatever its status); else why not.
pub fn output(argv_: &[String], any_status: bool) -> Result<String, String> {
    let limit = limit();
    let ran = run(argv(argv_), limit).map_err(|e| format!("{}: {e}", argv_[0]))?;
    match ran.status {
        Some(_) if any_status => Ok(ran.stdout),
        _ => ran.stdout_if_ok(limit).map_err(|why| format!("{}: {why}", argv_.join(" "))),
    }
}

/// A child running beside the harness, in a group of its own: dropped, its group is killed
/// and it is reaped.
pub struct Group {
    pub child: Child,
    /// Once [`Group::listening`] has read the address: the rest of its stdout, line by line.
    rest: Option<std::sync::mpsc::Receiver<String>>,
}

/// The groups still running: what a stop of the harness kills.
static LIVE: Mutex<Option<HashSet<i32>>> = Mutex::new(None);

impl Group {
    /// Start `command` (made by [`command`]), its stdin a pipe the caller may write to or
    /// close.
    pub fn spawn(command: Command) -> io::Result<Group> {
        Group::spawn_with(command, Stdio::piped())
    }

    fn spawn_with(mut command: Command, stdin: Stdio) -> io::Result<Group> {
        kill_groups_on_signals();
        // Set here too, so that a command not made by `command` still gets a group.
        command.process_group(0).stdin(stdin);
        let child = retry_while_busy(|| command.spawn())?;
        LIVE.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_default().insert(pid(&child));
        Ok(Group { child, rest: None })
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(pid(&self.child))
    }

    /// Wait for it to exit, at most `limit`; `None` if it had not (its group is then killed
    /// and it is reaped).
    pub fn wait_for(&mut self, limit: Duration) -> io::Result<Option<ExitStatus>> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if started.elapsed() > limit {
                self.kill();
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Ask it to stop with `signal` (SIGTERM, or nginx's SIGQUIT), and wait at most `grace`
    /// for it to exit before its group is killed.
    pub fn stop(&mut self, signal: Signal, grace: Duration) -> io::Result<Option<ExitStatus>> {
        let _ = nix::sys::signal::kill(self.pid(), signal);
        self.wait_for(grace)
    }

    /// Kill its group, and reap it.
    pub fn kill(&mut self) {
        let _ = killpg(self.pid(), Signal::SIGKILL);
        let _ = self.child.wait();
    }

    /// Read its stdout (which the caller piped) until the contract's `listening on ADDR`
    /// line, for at most `limit`; the address, or why there is none — the child exited (with
    /// its status), or it said nothing in time. The rest of stdout is read on, so that the
    /// pipe never fills, and kept ([`Group::rest_of_stdout`]: a server's report).
    pub fn listening(&mut self, limit: Duration) -> Result<SocketAddr, String> {
        let stdout = self.child.stdout.take().ok_or("its stdout is not piped")?;
        let (tx, rx) = std::sync::mpsc::channel();
        let (rest_tx, rest_rx) = std::sync::mpsc::channel();
        self.rest = Some(rest_rx);
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
            let _ = tx.send(lines.by_ref().find_map(|line| listening_in(&line)));
            for line in lines {
                let _ = rest_tx.send(line + "\n");
            }
        });
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(found) = rx.recv_timeout(Duration::from_millis(20)) {
                return found.ok_or_else(|| self.why_not_listening());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                if let Ok(Some(found)) = rx.recv_timeout(Duration::from_millis(200)) {
                    return Ok(found);
                }
                return Err(format!("it exited ({status}) without saying `listening on ADDR`"));
            }
        }
        Err(format!("it did not say `listening on ADDR` within {} s", limit.as_secs()))
    }

    /// What it printed after it said where it listens, once its stdout has ended (waiting at
    /// most `wait` for that).
    pub fn rest_of_stdout(&self, wait: Duration) -> Option<String> {
        let lines = self.rest.as_ref()?;
        let deadline = Instant::now() + wait;
        let mut rest = String::new();
        loop {
            match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => rest += &line,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Some(rest),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => return None,
            }
        }
    }

    /// The next line it printed after it said where it listens (the `web`'s answer sheet),
    /// waiting at most `wait` for it.
    pub fn next_line(&self, wait: Duration) -> Option<String> {
        self.rest.as_ref()?.recv_timeout(wait).ok()
    }

    fn why_not_listening(&mut self) -> String {
        match self.wait_for(Duration::from_secs(1)) {
            Ok(Some(status)) => format!("it exited ({status}) without saying `listening on ADDR`"),
            _ => "it closed its stdout without saying `listening on ADDR`".into(),
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = killpg(self.pid(), Signal::SIGKILL);
        let _ = self.child.wait();
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_default()
            .remove(&pid(&self.child));
    }
}

/// The address a line names as `listening on ADDR` (the contract's line, every server's
/// first): the one parser of it.
pub fn listening_in(line: &str) -> Option<SocketAddr> {
    let at = line.find("listening on ")?;
    line[at + "listening on ".len()..].split_whitespace().next()?.parse().ok()
}

fn pid(child: &Child) -> i32 {
    child.id() as i32
}

/// Once: on SIGINT, SIGTERM or SIGHUP, kill every group still running, then exit as the
/// signal would have ended us (128 + its number).
fn kill_groups_on_signals() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        std::thread::spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let live = LIVE.lock().unwrap_or_else(|e| e.into_inner()).take();
                for group in live.into_iter().flatten() {
                    let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
                }
                std::process::exit(128 + signal);
            }
        });
    });
}

/// Start a process, again while its binary is "busy" (ETXTBSY): a binary copied a moment ago
/// (the tests' copy for user `nobody`) may still be open for writing in a child that another
/// thread forked meanwhile, until that child execs.
pub fn retry_while_busy<T>(mut start: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    for _ in 0..100 {
        match start() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            other => return other,
        }
    }
    start()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        argv(&["sh", "-c", script])
    }

    #[test]
    fn a_child_that_hangs_is_killed_with_its_group_at_the_limit() {
        let started = Instant::now();
        let ran = run(sh("sleep 30 & sleep 30"), Duration::from_millis(300)).unwrap();
        assert!(ran.status.is_none());
        // Had the background sleep kept the pipes open, draining them would wait 30 s.
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        assert_eq!(ran.outcome(Duration::from_secs(1)), "timed out after 1 s");
    }

    #[test]
    fn a_failure_is_named_by_its_last_line() {
        let ran = run(sh("echo first >&2; echo why >&2; exit 3"), Duration::from_secs(10));
        assert_eq!(ran.unwrap().outcome(Duration::from_secs(10)), "exit 3: why");
    }

    #[test]
    fn a_server_says_where_it_listens_or_why_it_does_not() {
        let mut server = sh("echo starting; echo 'listening on 127.0.0.1:4242'; sleep 30");
        server.stdout(Stdio::piped());
        let mut group = Group::spawn(server).unwrap();
        assert_eq!(group.listening(Duration::from_secs(10)), Ok("127.0.0.1:4242".parse().unwrap()));
        let mut gone = sh("echo nothing; exit 2");
        gone.stdout(Stdio::piped());
        let why = Group::spawn(gone).unwrap().listening(Duration::from_secs(10)).unwrap_err();
        assert!(why.contains("exited") && why.contains('2'), "{why}");
    }

    #[test]
    fn a_pinned_argv_starts_with_taskset() {
        let argv = ["x".to_string()];
        assert_eq!(on_core(Some(1), &argv), ["taskset", "-c", "1", "x"]);
        assert_eq!(on_core(None, &argv), ["x"]);
    }
}
