//! The servers `bench serve` loads: every model, every peer, and nginx as the reference —
//! started pinned to core 0, stopped with a signal, and asked what they used.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use workload::serve::ServeReport;

use crate::programs::{roster, Programs};
use crate::run::model_program;
use roster::Flag;

/// One server: how to start it, or why it cannot run here.
#[derive(Clone, Debug)]
pub struct Spec {
    pub name: String,
    /// Program and arguments, without `--serve` (nginx: its binary alone).
    pub argv: Vec<String>,
    pub nginx: bool,
    /// An event loop, which can hand `/cpu` to a pool with `--offload`.
    pub can_offload: bool,
    pub missing: Option<String>,
}

/// Every server, in the order of the tables: every program the roster says serves, then nginx.
pub fn all(programs: &Programs) -> Vec<Spec> {
    let serving = roster().program.iter().filter(|p| p.takes(Flag::Serve));
    let mut specs: Vec<Spec> = serving
        .map(|p| {
            let row = programs.row(&p.id, &[]);
            Spec {
                name: row.name,
                argv: row.argv,
                nginx: false,
                can_offload: p.takes(Flag::Offload),
                missing: row.missing,
            }
        })
        .collect();
    specs.push(nginx());
    specs
}

/// A Rust model's server.
pub fn model(name: &str) -> Spec {
    let offload = roster().program(name).is_some_and(|p| p.takes(Flag::Offload));
    Spec {
        name: name.into(),
        argv: model_program(name),
        nginx: false,
        can_offload: offload,
        missing: None,
    }
}

/// nginx, the reference, if it is installed.
pub fn nginx() -> Spec {
    let nginx =
        which("nginx").or_else(|| Some("/usr/sbin/nginx".into()).filter(|p| Path::new(p).exists()));
    Spec {
        name: "nginx (reference)".into(),
        argv: nginx.iter().cloned().collect(),
        nginx: true,
        can_offload: false,
        missing: nginx.is_none().then(|| "nginx not installed (make tools)".into()),
    }
}

fn which(program: &str) -> Option<String> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}

/// A server running on core 0.
pub struct Running {
    server: child::Group,
    pub addr: SocketAddr,
    /// Resident memory once listening, before any load: the base of RSS per connection.
    pub baseline_rss_kib: u64,
    nginx_dir: Option<std::path::PathBuf>,
}

impl Running {
    /// Start `spec` (with `extra` arguments) and wait until it listens.
    pub fn start(spec: &Spec, extra: &[&str], scratch: &Path) -> anyhow::Result<Running> {
        Running::start_limited(spec, extra, scratch, 20_000)
    }

    /// The same, free to run on every core: for the servers with a thread per core.
    pub fn start_unpinned(spec: &Spec, extra: &[&str]) -> anyhow::Result<Running> {
        Running::launch(spec, extra, None)
    }

    /// The same, nginx told to hold at most `nofile` descriptors (its workers run as another
    /// user, so their limit cannot be lowered from outside); the others' limit is the
    /// caller's to lower.
    pub fn start_limited(
        spec: &Spec,
        extra: &[&str],
        scratch: &Path,
        nofile: u64,
    ) -> anyhow::Result<Running> {
        if spec.nginx {
            return Running::nginx(spec, scratch, nofile);
        }
        Running::launch(spec, extra, child::server_core())
    }

    /// A model or peer on `core` (every core: `None`), once it listens.
    fn launch(spec: &Spec, extra: &[&str], core: Option<usize>) -> anyhow::Result<Running> {
        let mut argv = spec.argv.clone();
        argv.extend(["--serve", "127.0.0.1:0", "--json"].map(String::from));
        argv.extend(extra.iter().map(|s| s.to_string()));
        let mut command = child::argv(&child::on_core(core, &argv));
        command.stdout(Stdio::piped()).stderr(Stdio::null());
        let mut server =
            child::Group::spawn(command).map_err(|e| anyhow::anyhow!("{}: {e}", argv[0]))?;
        let addr = server
            .listening(Duration::from_secs(30))
            .map_err(|why| anyhow::anyhow!("{}: {why}", spec.name))?;
        let baseline_rss_kib = rss_kib(server.pid().as_raw() as u32, "VmRSS");
        Ok(Running { server, addr, baseline_rss_kib, nginx_dir: None })
    }

    /// nginx, one worker, `return 200` with the `/query` body, on a port of its own.
    fn nginx(spec: &Spec, scratch: &Path, nofile: u64) -> anyhow::Result<Running> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(anyhow::Error::msg)?
            .port();
        let dir = scratch.join("nginx");
        std::fs::create_dir_all(dir.join("logs")).map_err(anyhow::Error::msg)?;
        let conf = format!(
            "worker_processes 1;\ndaemon off;\npid {dir}/nginx.pid;\nerror_log stderr error;\n\
             worker_rlimit_nofile {nofile};\nevents {{ worker_connections {connections}; }}\n\
             http {{\n  access_log off;\n  keepalive_requests 1000000;\n\
               client_body_temp_path {dir}; proxy_temp_path {dir}; fastcgi_temp_path {dir};\n\
               uwsgi_temp_path {dir}; scgi_temp_path {dir};\n\
               server {{\n    listen 127.0.0.1:{port} backlog=4096;\n\
                 location / {{ default_type application/json; return 200 '{{\"id\":1,\"value\":101}}'; }}\n  }}\n}}\n",
            dir = dir.display(),
            connections = (nofile - 16).min(16384),
        );
        std::fs::write(dir.join("nginx.conf"), conf).map_err(anyhow::Error::msg)?;
        let argv = child::on_core(
            child::server_core(),
            &[
                spec.argv[0].clone(),
                "-p".into(),
                dir.display().to_string(),
                "-c".into(),
                dir.join("nginx.conf").display().to_string(),
                "-e".into(),
                "stderr".into(),
            ],
        );
        let mut command = child::argv(&argv);
        command.stdout(Stdio::null()).stderr(Stdio::null());
        let server = child::Group::spawn(command).map_err(|e| anyhow::anyhow!("nginx: {e}"))?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("an address");
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            if Instant::now() > until {
                anyhow::bail!("nginx did not start listening");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Running { server, addr, baseline_rss_kib: 0, nginx_dir: Some(dir) })
    }

    /// How the server ended, if it has: a crash while it should be serving.
    pub fn exited(&mut self) -> Option<String> {
        self.server.child.try_wait().ok().flatten().map(|status| status.to_string())
    }

    /// The server's process (nginx: its master).
    pub fn pid(&self) -> u32 {
        self.server.pid().as_raw() as u32
    }

    /// Stop it (SIGTERM; nginx SIGQUIT, its graceful stop) and read its report; nginx has
    /// none, so its worker's peak RSS and CPU come from /proc.
    pub fn stop(mut self) -> Option<ServeReport> {
        let nginx_worker = self.nginx_dir.as_ref().and_then(|_| worker_of(self.pid()));
        let nginx_figures = nginx_worker.map(|w| (rss_kib(w, "VmHWM"), crate::run::cpu_seconds(w)));
        let signal = if self.nginx_dir.is_some() { Signal::SIGQUIT } else { Signal::SIGTERM };
        let _ = self.server.stop(signal, Duration::from_secs(60));
        if let Some((rss, (user, sys))) = nginx_figures {
            let report = serde_json::json!({
                "model": "nginx", "serve": self.addr.to_string(), "workers": 1, "connections": 0,
                "requests": 0, "errors": 0, "refused": 0, "wall_s": 0.0, "user_s": user,
                "sys_s": sys, "max_rss_kib": rss, "voluntary_ctx_switches": 0,
                "involuntary_ctx_switches": 0
            });
            return serde_json::from_value(report).ok();
        }
        let rest = self.server.rest_of_stdout(Duration::from_secs(5))?;
        serde_json::from_str(rest.lines().last()?).ok()
    }
}

/// A field of /proc/PID/status in KiB (VmRSS now, VmHWM the peak).
fn rss_kib(pid: u32, field: &str) -> u64 {
    proc_field(pid, "status", field)
}

/// A `Field:   N …` line of a /proc/PID file (`status`, `smaps_rollup`): N, or 0.
pub fn proc_field(pid: u32, file: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// nginx's worker: the master's one child.
fn worker_of(master: u32) -> Option<u32> {
    let children =
        std::fs::read_to_string(format!("/proc/{master}/task/{master}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}
