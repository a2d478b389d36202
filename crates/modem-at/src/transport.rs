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
                    io::Error::new(e.kind(), format!("{e} ({})", busy_hint(&self.path)))
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

/// Says who holds a locked port, so the hint fits: another simbridge (a second gateway, a
/// `sim` command next to a running gateway) needs a different fix than ModemManager.
fn busy_hint(path: &Path) -> String {
    let holders = port_holders(path);
    let simbridge: Vec<&(u32, String)> = holders
        .iter()
        .filter(|(_, name)| name.starts_with("simbridge"))
        .collect();
    let list = |hs: &[&(u32, String)]| {
        hs.iter()
            .map(|(pid, name)| format!("pid {pid}, {name}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    if !simbridge.is_empty() {
        return format!(
            "the port is held by another simbridge process ({}): stop it, or let only one simbridge use the modem",
            list(&simbridge)
        );
    }
    if let Some((pid, name)) = holders.iter().find(|(_, n)| n.contains("ModemManager")) {
        return format!(
            "the port is held by ModemManager (pid {pid}, {name}): stop it or make it ignore this modem (udev ID_MM_DEVICE_IGNORE)"
        );
    }
    if !holders.is_empty() {
        let all: Vec<&(u32, String)> = holders.iter().collect();
        return format!("the port is held by {}", list(&all));
    }
    // Processes of other users cannot be seen: the usual holders on a gateway.
    "another program holds the port: ModemManager, or another simbridge? `fuser -v PORT` shows which"
        .into()
}

/// The processes that hold the port's lock (from /proc/locks), else every other process that
/// has it open (a virtual modem keeps its pty's far end open without locking it); empty where
/// /proc cannot tell. Each with the program name and, for simbridge, its subcommand.
fn port_holders(path: &Path) -> Vec<(u32, String)> {
    let Ok(target) = std::fs::canonicalize(path) else {
        return Vec::new();
    };
    let me = std::process::id();
    let lockers = lock_holders(&target);
    if !lockers.is_empty() {
        return lockers
            .into_iter()
            .filter(|pid| *pid != me)
            .map(|pid| (pid, program_of(&Path::new("/proc").join(pid.to_string()))))
            .collect();
    }
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == target));
        if holds {
            out.push((pid, program_of(&entry.path())));
        }
    }
    out
}

/// Pids with a flock on the file (lines `N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE ...`).
fn lock_holders(target: &Path) -> Vec<u32> {
    use std::os::unix::fs::MetadataExt;
    let (Ok(meta), Ok(locks)) = (
        std::fs::metadata(target),
        std::fs::read_to_string("/proc/locks"),
    ) else {
        return Vec::new();
    };
    let dev = meta.dev();
    let (major, minor) = (
        ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff),
        (dev & 0xff) | ((dev >> 12) & !0xff),
    );
    let want = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let mut pids: Vec<u32> = locks
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // A blocked waiter's line has "->" after the number; it holds nothing.
            (f.get(1) == Some(&"FLOCK") && f.get(5) == Some(&want.as_str()))
                .then(|| f.get(4).and_then(|p| p.parse().ok()))
                .flatten()
        })
        .collect();
    pids.dedup();
    pids
}

/// "simbridge bridge", "ModemManager", "minicom": argv[0]'s file name (plus argv[1] for simbridge).
fn program_of(proc_dir: &Path) -> String {
    let cmdline = std::fs::read(proc_dir.join("cmdline")).unwrap_or_default();
    let mut args = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned());
    let prog = args
        .next()
        .map(|a| a.rsplit('/').next().unwrap_or_default().to_string())
        .filter(|a| !a.is_empty())
        .or_else(|| {
            std::fs::read_to_string(proc_dir.join("comm"))
                .ok()
                .map(|c| c.trim().to_string())
        })
        .unwrap_or_else(|| "unknown program".into());
    match args.next() {
        Some(sub) if prog == "simbridge" && !sub.starts_with('-') => format!("{prog} {sub}"),
        _ => prog,
    }
}
