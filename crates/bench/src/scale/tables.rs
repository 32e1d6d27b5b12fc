//! The sweep's tables: every point, where each line stopped, and the targets it was set.

use super::point::Point;
use crate::table::{lateness_p99, seconds, Table, DASH};

pub fn point_table(points: &[Point]) -> String {
    let mut t = Table::headed(
        "model | N | wall | over ideal | peak memory (self + children) | \
        per task | voluntary ctx switches | p99 lateness | status",
    );
    for p in points {
        let memory = p.memory_kib();
        t.push(vec![
            format!("`{}`", p.line),
            p.n.to_string(),
            p.wall_s().map_or(DASH.into(), seconds),
            p.overhead_ms().map_or(DASH.into(), |o| format!("{o:+.1} ms")),
            memory.map_or(DASH.into(), |m| format!("{:.1} MiB", m / 1024.0)),
            memory.map_or(DASH.into(), |m| format!("{:.0} B", m * 1024.0 / p.n as f64)),
            p.report.as_ref().map_or(DASH.into(), |r| r.voluntary_ctx_switches.to_string()),
            lateness_p99(p.report.as_ref()),
            match &p.error {
                Some(e) => format!("{}: {}", p.status, e.replace('|', "/")),
                None => p.status.clone(),
            },
        ]);
    }
    t.render()
}

pub fn breaking_points(sleep: &[Point], http: &[Point]) -> String {
    let mut t =
        Table::headed("workload | model | largest N that ran | stopped at | why (its own error)");
    for (workload, points) in [("sleep", sleep), ("http", http)] {
        let mut names: Vec<&str> = points.iter().map(|p| p.line.as_str()).collect();
        names.dedup();
        for name in names {
            let mine: Vec<&Point> = points.iter().filter(|p| p.line == name).collect();
            let largest = mine.iter().filter(|p| p.ok()).map(|p| p.n).max();
            let failed = mine.iter().find(|p| !p.ok());
            t.push(vec![
                workload.into(),
                format!("`{name}`"),
                largest.map_or(DASH.into(), |n| n.to_string()),
                failed.map_or("did not stop".into(), |p| format!("N = {}", p.n)),
                failed.and_then(|p| p.error.clone()).unwrap_or_default().replace('|', "/"),
            ]);
        }
    }
    t.render()
}

/// How fast a point had to be: under a fixed time, or within a factor of another line's
/// time at the same N, measured in the same sweep.
enum Wall {
    Under(f64),
    Within(&'static str, f64),
    /// No target for the wall: the memory alone.
    Any,
}

/// A target for the memory a task: under a figure of the issue's, or at most one measured
/// elsewhere, named.
enum Bytes {
    Under(f64),
    AtMost(f64, &'static str),
}

/// The issues' targets, checked against the measured points.
pub fn targets(points: &[Point]) -> String {
    let find = |line: &str, n: u64| points.iter().find(|p| p.line == line && p.n == n && p.ok());
    let per_task = |p: &Point, n: u64| p.memory_kib().unwrap_or(f64::MAX) * 1024.0 / n as f64;
    let mut t = Table::headed("model | N | target | measured | met");
    let m = 1_000_000;
    let before = "its figure before the db and crawl work";
    let hez = "hez2010's 1,095 MB for a million on JDK 23";
    for (line, n, wall_target, bytes, beside) in [
        ("epoll", m, Wall::Under(1.2), Some(Bytes::Under(32.0)), &[][..]),
        ("ring", m, Wall::Within("epoll", 1.05), Some(Bytes::Under(32.0)), &[]),
        ("tokio", m, Wall::Under(1.5), Some(Bytes::Under(300.0)), &[]),
        ("uring", m, Wall::Under(1.5), Some(Bytes::Under(300.0)), &[]),
        ("tokio (jemalloc)", m, Wall::Under(1.5), Some(Bytes::Under(300.0)), &[]),
        ("uring (jemalloc)", m, Wall::Under(1.5), Some(Bytes::Under(300.0)), &[]),
        ("tokio", m, Wall::Any, Some(Bytes::AtMost(463.0, before)), &[]),
        ("tokio (jemalloc)", m, Wall::Any, Some(Bytes::AtMost(282.0, before)), &[]),
        (
            "java-virtual",
            m,
            Wall::Any,
            Some(Bytes::AtMost(1095.0, hez)),
            &["tokio", "go-goroutines"],
        ),
        ("threads", 10_000, Wall::Under(1.5), None, &[]),
        ("procs", 1_000, Wall::Under(1.3), None, &[]),
    ] {
        let (max_wall, wall_text) = match wall_target {
            Wall::Under(s) => (Some(s), format!("< {s} s")),
            Wall::Within(other, factor) => (
                find(other, n).and_then(Point::wall_s).map(|w| w * factor),
                format!("≤ `{other}` × {factor}"),
            ),
            Wall::Any => (Some(f64::MAX), String::new()),
        };
        let bytes_text = match &bytes {
            Some(Bytes::Under(b)) => format!("< {b:.0} B per task"),
            Some(Bytes::AtMost(b, whose)) => format!("≤ {b:.0} B per task ({whose})"),
            None => String::new(),
        };
        let target =
            [wall_text, bytes_text].into_iter().filter(|x| !x.is_empty()).collect::<Vec<_>>();
        let (measured, met) = match (find(line, n), max_wall) {
            (Some(p), Some(max_wall)) => {
                let wall = p.wall_s().unwrap_or(f64::MAX);
                let per = per_task(p, n);
                let bytes_met = match bytes {
                    Some(Bytes::Under(b)) => per < b,
                    Some(Bytes::AtMost(b, _)) => per <= b,
                    None => true,
                };
                let mut measured = format!("{}, {per:.0} B per task", seconds(wall));
                for other in beside {
                    if let Some(o) = find(other, n) {
                        let wall = o.wall_s().unwrap_or(f64::MAX);
                        let per = per_task(o, n);
                        measured += &format!("; `{other}` {}, {per:.0} B", seconds(wall));
                    }
                }
                (measured, if wall <= max_wall && bytes_met { "yes" } else { "**no**" })
            }
            _ => ("not measured".into(), DASH),
        };
        t.push(vec![format!("`{line}`"), n.to_string(), target.join(", "), measured, met.into()]);
    }
    t.render()
}
