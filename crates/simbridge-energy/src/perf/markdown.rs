//! The report as Markdown: one table per section, each peer's figure with ours ÷ it in
//! parentheses, "–" with a numbered footnote where a peer cannot do a row.

use super::report::{Better, Cell, Report, Section};
use std::fmt::Write;

/// A value with as many decimals as its size deserves.
pub(crate) fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || (v.fract() == 0.0 && a < 1e15) {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Numbered footnotes, one per distinct text.
#[derive(Default)]
struct Notes(Vec<String>);

impl Notes {
    fn mark(&mut self, text: &str) -> String {
        let i = match self.0.iter().position(|t| t == text) {
            Some(i) => i,
            None => {
                self.0.push(text.to_string());
                self.0.len() - 1
            }
        };
        format!("<sup>{}</sup>", i + 1)
    }
}

fn cell(c: &Cell, ratio: Option<Option<f64>>, notes: &mut Notes) -> String {
    let mut s = match c.value {
        Some(v) => num(v),
        None => "–".to_string(),
    };
    if let Some(n) = &c.note {
        s.push_str(&notes.mark(n));
    }
    if let Some(Some(r)) = ratio {
        let _ = write!(s, " ({r:.2})");
    }
    s
}

fn section(out: &mut String, s: &Section) {
    let mut notes = Notes::default();
    let _ = writeln!(out, "### {}\n", s.title);
    let mut head = String::from("| case | metric | ours |");
    let mut rule = String::from("|---|---|---:|");
    for p in &s.peers {
        let _ = write!(head, " {p} (ours ÷ it) |");
        rule.push_str("---:|");
    }
    let _ = writeln!(out, "{head}\n{rule}");
    for r in &s.rows {
        let arrow = match r.better {
            Better::Lower => "↓",
            Better::Higher => "↑",
        };
        let unit = if r.unit.is_empty() {
            String::new()
        } else {
            format!(", {}", r.unit)
        };
        let mut line = format!(
            "| {} | {}{unit} {arrow} | {} |",
            r.case,
            r.metric,
            cell(&r.ours, None, &mut notes)
        );
        for (p, ratio) in r.peers.iter().zip(r.ratios()) {
            let _ = write!(line, " {} |", cell(p, Some(ratio), &mut notes));
        }
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
    for (i, n) in notes.0.iter().enumerate() {
        let _ = writeln!(out, "<sup>{}</sup> {n}  ", i + 1);
    }
    if !notes.0.is_empty() {
        out.push('\n');
    }
    for n in &s.notes {
        let _ = writeln!(out, "{n}\n");
    }
}

/// The whole report as Markdown.
pub fn markdown(r: &Report) -> String {
    let m = &r.machine;
    let mut out = String::new();
    let _ = writeln!(out, "## Benchmark report ({} run, {})\n", r.mode, m.date);
    let _ = writeln!(
        out,
        "Machine: {}, {} logical CPUs, {:.1} GiB RAM, {}. Commit {}.  ",
        m.cpu, m.cores, m.ram_gib, m.os, m.commit
    );
    let _ = writeln!(out, "Peers: {}.\n", m.peers.join(", "));
    let _ = writeln!(
        out,
        "Each peer cell is the peer's figure with ours ÷ it in parentheses, all taken in this one run; \
         ↓ lower is better, ↑ higher is better. \"–\" means no figure: the footnote says why.\n"
    );
    if r.mode != "full" {
        let _ = writeln!(
            out,
            "**Quick run** (CI proof that the command works: fewer iterations, 10k sessions, possibly a debug build): not for publication.\n"
        );
    }
    for s in &r.sections {
        section(&mut out, s);
    }
    out
}
