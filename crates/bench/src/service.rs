//! The http benchmarks' service, as a child in a group of its own that is always stopped:
//! on drop (a normal end or an error), and on Ctrl-C with every other child (`child`).

use std::process::Stdio;
use std::time::Duration;

pub struct Service {
    _running: child::Group,
    pub addr: String,
}

impl Service {
    /// Start `service` on a free loopback port and wait for its `listening on ADDR` line.
    pub fn start() -> anyhow::Result<Service> {
        let path = crate::run::bin_dir().join("service");
        let mut command = child::command(&path);
        command.args(["--addr", "127.0.0.1:0"]).stdout(Stdio::piped());
        let mut running = child::Group::spawn(command)
            .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", path.display()))?;
        let addr = running
            .listening(Duration::from_secs(30))
            .map_err(|why| anyhow::anyhow!("the service did not start: {why}"))?;
        Ok(Service { _running: running, addr: addr.to_string() })
    }
}
