//! The virtual modem's AT interpreter, sans-IO: command lines in, answer lines out.
//!
//! It answers the commands a SIM client needs (V.250 basics, identification, `+CIMI`, `+CCID`,
//! `+CPIN?`, `+CSIM`, `+CCHO`/`+CGLA`/`+CCHC`, `+CRSM`) from a card behind a [`CardChannel`],
//! and misbehaves exactly as the chosen row of the `modem-at` quirks table says.

use modem_at::answers::{from_hex, to_hex};
use modem_at::cla::{split_cla, with_channel};
use modem_at::cme::cme_meaning;
use modem_at::quirks::{Quirks, Support};
use modem_at::sim::swapped_bcd;
use simbridge::card::CardChannel;
use std::collections::BTreeMap;

/// Longest command line accepted (a `+CGLA` with an extended-length APDU fits).
const MAX_LINE: usize = 70_000;

/// The answer to one command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The command line as received.
    pub command: String,
    /// Bytes echoed back (the line and its CR) when echo is on.
    pub echo: Vec<u8>,
    /// Information lines.
    pub lines: Vec<String>,
    /// The final result line (`OK`, `ERROR`, `+CME ERROR: n`).
    pub result: String,
}

/// Session ids of a modem that codes the channel into CLA itself (quirks `cgla_patches_cla`)
/// start here: handles, so that a client taking them for channel numbers fails loudly. Other
/// modems answer `+CCHO` with the channel number, which the host codes into CLA.
const FIRST_SESSION: u32 = 257;

/// The USIM application the modem's own session selects on the basic channel (the partial AID).
const SELECT_USIM: [u8; 12] = [
    0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02,
];

/// The AT interpreter.
#[derive(Debug)]
pub struct AtServer<C> {
    card: C,
    quirks: &'static Quirks,
    echo: bool,
    cmee: u8,
    sessions: BTreeMap<u32, u8>,
    next_session: u32,
    input: Vec<u8>,
    /// Strict mode: counts what a real modem's own USIM session would suffer.
    strict: bool,
    /// Applications selected by the host on the basic channel (each one resets the modem's
    /// USIM session on many real modems).
    session_resets: u64,
    /// `+CGLA` APDUs whose CLA does not name the session's channel (strict mode sends them
    /// where their CLA points, as a modem that does not code the channel would).
    cla_mistakes: u64,
}

enum Outcome {
    Ok(Vec<String>),
    Error,
    Cme(u16),
}

use Outcome::{Cme, Error};

fn ok(lines: Vec<String>) -> Outcome {
    Outcome::Ok(lines)
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
}

fn sw_of(resp: &[u8]) -> (u8, u8) {
    let n = resp.len();
    if n < 2 {
        return (0x6F, 0x00);
    }
    (
        resp.get(n - 2).copied().unwrap_or(0x6F),
        resp.get(n - 1).copied().unwrap_or(0),
    )
}

impl<C: CardChannel> AtServer<C> {
    /// An interpreter over `card` behaving like the `quirks` row. Echo starts on (V.250 default).
    /// Like a real modem it selects the USIM on the basic channel for its own session.
    pub fn new(card: C, quirks: &'static Quirks) -> Self {
        let mut s = Self {
            card,
            quirks,
            echo: true,
            cmee: 0,
            sessions: BTreeMap::new(),
            next_session: FIRST_SESSION,
            input: Vec::new(),
            strict: false,
            session_resets: 0,
            cla_mistakes: 0,
        };
        s.raw(&SELECT_USIM);
        s
    }

    /// Strict mode (`softsim modem --strict`): an application selected on the basic channel
    /// through `+CSIM` counts as a reset of the modem's USIM session, and a `+CGLA` APDU goes
    /// where its CLA says (CLA 00 = the basic channel) unless the quirks row codes the channel
    /// itself; a CLA that names another channel than the session's counts as a mistake.
    pub fn with_strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// (modem session resets, CLA mistakes) counted in strict mode.
    pub fn strict_counts(&self) -> (u64, u64) {
        (self.session_resets, self.cla_mistakes)
    }

    /// What a power cycle does: card reset, channels closed, settings back to defaults, the
    /// modem's own USIM session selected again.
    pub fn reboot(&mut self) {
        let _ = self.card.reset();
        self.raw(&SELECT_USIM);
        self.sessions.clear();
        self.echo = true;
        self.cmee = 0;
        self.input.clear();
    }

    /// Strict mode: counts an application selection on the basic channel.
    fn watch_basic(&mut self, apdu: &[u8]) {
        if !self.strict {
            return;
        }
        if let [cla, 0xA4, 0x04, ..] = apdu {
            if split_cla(*cla).0 == 0 {
                self.session_resets += 1;
                log::warn!(
                    "virtual modem (strict): the host selected an application on the basic channel; the modem's USIM session is reset (#{})",
                    self.session_resets
                );
            }
        }
    }

    /// The `+CGMI` answer.
    pub fn manufacturer(&self) -> String {
        self.quirks.manufacturer.to_string()
    }

    /// The `+CGMM` answer.
    pub fn model(&self) -> String {
        if self.quirks.model.is_empty() {
            format!("{} modem", self.quirks.manufacturer)
        } else {
            self.quirks.model.to_string()
        }
    }

    /// Feeds bytes from the host; returns a reply per completed command line.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Reply> {
        let mut out = Vec::new();
        for &b in bytes {
            match b {
                b'\r' => {
                    let line = String::from_utf8_lossy(&self.input).into_owned();
                    self.input.clear();
                    if let Some(r) = self.line(&line) {
                        out.push(r);
                    }
                }
                b'\n' => {}
                0x08 => {
                    self.input.pop();
                }
                _ if self.input.len() < MAX_LINE => self.input.push(b),
                _ => {}
            }
        }
        out
    }

    fn line(&mut self, raw: &str) -> Option<Reply> {
        let echo = if self.echo {
            format!("{raw}\r").into_bytes()
        } else {
            Vec::new()
        };
        let line = raw.trim();
        // Modems ignore what does not start with AT (line noise).
        let cmd = modem_at::response::strip_prefix_ci(line, "AT")?;
        let outcome = self.command(cmd);
        let (lines, result) = match outcome {
            Outcome::Ok(l) => (l, "OK".to_string()),
            Error => (Vec::new(), "ERROR".to_string()),
            Cme(n) => (Vec::new(), self.cme(n)),
        };
        Some(Reply {
            command: line.to_string(),
            echo,
            lines,
            result,
        })
    }

    fn cme(&self, n: u16) -> String {
        match self.cmee {
            1 => format!("+CME ERROR: {n}"),
            2 => format!("+CME ERROR: {}", cme_meaning(n).unwrap_or("unknown")),
            _ => "ERROR".to_string(),
        }
    }

    fn command(&mut self, cmd: &str) -> Outcome {
        let upper = cmd.to_ascii_uppercase();
        let (name, arg) = match upper.find(['=', '?']) {
            Some(i) => (upper.get(..i).unwrap_or(""), cmd.get(i..).unwrap_or("")),
            None => (upper.as_str(), ""),
        };
        let set = arg.strip_prefix('=');
        match (name, arg) {
            ("", "") | ("Z", "") | ("&F", "") => ok(vec![]),
            ("E0", "") | ("E", "") => {
                self.echo = false;
                ok(vec![])
            }
            ("E1", "") => {
                self.echo = true;
                ok(vec![])
            }
            ("I", "") => ok(vec![
                self.manufacturer(),
                self.model(),
                "Revision: simbridge virtual modem".into(),
            ]),
            ("+CMEE", _) if set.is_some() => match set.map(str::trim) {
                Some("0") => self.set_cmee(0),
                Some("1") => self.set_cmee(1),
                Some("2") => self.set_cmee(2),
                _ => Cme(50),
            },
            ("+CGMI", "") => ok(vec![self.manufacturer()]),
            ("+CGMM", "") => ok(vec![self.model()]),
            ("+CGMR", "") => ok(vec!["simbridge-virtual-1".into()]),
            ("+CGSN", "") => ok(vec!["490154203237518".into()]),
            ("+CFUN", "?") => ok(vec!["+CFUN: 1".into()]),
            ("+CREG", "?") => ok(vec!["+CREG: 0,1".into()]),
            ("+CEREG", "?") => ok(vec!["+CEREG: 0,1".into()]),
            ("+CIMI", "") => self.cimi(),
            ("+CCID", "") => self.ccid("+CCID: "),
            ("+QCCID", "") if self.quirks.name == "quectel" => self.ccid("+QCCID: "),
            ("+CPIN", "?") => self.cpin(),
            ("+CSIM", "=?") => ok(vec![]),
            ("+CSIM", _) => self.csim(set.unwrap_or("")),
            ("+CCHO", "=?") if self.quirks.logical != Support::No => ok(vec![]),
            ("+CCHO", _) if self.quirks.logical != Support::No && set.is_some() => {
                self.ccho(set.unwrap_or(""))
            }
            ("+CGLA", "=?")
                if self.quirks.logical != Support::No && self.quirks.cgla_test != Support::No =>
            {
                ok(vec![])
            }
            ("+CGLA", _) if self.quirks.logical != Support::No && arg != "=?" && set.is_some() => {
                self.cgla(set.unwrap_or(""))
            }
            ("+CCHC", "=?")
                if self.quirks.logical != Support::No && self.quirks.cchc != Support::No =>
            {
                ok(vec![])
            }
            ("+CCHC", _)
                if self.quirks.logical != Support::No
                    && self.quirks.cchc != Support::No
                    && set.is_some() =>
            {
                self.cchc(set.unwrap_or(""))
            }
            ("+CRSM", "=?") => ok(vec![]),
            ("+CRSM", _) if set.is_some() => self.crsm(set.unwrap_or("")),
            _ => Error,
        }
    }

    fn set_cmee(&mut self, v: u8) -> Outcome {
        self.cmee = v;
        ok(vec![])
    }

    /// Sends an APDU to the card; a transport failure reads as a status word.
    fn raw(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.card
            .transmit(apdu)
            .unwrap_or_else(|_| vec![0x6F, 0x00])
    }

    /// Opens a logical channel on the card (MANAGE CHANNEL).
    fn open_channel(&mut self) -> Option<u8> {
        match self.raw(&[0x00, 0x70, 0x00, 0x00, 0x01]).as_slice() {
            [ch, 0x90, 0x00] if (1..=19).contains(ch) => Some(*ch),
            _ => None,
        }
    }

    fn close_channel(&mut self, ch: u8) -> bool {
        self.raw(&[0x00, 0x70, 0x80, ch, 0x00]) == [0x90, 0x00]
    }

    /// An APDU on channel `ch`, with T=0 procedure bytes handled as a modem does for itself.
    fn internal(&mut self, ch: u8, apdu: &[u8]) -> Vec<u8> {
        let mut cmd = apdu.to_vec();
        if let Some(c) = cmd.first_mut() {
            *c = with_channel(*c, ch);
        }
        let mut resp = self.raw(&cmd);
        for _ in 0..4 {
            match sw_of(&resp) {
                (0x61, n) => resp = self.raw(&[with_channel(0x00, ch), 0xC0, 0x00, 0x00, n]),
                (0x6C, n) => {
                    if let Some(last) = cmd.last_mut() {
                        *last = n;
                    }
                    resp = self.raw(&cmd);
                }
                _ => break,
            }
        }
        resp
    }

    /// Runs `f` on a logical channel of its own, so the modem's reads (`+CRSM`, `+CIMI`,
    /// `+CCID`) never move what the host selected on its channels.
    fn on_own_channel<T>(&mut self, f: impl FnOnce(&mut Self, u8) -> Option<T>) -> Option<T> {
        let ch = self.open_channel()?;
        let r = f(self, ch);
        self.close_channel(ch);
        r
    }

    /// Selects a file the way `+CRSM` addresses it: `fid` under the MF (2Fxx) or the USIM ADF
    /// (6Fxx), or along `path` (hex FIDs from the MF, 7FFF = the USIM ADF). Returns the last
    /// SELECT's response.
    fn select_file(&mut self, ch: u8, fid: u16, path: Option<&str>) -> Vec<u8> {
        self.internal(ch, &[0x00, 0xA4, 0x00, 0x04, 0x02, 0x3F, 0x00]);
        let mut steps: Vec<u16> = Vec::new();
        match path.and_then(from_hex) {
            Some(p) => {
                for c in p.chunks(2) {
                    if let [a, b] = c {
                        let f = u16::from_be_bytes([*a, *b]);
                        if f != 0x3F00 {
                            steps.push(f);
                        }
                    }
                }
            }
            None if fid >> 8 == 0x6F || fid >> 8 == 0x5F => steps.push(0x7FFF),
            None => {}
        }
        for f in steps {
            let r = if f == 0x7FFF {
                self.internal(
                    ch,
                    &[
                        0x00, 0xA4, 0x04, 0x04, 0x07, 0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02,
                        0x00,
                    ],
                )
            } else {
                let [a, b] = f.to_be_bytes();
                self.internal(ch, &[0x00, 0xA4, 0x00, 0x04, 0x02, a, b])
            };
            if sw_of(&r) != (0x90, 0x00) {
                return r;
            }
        }
        let [a, b] = fid.to_be_bytes();
        self.internal(ch, &[0x00, 0xA4, 0x00, 0x04, 0x02, a, b])
    }

    fn read_binary(&mut self, fid: u16, len: u8) -> Option<Vec<u8>> {
        self.on_own_channel(|s, ch| {
            if sw_of(&s.select_file(ch, fid, None)) != (0x90, 0x00) {
                return None;
            }
            let r = s.internal(ch, &[0x00, 0xB0, 0x00, 0x00, len]);
            if sw_of(&r) != (0x90, 0x00) {
                return None;
            }
            r.get(..r.len() - 2).map(<[u8]>::to_vec)
        })
    }

    fn cimi(&mut self) -> Outcome {
        let Some(ef) = self.read_binary(0x6F07, 9) else {
            return Cme(13);
        };
        let digits = swapped_bcd(ef.get(1..).unwrap_or_default());
        // First nibble after the length is the parity/type: skip it.
        match digits.get(1..) {
            Some(imsi) if !imsi.is_empty() => ok(vec![imsi.to_string()]),
            _ => Cme(13),
        }
    }

    fn ccid(&mut self, prefix: &str) -> Outcome {
        match self.read_binary(0x2FE2, 10) {
            Some(ef) => ok(vec![format!("{prefix}{}", swapped_bcd(&ef))]),
            None => Cme(13),
        }
    }

    fn cpin(&mut self) -> Outcome {
        // VERIFY without data asks the PIN state (TS 102 221 §11.1.9).
        let state = match sw_of(&self.raw(&[0x00, 0x20, 0x00, 0x01])) {
            (0x63, x) if x & 0xF0 == 0xC0 && x & 0x0F > 0 => "SIM PIN",
            (0x63, _) | (0x69, 0x83) => "SIM PUK",
            _ => "READY",
        };
        ok(vec![format!("+CPIN: {state}")])
    }

    /// `<length>,"<hex>"` with the length checked against the hex.
    fn length_hex(args: &str) -> Result<Vec<u8>, Outcome> {
        let (len, hex) = args.split_once(',').ok_or(Cme(50))?;
        let len: usize = len.trim().parse().map_err(|_| Cme(50))?;
        let hex = unquote(hex);
        if len != hex.len() {
            return Err(Cme(50));
        }
        let apdu = from_hex(hex).ok_or(Cme(50))?;
        if apdu.len() < 4 {
            return Err(Cme(50));
        }
        Ok(apdu)
    }

    fn csim(&mut self, args: &str) -> Outcome {
        let apdu = match Self::length_hex(args) {
            Ok(a) => a,
            Err(e) => return e,
        };
        let cla = apdu.first().copied().unwrap_or(0);
        let ins = apdu.get(1).copied().unwrap_or(0);
        let (ch, _) = split_cla(cla);
        if ch != 0 && self.quirks.csim_logical_cla == Support::No {
            return Cme(3);
        }
        if ch == 0 && (ins == 0x88 || ins == 0xC0) && self.quirks.basic_authenticate == Support::No
        {
            return Cme(3);
        }
        self.watch_basic(&apdu);
        match self.card.transmit(&apdu) {
            Ok(mut resp) => {
                if let (true, (0x61, n)) = (self.quirks.csim_fetches_response, sw_of(&resp)) {
                    resp = self.raw(&[with_channel(0x00, ch), 0xC0, 0x00, 0x00, n]);
                }
                let h = to_hex(&resp);
                ok(vec![format!("+CSIM: {},\"{h}\"", h.len())])
            }
            Err(_) => Cme(13),
        }
    }

    fn ccho(&mut self, args: &str) -> Outcome {
        let Some(aid) = from_hex(unquote(args)) else {
            return Cme(50);
        };
        if aid.is_empty() || aid.len() > 16 {
            return Cme(50);
        }
        let Some(ch) = self.open_channel() else {
            return Cme(3);
        };
        let mut select = vec![with_channel(0x00, ch), 0xA4, 0x04, 0x04, aid.len() as u8];
        select.extend_from_slice(&aid);
        if !matches!(sw_of(&self.raw(&select)), (0x90, _) | (0x61, _)) {
            self.close_channel(ch);
            return Cme(22);
        }
        let sid = if self.quirks.cgla_patches_cla {
            let sid = self.next_session;
            self.next_session = self.next_session.wrapping_add(1).max(FIRST_SESSION);
            sid
        } else {
            u32::from(ch)
        };
        self.sessions.insert(sid, ch);
        if self.quirks.ccho_bare {
            ok(vec![sid.to_string()])
        } else {
            ok(vec![format!("+CCHO: {sid}")])
        }
    }

    fn cgla(&mut self, args: &str) -> Outcome {
        let Some((sid, rest)) = args.split_once(',') else {
            return Cme(50);
        };
        let Ok(sid) = sid.trim().parse::<u32>() else {
            return Cme(50);
        };
        let Some(&ch) = self.sessions.get(&sid) else {
            return Cme(21);
        };
        let mut apdu = match Self::length_hex(rest) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if let Some(c) = apdu.first_mut() {
            let (named, _) = split_cla(*c);
            if self.quirks.cgla_patches_cla || !self.strict {
                // This modem codes the channel into CLA itself.
                *c = with_channel(*c, ch);
            } else if named != ch {
                self.cla_mistakes += 1;
                log::warn!(
                    "virtual modem (strict): +CGLA on channel {ch} with a CLA naming channel {named}; sent where the CLA points (mistake #{})",
                    self.cla_mistakes
                );
            }
        }
        self.watch_basic(&apdu);
        match self.card.transmit(&apdu) {
            Ok(resp) => {
                let h = to_hex(&resp);
                ok(vec![format!("+CGLA: {},\"{h}\"", h.len())])
            }
            Err(_) => Cme(13),
        }
    }

    fn cchc(&mut self, args: &str) -> Outcome {
        let Ok(sid) = args.trim().parse::<u32>() else {
            return Cme(50);
        };
        match self.sessions.remove(&sid) {
            Some(ch) => {
                self.close_channel(ch);
                ok(vec![])
            }
            None => Cme(21),
        }
    }

    fn crsm(&mut self, args: &str) -> Outcome {
        let parts: Vec<&str> = args.split(',').map(str::trim).collect();
        let num = |i: usize| parts.get(i).and_then(|p| p.parse::<u16>().ok());
        let Some(command) = num(0) else {
            return Cme(50);
        };
        let fid = num(1).unwrap_or(0);
        let (p1, p2, p3) = (
            num(2).unwrap_or(0) as u8,
            num(3).unwrap_or(0) as u8,
            num(4).unwrap_or(0) as u8,
        );
        let path = parts.get(6).map(|p| unquote(p));
        let resp = match command {
            242 => self.on_own_channel(|s, ch| Some(s.internal(ch, &[0x80, 0xF2, 0x00, 0x00, p3]))),
            176 | 178 | 192 => self.on_own_channel(|s, ch| {
                let sel = s.select_file(ch, fid, path);
                if sw_of(&sel) != (0x90, 0x00) || command == 192 {
                    return Some(sel);
                }
                let ins = if command == 176 { 0xB0 } else { 0xB2 };
                Some(s.internal(ch, &[0x00, ins, p1, p2, p3]))
            }),
            _ => return Cme(4),
        };
        let Some(resp) = resp else { return Cme(14) };
        let (sw1, sw2) = sw_of(&resp);
        let data = resp.get(..resp.len().saturating_sub(2)).unwrap_or_default();
        if data.is_empty() {
            ok(vec![format!("+CRSM: {sw1},{sw2}")])
        } else {
            ok(vec![format!("+CRSM: {sw1},{sw2},\"{}\"", to_hex(data))])
        }
    }
}
