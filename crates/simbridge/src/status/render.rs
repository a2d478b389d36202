//! `simbridge status` for people: one block per process, one per session, times in UTC with
//! how long ago / how soon.

use super::{Role, SessionStatus, Snapshot};
use std::fmt::Write;

/// `3d 4h`, `2h 5m`, `4m 10s`, `12s`.
fn span(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

fn when(t: u64, now: u64) -> String {
    let at = crate::gba::time::format_utc(crate::gba::time::from_unix_secs(t));
    if t > now {
        format!("{at} (in {})", span(t - now))
    } else {
        format!("{at} ({} ago)", span(now - t))
    }
}

fn cid(c: &Option<String>) -> String {
    match c.as_deref() {
        None => "-".into(),
        Some("") => "empty".into(),
        Some(h) => h.to_string(),
    }
}

fn session(out: &mut String, s: &SessionStatus, role: Role, now: u64) {
    let head = match role {
        Role::Gateway => format!("route {} -> {}", s.name, s.peer),
        Role::Server => format!("peer {}", s.name),
    };
    let _ = write!(out, "  {head}: {}", s.state.name());
    match s.established_since {
        Some(t) => {
            let _ = writeln!(out, " since {}", when(t, now));
        }
        None if s.state == super::SessionState::Established => {
            let _ = writeln!(out, " (continued from before a restart)");
        }
        None => out.push('\n'),
    }
    let naf = match (&s.naf, &s.ua_id) {
        (Some(n), Some(u)) => format!("{n} (Ua id {u})"),
        (Some(n), None) => n.clone(),
        _ => "- (static key)".into(),
    };
    let _ = writeln!(
        out,
        "    NAF {naf}, suite {}",
        s.suite.as_deref().unwrap_or("-")
    );
    if let Some(id) = &s.identity {
        let _ = writeln!(out, "    identity {id}");
    }
    let _ = writeln!(
        out,
        "    CID: ours (on records to us) {}, peer's (on records from us) {}",
        cid(&s.cid),
        cid(&s.peer_cid)
    );
    if let Some(t) = s.key_expires {
        let _ = writeln!(out, "    key expires {}", when(t, now));
    }
    let _ = writeln!(
        out,
        "    sent {} B in {} datagrams, received {} B in {} datagrams",
        s.bytes_sent, s.datagrams_sent, s.bytes_received, s.datagrams_received
    );
    let drops: Vec<String> = s
        .drops
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "    drops: {}",
        if drops.is_empty() {
            "none".to_string()
        } else {
            drops.join(", ")
        }
    );
    if role == Role::Gateway {
        let c = |k: &str| s.counters.get(k).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "    handshakes: {} full, {} abbreviated, {} continued without handshake, {} failed; bootstraps {} ({} failed)",
            c("handshakes_full"),
            c("handshakes_abbreviated"),
            c("handshakes_none_needed"),
            c("handshake_failures"),
            c("bootstraps"),
            c("bootstrap_failures")
        );
    }
}

/// The text for one snapshot.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} (pid {}, simbridge {}), up {}",
        s.role.name(),
        s.pid,
        s.version,
        span(s.taken.saturating_sub(s.started))
    );
    if s.role == Role::Gateway {
        if s.bootstraps.is_empty() {
            let _ = writeln!(out, "bootstraps: none in use");
        } else {
            let _ = writeln!(out, "bootstraps:");
        }
        for b in &s.bootstraps {
            let _ = writeln!(out, "  B-TID {} ({}, BSF {})", b.btid, b.mode, b.bsf);
            let _ = writeln!(
                out,
                "    made {}, Ks expires {}",
                when(b.created, s.taken),
                when(b.expires, s.taken)
            );
            let _ = writeln!(out, "    routes: {}", b.routes.join(", "));
        }
    }
    let _ = writeln!(out, "sessions: {}", s.sessions.len());
    for sess in &s.sessions {
        session(&mut out, sess, s.role, s.taken);
    }
    if s.role == Role::Server {
        let counters: Vec<String> = s
            .counters
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = writeln!(out, "counters: {}", counters.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_times_read_naturally() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(250), "4m 10s");
        assert_eq!(span(7_500), "2h 5m");
        assert_eq!(span(273_600), "3d 4h");
        assert_eq!(when(86_400, 86_400 - 60), "1970-01-02T00:00:00Z (in 1m 0s)");
        assert_eq!(when(0, 59), "1970-01-01T00:00:00Z (59s ago)");
    }
}
