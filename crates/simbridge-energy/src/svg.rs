//! The chart for a design review: battery life per strategy as horizontal bars, with 3GPP's
//! 10-year target as a vertical line. Hand-written SVG (a few dozen elements) keeps plotting
//! crates and their font/system dependencies out of the build.

use super::model::Report;
use super::report::scenario_line;
use std::fmt::Write as _;

const WIDTH: f64 = 1100.0;
const LEFT: f64 = 290.0;
const RIGHT: f64 = 300.0;
const TOP: f64 = 116.0;
const BAR_H: f64 = 26.0;
const GAP: f64 = 14.0;
const MEETS: &str = "#2e7d32";
const MISSES: &str = "#e65100";
const REFERENCE: &str = "#9e9e9e";

/// Escapes text for XML content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

/// A tick step of 1, 2 or 5 × 10^k giving at most about 8 ticks up to `max`.
fn tick_step(max: f64) -> f64 {
    let raw = max / 8.0;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// Which rows use measured and which published byte/RTT figures.
fn provenance(r: &Report) -> String {
    let rows = r.rows.iter().filter(|p| !p.reference);
    let (measured, published): (Vec<_>, Vec<_>) =
        rows.partition(|p| p.figures_source.starts_with("measured"));
    format!(
        "byte/RTT figures: {} measured, {} published (sources in the table of simbridge energy)",
        measured.len(),
        published.len()
    )
}

/// Renders the report as a standalone SVG document.
pub fn chart(r: &Report) -> String {
    let f = Frame::new(r);
    let mut s = String::new();
    header(&mut s, r, f.height);
    axis(&mut s, r, &f);
    bars(&mut s, r, &f);
    target_line(&mut s, r, &f);
    value_labels(&mut s, r, &f);
    legend(&mut s, f.axis_y);
    s
}

/// The chart's geometry: the x scale (years, rounded up to a tick past the longest life and
/// the target) and the plot's bottom.
struct Frame {
    plot_w: f64,
    step: f64,
    x_max: f64,
    axis_y: f64,
    height: f64,
}

impl Frame {
    fn new(r: &Report) -> Self {
        let max_life = r
            .rows
            .iter()
            .map(|p| p.battery_life_years)
            .filter(|x| x.is_finite())
            .fold(r.target_years, f64::max);
        let step = tick_step(max_life * 1.08);
        let plot_h = r.rows.len() as f64 * (BAR_H + GAP);
        let axis_y = TOP + plot_h;
        Self {
            plot_w: WIDTH - LEFT - RIGHT,
            step,
            x_max: ((max_life * 1.08) / step).ceil() * step,
            axis_y,
            height: axis_y + 110.0,
        }
    }

    /// The x coordinate of `years`.
    fn x(&self, years: f64) -> f64 {
        LEFT + (years.clamp(0.0, self.x_max) / self.x_max) * self.plot_w
    }

    /// The top of bar `i` and the baseline of its text.
    fn row_y(i: usize) -> (f64, f64) {
        let y = TOP + i as f64 * (BAR_H + GAP) + GAP / 2.0;
        (y, y + BAR_H / 2.0 + 4.5)
    }
}

/// The SVG prologue, title, scenario and provenance lines.
fn header(s: &mut String, r: &Report, height: f64) {
    let _ = writeln!(
        s,
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" font-size="13">
<title>Battery life per DTLS strategy: {}</title>
<rect width="100%" height="100%" fill="white"/>
<text x="20" y="32" font-size="20" font-weight="bold">Battery life per DTLS strategy</text>
<text x="20" y="56" font-size="14" fill="#444">{}</text>
<text x="20" y="76" font-size="12" fill="#666">{}</text>"##,
        esc(&scenario_line(r)),
        esc(&scenario_line(r)),
        esc(&provenance(r))
    );
}

/// Grid, tick labels and the x axis with its title.
fn axis(s: &mut String, r: &Report, f: &Frame) {
    let axis_y = f.axis_y;
    let mut t = 0.0;
    while t <= f.x_max + f.step / 2.0 {
        let xi = f.x(t);
        let _ = writeln!(
            s,
            r##"<line x1="{xi:.1}" y1="{TOP}" x2="{xi:.1}" y2="{axis_y}" stroke="#e0e0e0"/>
<text x="{xi:.1}" y="{:.1}" text-anchor="middle" fill="#333">{}</text>"##,
            axis_y + 18.0,
            super::report::fmt_num(t)
        );
        t += f.step;
    }
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{axis_y}" x2="{:.1}" y2="{axis_y}" stroke="#333"/>
<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#333">battery life, years ({} Wh battery)</text>"##,
        LEFT + f.plot_w,
        LEFT + f.plot_w / 2.0,
        axis_y + 40.0,
        super::report::fmt_num(r.battery_wh)
    );
}

/// The bars with their names, coloured by whether they meet the target.
fn bars(s: &mut String, r: &Report, f: &Frame) {
    for (i, p) in r.rows.iter().enumerate() {
        let (y, ty) = Frame::row_y(i);
        let w = f.x(p.battery_life_years) - LEFT;
        let fill = if p.reference {
            REFERENCE
        } else if p.meets_3gpp_target {
            MEETS
        } else {
            MISSES
        };
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{ty:.1}" text-anchor="end" fill="#111">{}</text>
<rect x="{LEFT}" y="{y:.1}" width="{w:.1}" height="{BAR_H}" fill="{fill}"><title>{}: {:.2} years</title></rect>"##,
            LEFT - 10.0,
            esc(&p.label),
            esc(&p.label),
            p.battery_life_years
        );
    }
}

/// The 3GPP target line.
fn target_line(s: &mut String, r: &Report, f: &Frame) {
    let tx = f.x(r.target_years);
    let axis_y = f.axis_y;
    let _ = writeln!(
        s,
        r##"<line x1="{tx:.1}" y1="{:.1}" x2="{tx:.1}" y2="{axis_y}" stroke="#c62828" stroke-width="2" stroke-dasharray="6 4"/>
<text x="{tx:.1}" y="{:.1}" text-anchor="middle" fill="#c62828" font-weight="bold">3GPP target: {} years on {} Wh</text>"##,
        TOP - 16.0,
        TOP - 22.0,
        super::report::fmt_num(r.target_years),
        super::report::fmt_num(r.target_battery_wh)
    );
}

/// Value labels after the bars, drawn last with a white halo so the target line never hides them.
fn value_labels(s: &mut String, r: &Report, f: &Frame) {
    for (i, p) in r.rows.iter().enumerate() {
        let (_, ty) = Frame::row_y(i);
        let lx = f.x(p.battery_life_years) + 8.0;
        let label = format!(
            "{:.1} y · {:.2} J/msg · security {:.0} %",
            p.battery_life_years, p.energy_per_message_j, p.security_overhead_pct
        );
        let _ = writeln!(
            s,
            r##"<text x="{lx:.1}" y="{ty:.1}" fill="#111" stroke="white" stroke-width="4" paint-order="stroke">{}</text>"##,
            esc(&label)
        );
    }
}

/// Legend and provenance, below the axis.
fn legend(s: &mut String, axis_y: f64) {
    let ly = axis_y + 66.0;
    let _ = writeln!(
        s,
        r##"<rect x="20" y="{:.1}" width="14" height="14" fill="{MEETS}"/><text x="40" y="{ly:.1}">meets 10 y on 5 Wh</text>
<rect x="200" y="{:.1}" width="14" height="14" fill="{MISSES}"/><text x="220" y="{ly:.1}">misses it</text>
<rect x="320" y="{:.1}" width="14" height="14" fill="{REFERENCE}"/><text x="340" y="{ly:.1}">no security (reference)</text>
<text x="20" y="{:.1}" font-size="11" fill="#666">simbridge energy model; parameters and sources: docs/energy.md (simbridge energy --explain)</text>
</svg>"##,
        ly - 11.5,
        ly - 11.5,
        ly - 11.5,
        ly + 24.0
    );
}
