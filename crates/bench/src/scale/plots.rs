//! The sweep's plots, drawn from its points: time above the ideal and memory per task, on
//! log-log axes, one line per model or peer.

use super::point::Point;
use crate::svg::{loglog, Series};

/// One series per line of the sweep, in sweep order, from the points that ran; each line's
/// colour is its place in `order`, so that it is the same in every plot.
fn series(points: &[Point], order: &[&str], f: &dyn Fn(&Point) -> Option<f64>) -> Vec<Series> {
    let mut names: Vec<(&str, bool)> = Vec::new();
    for p in points {
        if !names.iter().any(|(n, _)| *n == p.line) {
            names.push((&p.line, p.peer()));
        }
    }
    names
        .into_iter()
        .enumerate()
        .map(|(i, (name, peer))| Series {
            name: name.to_string(),
            peer,
            color: order.iter().position(|n| *n == name).unwrap_or(i),
            points: points
                .iter()
                .filter(|p| p.line == name && p.ok())
                .filter_map(|p| Some((p.n as f64, f(p)?)))
                .collect(),
        })
        .collect()
}

/// The three plots: overhead and memory per task for sleep, overhead for http.
pub fn write_plots(
    out: &std::path::Path,
    ms: u64,
    sleep: &[Point],
    http: &[Point],
) -> anyhow::Result<()> {
    let overhead = |p: &Point| p.overhead_ms();
    let per_task = |p: &Point| Some(p.memory_kib()? * 1024.0 / p.n as f64);
    // Every line of the http sweep is a line of the sleep sweep: one colour order for both.
    let mut order: Vec<&str> = Vec::new();
    for p in sleep.iter().chain(http) {
        if !order.contains(&p.line.as_str()) {
            order.push(&p.line);
        }
    }
    let plots = [
        (
            "overhead.svg",
            format!("sleep {ms} ms: time above the ideal"),
            "tasks (N)",
            "wall − ideal (ms)",
            series(sleep, &order, &overhead),
        ),
        (
            "memory-per-task.svg",
            format!("sleep {ms} ms: peak memory per task"),
            "tasks (N)",
            "bytes per task (self + children)",
            series(sleep, &order, &per_task),
        ),
        (
            "http-overhead.svg",
            "http, 100 ms delay: time above the ideal".to_string(),
            "requests (N)",
            "wall − ideal (ms)",
            series(http, &order, &overhead),
        ),
    ];
    for (file, title, x, y, lines) in plots {
        crate::run::write(&out.join(file), &loglog(&title, x, y, &lines))?;
    }
    Ok(())
}
