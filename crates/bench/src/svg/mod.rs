//! Every picture the benchmarks draw, in one module: log-log line plots on plotters' SVG
//! backend, which escapes every text it writes, and the palette every plot shares; and
//!
//! - [`over_time`]: panels of a figure against time (the soak's memory and descriptors);
//! - [`timeline`]: which task ran when and where, drawn by hand, through [`escape`].

pub mod over_time;
pub mod timeline;

use plotters::prelude::*;

/// One line of a plot: a model's points, drawn solid, or dashed for a peer, in the colour at
/// `color` of [`COLORS`] (so that a line keeps its colour from plot to plot).
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub peer: bool,
    pub color: usize,
}

/// Distinct colours for up to 24 lines: Tableau 10, then darker and stronger hues that stay
/// apart from them when dashed, then Sasha Trubetskoy's distinct hues.
pub const COLORS: [&str; 24] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#7f7f7f", "#393b79", "#000000", "#b8860b", "#843c39", "#00a86b", "#ff1493",
    "#4363d8", "#f58231", "#911eb4", "#469990", "#9a6324", "#800000", "#808000", "#000075",
];
// The canvas, and the right margin the legend sits in.
const W: u32 = 760;
const H: u32 = 460;
const LEGEND: u32 = 210;

/// "1", "10", "1k", "1M", "0.01": a tick's label.
fn compact(v: f64) -> String {
    let trim = |x: f64| format!("{x:.2}").trim_end_matches('0').trim_end_matches('.').to_string();
    match v {
        v if v >= 1e6 => format!("{}M", trim(v / 1e6)),
        v if v >= 1e3 => format!("{}k", trim(v / 1e3)),
        v => trim(v),
    }
}

/// Whole decades around the positive values.
fn decades(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    (lo <= hi).then(|| {
        let (a, b) = (lo.log10().floor(), hi.log10().ceil());
        (10f64.powf(a), 10f64.powf(b.max(a + 1.0)))
    })
}

/// `text` for an SVG text node or attribute: what a program's name or a title may hold
/// (`<`, `&`, quotes) written as entities. The timelines' writer puts every text through it.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn rgb(hex: &str) -> RGBColor {
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
    RGBColor(byte(1), byte(3), byte(5))
}

/// A log-log plot of `series`; points with a zero or negative coordinate cannot be drawn on
/// log axes and are left out (the tables beside the plots have every figure).
pub fn loglog(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let mut svg = String::new();
    if let Err(e) = draw(&mut svg, title, x_label, y_label, series) {
        // Drawing into a String fails only on a bug; say so in the plot rather than panic.
        svg = format!("<svg xmlns=\"http://www.w3.org/2000/svg\"><text y=\"20\">cannot draw: {}</text></svg>\n", escape(&format!("{e:#}")));
    }
    svg
}

fn draw(
    svg: &mut String,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> anyhow::Result<()> {
    let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("{e}");
    let drawn = |s: &Series| -> Vec<(f64, f64)> {
        s.points.iter().copied().filter(|(x, y)| *x > 0.0 && *y > 0.0).collect()
    };
    let all: Vec<(f64, f64)> = series.iter().flat_map(drawn).collect();
    let root = SVGBackend::with_string(svg, (W, H)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (Some((x0, x1)), Some((y0, y1))) =
        (decades(all.iter().map(|p| p.0)), decades(all.iter().map(|p| p.1)))
    else {
        root.titled(&format!("{title}: no data"), ("sans-serif", 15)).map_err(|e| err(&e))?;
        return root.present().map_err(|e| err(&e));
    };
    let (plot, legend) = root.split_horizontally(W - LEGEND);
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|x| compact(*x))
        .y_label_formatter(&|y| compact(*y))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(221, 221, 221))
        .draw()
        .map_err(|e| err(&e))?;
    for (i, s) in series.iter().enumerate() {
        let color = rgb(COLORS[s.color % COLORS.len()]);
        let style = color.stroke_width(2);
        let points = drawn(s);
        if s.peer {
            let dashed = DashedLineSeries::new(points.clone(), 5, 4, style);
            chart.draw_series(dashed).map_err(|e| err(&e))?;
        } else {
            chart.draw_series(LineSeries::new(points.clone(), style)).map_err(|e| err(&e))?;
        }
        let dots = points.iter().map(|&p| Circle::new(p, 3, color.filled()));
        chart.draw_series(dots).map_err(|e| err(&e))?;
        // The legend, in the right margin: a short line in the series' style, and its name.
        let y = 50 + 18 * i as i32;
        let line: Vec<(i32, i32)> = vec![(12, y), (36, y)];
        if s.peer {
            let dashes = [(12, 17), (21, 26), (30, 35)]
                .map(|(a, b)| PathElement::new(vec![(a, y), (b, y)], style));
            for d in dashes {
                legend.draw(&d).map_err(|e| err(&e))?;
            }
        } else {
            legend.draw(&PathElement::new(line, style)).map_err(|e| err(&e))?;
        }
        let text =
            Text::new(s.name.clone(), (42, y - 7), ("sans-serif", 12).into_font().color(&BLACK));
        legend.draw(&text).map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))
}

/// The two plots a sweep draws of the same lines: the Rust models, then the peers, each
/// beside the `anchors` (dashed). `names` is every line in table order, which fixes each
/// line's colour; `points(name)` gives a line's (x, y).
pub fn models_and_peers(
    title: impl Fn(&str) -> String,
    (x_label, y_label): (&str, &str),
    names: &[String],
    anchors: &[&str],
    points: impl Fn(&str) -> Vec<(f64, f64)>,
) -> [String; 2] {
    let rust = |n: &str| crate::programs::is_rust(n);
    let series = |wanted: &dyn Fn(&str) -> bool| -> Vec<Series> {
        names
            .iter()
            .filter(|n| wanted(n) || anchors.contains(&n.as_str()))
            .enumerate()
            .map(|(i, name)| Series {
                peer: anchors.contains(&name.as_str()),
                color: i,
                points: points(name),
                name: name.clone(),
            })
            .collect()
    };
    [
        loglog(&title("the Rust models"), x_label, y_label, &series(&|n| rust(n))),
        loglog(&title("the peers"), x_label, y_label, &series(&|n| !rust(n))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loglog_plot_draws_each_series_on_decade_axes() {
        let series = vec![
            Series {
                name: "epoll".into(),
                points: vec![(10.0, 0.5), (1000.0, 2.0), (1e6, 150.0)],
                peer: false,
                color: 0,
            },
            Series {
                name: "py-asyncio".into(),
                points: vec![(10.0, 3.0), (1e5, 0.0)],
                peer: true,
                color: 1,
            },
        ];
        let svg = loglog("overhead", "tasks", "ms", &series);
        // (plotters writes a text's content on a line of its own)
        let text = svg.replace('\n', "");
        // x: 10 … 1M in decades, with compact labels; y up to 1k (150 rounds up).
        for label in [">10<", ">1M<", ">1k<", ">100k<"] {
            assert!(text.contains(label), "{label} missing");
        }
        // The peer's zero cannot sit on a log axis: four points drawn, not five.
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(text.contains(">py-asyncio<") && text.contains(">epoll<"), "the legend");
    }

    #[test]
    fn no_positive_points_gives_a_note_not_a_panic() {
        let svg = loglog(
            "empty",
            "x",
            "y",
            &[Series { name: "a".into(), points: vec![(0.0, 1.0)], peer: false, color: 0 }],
        );
        assert!(svg.contains("no data"));
    }

    #[test]
    fn names_are_escaped_and_points_off_the_log_axes_left_out() {
        let series = [Series {
            name: "a<b & c".into(),
            points: vec![(0.0, 5.0), (10.0, 20.0), (100.0, 400.0)],
            peer: true,
            color: 30,
        }];
        let svg = loglog("t <1>", "x", "y", &series);
        assert!(svg.contains("a&lt;b &amp; c") && svg.contains("t &lt;1&gt;"), "{svg}");
        assert!(!svg.contains("a<b"));
        assert_eq!(svg.matches("<circle").count(), 2, "{svg}");
        assert!(loglog("empty", "x", "y", &[]).contains("empty: no data"));
    }
}
