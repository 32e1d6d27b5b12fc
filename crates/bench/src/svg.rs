//! Log-log line plots as plain SVG: no dependency, no network, and small enough to read.

/// One line of a plot: a model's points, drawn solid, or dashed for a peer, in the colour at
/// `color` of [`COLORS`] (so that a line keeps its colour from plot to plot).
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub peer: bool,
    pub color: usize,
}

/// Distinct colours for up to 16 lines: Tableau 10, then darker and stronger hues that stay
/// apart from them when dashed.
pub const COLORS: [&str; 16] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#7f7f7f", "#393b79", "#000000", "#b8860b", "#843c39", "#00a86b", "#ff1493",
];
// The canvas and the plot area's margins (the legend sits in the right one).
const W: f64 = 760.0;
const H: f64 = 460.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 210.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

/// "1", "10", "1k", "1M", "0.01": decade labels.
fn decade_label(exp: i32) -> String {
    match exp {
        e if e >= 6 => format!("{}M", 10f64.powi(e - 6)),
        e if e >= 3 => format!("{}k", 10f64.powi(e - 3)),
        e if e >= 0 => format!("{}", 10f64.powi(e)),
        e => format!("{}", 10f64.powi(e)),
    }
}

/// Whole decades around the positive values.
fn decades(values: impl Iterator<Item = f64>) -> Option<(i32, i32)> {
    let (lo, hi) = values
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    (lo <= hi).then(|| {
        (lo.log10().floor() as i32, (hi.log10().ceil() as i32).max(lo.log10().floor() as i32 + 1))
    })
}

/// A log-log plot of `series`; points with a zero or negative coordinate cannot be drawn on
/// log axes and are left out (the tables beside the plots have every figure).
pub fn loglog(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let all = || {
        series.iter().flat_map(|s| s.points.iter().copied()).filter(|(x, y)| *x > 0.0 && *y > 0.0)
    };
    let (Some((x0, x1)), Some((y0, y1))) =
        (decades(all().map(|p| p.0)), decades(all().map(|p| p.1)))
    else {
        return format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\"><text x=\"20\" y=\"30\">{title}: no data</text></svg>\n");
    };
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let px = |x: f64| LEFT + (x.log10() - x0 as f64) / (x1 - x0) as f64 * pw;
    let py = |y: f64| TOP + ph - (y.log10() - y0 as f64) / (y1 - y0) as f64 * ph;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{title}</text>\n",
        LEFT + pw / 2.0
    );
    for e in x0..=x1 {
        let x = px(10f64.powi(e));
        svg += &format!("<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n", TOP + ph, TOP + ph + 16.0, decade_label(e));
    }
    for e in y0..=y1 {
        let y = py(10f64.powi(e));
        svg += &format!("<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n", LEFT + pw, LEFT - 6.0, y + 4.0, decade_label(e));
    }
    svg += &format!(
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#333\"/>\n\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{x_label}</text>\n\
         <text transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">{y_label}</text>\n",
        LEFT + pw / 2.0, H - 12.0, TOP + ph / 2.0
    );
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[s.color % COLORS.len()];
        let style = if s.peer { " stroke-dasharray=\"5 4\" opacity=\"0.8\"" } else { "" };
        let points: Vec<String> = s
            .points
            .iter()
            .filter(|(x, y)| *x > 0.0 && *y > 0.0)
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        svg += &format!("<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{style} points=\"{}\"/>\n", points.join(" "));
        for p in &points {
            let (x, y) = p.split_once(',').unwrap();
            svg += &format!("<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{color}\"{style}/>\n");
        }
        let ly = TOP + 10.0 + 18.0 * i as f64;
        svg += &format!(
            "<line x1=\"{:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{color}\" stroke-width=\"2\"{style}/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
            W - RIGHT + 12.0, W - RIGHT + 36.0, W - RIGHT + 42.0, ly + 4.0, s.name
        );
    }
    svg + "</svg>\n"
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
        assert_eq!(svg.matches("<polyline").count(), 2);
        // x: 10 … 1M, six decade labels; y: 0.1 … 1k (150 rounds up to the next decade).
        for label in [">10<", ">1M<", ">0.1<"] {
            assert!(svg.contains(label), "{label} missing");
        }
        assert_eq!(svg.matches(">1k<").count(), 2, "1k on both axes");
        // The peer's zero cannot sit on a log axis: one point drawn, dashed and light.
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains("stroke-dasharray"));
        // The first point of epoll sits on the left edge of the plot.
        assert!(svg.contains(&format!("points=\"{LEFT:.1},")), "{svg}");
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
}
