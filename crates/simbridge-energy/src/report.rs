//! Text renderings of a report: the Markdown table printed by `simbridge energy` and the
//! parameter list printed by `--explain` (also pasted into docs/energy.md).

use super::model::{KeyLifetimeBound, Model, Report, SECURITY_SHARE_GOAL_PCT};
use std::fmt::Write as _;

/// One-line description of the scenario, for headings and the chart title.
pub fn scenario_line(r: &Report) -> String {
    format!(
        "{}, {} coverage, {}, {} msg/day, {} B payload, {} Wh battery; {} h key, NAT rebinding every {} min",
        r.radio.label(),
        r.coverage,
        if r.rai { "RAI" } else { "no RAI" },
        fmt_num(r.messages_per_day),
        fmt_num(r.payload_bytes),
        fmt_num(r.battery_wh),
        fmt_num(r.key_lifetime_h),
        fmt_num(r.nat_rebind_min)
    )
}

/// A number without needless decimals (24, 0.5, 1.25).
pub fn fmt_num(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// A key-lifetime bound for people: "any", "never", or "≥ 31 h" / "≥ 4.5 d".
pub fn fmt_lifetime(b: KeyLifetimeBound) -> String {
    match b {
        KeyLifetimeBound::Any => "any".into(),
        KeyLifetimeBound::Never => "never".into(),
        KeyLifetimeBound::AtLeastHours(h) if h < 48.0 => format!("≥ {} h", fmt_lifetime_num(h)),
        KeyLifetimeBound::AtLeastHours(h) => format!("≥ {} d", fmt_lifetime_num(h / 24.0)),
    }
}

/// Two significant decimals at most: a bound, not a measurement.
fn fmt_lifetime_num(x: f64) -> String {
    if x >= 10.0 {
        format!("{:.0}", x.ceil())
    } else {
        fmt_num((x * 10.0).ceil() / 10.0)
    }
}

/// The results as a Markdown table with the figures' sources below it.
pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Energy per message and battery life: {}\n",
        scenario_line(r)
    );
    let _ = writeln!(
        s,
        "| strategy | handshakes/msg | bytes up/down per msg | RTT/msg | J/msg | security J (%) | Ks lifetime for security < {} % | avg current uA | life on {} Wh (y) | {} y on {} Wh |",
        fmt_num(SECURITY_SHARE_GOAL_PCT),
        fmt_num(r.battery_wh),
        fmt_num(r.target_years),
        fmt_num(r.target_battery_wh)
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for (i, p) in r.rows.iter().enumerate() {
        let name = format!("{} [{}]", p.label, i);
        let _ = writeln!(
            s,
            "| {} | {:.2} | {:.0} / {:.0} | {:.2} | {:.3} | {:.3} ({:.0} %) | {} | {:.1} | {:.2} | {} |",
            name,
            p.handshakes_per_message,
            p.on_air.bytes_up,
            p.on_air.bytes_down,
            p.on_air.round_trips,
            p.energy_per_message_j,
            p.security_overhead_j,
            p.security_overhead_pct,
            if p.reference {
                "-".to_string()
            } else {
                fmt_lifetime(p.key_lifetime_for_goal)
            },
            p.average_current_ua,
            p.battery_life_years,
            if p.meets_3gpp_target { "yes" } else { "no" }
        );
    }
    let _ = writeln!(s, "\nFigures:");
    for (i, p) in r.rows.iter().enumerate() {
        let _ = writeln!(s, "[{i}] {}: {}", p.strategy, p.figures_source);
    }
    let _ = writeln!(
        s,
        "\nBytes include IP/UDP headers and, once per key lifetime, the GBA Ub bootstrap (TCP/IP); \
         RTT/msg includes the application's own round trip. \
         Target: 3GPP TR 45.820 sec. 5.4, {} years on a {} Wh battery without leakage.",
        fmt_num(r.target_years),
        fmt_num(r.target_battery_wh)
    );
    s
}

/// Every parameter in use with its value, unit and source, as Markdown tables.
pub fn explain(m: &Model) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nScenario parameters (--set KEY=VALUE, or [scenario] in --params):\n"
    );
    let _ = writeln!(s, "| key | value | unit | source |\n|---|---:|---|---|");
    for p in m.scenario.params() {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            p.key,
            fmt_num(p.value.value),
            p.unit,
            p.value.source
        );
    }
    let _ = writeln!(
        s,
        "\n{} radio parameters (--set KEY=VALUE, or [{}] in --params):\n",
        m.radio.radio.label(),
        m.radio.radio.key()
    );
    let _ = writeln!(s, "| key | value | unit | source |\n|---|---:|---|---|");
    for p in m.radio.params() {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            p.key,
            fmt_num(p.value.value),
            p.unit,
            p.value.source
        );
    }
    let _ = writeln!(
        s,
        "\nStrategy figures (UDP payload bytes, datagrams, extra round trips):\n"
    );
    let _ = writeln!(
        s,
        "| strategy | per (re)connection up/down B, dgrams, RTT | per message up/down B | source |\n|---|---|---|---|"
    );
    for (id, f) in &m.strategies.strategies {
        let c = f.per_connection;
        let pm = f.per_message;
        let _ = writeln!(
            s,
            "| {} | {}/{} B, {}/{}, {} | {}/{} B | {} |",
            id,
            fmt_num(c.bytes_up),
            fmt_num(c.bytes_down),
            fmt_num(c.datagrams_up),
            fmt_num(c.datagrams_down),
            fmt_num(c.round_trips),
            fmt_num(pm.bytes_up),
            fmt_num(pm.bytes_down),
            f.source
        );
    }
    s
}
