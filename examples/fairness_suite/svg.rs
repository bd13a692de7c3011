//! The plot of scenario 1, as a hand-written SVG: each task's CPU share per
//! sampling window over time, one panel per runtime, with the shares the
//! weights ask for as dashed lines.

use std::fmt::Write as _;

const COLORS: [&str; 3] = ["#1f77b4", "#d62728", "#2ca02c"];
const WIDTH: f64 = 860.0;
const PANEL_H: f64 = 260.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 70.0;
const GAP: f64 = 80.0;

/// One panel: a title and the windows `(end in seconds, shares)`.
#[derive(Debug)]
pub(crate) struct Panel<'a> {
    pub(crate) title: String,
    pub(crate) windows: &'a [(f64, [f64; 3])],
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A "nice" step for about `target` ticks over `0..max`.
fn tick_step(max: f64, target: f64) -> f64 {
    let raw = (max / target).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

pub(crate) fn render(
    title: &str,
    labels: [&str; 3],
    wanted: [f64; 3],
    panels: &[Panel<'_>],
) -> String {
    let t_max = panels
        .iter()
        .flat_map(|p| p.windows.iter().map(|w| w.0))
        .fold(0.0f64, f64::max)
        .max(0.1);
    let y_top = panels
        .iter()
        .flat_map(|p| p.windows.iter().flat_map(|w| w.1))
        .chain(wanted)
        .fold(0.0f64, f64::max);
    // Round the y range up to the next 0.1, at most 1.
    let y_max = ((y_top * 10.0).ceil() / 10.0 + 0.1).min(1.0);
    let plot_w = WIDTH - LEFT - RIGHT;
    let height = TOP + panels.len() as f64 * (PANEL_H + GAP);

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );

    // Legend: one entry per task, then the dashed reference.
    let mut x = LEFT;
    for i in 0..3 {
        let _ = writeln!(
            s,
            r#"<line x1="{x}" y1="42" x2="{}" y2="42" stroke="{}" stroke-width="2.5"/><text x="{}" y="46">{} (wants {:.3})</text>"#,
            x + 24.0,
            COLORS[i],
            x + 30.0,
            escape(labels[i]),
            wanted[i]
        );
        x += 190.0;
    }
    let _ = writeln!(
        s,
        r#"<line x1="{x}" y1="42" x2="{}" y2="42" stroke="black" stroke-width="3" stroke-opacity="0.5" stroke-dasharray="8 5"/><text x="{}" y="46">wanted share</text>"#,
        x + 24.0,
        x + 30.0
    );

    let x_step = tick_step(t_max, 10.0);
    let y_step = if y_max > 0.5 { 0.1 } else { 0.05 };
    for (k, panel) in panels.iter().enumerate() {
        let top = TOP + k as f64 * (PANEL_H + GAP) + 20.0;
        let bottom = top + PANEL_H;
        let px = |t: f64| LEFT + t / t_max * plot_w;
        let py = |v: f64| bottom - v / y_max * PANEL_H;
        let _ = writeln!(
            s,
            r#"<text x="{LEFT}" y="{}" font-size="13" font-weight="bold">{}</text>"#,
            top - 8.0,
            escape(&panel.title)
        );
        // Grid and y ticks.
        let y_ticks = (y_max / y_step + 1e-6).floor() as usize;
        for j in 0..=y_ticks {
            let v = j as f64 * y_step;
            let y = py(v);
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" text-anchor="end">{v:.2}</text>"##,
                LEFT + plot_w,
                LEFT - 6.0,
                y + 4.0
            );
        }
        // x ticks.
        let x_ticks = (t_max / x_step + 1e-6).floor() as usize;
        for j in 0..=x_ticks {
            let t = j as f64 * x_step;
            let x = px(t);
            let label = (t * 1000.0).round() / 1000.0;
            let _ = writeln!(
                s,
                r#"<line x1="{x:.1}" y1="{bottom}" x2="{x:.1}" y2="{}" stroke="black"/><text x="{x:.1}" y="{}" text-anchor="middle">{label}</text>"#,
                bottom + 5.0,
                bottom + 18.0
            );
        }
        // Axes and their labels.
        let _ = writeln!(
            s,
            r#"<polyline points="{LEFT},{top} {LEFT},{bottom} {},{bottom}" fill="none" stroke="black"/>"#,
            LEFT + plot_w
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">time (s)</text>"#,
            LEFT + plot_w / 2.0,
            bottom + 34.0
        );
        let _ = writeln!(
            s,
            r#"<text transform="translate({},{}) rotate(-90)" text-anchor="middle">CPU share per window</text>"#,
            LEFT - 45.0,
            top + PANEL_H / 2.0
        );
        // Wanted shares, then the measured series.
        for i in 0..3 {
            let y = py(wanted[i]);
            let _ = writeln!(
                s,
                r#"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{}" stroke-width="3" stroke-opacity="0.5" stroke-dasharray="8 5"/>"#,
                LEFT + plot_w,
                COLORS[i]
            );
        }
        for i in 0..3 {
            let points: Vec<String> = panel
                .windows
                .iter()
                .map(|(t, sh)| format!("{:.1},{:.1}", px(*t), py(sh[i])))
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.6"/>"#,
                points.join(" "),
                COLORS[i]
            );
        }
    }
    s.push_str("</svg>\n");
    s
}
