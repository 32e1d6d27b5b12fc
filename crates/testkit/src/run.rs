//! Running a binary as a user would, and reading what it showed.
//!
//! Every run is marked with an environment variable that its children inherit, so that after
//! it exits a test can ask which of its processes are still there ([`Outcome::processes_left`]):
//! the contract allows no orphan and no zombie.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::servers::Service;

/// The variable that marks a run's processes, and its children's.
pub(crate) const MARK: &str = "CONCLAB_TEST_RUN";

/// What a finished run of a binary showed.
pub struct Outcome {
    /// `None` when it was killed by a signal (or by the suite's time limit).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// The value of [`MARK`] this run and its children carried.
    pub(crate) mark: String,
}

impl Outcome {
    /// The `--json` report: exactly one line on stdout that parses as an object.
    pub fn report(&self) -> Value {
        let lines: Vec<&str> = self.stdout.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(
            lines.len(),
            1,
            "want one report line; stdout: {:?} stderr: {:?}",
            self.stdout,
            self.stderr
        );
        serde_json::from_str(lines[0])
            .unwrap_or_else(|e| panic!("report is not JSON ({e}): {}", lines[0]))
    }

    /// The report of a run that must have succeeded with every task ok.
    pub fn success(&self) -> Value {
        assert_eq!(self.code, Some(0), "exit status; stderr: {}", self.stderr);
        let report = self.report();
        assert_eq!(report["failed"], 0, "failed tasks: {report}");
        assert_eq!(report["ok"], report["tasks"], "ok tasks: {report}");
        report
    }

    /// The report of a run the machine stopped short: exit 1, every one of `tasks` counted
    /// as ok or failed with some failed, the `limit` to raise named on stderr, and not one
    /// process of the run left behind, not even a zombie.
    pub fn stopped_at_a_limit(&self, tasks: u64, limit: &str) -> Value {
        assert_eq!(self.code, Some(1), "{}", self.stderr);
        let report = self.report();
        assert!(report["failed"].as_u64() > Some(0), "{report}");
        assert_eq!(report["ok"].as_u64().unwrap() + report["failed"].as_u64().unwrap(), tasks);
        assert!(self.stderr.contains(limit), "want {limit:?} in {}", self.stderr);
        assert_eq!(self.processes_left(), Vec::<String>::new());
        report
    }

    /// The wall time, in its own report, of a run that succeeded: it must be under `most`
    /// seconds, a bound on overlap generous enough for a loaded 2-core machine; `ran` says
    /// what ran and what it would take without overlap.
    pub fn overlapped_within(&self, most: f64, ran: &str) -> f64 {
        self.success();
        let wall = self.wall_s();
        assert!(wall < most, "{ran} in {wall} s");
        wall
    }

    /// `wall_s` from the binary's own report.
    pub fn wall_s(&self) -> f64 {
        self.report()["wall_s"].as_f64().expect("wall_s is a number")
    }

    /// The processes of this run still alive, zombies included: after it exits, none.
    pub fn processes_left(&self) -> Vec<String> {
        processes_marked(&self.mark)
    }
}

/// The processes alive whose environment carries [`MARK`] = `mark`: a run's, and whatever it
/// started.
pub(crate) fn processes_marked(mark: &str) -> Vec<String> {
    let needle = format!("{MARK}={mark}\0");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        if environ.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
            let name = status.lines().next().unwrap_or("").to_string();
            let state = status.lines().find(|l| l.starts_with("State:")).unwrap_or("").to_string();
            found.push(format!("{}: {name} {state}", entry.file_name().to_string_lossy()));
        }
    }
    found
}

/// No sign of a crash in what a program said: Rust's panic or abort, a Python traceback or
/// interrupt, a Go or Node.js stack. `case` names the run in the failure.
pub(crate) fn assert_unbroken(stderr: &str, case: &str) {
    for crash in [
        "panicked",
        "fatal runtime error",
        "Traceback",
        "KeyboardInterrupt",
        "goroutine ",
        "    at ",
    ] {
        assert!(!stderr.contains(crash), "{case}: {crash:?} in {stderr}");
    }
}

/// Run `bin` with `args` (plus nothing else) and wait for it.
pub fn run(bin: &str, args: &[&str]) -> Outcome {
    let mut command = child::command(bin);
    command.args(args);
    finish(command)
}

/// Run `bin` with `args` and the environment variables `env` added, and wait for it.
pub fn run_with_env(bin: &str, args: &[&str], env: &[(&str, String)]) -> Outcome {
    let mut command = child::command(bin);
    command.args(args).envs(env.iter().map(|(k, v)| (k, v)));
    finish(command)
}

/// Run `bin` with RLIMIT_NOFILE lowered to `nofile` (soft and hard, so the binary cannot
/// raise it back): a model holding more sockets at once runs out of file descriptors.
pub fn run_with_nofile_limit(bin: &str, args: &[&str], nofile: u64) -> Outcome {
    let mut command = child::command(bin);
    command.args(args);
    lower_rlimit(&mut command, libc::RLIMIT_NOFILE, nofile);
    finish(command)
}

/// Held by each test that lowers RLIMIT_NPROC: the limit counts every process of a user, so
/// two such tests at once (the harness runs a binary's tests in parallel) would take each
/// other's headroom.
pub(crate) static NPROC_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Run `bin` with RLIMIT_NPROC set so that it can start about `headroom` more processes or
/// threads, so that fork and clone fail with EAGAIN past them; `None` (with the reason
/// printed) where this machine cannot set that up.
///
/// RLIMIT_NPROC counts every thread of the binary's real user, so the limit counts from the
/// threads that user already has. Root is exempt from it: as root, the binary runs as the
/// unprivileged user `nobody`, from a copy in a directory `nobody` can reach (the tree it was
/// built in may be closed to other users, as a clone inside `/root` is).
pub fn run_with_nproc_limit(bin: &str, args: &[&str], headroom: u64) -> Option<Outcome> {
    let _one_at_a_time = NPROC_TESTS.lock().unwrap_or_else(|e| e.into_inner());
    let (command, copy) = nproc_limited(bin, args, headroom)?;
    match start(command) {
        Ok(outcome) => Some(outcome),
        Err(e) if copy.is_some() => {
            skipped(&format!("cannot start {bin} as user nobody ({NOBODY}): {e}"))
        }
        Err(e) => panic!("{bin} does not start: {e}"),
    }
}

/// The command of [`run_with_nproc_limit`], and the copy of the binary it runs (to keep
/// until it has exited), or `None` where this machine cannot set it up.
pub(crate) fn nproc_limited(
    bin: &str,
    args: &[&str],
    headroom: u64,
) -> Option<(Command, Option<ReachableCopy>)> {
    let root = nix::unistd::geteuid().is_root();
    let copy = if root {
        match ReachableCopy::of(Path::new(bin)) {
            Ok(copy) => Some(copy),
            Err(why) => return skipped(&why),
        }
    } else {
        None
    };
    let user = if root { NOBODY } else { nix::unistd::getuid().as_raw() };
    if !Path::new("/proc/self/status").exists() {
        return skipped("/proc is not mounted, so the threads a user has cannot be counted");
    }
    let limit = workload::limits::threads_of_user(user) + headroom;
    let mut command = child::command(copy.as_ref().map_or(Path::new(bin), |c| &c.binary));
    command.args(args);
    if let Some(copy) = &copy {
        command.uid(NOBODY).gid(NOBODY).current_dir(&copy.dir);
    }
    lower_rlimit(&mut command, libc::RLIMIT_NPROC, limit);
    Some((command, copy))
}

/// Run `bin` where `io_uring_setup` fails with EPERM, as it does under a container's default
/// seccomp profile or with kernel.io_uring_disabled = 2: a seccomp filter, installed in the
/// child just before it execs, refuses that one call and allows every other.
pub fn run_without_io_uring(bin: &str, args: &[&str]) -> Outcome {
    let stmt = |code: u32, k: u32| libc::sock_filter { code: code as u16, jt: 0, jf: 0, k };
    let filter = [
        // The system call's number is the first word of seccomp_data.
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0),
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: libc::SYS_io_uring_setup as u32,
        },
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
    ];
    let mut command = child::command(bin);
    command.args(args);
    // SAFETY: the closure runs in the forked child before exec and calls only prctl, which is
    // async-signal-safe; the program it installs lives on the closure's stack for the call,
    // and the kernel copies it.
    unsafe {
        command.pre_exec(move || {
            let program =
                libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr().cast_mut() };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &program) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    finish(command)
}

/// The unprivileged user and group root's runs switch to.
const NOBODY: u32 = 65534;

/// Say on the terminal why a test did not run, and return `None`.
///
/// Written to the process's stderr directly: the test harness captures `eprintln!`, and a
/// test that did not run must not look like one that passed.
pub(crate) fn skipped<T>(why: &str) -> Option<T> {
    use std::io::Write;
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("a test");
    let _ = writeln!(std::io::stderr(), "\nSKIPPED {name}: {why}");
    None
}

/// Lower `resource` to `value`, soft and hard, in the child just before it execs.
pub(crate) fn lower_rlimit(command: &mut Command, resource: libc::__rlimit_resource_t, value: u64) {
    // SAFETY: the closure runs in the forked child before exec and calls only setrlimit,
    // which is async-signal-safe; it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit { rlim_cur: value, rlim_max: value };
            if libc::setrlimit(resource, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A copy of a binary in a fresh directory of its own, which every user can enter; removed
/// on drop.
pub(crate) struct ReachableCopy {
    dir: PathBuf,
    binary: PathBuf,
}

impl ReachableCopy {
    fn of(bin: &Path) -> Result<ReachableCopy, String> {
        static COPIES: AtomicU32 = AtomicU32::new(0);
        let n = COPIES.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("conclab-{}-{n}", std::process::id()));
        let binary = dir.join(bin.file_name().ok_or("the binary has no file name")?);
        let copy = ReachableCopy { dir, binary };
        let io = |e: std::io::Error| {
            format!("cannot copy {} to {}: {e}", bin.display(), copy.dir.display())
        };
        std::fs::create_dir_all(&copy.dir).map_err(io)?;
        // Set the modes outright: the umask (077, say) applies to what is created.
        std::fs::set_permissions(&copy.dir, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
        std::fs::copy(bin, &copy.binary).map_err(io)?;
        std::fs::set_permissions(&copy.binary, std::fs::Permissions::from_mode(0o755))
            .map_err(io)?;
        for dir in copy.dir.ancestors().skip(1) {
            let mode = std::fs::metadata(dir).map_err(io)?.permissions().mode();
            if mode & 0o001 == 0 {
                return Err(format!(
                    "{} is closed to other users, so nobody cannot reach a copy there: point TMPDIR at a directory every user can enter",
                    dir.display()
                ));
            }
        }
        Ok(copy)
    }
}

impl Drop for ReachableCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Run a command of the caller's making (its environment, say), marked and with the
/// suite's time limit, as [`run`] runs a binary.
pub fn run_command(command: Command) -> Outcome {
    finish(command)
}

fn finish(command: Command) -> Outcome {
    start(command).unwrap_or_else(|e| panic!("the binary does not start: {e}"))
}

/// Run `command`, marked, under the children's time limit ([`child::limit`]: no test run may
/// hang the suite; past it, the binary's group is killed and the test fails), and collect
/// what it showed.
fn start(mut command: Command) -> std::io::Result<Outcome> {
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let mark = format!("{}-{}", std::process::id(), RUNS.fetch_add(1, Ordering::Relaxed));
    command.env(MARK, &mark);
    let ran = child::run(command, child::limit())?;
    Ok(Outcome {
        code: ran.status.and_then(|s| s.code()),
        stdout: ran.stdout,
        stderr: ran.stderr,
        elapsed: ran.elapsed,
        mark,
    })
}

/// Run `program` (after `leading` arguments, e.g. a Python peer's script) on the http
/// workload against a fresh in-process service: `tasks` requests of `ms` each.
pub fn run_http(program: &str, leading: &[&str], tasks: u32, ms: u32) -> Outcome {
    let service = Service::start();
    let (addr, tasks, ms) = (service.addr.to_string(), tasks.to_string(), ms.to_string());
    let mut args = leading.to_vec();
    args.extend(["--workload", "http", "--tasks", &tasks, "--ms", &ms, "--addr", &addr, "--json"]);
    run(program, &args)
}

/// Run `program` on the http workload against `addr`, which misbehaves, and check that it
/// fails the way the contract says: exit 1, every task failed, `expected` named on stderr,
/// and quickly (no hang).
pub fn assert_http_fails(
    program: &str,
    leading: &[&str],
    addr: std::net::SocketAddr,
    extra: &[&str],
    expected: &str,
) {
    let addr = addr.to_string();
    let mut args = leading.to_vec();
    args.extend(["--workload", "http", "--tasks", "3", "--addr", &addr, "--json"]);
    args.extend(extra);
    let outcome = run(program, &args);
    assert_eq!(outcome.code, Some(1), "{args:?}: {}", outcome.stderr);
    assert_eq!(outcome.report()["failed"], 3, "{args:?}");
    assert!(outcome.stderr.contains(expected), "{args:?}: want {expected:?} in {}", outcome.stderr);
    assert!(outcome.elapsed.as_secs() < 10, "{args:?} took {:?}", outcome.elapsed);
}
