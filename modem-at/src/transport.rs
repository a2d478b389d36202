//! What the AT channel runs over: a byte transport (a serial port in production, an in-memory
//! fake in tests), a connector that (re)opens it, and a clock.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A byte stream to a modem. Reads must not block forever: after the read timeout they fail with
/// [`io::ErrorKind::TimedOut`] or [`io::ErrorKind::WouldBlock`]. Any other error (or a read of
/// zero bytes) means the device is gone.
pub trait Transport: Read + Write + Send {
    /// Sets how long one `read` waits for the first byte.
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()>;

    /// Drops whatever input is buffered but not yet read (best effort).
    fn discard_input(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// (Re)opens the transport: the channel calls it at start and after the device disappeared.
pub trait Connector: Send {
    /// Opens a fresh transport.
    fn connect(&mut self) -> io::Result<Box<dyn Transport>>;

    /// What is being connected to (the device path), for messages.
    fn describe(&self) -> String;
}

/// A clock, so that timeouts can be tested on virtual time.
pub trait Clock: Send {
    /// The current instant.
    fn now(&self) -> Instant;

    /// Waits (or, for a virtual clock, advances) by `d`.
    fn sleep(&self, d: Duration);
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// A serial port opened through the `serialport` crate.
pub struct SerialTransport {
    port: Box<dyn serialport::SerialPort>,
}

impl Read for SerialTransport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.port.read(buf)
    }
}

impl Write for SerialTransport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.port.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.port.flush()
    }
}

impl Transport for SerialTransport {
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.port.set_timeout(timeout).map_err(io::Error::from)
    }

    fn discard_input(&mut self) -> io::Result<()> {
        self.port
            .clear(serialport::ClearBuffer::Input)
            .map_err(io::Error::from)
    }
}

/// Opens a serial device by path (`/dev/ttyUSB2`, `/dev/serial/by-id/...`, a pty).
///
/// The path is opened anew on every connect, so a stable symlink keeps working when the device
/// behind it is re-enumerated under another name.
#[derive(Debug, Clone)]
pub struct SerialConnector {
    path: PathBuf,
    baud: u32,
}

impl SerialConnector {
    /// A connector for `path` at `baud` bits per second (8N1, no flow control).
    pub fn new(path: impl AsRef<Path>, baud: u32) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            baud,
        }
    }
}

impl Connector for SerialConnector {
    fn connect(&mut self) -> io::Result<Box<dyn Transport>> {
        let path = self.path.to_string_lossy().into_owned();
        let port = serialport::new(path, self.baud)
            .timeout(Duration::from_millis(20))
            .flow_control(serialport::FlowControl::None)
            .open()
            .map_err(|e| {
                let busy = e.to_string().to_ascii_lowercase().contains("lock");
                let e = io::Error::from(e);
                if busy {
                    // The usual cause on a gateway: ModemManager owns the AT port.
                    io::Error::new(
                        e.kind(),
                        format!("{e} (is another program, e.g. ModemManager, using the port?)"),
                    )
                } else {
                    e
                }
            })?;
        let mut t = SerialTransport { port };
        // Whatever the device said before we opened it belongs to nobody.
        let _ = t.discard_input();
        Ok(Box::new(t))
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
