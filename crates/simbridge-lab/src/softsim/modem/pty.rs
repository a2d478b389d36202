//! The virtual modem's I/O: a pseudo-terminal whose slave side is the "device", a loop that feeds
//! the AT interpreter, URC noise, and lab controls (reboot, stall) for robustness tests.

use super::server::{AtServer, Reply};
use serialport::{SerialPort, TTYPort};
use simbridge::card::CardChannel;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

/// Errors of the virtual modem.
#[derive(Debug, thiserror::Error)]
pub enum VirtualModemError {
    /// The pseudo-terminal could not be created.
    #[error("cannot create a pty: {0}")]
    Pty(String),
    /// The `--link` symlink could not be made.
    #[error("cannot make the link {path}: {source}")]
    Link {
        /// The link path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Something that is not a link this modem made is at the `--link` path: it is left alone.
    #[error(
        "--link {path}: {what} is already there and is not a link a virtual modem made; remove it or choose another path"
    )]
    LinkOccupied {
        /// The link path.
        path: PathBuf,
        /// What is there.
        what: String,
    },
    /// Writing the device path to stdout failed.
    #[error("cannot print the device path: {0}")]
    Stdout(io::Error),
}

/// A lab control (from `--control-stdin`), to make the modem misbehave on purpose. Each is
/// acknowledged on stdout with `control: NAME` once it took effect (for a reboot: once the old
/// device is gone; the new device path follows on the next line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Close the pty, wait, open a new one (a new device path; the link follows it).
    Reboot(Duration),
    /// Stop answering: commands get their echo and information lines but no final result.
    Stall,
    /// Stop answering from the first command line containing this text (upper case) on.
    StallOn(String),
    /// Answer again.
    Resume,
    /// Send noise bytes now.
    Garbage,
    /// Print the strict-mode counters (`strict: resets=N cla_mistakes=M`) before the ack.
    Stats,
    /// Exit the serve loop.
    Quit,
}

impl Control {
    /// Parses one control line: `reboot [MS]`, `stall`, `stall-on TEXT`, `resume`, `garbage`,
    /// `stats`, `quit`.
    pub fn parse(line: &str) -> Option<Self> {
        let mut w = line.split_whitespace();
        match w.next()? {
            "reboot" => {
                let ms = w.next().and_then(|m| m.parse().ok()).unwrap_or(300);
                Some(Control::Reboot(Duration::from_millis(ms)))
            }
            "stall" => Some(Control::Stall),
            "stall-on" => w.next().map(|t| Control::StallOn(t.to_ascii_uppercase())),
            "resume" => Some(Control::Resume),
            "garbage" => Some(Control::Garbage),
            "stats" => Some(Control::Stats),
            "quit" => Some(Control::Quit),
            _ => None,
        }
    }
}

/// Options of the serve loop.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Make a symlink to the device at this path (moved atomically on every reboot; refused
    /// when something else is there; removed when the modem stops).
    pub link: Option<PathBuf>,
    /// Inject URCs at random moments, also between an answer's lines.
    pub urc_noise: bool,
    /// Seed of the noise generator (0 = from the clock).
    pub seed: u64,
    /// Set (by a signal handler) to stop the loop; the link is removed on the way out.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

struct Pty {
    master: TTYPort,
    // Held open so that the master does not see a hang-up while no host has the device open.
    _slave: TTYPort,
    path: String,
}

/// The `--link` symlink this modem made: created only where nothing is, or over a dangling link
/// into `/dev/pts` (a virtual modem that died without cleaning up), moved only while it is still
/// ours, and removed when the modem stops (if it still points at our device).
struct LinkGuard {
    path: PathBuf,
    target: Option<PathBuf>,
    /// Removed while the device is away (a reboot), as udev removes a by-id link.
    withdrawn: bool,
}

impl LinkGuard {
    /// Checks that `path` is free (or a stale virtual-modem link).
    fn claim(path: &Path) -> Result<Self, VirtualModemError> {
        let occupied = |what: String| VirtualModemError::LinkOccupied {
            path: path.to_path_buf(),
            what,
        };
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(VirtualModemError::Link {
                    path: path.to_path_buf(),
                    source,
                });
            }
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(path).unwrap_or_default();
                let stale = target.starts_with("/dev/pts/") && !target.exists();
                if !stale {
                    return Err(occupied(format!("a link to {}", target.display())));
                }
                log::info!(
                    "--link {}: replacing a stale link to {}",
                    path.display(),
                    target.display()
                );
            }
            Ok(m) if m.is_dir() => return Err(occupied("a directory".into())),
            Ok(_) => return Err(occupied("a file".into())),
        }
        Ok(Self {
            path: path.to_path_buf(),
            target: None,
            withdrawn: false,
        })
    }

    /// Whether the path still holds our link (or, before the first one, what `claim` allowed;
    /// while withdrawn, nothing).
    fn still_ours(&self) -> bool {
        if self.withdrawn {
            return std::fs::symlink_metadata(&self.path)
                .is_err_and(|e| e.kind() == io::ErrorKind::NotFound);
        }
        match &self.target {
            Some(t) => std::fs::read_link(&self.path).is_ok_and(|x| &x == t),
            None => true,
        }
    }

    /// Removes the link while the device is away. Left in place, it would dangle into
    /// `/dev/pts`, whose freed number the next pty anywhere on the machine may take: a host
    /// polling the link would then open (and lock) someone else's device.
    fn withdraw(&mut self) -> Result<(), VirtualModemError> {
        if self.target.is_none() || self.withdrawn || !self.still_ours() {
            return Ok(());
        }
        std::fs::remove_file(&self.path).map_err(|source| VirtualModemError::Link {
            path: self.path.clone(),
            source,
        })?;
        self.withdrawn = true;
        Ok(())
    }

    /// Points the link at `target` (the current device).
    fn point_at(&mut self, target: &Path) -> Result<(), VirtualModemError> {
        if !self.still_ours() {
            return Err(VirtualModemError::LinkOccupied {
                path: self.path.clone(),
                what: "something put there by someone else meanwhile".into(),
            });
        }
        relink(&self.path, target).map_err(|source| VirtualModemError::Link {
            path: self.path.clone(),
            source,
        })?;
        self.target = Some(target.to_path_buf());
        self.withdrawn = false;
        Ok(())
    }
}

impl Drop for LinkGuard {
    fn drop(&mut self) {
        if self.target.is_some() && !self.withdrawn && self.still_ours() {
            if let Err(e) = std::fs::remove_file(&self.path) {
                log::warn!("--link {}: cannot remove it: {e}", self.path.display());
            }
        }
    }
}

fn open_pty(link: Option<&mut LinkGuard>) -> Result<Pty, VirtualModemError> {
    let (mut master, slave) = TTYPort::pair().map_err(|e| VirtualModemError::Pty(e.to_string()))?;
    master
        .set_timeout(Duration::from_millis(10))
        .map_err(|e| VirtualModemError::Pty(e.to_string()))?;
    let path = slave
        .name()
        .ok_or_else(|| VirtualModemError::Pty("the pty slave has no name".into()))?;
    if let Some(link) = link {
        link.point_at(Path::new(&path))?;
    }
    Ok(Pty {
        master,
        _slave: slave,
        path,
    })
}

/// Points `link` at `target`, atomically (a new symlink renamed over the old one).
fn relink(link: &Path, target: &Path) -> io::Result<()> {
    let mut tmp = link.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, link)
}

/// A small xorshift generator: the noise needs to be irregular, not unpredictable.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.next() % one_in == 0
    }

    fn urc(&mut self) -> &'static str {
        const URCS: &[&str] = &[
            "+CREG: 1",
            "+CEREG: 5,\"00C3\",\"01A2D001\",7",
            "RING",
            "+QIND: SMS DONE",
            "^SYSSTART",
            "+CPIN: READY",
            "RDY",
            "+CGREG: 1",
            "+QIND: \"csq\",20,99",
        ];
        let i = (self.next() % URCS.len() as u64) as usize;
        URCS.get(i).copied().unwrap_or("RING")
    }
}

/// Runs the virtual modem: creates the pty, prints its path as the first line of `out`, then
/// answers AT commands until `controls` says quit (or forever when it is disconnected).
pub fn serve<C: CardChannel>(
    server: &mut AtServer<C>,
    opts: &ServeOptions,
    out: &mut dyn Write,
    controls: Receiver<Control>,
) -> Result<(), VirtualModemError> {
    let mut link = opts.link.as_deref().map(LinkGuard::claim).transpose()?;
    let pty = open_pty(link.as_mut())?;
    announce(out, &pty.path)?;
    let mut m = Modem {
        pty,
        link,
        noise: Noise(noise_seed(opts.seed)),
        stalled: false,
        stall_on: None,
    };
    let mut controls_open = true;
    let mut next_idle_urc = Instant::now() + Duration::from_millis(100);
    let mut buf = [0u8; 4096];
    loop {
        if opts
            .stop
            .as_ref()
            .is_some_and(|f| f.load(std::sync::atomic::Ordering::SeqCst))
        {
            log::info!("virtual modem: stopping");
            return Ok(());
        }
        while controls_open {
            match controls.try_recv() {
                Ok(Control::Quit) => return Ok(()),
                Ok(c) => m.control(server, out, c)?,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => controls_open = false,
            }
        }
        m.read_host(server, opts, &mut buf);
        if opts.urc_noise && Instant::now() >= next_idle_urc {
            let line = format!("\r\n{}\r\n", m.noise.urc());
            write_best_effort(&mut m.pty.master, line.as_bytes());
            next_idle_urc = Instant::now() + Duration::from_millis(50 + m.noise.next() % 400);
        }
    }
}

/// The seed of the URC noise: `--seed`, or the clock when it is 0 (always odd).
fn noise_seed(seed: u64) -> u64 {
    if seed != 0 {
        seed
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1
    }
}

/// The virtual modem's device and the state its controls change.
struct Modem {
    pty: Pty,
    link: Option<LinkGuard>,
    noise: Noise,
    /// Replies are withheld (a hung modem).
    stalled: bool,
    /// Stall at the first command containing this text.
    stall_on: Option<String>,
}

impl Modem {
    /// Applies one control (all but Quit) and acknowledges it on `out`.
    fn control<C: CardChannel>(
        &mut self,
        server: &mut AtServer<C>,
        out: &mut dyn Write,
        c: Control,
    ) -> Result<(), VirtualModemError> {
        match c {
            Control::Quit => {}
            Control::Stall => {
                self.stalled = true;
                announce(out, "control: stall")?;
            }
            Control::StallOn(t) => {
                self.stall_on = Some(t);
                announce(out, "control: stall-on")?;
            }
            Control::Resume => {
                self.stalled = false;
                self.stall_on = None;
                announce(out, "control: resume")?;
            }
            Control::Stats => {
                let (resets, mistakes) = server.strict_counts();
                announce(
                    out,
                    &format!("strict: resets={resets} cla_mistakes={mistakes}"),
                )?;
                announce(out, "control: stats")?;
            }
            Control::Garbage => {
                write_best_effort(&mut self.pty.master, b"\x00\xff\x13garbage\xfe\r\n\x11");
                announce(out, "control: garbage")?;
            }
            Control::Reboot(d) => self.reboot(server, out, d)?,
        }
        Ok(())
    }

    /// Like a USB re-enumeration: the device comes back under another name (the new pty exists
    /// before the old one is closed, so their numbers differ), and only the stable link leads
    /// to it, once it is back; while it is away there is no link at all.
    fn reboot<C: CardChannel>(
        &mut self,
        server: &mut AtServer<C>,
        out: &mut dyn Write,
        d: Duration,
    ) -> Result<(), VirtualModemError> {
        log::info!("virtual modem: reboot ({} ms)", d.as_millis());
        if let Some(link) = self.link.as_mut() {
            link.withdraw()?;
        }
        let fresh = open_pty(None)?;
        drop(std::mem::replace(&mut self.pty, fresh));
        // Acknowledged once the old device is gone; the new path follows.
        announce(out, "control: reboot")?;
        std::thread::sleep(d);
        server.reboot();
        self.stalled = false;
        self.stall_on = None;
        if let Some(link) = self.link.as_mut() {
            link.point_at(Path::new(&self.pty.path))?;
        }
        announce(out, &self.pty.path)?;
        write_best_effort(&mut self.pty.master, b"\r\nRDY\r\n");
        Ok(())
    }

    /// Reads what the host sent and answers each command (unless stalled).
    fn read_host<C: CardChannel>(
        &mut self,
        server: &mut AtServer<C>,
        opts: &ServeOptions,
        buf: &mut [u8],
    ) {
        match self.pty.master.read(buf) {
            Ok(n) if n > 0 => {
                for reply in server.feed(buf.get(..n).unwrap_or_default()) {
                    if let Some(t) = &self.stall_on {
                        self.stalled |= reply.command.to_ascii_uppercase().contains(t.as_str());
                    }
                    send_reply(
                        &mut self.pty.master,
                        &reply,
                        self.stalled,
                        opts.urc_noise,
                        &mut self.noise,
                    );
                }
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::Interrupted
                ) => {}
            // EIO and the like while nobody has the slave open: wait for a host.
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Prints one line on stdout: a device path, or `control: NAME` once a control took effect.
fn announce(out: &mut dyn Write, line: &str) -> Result<(), VirtualModemError> {
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(VirtualModemError::Stdout)
}

/// Writes, dropping the bytes if the pty buffer stays full (no host is reading).
fn write_best_effort(master: &mut TTYPort, bytes: &[u8]) {
    if let Err(e) = master.write_all(bytes) {
        log::debug!("virtual modem: output dropped ({e})");
    }
}

fn send_reply(master: &mut TTYPort, reply: &Reply, stalled: bool, noisy: bool, noise: &mut Noise) {
    let mut out = reply.echo.clone();
    let urc = |out: &mut Vec<u8>, noise: &mut Noise| {
        if noisy && noise.chance(3) {
            out.extend_from_slice(format!("\r\n{}\r\n", noise.urc()).as_bytes());
        }
    };
    urc(&mut out, noise);
    for l in &reply.lines {
        out.extend_from_slice(format!("\r\n{l}\r\n").as_bytes());
        urc(&mut out, noise);
    }
    if !stalled {
        out.extend_from_slice(format!("\r\n{}\r\n", reply.result).as_bytes());
    }
    write_best_effort(master, &out);
}
