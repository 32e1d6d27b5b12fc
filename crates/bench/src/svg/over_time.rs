//! Panels of a figure against time, stacked, each one line with a marker at a moment: the
//! soak's memory and open descriptors over its load, with the end of its warm-up marked.

use plotters::prelude::*;

/// One panel: its title, its points (seconds, value), and its line's colour.
pub struct TimePanel {
    pub title: String,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
}

/// The panels, one above the other, over `0 … end` seconds, with a grey line at `mark`; the
/// SVG's text.
pub fn panels(panels: &[TimePanel], end: f64, mark: f64, x_label: &str) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("drawing {x_label}: {e}");
        let height = 190 * panels.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (560, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let areas = root.split_evenly((panels.len(), 1));
        for (area, panel) in areas.iter().zip(panels) {
            let top = panel.points.iter().map(|p| p.1).fold(1.0, f64::max) * 1.15;
            let mut chart = ChartBuilder::on(area)
                .caption(&panel.title, ("sans-serif", 14))
                .margin(6)
                .margin_right(24)
                .x_label_area_size(34)
                .y_label_area_size(52)
                .build_cartesian_2d(0.0..end, 0.0..top)
                .map_err(|e| err(&e))?;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&|y| {
                    if top < 10.0 {
                        format!("{y:.1}")
                    } else {
                        format!("{y:.0}")
                    }
                })
                .light_line_style(WHITE)
                .draw()
                .map_err(|e| err(&e))?;
            let line = LineSeries::new(panel.points.iter().copied(), panel.color);
            chart.draw_series(line).map_err(|e| err(&e))?;
            let marker = LineSeries::new([(mark, 0.0), (mark, top)], BLACK.mix(0.3));
            chart.draw_series(marker).map_err(|e| err(&e))?;
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}
