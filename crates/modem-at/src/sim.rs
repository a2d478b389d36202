//! SIM access through the modem: APDUs by `+CSIM` (basic channel) or by `+CCHO`/`+CGLA`/`+CCHC`
//! (a logical channel the modem opens for us), plus the modem's own `+CIMI`, ICCID and `+CPIN?`.
//!
//! The path is chosen from the [`Quirks`] table when the modem is known, else by probing
//! (`=?` tests, then opening a channel and a trial APDU). A logical channel is preferred: the
//! basic channel belongs to the modem's own USIM session, and selecting another application
//! there ends that session on many modems (a refresh or a re-attach).
//!
//! - `+CGLA`: the channel is coded into CLA per ISO 7816-4 (the `+CCHO` session id taken as the
//!   channel number), unless the quirks table says the modem does it itself.
//! - `+CSIM`: a logical channel is opened with MANAGE CHANNEL through `+CSIM` when the card and
//!   the modem allow it, and every APDU goes to it; otherwise the APDUs go to the basic channel
//!   and [`SimAccess::shares_basic_channel`] tells the caller to use the USIM the modem selected
//!   there, without selecting any application.
//!
//! On the basic channel, a modem that refuses AUTHENTICATE (a refusal by the modem, so the card
//! never saw it) gets it retried on a logical channel when one is possible.

use crate::answers::{self, PinState, to_hex};
use crate::channel::AtChannel;
use crate::cla::{split_cla, with_channel};
use crate::error::AtError;
use crate::quirks::{Quirks, Support};
use crate::response::Expect;
use std::time::Duration;

/// How APDUs reach the SIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimPath {
    /// `AT+CSIM` on the basic channel.
    Basic,
    /// `AT+CCHO` / `AT+CGLA` / `AT+CCHC` on a logical channel.
    Logical,
}

impl SimPath {
    /// `"csim"` or `"cgla"`.
    pub fn name(self) -> &'static str {
        match self {
            SimPath::Basic => "csim",
            SimPath::Logical => "cgla",
        }
    }
}

/// Settings of [`SimAccess`].
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Force a path; `None` chooses from the quirks table or by probing.
    pub path: Option<SimPath>,
    /// AID for `+CCHO`; `None` reads EF_DIR through `+CRSM` and falls back to the partial USIM AID.
    pub aid: Option<Vec<u8>>,
    /// Timeout of one APDU command (AUTHENTICATE can take a second on a real card).
    pub apdu_timeout: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            path: None,
            aid: None,
            apdu_timeout: Duration::from_secs(10),
        }
    }
}

/// The partial USIM AID (RID A000000087, application code 1002), selectable on most cards.
pub const USIM_PARTIAL_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02];

/// The modem's identity and its quirks row.
#[derive(Debug, Clone)]
pub struct ModemInfo {
    /// `+CGMI` answer.
    pub manufacturer: String,
    /// `+CGMM` answer.
    pub model: String,
    /// The matching quirks (or [`crate::quirks::UNKNOWN`]).
    pub quirks: &'static Quirks,
}

/// APDU access to the SIM behind a modem.
#[derive(Debug)]
pub struct SimAccess {
    ch: AtChannel,
    cfg: SimConfig,
    info: Option<ModemInfo>,
    path: Option<SimPath>,
    /// Logical session id and the channel generation it belongs to.
    session: Option<(u32, u64)>,
    aid: Option<Vec<u8>>,
    last_via_logical: bool,
    /// `+CSIM` path: a channel opened with MANAGE CHANNEL (number, connection generation).
    csim_channel: Option<(u8, u64)>,
    /// `+CSIM` path: the generation on which opening a channel was found impossible.
    csim_basic_only: Option<u64>,
}

/// CLA INS P1 P2 in hex: what logs and errors show of an APDU.
fn apdu_header(apdu: &[u8]) -> String {
    apdu.get(..4).map(to_hex).unwrap_or_default()
}

fn sw_summary(resp: &[u8]) -> String {
    let n = resp.len();
    let sw = resp
        .get(n.saturating_sub(2)..)
        .map(to_hex)
        .unwrap_or_default();
    format!("{} data bytes, SW {sw}", n.saturating_sub(2))
}

impl SimAccess {
    /// SIM access over an open channel. Nothing is sent until first use.
    pub fn new(ch: AtChannel, cfg: SimConfig) -> Self {
        let aid = cfg.aid.clone();
        Self {
            ch,
            cfg,
            info: None,
            path: None,
            session: None,
            aid,
            last_via_logical: false,
            csim_channel: None,
            csim_basic_only: None,
        }
    }

    /// The AT channel (for other commands).
    pub fn channel(&mut self) -> &mut AtChannel {
        &mut self.ch
    }

    /// Asks `+CGMI` / `+CGMM` (once) and looks the modem up in the quirks table.
    pub fn identify(&mut self) -> Result<ModemInfo, AtError> {
        if let Some(i) = &self.info {
            return Ok(i.clone());
        }
        let manufacturer = self.one_line("AT+CGMI")?;
        let model = self.one_line("AT+CGMM")?;
        let quirks = Quirks::lookup(&manufacturer, &model);
        log::info!("modem {manufacturer} {model}: quirks '{}'", quirks.name);
        let info = ModemInfo {
            manufacturer,
            model,
            quirks,
        };
        self.info = Some(info.clone());
        Ok(info)
    }

    /// The first line of a bare-text answer (`+CGMI`), with an optional `+CGMI:` prefix removed.
    fn one_line(&mut self, cmd: &str) -> Result<String, AtError> {
        let prefix = format!("{}:", cmd.get(2..).unwrap_or(cmd));
        match self.ch.command(cmd, Expect::prefixed_or_bare(&prefix)) {
            Ok(a) => Ok(a
                .lines
                .first()
                .map(|l| {
                    let v = crate::response::strip_prefix_ci(l, &prefix).unwrap_or(l);
                    v.trim().trim_matches('"').to_string()
                })
                .unwrap_or_default()),
            // A modem without +CGMI is simply unknown.
            Err(e) if e.is_refusal() => Ok(String::new()),
            Err(e) => Err(e),
        }
    }

    fn quirks(&mut self) -> Result<&'static Quirks, AtError> {
        Ok(self.identify()?.quirks)
    }

    /// The path in use, choosing it on first call.
    pub fn path(&mut self) -> Result<SimPath, AtError> {
        if let Some(p) = self.path {
            return Ok(p);
        }
        let p = match self.cfg.path {
            Some(p) => p,
            None => self.choose_path()?,
        };
        log::info!("SIM access through {} on {}", p.name(), self.ch.device());
        self.path = Some(p);
        Ok(p)
    }

    fn choose_path(&mut self) -> Result<SimPath, AtError> {
        let q = self.quirks()?;
        if q.logical != Support::No {
            if q.logical == Support::Unknown {
                // Hints only: some modems lack the =? forms of commands they support.
                let ccho_test = self.ch.ok("AT+CCHO=?").is_ok();
                let cgla_test = self.ch.ok("AT+CGLA=?").is_ok();
                log::debug!("probe: CCHO=? {ccho_test}, CGLA=? {cgla_test}");
            }
            // A trial APDU even for a modem the table vouches for: a card without a free
            // logical channel still leaves +CSIM.
            match self.trial(SimPath::Logical) {
                Ok(()) => return Ok(SimPath::Logical),
                Err(e @ (AtError::Disconnected { .. } | AtError::Gone { .. })) => return Err(e),
                Err(e) => {
                    log::info!("logical channel unusable ({e}); trying +CSIM");
                    if let Err(e) = self.close() {
                        log::debug!("closing the trial session: {e}");
                    }
                    self.session = None;
                }
            }
        }
        match self.probe_basic() {
            Ok(()) => Ok(SimPath::Basic),
            Err(e @ (AtError::Disconnected { .. } | AtError::Gone { .. })) => Err(e),
            Err(e) => Err(AtError::NoSimAccess(format!(
                "neither +CCHO/+CGLA nor +CSIM works: {e}"
            ))),
        }
    }

    fn probe_basic(&mut self) -> Result<(), AtError> {
        if let Err(e) = self.ch.ok("AT+CSIM=?") {
            log::debug!("AT+CSIM=? {e}");
        }
        self.trial(SimPath::Basic)
    }

    /// A harmless APDU (STATUS, no data asked): any status word proves the path carries APDUs.
    fn trial(&mut self, path: SimPath) -> Result<(), AtError> {
        const STATUS: [u8; 5] = [0x80, 0xF2, 0x00, 0x0C, 0x00];
        match path {
            SimPath::Basic => self.via_csim(&STATUS).map(|_| ()),
            SimPath::Logical => self.via_logical(&STATUS).map(|_| ()),
        }
    }

    /// Sends one command APDU and returns the response APDU (data, SW1, SW2). T=0 procedure
    /// bytes are left to the caller (the `uicc` layer of simbridge).
    pub fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, AtError> {
        if apdu.len() < 4 {
            return Err(AtError::Invalid(format!(
                "APDU of {} bytes (at least 4 needed)",
                apdu.len()
            )));
        }
        let path = self.path()?;
        let ins = apdu.get(1).copied().unwrap_or(0);
        let auth = ins == 0x88 || ins == 0x89;
        let get_response = ins == 0xC0;
        let q = self.quirks()?;
        let use_logical = match path {
            SimPath::Logical => true,
            SimPath::Basic if get_response => self.last_via_logical,
            SimPath::Basic => {
                let moved = auth && q.basic_authenticate == Support::No && q.logical != Support::No;
                if moved {
                    log::info!(
                        "AUTHENTICATE on a logical channel: quirks '{}' refuse it on the basic channel",
                        q.name
                    );
                }
                moved
            }
        };
        let r = if use_logical {
            self.via_logical(apdu)
        } else {
            match self.csim_channel()? {
                Some(c) => {
                    let mut moved = apdu.to_vec();
                    if let Some(cla) = moved.first_mut() {
                        *cla = with_channel(*cla, c);
                    }
                    self.via_csim(&moved)
                }
                None => self.via_csim(apdu),
            }
        };
        match r {
            Err(e)
                if !use_logical
                    && auth
                    && e.is_refusal()
                    && q.logical != Support::No
                    && q.basic_authenticate != Support::Yes =>
            {
                log::warn!(
                    "modem refused AUTHENTICATE on the basic channel ({e}); retrying on a logical channel"
                );
                self.via_logical(apdu)
            }
            other => other,
        }
    }

    fn via_csim(&mut self, apdu: &[u8]) -> Result<Vec<u8>, AtError> {
        let hex = to_hex(apdu);
        let cmd = format!("AT+CSIM={},\"{hex}\"", hex.len());
        // Logs and errors show the APDU header only: the data may hold a PIN.
        let label = format!("AT+CSIM={},\"{}…\"", hex.len(), apdu_header(apdu));
        let t = self.cfg.apdu_timeout;
        let a = self
            .ch
            .command_labelled(&cmd, &label, Expect::prefixed("+CSIM:"), t)?;
        let resp = answers::response_apdu(&a, "+CSIM:").map_err(|detail| AtError::BadAnswer {
            command: "AT+CSIM".into(),
            detail,
        })?;
        log::debug!("CSIM< {}", sw_summary(&resp));
        self.last_via_logical = false;
        Ok(resp)
    }

    /// `+CSIM` path: our logical channel, opening it with MANAGE CHANNEL on first use (again
    /// after the modem reconnected); `None` when the card or the modem does not allow one.
    fn csim_channel(&mut self) -> Result<Option<u8>, AtError> {
        let g = self.ch.generation();
        if let Some((c, cg)) = self.csim_channel {
            if cg == g {
                return Ok(Some(c));
            }
            self.csim_channel = None;
        }
        if self.csim_basic_only == Some(g) {
            return Ok(None);
        }
        let q = self.quirks()?;
        let opened = if q.csim_logical_cla == Support::No {
            None
        } else {
            match self.via_csim(&[0x00, 0x70, 0x00, 0x00, 0x01]) {
                Ok(r) => match r.as_slice() {
                    [c, 0x90, 0x00] if (1..=19).contains(c) => Some(*c),
                    _ => None,
                },
                Err(e) if e.is_refusal() => None,
                Err(e) => return Err(e),
            }
        };
        if let Some(c) = opened {
            // STATUS on the new channel: proves the modem passes a logical-channel CLA.
            match self.via_csim(&[with_channel(0x80, c), 0xF2, 0x00, 0x0C, 0x00]) {
                Ok(_) => {
                    log::info!(
                        "+CSIM: logical channel {c} opened with MANAGE CHANNEL; the modem's basic channel is left alone"
                    );
                    self.csim_channel = Some((c, self.ch.generation()));
                    return Ok(Some(c));
                }
                Err(e) if e.is_refusal() => {
                    if let Err(e) = self.via_csim(&[0x00, 0x70, 0x80, c, 0x00]) {
                        log::debug!("closing channel {c}: {e}");
                    }
                }
                Err(e) => return Err(e),
            }
        }
        log::info!(
            "+CSIM: no logical channel on this modem or card; using the USIM the modem selected on the basic channel, selecting no application"
        );
        self.csim_basic_only = Some(self.ch.generation());
        Ok(None)
    }

    /// Whether our APDUs go to the modem's basic channel (the `+CSIM` path without a logical
    /// channel): the caller must then use the application the modem selected and select none.
    pub fn shares_basic_channel(&mut self) -> Result<bool, AtError> {
        Ok(self.path()? == SimPath::Basic && self.csim_channel()?.is_none())
    }

    fn via_logical(&mut self, apdu: &[u8]) -> Result<Vec<u8>, AtError> {
        let sid = self.session_id()?;
        let patches = self.quirks()?.cgla_patches_cla;
        let mut coded = apdu.to_vec();
        if let (false, Ok(c), Some(cla)) = (patches, u8::try_from(sid), coded.first_mut()) {
            // ISO 7816-4: the channel is in CLA; the session id is the channel number on modems
            // that do not code it themselves (a handle beyond 19 leaves it to the modem).
            if (1..=19).contains(&c) && split_cla(*cla).0 == 0 {
                *cla = with_channel(*cla, c);
            }
        }
        let apdu = coded.as_slice();
        let hex = to_hex(apdu);
        let cmd = format!("AT+CGLA={sid},{},\"{hex}\"", hex.len());
        // Logs and errors show the APDU header only: the data may hold a PIN.
        let label = format!("AT+CGLA={sid},{},\"{}…\"", hex.len(), apdu_header(apdu));
        let t = self.cfg.apdu_timeout;
        let a = self
            .ch
            .command_labelled(&cmd, &label, Expect::prefixed("+CGLA:"), t)?;
        let resp = answers::response_apdu(&a, "+CGLA:").map_err(|detail| AtError::BadAnswer {
            command: "AT+CGLA".into(),
            detail,
        })?;
        log::debug!("CGLA< {}", sw_summary(&resp));
        self.last_via_logical = true;
        Ok(resp)
    }

    /// The open logical session, opening one if needed (again after the modem reconnected).
    fn session_id(&mut self) -> Result<u32, AtError> {
        let generation = self.ch.generation();
        if let Some((sid, g)) = self.session {
            if g == generation && self.ch.is_connected() {
                return Ok(sid);
            }
        }
        self.session = None;
        let aid = match self.aid.clone() {
            Some(a) => a,
            None => {
                let a = self.discover_aid();
                self.aid = Some(a.clone());
                a
            }
        };
        let cmd = format!("AT+CCHO=\"{}\"", to_hex(&aid));
        let a = self.ch.command(&cmd, Expect::prefixed_or_bare("+CCHO:"))?;
        let sid = answers::parse_ccho(&a).map_err(|detail| AtError::BadAnswer {
            command: "AT+CCHO".into(),
            detail,
        })?;
        // The command may have reconnected the channel: the session belongs to the current generation.
        self.session = Some((sid, self.ch.generation()));
        log::debug!("logical channel session {sid} on AID {}", to_hex(&aid));
        Ok(sid)
    }

    /// Finds the USIM AID in EF_DIR through `+CRSM` (the modem reads it; nothing is selected on
    /// our channels), falling back to the partial USIM AID.
    fn discover_aid(&mut self) -> Vec<u8> {
        for rec in 1..=8u8 {
            let cmd = format!("AT+CRSM=178,12032,{rec},4,0");
            let Ok(a) = self.ch.command(&cmd, Expect::prefixed("+CRSM:")) else {
                break;
            };
            let Ok(r) = answers::parse_crsm(&a) else {
                break;
            };
            if (r.sw1, r.sw2) != (0x90, 0x00) {
                break;
            }
            if let Some(aid) = aid_in_dir_record(&r.data) {
                if aid.starts_with(&USIM_PARTIAL_AID) {
                    return aid;
                }
            }
        }
        USIM_PARTIAL_AID.to_vec()
    }

    /// Closes our logical channels: the `+CSIM` one (MANAGE CHANNEL close, sent on the basic
    /// channel, which selects nothing there) and the `+CCHO` session, if the modem has `+CCHC`.
    pub fn close(&mut self) -> Result<(), AtError> {
        if let Some((c, g)) = self.csim_channel.take() {
            if g == self.ch.generation() && self.ch.is_connected() {
                if let Err(e) = self.via_csim(&[0x00, 0x70, 0x80, c, 0x00]) {
                    log::debug!("closing +CSIM channel {c}: {e}");
                }
            }
        }
        self.csim_basic_only = None;
        let Some((sid, g)) = self.session.take() else {
            return Ok(());
        };
        if g != self.ch.generation() || !self.ch.is_connected() {
            return Ok(());
        }
        if self
            .info
            .as_ref()
            .is_some_and(|i| i.quirks.cchc == Support::No)
        {
            log::debug!("no +CCHC on this modem: session {sid} left open");
            return Ok(());
        }
        self.ch.ok(&format!("AT+CCHC={sid}"))
    }

    /// The IMSI as the modem reads it (`AT+CIMI`).
    pub fn imsi(&mut self) -> Result<String, AtError> {
        let a = self
            .ch
            .command("AT+CIMI", Expect::prefixed_or_bare("+CIMI:"))?;
        answers::parse_cimi(&a).map_err(|detail| AtError::BadAnswer {
            command: "AT+CIMI".into(),
            detail,
        })
    }

    /// The ICCID: `+CCID`, `+QCCID`, `+ICCID`, then EF_ICCID through `+CRSM`.
    pub fn iccid(&mut self) -> Result<String, AtError> {
        for (cmd, prefix) in [
            ("AT+CCID", "+CCID:"),
            ("AT+QCCID", "+QCCID:"),
            ("AT+ICCID", "+ICCID:"),
        ] {
            match self.ch.command(cmd, Expect::prefixed_or_bare(prefix)) {
                Ok(a) => {
                    if let Ok(v) = answers::parse_iccid(&a) {
                        return Ok(v);
                    }
                }
                Err(e) if e.is_refusal() => continue,
                Err(e) => return Err(e),
            }
        }
        let a = self
            .ch
            .command("AT+CRSM=176,12258,0,0,10", Expect::prefixed("+CRSM:"))?;
        let r = answers::parse_crsm(&a).map_err(|detail| AtError::BadAnswer {
            command: "AT+CRSM".into(),
            detail,
        })?;
        if (r.sw1, r.sw2) != (0x90, 0x00) {
            return Err(AtError::BadAnswer {
                command: "AT+CRSM".into(),
                detail: format!("EF_ICCID read gave SW {:02X}{:02X}", r.sw1, r.sw2),
            });
        }
        Ok(swapped_bcd(&r.data))
    }

    /// The PIN state (`AT+CPIN?`).
    pub fn pin_state(&mut self) -> Result<PinState, AtError> {
        let a = self.ch.command("AT+CPIN?", Expect::prefixed("+CPIN:"))?;
        answers::parse_cpin(&a).map_err(|detail| AtError::BadAnswer {
            command: "AT+CPIN?".into(),
            detail,
        })
    }
}

impl Drop for SimAccess {
    fn drop(&mut self) {
        // Logical channels are a scarce resource on the card: give ours back (bounded by the
        // command timeout; skipped when the modem is gone or out of step, so that dropping
        // after a failure never waits for a resynchronisation).
        if !self.ch.is_connected() || !self.ch.in_step() {
            return;
        }
        if let Err(e) = self.close() {
            log::debug!("closing the logical channel: {e}");
        }
    }
}

/// The AID (tag 4F) inside an EF_DIR record `61 L 4F Laid AID ...`.
pub fn aid_in_dir_record(rec: &[u8]) -> Option<Vec<u8>> {
    if rec.first() != Some(&0x61) {
        return None;
    }
    let body = rec.get(2..)?;
    if body.first() != Some(&0x4F) {
        return None;
    }
    let len = usize::from(*body.get(1)?);
    body.get(2..2 + len).map(<[u8]>::to_vec)
}

/// Digits of a swapped-BCD field (ICCID), stopping at the F filler.
pub fn swapped_bcd(bytes: &[u8]) -> String {
    let mut s = String::new();
    for b in bytes {
        for nib in [b & 0x0f, b >> 4] {
            match nib {
                0..=9 => s.push(char::from(b'0' + nib)),
                _ => return s,
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aid_from_dir_record() {
        let rec = answers::from_hex("61184F10A0000000871002FFFFFFFF890305000150045553494DFFFF")
            .unwrap_or_default();
        assert_eq!(
            aid_in_dir_record(&rec).map(|a| to_hex(&a)),
            Some("A0000000871002FFFFFFFF8903050001".into())
        );
        assert_eq!(aid_in_dir_record(&[0xFF; 10]), None);
        assert_eq!(aid_in_dir_record(&[0x61, 0x05, 0x4F, 0x10, 0xA0]), None);
    }

    #[test]
    fn iccid_swapped_bcd() {
        assert_eq!(
            swapped_bcd(&[0x98, 0x10, 0x99, 0x10, 0x32, 0x54, 0x76, 0x98, 0x10, 0xF2]),
            "8901990123456789012"
        );
    }
}
