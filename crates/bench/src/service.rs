//! The http benchmarks' service, as a child process that is always stopped: on drop (normal
//! end or error), and on Ctrl-C because it shares our process group and stops on SIGINT.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct Service {
    child: Child,
    pub addr: String,
}

impl Service {
    /// Start `service` on a free loopback port and wait for its `listening on ADDR` line.
    pub fn start() -> anyhow::Result<Service> {
        let path = crate::run::bin_dir().join("service");
        let mut child = Command::new(&path)
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", path.display()))?;
        let mut line = String::new();
        let read = BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line);
        let addr = line.trim().strip_prefix("listening on ").map(str::to_string);
        match (read, addr) {
            (Ok(_), Some(addr)) => Ok(Service { child, addr }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(anyhow::anyhow!("the service did not start: {line:?}"))
            }
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // SAFETY: kill only sends a signal to our own child, which we then reap.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}
