//! An in-memory modem for unit tests: scripted answers, echo, stalls, garbage, reboots, and a
//! virtual clock so that timeouts cost no wall time.

use crate::transport::{Clock, Connector, Transport};
use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Answers one command line: `Some(bytes)` to send back, `None` to say nothing (a stall).
pub type Responder = Box<dyn FnMut(&str) -> Option<Vec<u8>> + Send>;

pub struct State {
    pub to_host: VecDeque<u8>,
    partial: Vec<u8>,
    responder: Responder,
    pub echo: bool,
    pub commands: Vec<String>,
    pub conn_id: u64,
    pub connect_failures: u32,
    pub now: Duration,
    /// Largest chunk a read returns (answers arrive split).
    pub chunk: usize,
}

#[derive(Clone)]
pub struct Fake(pub Arc<Mutex<State>>);

pub fn ok(body: &str) -> Option<Vec<u8>> {
    Some(format!("{body}\r\nOK\r\n").into_bytes())
}

impl Fake {
    pub fn new(responder: impl FnMut(&str) -> Option<Vec<u8>> + Send + 'static) -> Self {
        Fake(Arc::new(Mutex::new(State {
            to_host: VecDeque::new(),
            partial: Vec::new(),
            responder: Box::new(responder),
            echo: true,
            commands: Vec::new(),
            conn_id: 0,
            connect_failures: 0,
            now: Duration::ZERO,
            chunk: 7,
        })))
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn connector(&self) -> Box<dyn Connector> {
        Box::new(FakeConnector(self.clone()))
    }

    pub fn clock(&self) -> Box<dyn Clock> {
        Box::new(FakeClock {
            fake: self.clone(),
            base: Instant::now(),
        })
    }

    /// Simulates a reboot: open transports die; the next `failures` opens fail.
    pub fn reboot(&self, failures: u32) {
        let mut s = self.lock();
        s.conn_id += 1;
        s.connect_failures = failures;
        s.to_host.clear();
        s.partial.clear();
        s.echo = true;
    }

    pub fn inject(&self, bytes: &[u8]) {
        self.lock().to_host.extend(bytes.iter().copied());
    }

    pub fn commands(&self) -> Vec<String> {
        self.lock().commands.clone()
    }
}

struct FakeConnector(Fake);

impl Connector for FakeConnector {
    fn connect(&mut self) -> io::Result<Box<dyn Transport>> {
        let mut s = self.0.lock();
        if s.connect_failures > 0 {
            s.connect_failures -= 1;
            return Err(io::Error::new(ErrorKind::NotFound, "no such device"));
        }
        let id = s.conn_id;
        Ok(Box::new(FakeTransport {
            fake: self.0.clone(),
            id,
            timeout: Duration::from_millis(20),
        }))
    }

    fn describe(&self) -> String {
        "fake".into()
    }
}

struct FakeTransport {
    fake: Fake,
    id: u64,
    timeout: Duration,
}

impl Read for FakeTransport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = self.fake.lock();
        if s.conn_id != self.id {
            return Err(io::Error::new(ErrorKind::BrokenPipe, "device vanished"));
        }
        if s.to_host.is_empty() {
            s.now += self.timeout;
            return Err(io::Error::new(ErrorKind::TimedOut, "timed out"));
        }
        let n = buf.len().min(s.chunk).min(s.to_host.len());
        for slot in buf.iter_mut().take(n) {
            *slot = s.to_host.pop_front().unwrap_or(0);
        }
        Ok(n)
    }
}

impl Write for FakeTransport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut s = self.fake.lock();
        if s.conn_id != self.id {
            return Err(io::Error::new(ErrorKind::BrokenPipe, "device vanished"));
        }
        for &b in buf {
            if b == b'\r' {
                let line = String::from_utf8_lossy(&s.partial).into_owned();
                s.partial.clear();
                if s.echo {
                    let e = format!("{line}\r");
                    s.to_host.extend(e.bytes());
                }
                if line.trim().is_empty() {
                    continue;
                }
                s.commands.push(line.clone());
                let reply = match line.as_str() {
                    "ATE0" => {
                        s.echo = false;
                        ok("")
                    }
                    "ATE1" => {
                        s.echo = true;
                        ok("")
                    }
                    _ => (s.responder)(&line),
                };
                if let Some(r) = reply {
                    s.to_host.extend(b"\r\n".iter().copied());
                    s.to_host.extend(r);
                }
            } else {
                s.partial.push(b);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for FakeTransport {
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.timeout = timeout;
        Ok(())
    }
}

struct FakeClock {
    fake: Fake,
    base: Instant,
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        self.base + self.fake.lock().now
    }

    fn sleep(&self, d: Duration) {
        self.fake.lock().now += d;
    }
}
