//! The load on core 1: wrk for throughput (it outruns every server here), oha at a fixed
//! rate with latency correction for the open loop, and the project's own `epoll` client for
//! many fresh connections at once.

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use workload::Report;

use crate::run::model_program;

/// What a load measured: latencies in milliseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Latency {
    pub requests: u64,
    pub req_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// Connect, read, write and timeout errors, and answers other than 2xx.
    pub errors: u64,
}

/// wrk's own summary, as one JSON line from its `done` hook: wrk prints p99.9 nowhere else.
const WRK_SCRIPT: &str = r#"done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"#;

/// `wrk -t1 -cC -dSs` on `url`: closed loop, keep-alive, as fast as the server answers.
pub fn wrk(
    wrk: &str,
    url: &str,
    connections: u32,
    secs: u32,
    scratch: &Path,
) -> anyhow::Result<Latency> {
    let script = scratch.join("wrk-summary.lua");
    std::fs::write(&script, WRK_SCRIPT).map_err(anyhow::Error::msg)?;
    let argv = child::on_core(
        child::client_core(),
        &[
            wrk.to_string(),
            "-t1".into(),
            format!("-c{connections}"),
            format!("-d{secs}s"),
            "--timeout".into(),
            "5s".into(),
            "-s".into(),
            script.display().to_string(),
            url.to_string(),
        ],
    );
    let out = output(&argv)?;
    #[derive(Deserialize)]
    struct Summary {
        requests: u64,
        duration_us: u64,
        errors: u64,
        p50_us: f64,
        p99_us: f64,
        p999_us: f64,
    }
    let line = out
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| anyhow::anyhow!("wrk said: {out}"))?;
    let s: Summary =
        serde_json::from_str(line).map_err(|e| anyhow::anyhow!("wrk's summary: {e}"))?;
    Ok(Latency {
        requests: s.requests,
        req_per_s: s.requests as f64 / (s.duration_us as f64 / 1e6),
        p50_ms: s.p50_us / 1000.0,
        p99_ms: s.p99_us / 1000.0,
        p999_ms: s.p999_us / 1000.0,
        errors: s.errors,
    })
}

/// `oha -q RATE --latency-correction` on `url` for `secs`: an open loop, so a stall shows in
/// the latency of every request that should have been sent during it.
pub fn oha(
    oha: &str,
    url: &str,
    rate: u32,
    connections: u32,
    secs: u32,
) -> anyhow::Result<Latency> {
    let argv = child::on_core(
        child::client_core(),
        &[
            oha.to_string(),
            "--no-tui".into(),
            "--output-format".into(),
            "json".into(),
            "-z".into(),
            format!("{secs}s"),
            "-q".into(),
            rate.to_string(),
            "--latency-correction".into(),
            "-c".into(),
            connections.to_string(),
            url.to_string(),
        ],
    );
    oha_latency(&output(&argv)?)
}

/// What oha's JSON report says: requests answered 2xx, their rate and percentiles, and the
/// rest as errors.
fn oha_latency(out: &str) -> anyhow::Result<Latency> {
    let report: OhaReport =
        serde_json::from_str(out).map_err(|e| anyhow::anyhow!("oha's JSON: {e}"))?;
    // Answers by status: 2xx, and the rest (counted as errors).
    let count = |ok: bool| -> u64 {
        let codes = report.status_code_distribution.iter();
        codes.filter(|(c, _)| c.starts_with('2') == ok).map(|(_, n)| n).sum()
    };
    let (answered, others) = (count(true), count(false));
    let failed: u64 = report.error_distribution.values().sum();
    // No request answered, no latency: an error that says so, never a NaN in a table.
    let p = |q: &str| -> anyhow::Result<f64> {
        let seconds = report.latency_percentiles.get(q).copied().flatten();
        seconds.map(|s| s * 1000.0).ok_or_else(|| {
            anyhow::anyhow!("oha measured no {q}: {answered} answered, {others} other statuses, {failed} errors")
        })
    };
    Ok(Latency {
        requests: answered,
        req_per_s: report.summary.requests_per_sec.unwrap_or(0.0),
        p50_ms: p("p50")?,
        p99_ms: p("p99")?,
        p999_ms: p("p99.9")?,
        errors: others + failed,
    })
}

/// What `oha --output-format json` prints, the fields read here: seconds, and counts by
/// status and by error.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OhaReport {
    summary: OhaSummary,
    /// "p50", "p99", "p99.9" …; null when no request was answered.
    latency_percentiles: std::collections::BTreeMap<String, Option<f64>>,
    status_code_distribution: std::collections::BTreeMap<String, u64>,
    error_distribution: std::collections::BTreeMap<String, u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OhaSummary {
    requests_per_sec: Option<f64>,
}

/// N fresh connections at once, each asking for a 100 ms answer: the `epoll` model's http
/// workload pointed at the server.
pub fn fresh_connections(addr: SocketAddr, n: u32) -> anyhow::Result<Report> {
    let mut argv = model_program("epoll");
    argv.extend(
        [
            "--workload",
            "http",
            "--tasks",
            &n.to_string(),
            "--ms",
            "100",
            "--addr",
            &addr.to_string(),
            "--timeout-ms",
            "60000",
            "--json",
        ]
        .map(String::from),
    );
    let out = output_any_status(&child::on_core(child::client_core(), &argv))?;
    let line = out
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| anyhow::anyhow!("the client said: {out}"))?;
    serde_json::from_str(line).map_err(|e| anyhow::anyhow!("the client's report: {e}"))
}

/// The kernel's count of connections dropped because a listen queue was full
/// (`TcpExtListenOverflows` in /proc/net/netstat): the machine's, not one listener's, so it
/// is read on an otherwise idle machine, before and after one server's load.
pub fn listen_overflows() -> Option<u64> {
    let netstat = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut tcp_ext = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (tcp_ext.next()?, tcp_ext.next()?);
    let at = names.split_whitespace().position(|n| n == "ListenOverflows")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

fn output(argv: &[String]) -> anyhow::Result<String> {
    child::output(argv, false).map_err(anyhow::Error::msg)
}

/// The client exits 1 when some requests failed; its report says how many.
fn output_any_status(argv: &[String]) -> anyhow::Result<String> {
    child::output(argv, true).map_err(anyhow::Error::msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oha_s_report_is_read_into_milliseconds_and_no_latency_is_an_error() {
        let out = r#"{"summary":{"successRate":1.0,"total":2.0,"requestsPerSec":999.5},
            "latencyPercentiles":{"p50":0.0004,"p99":0.002,"p99.9":0.0031,"p99.99":0.004},
            "statusCodeDistribution":{"200":1990,"404":3},"errorDistribution":{"timeout":7}}"#;
        let l = oha_latency(out).unwrap();
        assert_eq!((l.requests, l.errors), (1990, 10));
        assert_eq!((l.req_per_s, l.p50_ms, l.p999_ms), (999.5, 0.4, 3.1));
        let none = r#"{"summary":{"requestsPerSec":0.0},"latencyPercentiles":{"p50":null,"p99":null,"p99.9":null},
            "statusCodeDistribution":{},"errorDistribution":{"connection refused":12}}"#;
        let e = oha_latency(none).unwrap_err();
        assert!(e.to_string().contains("no p50: 0 answered, 0 other statuses, 12 errors"), "{e}");
    }
}
