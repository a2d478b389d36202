//! The AT command channel: sends one command at a time and collects its answer over a
//! [`Transport`], handing unsolicited result codes to a callback, enforcing per-command timeouts,
//! resynchronising after garbage or a timeout and reopening the device when it disappears.

use crate::error::AtError;
use crate::response::{Answer, Collector, Expect, Final};
use crate::transport::{Clock, Connector, SystemClock, Transport};
use std::io::{self, ErrorKind};
use std::time::Duration;

/// Settings of an [`AtChannel`].
#[derive(Debug, Clone)]
pub struct AtConfig {
    /// Default time a command may take to reach its final result.
    pub command_timeout: Duration,
    /// Granularity of reads (how often the deadline is checked).
    pub poll: Duration,
    /// How long to keep trying to reopen a device that disappeared.
    pub reconnect_timeout: Duration,
    /// Pause between two reopen attempts.
    pub reconnect_interval: Duration,
    /// `AT` attempts when resynchronising.
    pub resync_attempts: u32,
    /// Timeout of each resynchronisation `AT`.
    pub resync_timeout: Duration,
    /// Silence that counts as "the modem has finished talking" when draining stale output.
    pub quiet: Duration,
    /// Send `ATE0` after connecting (echo is coped with either way).
    pub echo_off: bool,
}

impl Default for AtConfig {
    fn default() -> Self {
        Self {
            command_timeout: Duration::from_secs(5),
            poll: Duration::from_millis(20),
            reconnect_timeout: Duration::from_secs(15),
            reconnect_interval: Duration::from_millis(200),
            resync_attempts: 3,
            resync_timeout: Duration::from_millis(1000),
            quiet: Duration::from_millis(30),
            echo_off: true,
        }
    }
}

/// Something the channel reports besides answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    /// An unsolicited result code (or a line that belonged to no command).
    Urc(String),
    /// The device disappeared; the reason the transport gave.
    Disconnected(String),
    /// The device was reopened and initialised; the new connection generation.
    Reconnected(u64),
    /// The channel resynchronised after a timeout or garbage.
    Resynced,
}

type EventHandler = Box<dyn FnMut(&ChannelEvent) + Send>;

/// An AT command channel. One command at a time; not shared between threads without a lock.
pub struct AtChannel {
    connector: Box<dyn Connector>,
    transport: Option<Box<dyn Transport>>,
    clock: Box<dyn Clock>,
    cfg: AtConfig,
    on_event: Option<EventHandler>,
    needs_resync: bool,
    generation: u64,
    device: String,
}

impl std::fmt::Debug for AtChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtChannel")
            .field("device", &self.device)
            .field("connected", &self.transport.is_some())
            .field("generation", &self.generation)
            .finish()
    }
}

/// Shortens a command for messages and logs: long hex payloads are cut after the APDU header.
pub fn short_command(cmd: &str) -> String {
    const KEEP: usize = 24;
    if cmd.len() <= KEEP + 8 {
        return cmd.to_string();
    }
    let head: String = cmd.chars().take(KEEP).collect();
    format!("{head}…({} chars)", cmd.len())
}

fn is_quiet(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::TimedOut | ErrorKind::WouldBlock | ErrorKind::Interrupted
    )
}

impl AtChannel {
    /// Opens the device through `connector` and initialises it (resync, `ATE0`, `AT+CMEE=1`).
    pub fn open(connector: Box<dyn Connector>, cfg: AtConfig) -> Result<Self, AtError> {
        Self::open_with_clock(connector, cfg, Box::new(SystemClock))
    }

    /// [`AtChannel::open`] on a given clock (virtual time in tests).
    pub fn open_with_clock(
        mut connector: Box<dyn Connector>,
        cfg: AtConfig,
        clock: Box<dyn Clock>,
    ) -> Result<Self, AtError> {
        let device = connector.describe();
        let transport = connector.connect().map_err(|source| AtError::Open {
            device: device.clone(),
            source,
        })?;
        let mut ch = Self {
            connector,
            transport: Some(transport),
            clock,
            cfg,
            on_event: None,
            needs_resync: false,
            generation: 1,
            device,
        };
        ch.init()?;
        Ok(ch)
    }

    /// Installs the callback that receives URCs and connection events.
    pub fn set_event_handler(&mut self, f: impl FnMut(&ChannelEvent) + Send + 'static) {
        self.on_event = Some(Box::new(f));
    }

    /// The connection generation: 1 after opening, +1 after each reconnect. A change tells SIM
    /// access that the modem (and the card behind it) was reset: logical channels are gone.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The device path (or what the connector calls it).
    pub fn device(&self) -> &str {
        &self.device
    }

    /// False after a timeout or garbage, until the next command has resynchronised.
    pub fn in_step(&self) -> bool {
        !self.needs_resync
    }

    /// Whether the transport is currently open.
    pub fn is_connected(&self) -> bool {
        self.transport.is_some()
    }

    /// The settings.
    pub fn config(&self) -> &AtConfig {
        &self.cfg
    }

    /// Sends `cmd` (without `\r`) and waits for its final result with the default timeout.
    /// `OK` gives the answer; a failure result gives [`AtError::Command`].
    pub fn command(&mut self, cmd: &str, expect: Expect) -> Result<Answer, AtError> {
        let t = self.cfg.command_timeout;
        self.command_timeout(cmd, expect, t)
    }

    /// [`AtChannel::command`] with an explicit timeout.
    pub fn command_timeout(
        &mut self,
        cmd: &str,
        expect: Expect,
        timeout: Duration,
    ) -> Result<Answer, AtError> {
        let label = short_command(cmd);
        self.command_labelled(cmd, &label, expect, timeout)
    }

    /// [`AtChannel::command_timeout`] that names the command `label` in logs and errors, for
    /// commands whose full text must not be logged (an APDU may carry a PIN).
    pub fn command_labelled(
        &mut self,
        cmd: &str,
        label: &str,
        expect: Expect,
        timeout: Duration,
    ) -> Result<Answer, AtError> {
        if cmd
            .bytes()
            .any(|b| b == b'\r' || b == b'\n' || !(0x20..=0x7e).contains(&b))
        {
            return Err(AtError::Invalid(format!(
                "command {label} contains a control or non-ASCII character"
            )));
        }
        self.ensure_connected()?;
        if self.needs_resync {
            self.resync()?;
        }
        let answer = self.exchange(cmd, label, expect, timeout)?;
        match answer.result {
            Final::Ok => Ok(answer),
            Final::Failed(error) => Err(AtError::Command {
                command: label.to_string(),
                error,
            }),
        }
    }

    /// Sends a command that answers only `OK`.
    pub fn ok(&mut self, cmd: &str) -> Result<(), AtError> {
        self.command(cmd, Expect::none()).map(|_| ())
    }

    /// Closes the device now and reopens it (with the reconnect timeout).
    pub fn reconnect(&mut self) -> Result<(), AtError> {
        self.transport = None;
        self.ensure_connected()
    }

    fn emit(&mut self, ev: ChannelEvent) {
        match &ev {
            ChannelEvent::Urc(u) => log::debug!("AT urc {u}"),
            other => log::info!("AT {}: {other:?}", self.device),
        }
        if let Some(f) = self.on_event.as_mut() {
            f(&ev);
        }
    }

    fn lost(&mut self, e: &io::Error) -> AtError {
        let reason = if e.kind() == ErrorKind::UnexpectedEof {
            "end of stream".to_string()
        } else {
            e.to_string()
        };
        self.transport = None;
        self.emit(ChannelEvent::Disconnected(reason.clone()));
        AtError::Disconnected {
            device: self.device.clone(),
            reason,
        }
    }

    /// Reopens the device if it went away (retrying for the reconnect timeout); a no-op while
    /// connected. Callers that keep card state check [`AtChannel::generation`] afterwards.
    pub fn ensure_connected(&mut self) -> Result<(), AtError> {
        if self.transport.is_some() {
            return Ok(());
        }
        let start = self.clock.now();
        let mut last;
        loop {
            match self.connector.connect() {
                Ok(t) => {
                    self.transport = Some(t);
                    self.generation += 1;
                    match self.init() {
                        Ok(()) => {
                            let g = self.generation;
                            self.emit(ChannelEvent::Reconnected(g));
                            return Ok(());
                        }
                        // Flapping device: it vanished again while we initialised it.
                        Err(AtError::Disconnected { reason, .. }) => last = reason,
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => last = e.to_string(),
            }
            if self.clock.now().duration_since(start) >= self.cfg.reconnect_timeout {
                return Err(AtError::Gone {
                    device: self.device.clone(),
                    ms: self.cfg.reconnect_timeout.as_millis() as u64,
                    last,
                });
            }
            self.clock.sleep(self.cfg.reconnect_interval);
        }
    }

    /// Brings a freshly opened modem into a known state.
    fn init(&mut self) -> Result<(), AtError> {
        self.resync()?;
        if self.cfg.echo_off {
            if let Err(e) = self.exchange("ATE0", "ATE0", Expect::none(), self.cfg.resync_timeout) {
                log::debug!("ATE0: {e}");
                if matches!(e, AtError::Disconnected { .. }) {
                    return Err(e);
                }
            }
        }
        // Numeric CME errors, so that we can give their meaning; some modems refuse it: fine.
        match self.exchange(
            "AT+CMEE=1",
            "AT+CMEE=1",
            Expect::none(),
            self.cfg.resync_timeout,
        ) {
            Err(e @ AtError::Disconnected { .. }) => Err(e),
            _ => Ok(()),
        }
    }

    /// Gets back in step with the modem: ends any partial command line, lets stale output drain,
    /// then waits for an `OK` to a plain `AT`.
    pub fn resync(&mut self) -> Result<(), AtError> {
        for attempt in 1..=self.cfg.resync_attempts {
            self.write_raw(b"\r")?;
            self.drain_quiet()?;
            match self.exchange("AT", "AT", Expect::none(), self.cfg.resync_timeout) {
                Ok(a) if a.result == Final::Ok => {
                    self.drain_quiet()?;
                    if self.needs_resync {
                        self.needs_resync = false;
                        self.emit(ChannelEvent::Resynced);
                    }
                    return Ok(());
                }
                Ok(a) => log::debug!("resync attempt {attempt}: AT gave {:?}", a.result),
                Err(e @ AtError::Disconnected { .. }) => return Err(e),
                Err(e) => log::debug!("resync attempt {attempt}: {e}"),
            }
        }
        self.needs_resync = true;
        Err(AtError::NotResponding {
            device: self.device.clone(),
            attempts: self.cfg.resync_attempts,
        })
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<(), AtError> {
        let Some(t) = self.transport.as_mut() else {
            return Err(AtError::Disconnected {
                device: self.device.clone(),
                reason: "not open".into(),
            });
        };
        // Serial ports share one timeout between reads and writes: a write gets the resync
        // timeout, not whatever the last read used (possibly zero). No flush: on a tty it is
        // tcdrain, which has no timeout and could wait forever on a stuck device.
        let wait = self.cfg.resync_timeout;
        let r = t.set_read_timeout(wait).and_then(|()| t.write_all(bytes));
        match r {
            Ok(()) => Ok(()),
            Err(e) if is_quiet(&e) => {
                self.needs_resync = true;
                Err(AtError::Timeout {
                    command: "(the modem does not take input)".into(),
                    ms: wait.as_millis() as u64,
                })
            }
            Err(e) => Err(self.lost(&e)),
        }
    }

    /// Reads once, waiting at most `wait`. `Ok(None)` = nothing arrived.
    fn read_some(&mut self, buf: &mut [u8], wait: Duration) -> Result<Option<usize>, AtError> {
        let Some(t) = self.transport.as_mut() else {
            return Err(AtError::Disconnected {
                device: self.device.clone(),
                reason: "not open".into(),
            });
        };
        let r = t.set_read_timeout(wait).and_then(|()| t.read(buf));
        match r {
            Ok(0) => Err(self.lost(&io::Error::from(ErrorKind::UnexpectedEof))),
            Ok(n) => Ok(Some(n)),
            Err(e) if is_quiet(&e) => Ok(None),
            Err(e) => Err(self.lost(&e)),
        }
    }

    /// Reads until the line has been silent for `quiet` (bounded by the resync timeout), handing
    /// URCs out and dropping stale answers.
    fn drain_quiet(&mut self) -> Result<(), AtError> {
        let start = self.clock.now();
        let mut buf = [0u8; 512];
        let mut stale = Collector::new("", Expect::none());
        loop {
            let got = self.read_some(&mut buf, self.cfg.quiet)?;
            let Some(n) = got else { break };
            let mut rest = buf.get(..n).unwrap_or_default();
            while !rest.is_empty() {
                let used = stale.push(rest);
                rest = rest.get(used..).unwrap_or_default();
                if let Some(a) = stale.answer() {
                    log::debug!(
                        "dropped a stale answer ({} lines, {:?})",
                        a.lines.len(),
                        a.result
                    );
                    stale = Collector::new("", Expect::none());
                }
            }
            if self.clock.now().duration_since(start) >= self.cfg.resync_timeout {
                break;
            }
        }
        for u in stale.take_urcs() {
            self.emit(ChannelEvent::Urc(u));
        }
        Ok(())
    }

    /// Writes one command and collects its answer (whatever the final result).
    fn exchange(
        &mut self,
        cmd: &str,
        label: &str,
        expect: Expect,
        timeout: Duration,
    ) -> Result<Answer, AtError> {
        // URCs that arrived while idle are handed out first, not mistaken for this answer; a line
        // still incomplete is the start of what follows and goes to the collector.
        let partial = self.drain_idle()?;
        log::debug!("AT> {label}");
        let mut line = Vec::with_capacity(cmd.len() + 1);
        line.extend_from_slice(cmd.as_bytes());
        line.push(b'\r');
        self.write_raw(&line)?;
        let mut c = Collector::new(cmd, expect);
        c.push(&partial);
        let start = self.clock.now();
        let mut buf = [0u8; 1024];
        loop {
            let elapsed = self.clock.now().duration_since(start);
            if elapsed >= timeout {
                for u in c.take_urcs() {
                    self.emit(ChannelEvent::Urc(u));
                }
                self.needs_resync = true;
                return Err(AtError::Timeout {
                    command: label.to_string(),
                    ms: timeout.as_millis() as u64,
                });
            }
            let wait = (timeout - elapsed).min(self.cfg.poll);
            let Some(n) = self.read_some(&mut buf, wait)? else {
                continue;
            };
            let chunk = buf.get(..n).unwrap_or_default();
            let used = c.push(chunk);
            for u in c.take_urcs() {
                self.emit(ChannelEvent::Urc(u));
            }
            if let Some(a) = c.answer() {
                if used < chunk.len() {
                    // Output after the final result: unsolicited, parse it as such.
                    let tail = chunk.get(used..).unwrap_or_default().to_vec();
                    self.idle_bytes(&tail);
                }
                log::debug!("AT< {} info line(s), {:?}", a.lines.len(), a.result);
                return Ok(a);
            }
        }
    }

    fn idle_bytes(&mut self, bytes: &[u8]) {
        let (a, urcs, _) = crate::response::parse_all("", Expect::none(), bytes);
        for u in urcs {
            self.emit(ChannelEvent::Urc(u));
        }
        if a.is_some() {
            log::debug!("dropped a final result that followed another");
        }
    }

    /// Reads whatever is already waiting, without waiting for more. Complete lines are handled
    /// as unsolicited output; the unterminated rest is returned.
    fn drain_idle(&mut self) -> Result<Vec<u8>, AtError> {
        let mut buf = [0u8; 512];
        let mut pending = Vec::new();
        // Bounded: a babbling modem cannot keep us here.
        for _ in 0..64 {
            match self.read_some(&mut buf, Duration::ZERO)? {
                Some(n) => pending.extend_from_slice(buf.get(..n).unwrap_or_default()),
                None => break,
            }
        }
        let cut = pending
            .iter()
            .rposition(|&b| b == b'\r' || b == b'\n')
            .map_or(0, |i| i + 1);
        let tail = pending.split_off(cut);
        if !pending.is_empty() {
            self.idle_bytes(&pending);
        }
        Ok(tail)
    }
}
