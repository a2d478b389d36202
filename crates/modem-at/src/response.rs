//! The AT response parser, sans-IO: bytes in, classified lines and a final result out.
//!
//! A [`Collector`] is made for one command. It is fed whatever the modem sends and sorts each line
//! into the command's echo (skipped), its information lines, unsolicited result codes (URCs, handed
//! out separately, even when they arrive between two lines of the answer) and the final result.

use crate::cme::{cme_code_from_text, cme_meaning, cms_meaning};
use crate::line::{LineSplitter, SplitLine};
use std::fmt;

/// The final result code that ends a command (V.250 §5.7, TS 27.007 §9.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Final {
    /// `OK`.
    Ok,
    /// A failure result.
    Failed(FinalError),
}

/// A final result code that reports failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinalError {
    /// Plain `ERROR` (the modem gives no reason; often "unknown command" or "bad syntax").
    Error,
    /// `+CME ERROR: <n>` (mobile equipment / SIM error) or its verbose text form.
    Cme {
        /// The numeric code, when the modem gave one or the text is one we know.
        code: Option<u16>,
        /// The modem's text (verbose form) or our meaning of the code.
        text: String,
    },
    /// `+CMS ERROR: <n>` (SMS service error).
    Cms {
        /// The numeric code, if numeric.
        code: Option<u16>,
        /// The modem's text or our meaning of the code.
        text: String,
    },
    /// Another V.250 failure result (`NO CARRIER`, `BUSY`, `NO ANSWER`, `NO DIALTONE`,
    /// `COMMAND NOT SUPPORT`).
    Other(String),
}

impl fmt::Display for FinalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FinalError::Error => f.write_str("ERROR"),
            FinalError::Cme {
                code: Some(c),
                text,
            } => write!(f, "+CME ERROR {c}: {text}"),
            FinalError::Cme { code: None, text } => write!(f, "+CME ERROR: {text}"),
            FinalError::Cms {
                code: Some(c),
                text,
            } => write!(f, "+CMS ERROR {c}: {text}"),
            FinalError::Cms { code: None, text } => write!(f, "+CMS ERROR: {text}"),
            FinalError::Other(s) => f.write_str(s),
        }
    }
}

/// Parses a final result code; `None` if the line is not one.
pub fn parse_final(line: &str) -> Option<Final> {
    const OTHER_FAILURES: [&str; 5] = [
        "NO CARRIER",
        "BUSY",
        "NO ANSWER",
        "NO DIALTONE",
        "COMMAND NOT SUPPORT",
    ];
    if line.eq_ignore_ascii_case("OK") {
        return Some(Final::Ok);
    }
    if line.eq_ignore_ascii_case("ERROR") {
        return Some(Final::Failed(FinalError::Error));
    }
    if let Some(w) = OTHER_FAILURES.iter().find(|w| line.eq_ignore_ascii_case(w)) {
        return Some(Final::Failed(FinalError::Other((*w).to_string())));
    }
    if let Some(rest) = strip_prefix_ci(line, "+CME ERROR:") {
        let (code, text) = code_and_text(rest, cme_meaning, cme_code_from_text);
        return Some(Final::Failed(FinalError::Cme { code, text }));
    }
    if let Some(rest) = strip_prefix_ci(line, "+CMS ERROR:") {
        let (code, text) = code_and_text(rest, cms_meaning, |_| None);
        return Some(Final::Failed(FinalError::Cms { code, text }));
    }
    None
}

fn code_and_text(
    rest: &str,
    meaning: fn(u16) -> Option<&'static str>,
    from_text: fn(&str) -> Option<u16>,
) -> (Option<u16>, String) {
    let rest = rest.trim();
    match rest.parse::<u16>() {
        Ok(c) => (
            Some(c),
            meaning(c).unwrap_or("unknown error code").to_string(),
        ),
        Err(_) => (from_text(rest), rest.to_string()),
    }
}

/// Case-insensitive `strip_prefix` for ASCII prefixes.
pub fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// Prefixes of unsolicited result codes seen on common modems (TS 27.007 network registration
/// and ring indications, Quectel, Huawei, Sierra, SIMCom, u-blox boot and status messages).
const URC_PREFIXES: &[&str] = &[
    "+CREG:",
    "+CGREG:",
    "+CEREG:",
    "+C5GREG:",
    "+CGEV:",
    "+CMTI:",
    "+CMT:",
    "+CDS:",
    "+CBM:",
    "+CLIP:",
    "+CRING:",
    "+CUSD:",
    "+CTZV:",
    "+CTZE:",
    "+CTZR:",
    "+CIEV:",
    "+CPIN:",
    "+CFUN:",
    "+QIND:",
    "+QUSIM:",
    "+QSTK",
    "+QNITZ:",
    "+QIURC:",
    "+QCSQ:",
    "+UUSORD:",
    "+UUPSDA:",
    "+UUSIM",
    "+STIN:",
    "+CSQN:",
    "+CPINR",
    "+SIM:",
    "+NITZ",
    "+PACSP",
    "+CGDCONT:",
    "*EMRDY",
    "+PBREADY",
    "#QSS:",
];

/// Whole-line URCs without a colon.
const URC_WORDS: &[&str] = &[
    "RING",
    "RDY",
    "SMS DONE",
    "PB DONE",
    "CALL READY",
    "SMS READY",
    "NORMAL POWER DOWN",
    "POWERED DOWN",
    "APP RDY",
    "+CPIN: READY",
    "+PBREADY",
];

/// Is this line a known unsolicited result code (ignoring what the current command expects)?
pub fn is_known_urc(line: &str) -> bool {
    URC_WORDS.iter().any(|w| line.eq_ignore_ascii_case(w))
        || URC_PREFIXES.iter().any(|p| strip_prefix_ci(line, p).is_some())
        // Huawei/Sierra/Siemens-style proprietary indications: ^SYSSTART, ^MODE:, ^RSSI:, ^SIMST: ...
        || line.starts_with('^')
}

/// What the answer to a command looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// Information lines start with this (e.g. `+CSIM:`); `None` for commands answering bare text
    /// (`+CIMI`, `+CGMI`, `ATI`).
    pub prefix: Option<String>,
    /// Also accept information lines without the prefix (Fibocom's bare `+CCHO` answer, modems
    /// answering `+CCID` with the bare ICCID).
    pub bare_too: bool,
}

impl Expect {
    /// An answer whose information lines start with `prefix` (and only those).
    pub fn prefixed(prefix: &str) -> Self {
        Self {
            prefix: Some(prefix.to_string()),
            bare_too: false,
        }
    }

    /// An answer with `prefix` lines, also accepting the same lines without the prefix.
    pub fn prefixed_or_bare(prefix: &str) -> Self {
        Self {
            prefix: Some(prefix.to_string()),
            bare_too: true,
        }
    }

    /// An answer made of bare text lines.
    pub fn bare() -> Self {
        Self {
            prefix: None,
            bare_too: true,
        }
    }

    /// Only a final result, no information lines expected.
    pub fn none() -> Self {
        Self {
            prefix: None,
            bare_too: false,
        }
    }
}

/// One classified line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The echo of a command (this one or a stale one): skipped.
    Echo(String),
    /// An information line belonging to the answer.
    Info(String),
    /// An unsolicited result code (or an unexpected line), not part of the answer.
    Urc(String),
    /// A line too long to be anything but noise.
    Noise,
    /// The final result.
    Final(Final),
}

/// Classifies one line for a command `command` expecting `expect`.
pub fn classify(line: &str, command: &str, expect: &Expect) -> Line {
    if let Some(f) = parse_final(line) {
        return Line::Final(f);
    }
    if is_echo(line, command) {
        return Line::Echo(line.to_string());
    }
    if let Some(p) = &expect.prefix {
        if strip_prefix_ci(line, p).is_some() {
            return Line::Info(line.to_string());
        }
    }
    if is_known_urc(line) {
        return Line::Urc(line.to_string());
    }
    // "+XYZ: ..." that is not ours is someone else's indication.
    if (line.starts_with('+') || line.starts_with('#')) && line.contains(':') {
        return Line::Urc(line.to_string());
    }
    if expect.bare_too {
        Line::Info(line.to_string())
    } else {
        Line::Urc(line.to_string())
    }
}

/// A command echo: the command itself (possibly glued to noise before it), or what looks like
/// another command (a stale echo from one that timed out): `AT`, `AT` followed by an extended
/// command prefix (`+CSIM=...`, `&F`, `^SYSCFG`...), or a short basic command (`ATE0`, `ATZ`).
/// An answer line such as a manufacturer name starting with "AT" is not taken for one.
fn is_echo(line: &str, command: &str) -> bool {
    if !command.is_empty() && line.len() >= command.len() {
        let start = line.len() - command.len();
        if line
            .get(start..)
            .is_some_and(|tail| tail.eq_ignore_ascii_case(command))
        {
            return true;
        }
    }
    match strip_prefix_ci(line, "AT") {
        None => false,
        Some("") => true,
        Some(rest) => {
            rest.starts_with(['+', '&', '%', '$', '#', '^', '*'])
                || (rest.len() <= 2
                    && rest.bytes().all(|b| b.is_ascii_alphanumeric())
                    && rest.bytes().any(|b| b.is_ascii_digit() || rest.len() == 1))
        }
    }
}

/// The collected answer to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Information lines, in order, without echo and URCs.
    pub lines: Vec<String>,
    /// The final result.
    pub result: Final,
}

impl Answer {
    /// The first information line starting with `prefix` (case-insensitive), with the prefix and
    /// following spaces removed.
    pub fn value(&self, prefix: &str) -> Option<&str> {
        self.lines
            .iter()
            .find_map(|l| strip_prefix_ci(l, prefix).map(str::trim_start))
    }
}

/// Collects the answer to one command from the bytes that follow it.
#[derive(Debug, Clone)]
pub struct Collector {
    command: String,
    expect: Expect,
    splitter: LineSplitter,
    lines: Vec<String>,
    urcs: Vec<String>,
    done: Option<Final>,
}

impl Collector {
    /// A collector for `command` (as sent, without the trailing `\r`).
    pub fn new(command: &str, expect: Expect) -> Self {
        Self {
            command: command.trim().to_string(),
            expect,
            splitter: LineSplitter::new(),
            lines: Vec::new(),
            urcs: Vec::new(),
            done: None,
        }
    }

    /// Feeds bytes and returns how many were used. Parsing stops right after the line holding the
    /// final result; the bytes after it are left for the caller (unsolicited output that follows).
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        let mut out = Vec::new();
        let mut pos = 0;
        // One line (up to and including its terminator) at a time, so that parsing can stop
        // right after the final result.
        while let Some(rest) = bytes.get(pos..).filter(|r| !r.is_empty()) {
            if self.done.is_some() {
                return pos;
            }
            let n = rest
                .iter()
                .position(|&b| b == b'\r' || b == b'\n')
                .map_or(rest.len(), |i| i + 1);
            self.splitter.push(rest.get(..n).unwrap_or(rest), &mut out);
            pos += n;
            for l in out.drain(..) {
                self.take(l);
            }
        }
        bytes.len()
    }

    fn take(&mut self, l: SplitLine) {
        let text = match l {
            SplitLine::Text(t) => t,
            SplitLine::Overflow => {
                log::debug!("AT: dropped an overlong line");
                return;
            }
        };
        match classify(&text, &self.command, &self.expect) {
            Line::Echo(_) | Line::Noise => {}
            Line::Info(t) => self.lines.push(t),
            Line::Urc(t) => self.urcs.push(t),
            Line::Final(f) => self.done = Some(f),
        }
    }

    /// Whether the final result has arrived.
    pub fn is_done(&self) -> bool {
        self.done.is_some()
    }

    /// URCs seen since the last call.
    pub fn take_urcs(&mut self) -> Vec<String> {
        std::mem::take(&mut self.urcs)
    }

    /// The answer, once [`Collector::is_done`].
    pub fn answer(&self) -> Option<Answer> {
        self.done.clone().map(|result| Answer {
            lines: self.lines.clone(),
            result,
        })
    }
}

/// Parses a whole byte string as the answer to `command`: the entry point of the fuzz target.
/// Returns the answer (if a final result was found), the URCs and how many bytes were used.
pub fn parse_all(
    command: &str,
    expect: Expect,
    bytes: &[u8],
) -> (Option<Answer>, Vec<String>, usize) {
    let mut c = Collector::new(command, expect);
    let used = c.push(bytes);
    let urcs = c.take_urcs();
    (c.answer(), urcs, used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_results_are_recognised() {
        assert_eq!(parse_final("OK"), Some(Final::Ok));
        assert_eq!(parse_final("ERROR"), Some(Final::Failed(FinalError::Error)));
        assert_eq!(
            parse_final("+CME ERROR: 10"),
            Some(Final::Failed(FinalError::Cme {
                code: Some(10),
                text: "SIM not inserted".into()
            }))
        );
        assert_eq!(
            parse_final("+CME ERROR: SIM busy"),
            Some(Final::Failed(FinalError::Cme {
                code: Some(14),
                text: "SIM busy".into()
            }))
        );
        assert_eq!(
            parse_final("+CMS ERROR: 310"),
            Some(Final::Failed(FinalError::Cms {
                code: Some(310),
                text: "SIM not inserted".into()
            }))
        );
        assert_eq!(parse_final("+CSIM: 4,\"9000\""), None);
    }

    #[test]
    fn cme_error_displays_its_meaning() {
        let e = FinalError::Cme {
            code: Some(3),
            text: "operation not allowed".into(),
        };
        assert_eq!(e.to_string(), "+CME ERROR 3: operation not allowed");
    }

    #[test]
    fn answer_with_echo_and_urcs_between_lines() {
        let (a, urcs, _) = parse_all(
            "AT+CSIM=10,\"00C0000035\"",
            Expect::prefixed("+CSIM:"),
            b"AT+CSIM=10,\"00C0000035\"\r\r\n+CREG: 1,\"00C1\"\r\n+CSIM: 4,\"9000\"\r\nRING\r\n\r\nOK\r\n",
        );
        let a = a.expect("final result");
        assert_eq!(a.result, Final::Ok);
        assert_eq!(a.lines, vec!["+CSIM: 4,\"9000\""]);
        assert_eq!(urcs, vec!["+CREG: 1,\"00C1\"", "RING"]);
    }

    #[test]
    fn cpin_answer_is_info_for_cpin_query_but_urc_otherwise() {
        let (a, urcs, _) = parse_all(
            "AT+CPIN?",
            Expect::prefixed("+CPIN:"),
            b"\r\n+CPIN: READY\r\n\r\nOK\r\n",
        );
        assert_eq!(a.expect("final").lines, vec!["+CPIN: READY"]);
        assert!(urcs.is_empty());
        let (a, urcs, _) = parse_all(
            "AT+CIMI",
            Expect::bare(),
            b"\r\n+CPIN: READY\r\n001010123456789\r\nOK\r\n",
        );
        assert_eq!(a.expect("final").lines, vec!["001010123456789"]);
        assert_eq!(urcs, vec!["+CPIN: READY"]);
    }

    #[test]
    fn bare_commands_skip_known_urcs() {
        let (a, urcs, _) = parse_all(
            "AT+CGMI",
            Expect::bare(),
            b"\r\nRDY\r\n^SYSSTART\r\nQuectel\r\n+QIND: SMS DONE\r\nOK\r\n",
        );
        assert_eq!(a.expect("final").lines, vec!["Quectel"]);
        assert_eq!(urcs, vec!["RDY", "^SYSSTART", "+QIND: SMS DONE"]);
    }

    #[test]
    fn stops_at_the_final_result() {
        let bytes = b"\r\nOK\r\n\r\nRING\r\n";
        let (a, _, used) = parse_all("AT", Expect::none(), bytes);
        assert_eq!(a.expect("final").result, Final::Ok);
        // Parsing stops at the CR that ends "OK"; the rest belongs to what follows.
        assert_eq!(used, 5);
    }

    #[test]
    fn incomplete_answer_has_no_result() {
        let (a, _, _) = parse_all("AT+CIMI", Expect::bare(), b"\r\n001010123456789\r\nO");
        assert!(a.is_none());
    }

    #[test]
    fn answer_lines_starting_with_at_are_not_echo() {
        let (a, _, _) = parse_all(
            "AT+CGMI",
            Expect::bare(),
            b"ATEL Inc\r\nATZ\r\nAT+CSIM=4,\"00\"\r\nOK\r\n",
        );
        assert_eq!(a.expect("final").lines, vec!["ATEL Inc"]);
    }

    #[test]
    fn stale_echo_is_skipped() {
        let (a, _, _) = parse_all(
            "AT+CIMI",
            Expect::bare(),
            b"ATE0\r\n\r\n001010123456789\r\nOK\r\n",
        );
        assert_eq!(a.expect("final").lines, vec!["001010123456789"]);
    }

    #[test]
    fn value_strips_prefix() {
        let a = Answer {
            lines: vec!["+CCHO: 7".into()],
            result: Final::Ok,
        };
        assert_eq!(a.value("+CCHO:"), Some("7"));
        assert_eq!(a.value("+CGLA:"), None);
    }
}
