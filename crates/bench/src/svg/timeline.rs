//! A timeline as SVG: time along x, a panel per program, a lane per runner (a process or a
//! thread), a bar per task — solid where the task is CPU work, pale where it waits — and,
//! for an event loop on cpu work, its 10 ms pulse as ticks (a gap is a stall).

use std::fmt::Write;

use crate::svg::{escape, COLORS};

/// One program's run: its lanes of (start, end) bars, and its pulse ticks (due, woke).
pub struct Panel {
    pub name: String,
    pub color: usize,
    pub lanes: Vec<Vec<(f64, f64)>>,
    pub ticks: Vec<(f64, f64)>,
}

const W: f64 = 1000.0;
const LEFT: f64 = 190.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 44.0;
/// The tallest a panel's lanes may stack: a thousand threads share 160 pixels.
const MAX_PANEL: f64 = 160.0;
const LANE: f64 = 11.0;
const GAP: f64 = 10.0;
/// A tick this late is drawn red: the loop was held up.
const LATE_S: f64 = 0.005;

/// 0.1, 0.2, 0.5, 1, 2, 5 … seconds: the first step giving at most ten labels up to `end`.
fn step(end: f64) -> f64 {
    const STEPS: [f64; 15] =
        [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0];
    STEPS.into_iter().find(|s| end / s <= 10.0).unwrap_or(100.0)
}

fn lane_height(lanes: usize) -> f64 {
    LANE.min(MAX_PANEL / lanes.max(1) as f64)
}

/// The picture. `work`: the tasks are CPU work (solid bars), else waiting (pale bars).
pub fn timeline(title: &str, work: bool, panels: &[Panel]) -> String {
    let end = panels
        .iter()
        .flat_map(|p| p.lanes.iter().flatten().map(|b| b.1).chain(p.ticks.iter().map(|t| t.1)))
        .fold(0.0f64, f64::max)
        .max(0.001);
    let pw = W - LEFT - RIGHT;
    let x = |t: f64| LEFT + t / end * pw;
    let heights: Vec<f64> = panels
        .iter()
        .map(|p| {
            let lanes = p.lanes.len().max(1);
            let ticks = if p.ticks.is_empty() { 0.0 } else { LANE };
            // Room for the label's lines on the left: the name, the lanes, "pulse".
            (lane_height(lanes) * lanes as f64 + ticks).max(26.0 + ticks)
        })
        .collect();
    let plot_h: f64 = heights.iter().map(|h| h + GAP).sum();
    let h = TOP + plot_h + 90.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h:.0}\" viewBox=\"0 0 {W} {h:.0}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"{W}\" height=\"{h:.0}\" fill=\"white\"/>\n\
         <text x=\"{:.1}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
        LEFT + pw / 2.0,
        escape(title)
    );
    // Time grid and labels.
    let step = step(end);
    let bottom = TOP + plot_h;
    let mut t = 0.0;
    while t <= end + 1e-9 {
        let label = if step < 0.01 {
            format!("{t:.3}")
        } else if step < 0.1 {
            format!("{t:.2}")
        } else {
            format!("{t:.1}")
        };
        let _ = writeln!(svg, "<line x1=\"{0:.1}\" y1=\"{TOP}\" x2=\"{0:.1}\" y2=\"{bottom:.1}\" stroke=\"#e4e4e4\"/><text x=\"{0:.1}\" y=\"{1:.1}\" text-anchor=\"middle\">{label}</text>", x(t), bottom + 16.0);
        t += step;
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">seconds since the run's start</text>",
        LEFT + pw / 2.0,
        bottom + 34.0
    );
    // The panels.
    let mut y = TOP;
    for (panel, height) in panels.iter().zip(&heights) {
        let color = COLORS[panel.color % COLORS.len()];
        let lh = lane_height(panel.lanes.len());
        let lanes = panel.lanes.len();
        let runners = if lanes == 1 { "1 lane".to_string() } else { format!("{lanes} lanes") };
        let _ = writeln!(svg, "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-weight=\"bold\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#666\" font-size=\"10\">{runners}</text>", LEFT - 8.0, y + 10.0, escape(&panel.name), LEFT - 8.0, y + 22.0);
        let _ = writeln!(svg, "<rect x=\"{LEFT}\" y=\"{y:.1}\" width=\"{pw}\" height=\"{height:.1}\" fill=\"#fafafa\" stroke=\"#ccc\"/>");
        for (i, lane) in panel.lanes.iter().enumerate() {
            let ly = y + i as f64 * lh;
            // Work is solid, with a white edge between tasks that follow each other; waiting
            // is pale, and paler where hundreds of tasks wait at once in one lane, so that
            // where they thin out (as they finish) shows.
            let style = if work {
                format!("fill=\"{color}\" stroke=\"white\" stroke-width=\"0.8\"")
            } else if lane.len() <= 20 && lh >= 3.0 {
                format!(
                    "fill=\"{color}\" fill-opacity=\"0.3\" stroke=\"{color}\" stroke-width=\"0.6\""
                )
            } else {
                let opacity = (3.0 / lane.len() as f64).clamp(0.02, 0.3);
                format!("fill=\"{color}\" fill-opacity=\"{opacity:.3}\"")
            };
            for &(start, stop) in lane {
                let width = (x(stop) - x(start)).max(0.8);
                let _ = writeln!(
                    svg,
                    "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{width:.2}\" height=\"{:.2}\" {style}/>",
                    x(start),
                    ly + lh * 0.1,
                    (lh * 0.8).max(0.3)
                );
            }
        }
        if !panel.ticks.is_empty() {
            let ty = y + height - LANE; // the panel's last lane
            for &(due, at) in &panel.ticks {
                let late = at - due >= LATE_S;
                let stroke = if late { "#d62728" } else { "#555" };
                let _ = writeln!(svg, "<line x1=\"{0:.2}\" y1=\"{1:.1}\" x2=\"{0:.2}\" y2=\"{2:.1}\" stroke=\"{stroke}\" stroke-width=\"1\"/>", x(at), ty + 2.0, ty + LANE - 2.0);
            }
            let _ = writeln!(svg, "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#666\" font-size=\"10\">pulse</text>", LEFT - 8.0, ty + LANE - 2.0);
        }
        y += height + GAP;
    }
    // The legend.
    let ly = bottom + 52.0;
    let bar = if work {
        "solid bar: a task's CPU work, on the lane of the thread or process that ran it"
    } else {
        "pale bar: a task waiting (a sleep or a socket), on the lane of the thread or process that ran it"
    };
    let fill =
        if work { "fill=\"#555\"" } else { "fill=\"#555\" fill-opacity=\"0.3\" stroke=\"#555\"" };
    let _ = writeln!(svg, "<rect x=\"{LEFT}\" y=\"{:.1}\" width=\"24\" height=\"9\" {fill}/><text x=\"{:.1}\" y=\"{:.1}\">{bar}</text>", ly - 8.0, LEFT + 30.0, ly);
    if panels.iter().any(|p| !p.ticks.is_empty()) {
        let _ = writeln!(svg, "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"#555\"/><line x1=\"{3:.1}\" y1=\"{1:.1}\" x2=\"{3:.1}\" y2=\"{2:.1}\" stroke=\"#d62728\"/><text x=\"{4:.1}\" y=\"{5:.1}\">pulse: the event loop's 10 ms timer as it woke (red: 5 ms late or more); a gap is the loop held up</text>", LEFT + 8.0, ly + 8.0, ly + 19.0, LEFT + 16.0, LEFT + 30.0, ly + 17.0);
    }
    svg + "</svg>\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_is_a_bar_in_its_runners_lane_and_the_legend_says_what_bars_mean() {
        let panels = [
            Panel {
                name: "serial".into(),
                color: 0,
                lanes: vec![vec![(0.0, 1.0), (1.0, 2.0)]],
                ticks: vec![],
            },
            Panel {
                name: "epoll".into(),
                color: 1,
                lanes: vec![vec![(0.0, 0.5)]],
                ticks: vec![(0.01, 0.011), (0.02, 0.5)],
            },
        ];
        let svg = timeline("t", true, &panels);
        assert_eq!(svg.matches("fill=\"#1f77b4\"").count(), 2, "{svg}");
        assert!(svg.contains("solid bar") && svg.contains("pulse:"));
        assert_eq!(svg.matches("stroke=\"#d62728\" stroke-width").count(), 1, "one late tick");
        assert!(svg.contains(">2.0<"), "the axis reaches the last end: {svg}");
    }

    #[test]
    fn a_name_or_title_with_markup_is_written_as_text() {
        let panel = Panel {
            name: "x<y> & \"z\"".into(),
            color: 0,
            lanes: vec![vec![(0.0, 1.0)]],
            ticks: vec![],
        };
        let svg = timeline("a < b", false, &[panel]);
        assert!(
            svg.contains("x&lt;y&gt; &amp; &quot;z&quot;") && svg.contains("a &lt; b"),
            "{svg}"
        );
        assert!(!svg.contains("x<y>"));
    }
}
