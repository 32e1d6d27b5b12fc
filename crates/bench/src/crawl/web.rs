//! The web the crawls run against: the `web` binary beside this one, pinned to the server's
//! core, its answer sheet read from its stdout, and its CPU time read from /proc.

use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

/// A web, served until dropped.
pub struct Web {
    /// `--latency`'s value.
    pub latency: String,
    pub sheet: Value,
    server: child::Group,
}

impl Web {
    /// `web` with P pages over H hosts at `latency`, with the fault profile or not, on free
    /// ports.
    pub fn start(pages: u32, hosts: u32, latency: &str, faults: bool) -> anyhow::Result<Web> {
        let mut argv = crate::run::model_program("web");
        let shape = [
            ("--addr", "127.0.0.1:0".to_string()),
            ("--pages", pages.to_string()),
            ("--hosts", hosts.to_string()),
            ("--links", super::LINKS.to_string()),
            ("--latency", latency.to_string()),
        ];
        argv.extend(shape.into_iter().flat_map(|(flag, v)| [flag.to_string(), v]));
        if faults {
            argv.push("--faults".into());
        }
        let argv = child::on_core(child::server_core(), &argv);
        let mut command = child::argv(&argv);
        command.stdout(std::process::Stdio::piped());
        let mut server = child::Group::spawn(command).context("starting web")?;
        server.listening(Duration::from_secs(60)).map_err(anyhow::Error::msg).context("web")?;
        let line = server.next_line(Duration::from_secs(10)).context("web printed no sheet")?;
        let sheet = serde_json::from_str(&line).context("web's answer sheet")?;
        Ok(Web { latency: latency.into(), sheet, server })
    }

    /// `--seed` and `--allow` for a full crawl of it.
    pub fn scope(&self) -> Vec<String> {
        let mut args = vec!["--seed".to_string(), self.text("seed")];
        for origin in self.sheet["allow"].as_array().into_iter().flatten() {
            args.extend(["--allow".into(), origin.as_str().unwrap_or_default().into()]);
        }
        args
    }

    /// `--seed` for its trap (with the fault profile): pages that link to new pages without
    /// end.
    pub fn trap(&self) -> Vec<String> {
        vec!["--seed".into(), format!("{}/trap/0", self.text("trap"))]
    }

    /// The URLs a full crawl requests: what the sheet says it finds.
    pub fn urls(&self) -> u32 {
        let n = |k: &str| self.sheet[k].as_u64().unwrap_or(0) as u32;
        n("pages") + n("failed") + n("redirects")
    }

    /// Its CPU seconds so far, user and system.
    pub fn cpu_s(&self) -> f64 {
        let (user, sys) = crate::run::cpu_seconds(self.server.pid().as_raw() as u32);
        user + sys
    }

    fn text(&self, key: &str) -> String {
        self.sheet[key].as_str().unwrap_or_default().to_string()
    }
}
