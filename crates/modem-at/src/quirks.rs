//! Per-modem quirks as data, keyed by the `+CGMI` (manufacturer) and `+CGMM` (model) answers.
//!
//! Sources: field reports collected in the project's reference notes (lpac, pySim, GBA_ME issue
//! trackers); treat them as anecdotes, which is why a modem we do not know is probed rather than
//! guessed. The same table drives the virtual modem (`simbridge softsim modem --quirks NAME`), so
//! every row is exercised against the client in tests.

/// Whether a modem supports a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Known to work.
    Yes,
    /// Known not to work: never try.
    No,
    /// Not known: probe.
    Unknown,
}

/// What is known about one family of modems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quirks {
    /// Profile name (`--quirks NAME` of the virtual modem).
    pub name: &'static str,
    /// Matched, case-insensitively, as a substring of the `+CGMI` answer.
    pub manufacturer: &'static str,
    /// Matched as a substring of the `+CGMM` answer; empty matches any model.
    pub model: &'static str,
    /// `+CCHO` / `+CGLA` work (logical channel access).
    pub logical: Support,
    /// `+CSIM` accepts APDUs whose CLA names a logical channel. The client never routes logical
    /// channels through `+CSIM` (Quectel refuses it), so this column documents why.
    pub csim_logical_cla: Support,
    /// `+CSIM` passes AUTHENTICATE (INS 88) and GET RESPONSE on the basic channel.
    pub basic_authenticate: Support,
    /// `+CCHC` exists (without it, the session is left to the modem to clean up).
    pub cchc: Support,
    /// The `+CCHO` answer is a bare number without the `+CCHO:` prefix.
    pub ccho_bare: bool,
    /// `AT+CGLA=?` answers OK (some modems support `+CGLA` but not its test command).
    pub cgla_test: Support,
    /// The modem puts the logical channel into the CLA of a `+CGLA` APDU itself; its `+CCHO`
    /// answer is then a handle, not the channel number. Without it the host codes the channel
    /// (the `+CCHO` session id) into CLA per ISO 7816-4, as the card expects.
    pub cgla_patches_cla: bool,
    /// The modem answers 61xx itself on `+CSIM` (sends GET RESPONSE to the card and returns the
    /// data), so the host never sees 61xx there.
    pub csim_fetches_response: bool,
    /// Where the row comes from.
    pub note: &'static str,
}

const fn row(name: &'static str, manufacturer: &'static str, model: &'static str) -> Quirks {
    Quirks {
        name,
        manufacturer,
        model,
        logical: Support::Yes,
        csim_logical_cla: Support::Unknown,
        basic_authenticate: Support::Yes,
        cchc: Support::Yes,
        ccho_bare: false,
        cgla_test: Support::Yes,
        cgla_patches_cla: false,
        csim_fetches_response: false,
        note: "",
    }
}

/// The known modems, most specific rows first.
pub const TABLE: &[Quirks] = &[
    Quirks {
        csim_logical_cla: Support::Yes,
        note: "the virtual modem: everything works",
        ..row("generic", "simbridge", "virtual")
    },
    Quirks {
        csim_logical_cla: Support::No,
        note: "EG25/EC25: +CSIM with a logical-channel CLA fails, +CCHO/+CGLA work (lpac); BG96/EC20: AUTHENTICATE over +CSIM works (GBA_ME)",
        ..row("quectel", "Quectel", "")
    },
    Quirks {
        ccho_bare: true,
        note: "FM350: +CCHO answers a bare number (lpac)",
        ..row("fibocom", "Fibocom", "")
    },
    Quirks {
        cchc: Support::No,
        cgla_test: Support::No,
        cgla_patches_cla: true,
        note: "EM9191: no +CCHC; EM7590: AT+CGLA=? unsupported; MC7455: +CCHO returns a handle, so the modem codes the channel into CLA (lpac)",
        ..row("sierra", "Sierra", "")
    },
    Quirks {
        logical: Support::No,
        cchc: Support::No,
        cgla_test: Support::No,
        note: "Dell DW5821e (Foxconn T77W968): no +CCHO/+CGLA (lpac)",
        ..row("dw5821e", "Foxconn", "T77W968")
    },
    Quirks {
        logical: Support::No,
        note: "MS2372: broken +CCHO (lpac)",
        ..row("huawei-ms2372", "Huawei", "MS2372")
    },
    Quirks {
        logical: Support::Unknown,
        basic_authenticate: Support::No,
        cgla_test: Support::Unknown,
        cchc: Support::Unknown,
        csim_fetches_response: true,
        note: "Wavecom/Moxa: +CSIM refuses INS 88 and C0 with CME ERROR 3 (GBA_ME issue); we assume it fetches 61xx answers itself",
        ..row("wavecom", "Wavecom", "")
    },
    Quirks {
        csim_logical_cla: Support::Yes,
        note: "nRF9160: +CSIM documented to carry MANAGE CHANNEL",
        ..row("nordic", "Nordic", "")
    },
];

/// The row for a modem we know nothing about: everything is probed.
pub const UNKNOWN: Quirks = Quirks {
    name: "unknown",
    manufacturer: "",
    model: "",
    logical: Support::Unknown,
    csim_logical_cla: Support::Unknown,
    basic_authenticate: Support::Unknown,
    cchc: Support::Unknown,
    ccho_bare: false,
    cgla_test: Support::Unknown,
    cgla_patches_cla: false,
    csim_fetches_response: false,
    note: "not in the table: probe",
};

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

impl Quirks {
    /// The row matching a modem's `+CGMI` / `+CGMM` answers, or [`UNKNOWN`].
    pub fn lookup(cgmi: &str, cgmm: &str) -> &'static Quirks {
        TABLE
            .iter()
            .find(|q| {
                contains_ci(cgmi, q.manufacturer)
                    && (q.model.is_empty() || contains_ci(cgmm, q.model))
            })
            .unwrap_or(&UNKNOWN)
    }

    /// The row with profile name `name` (case-insensitive), for the virtual modem.
    pub fn by_name(name: &str) -> Option<&'static Quirks> {
        TABLE.iter().find(|q| q.name.eq_ignore_ascii_case(name))
    }

    /// Names of all rows.
    pub fn names() -> Vec<&'static str> {
        TABLE.iter().map(|q| q.name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_manufacturer_and_model() {
        assert_eq!(Quirks::lookup("Quectel", "EG25").name, "quectel");
        assert_eq!(Quirks::lookup("QUECTEL", "BG96").name, "quectel");
        assert_eq!(
            Quirks::lookup("Sierra Wireless, Incorporated", "EM9191").name,
            "sierra"
        );
        assert_eq!(Quirks::lookup("Foxconn", "T77W968").name, "dw5821e");
        assert_eq!(Quirks::lookup("Foxconn", "other").name, "unknown");
        assert_eq!(Quirks::lookup("ACME", "X1").name, "unknown");
    }

    #[test]
    fn names_are_unique_and_found() {
        let names = Quirks::names();
        for n in &names {
            assert_eq!(names.iter().filter(|m| m == &n).count(), 1, "{n}");
            assert_eq!(Quirks::by_name(n).map(|q| q.name), Some(*n));
        }
        assert!(Quirks::by_name("nope").is_none());
    }

    #[test]
    fn table_records_the_field_quirks() {
        let q = |n| Quirks::by_name(n).expect("row");
        assert_eq!(q("quectel").csim_logical_cla, Support::No);
        assert!(q("fibocom").ccho_bare);
        assert_eq!(q("sierra").cchc, Support::No);
        assert_eq!(q("wavecom").basic_authenticate, Support::No);
        assert_eq!(q("dw5821e").logical, Support::No);
    }
}
