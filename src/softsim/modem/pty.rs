//! The virtual modem's I/O: a pseudo-terminal whose slave side is the "device", a loop that feeds
//! the AT interpreter, URC noise, and lab controls (reboot, stall) for robustness tests.

use super::server::{AtServer, Reply};
use crate::card::CardChannel;
use serialport::{SerialPort, TTYPort};
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
    /// Make a symlink to the device at this path (replaced atomically on every reboot).
    pub link: Option<PathBuf>,
    /// Inject URCs at random moments, also between an answer's lines.
    pub urc_noise: bool,
    /// Seed of the noise generator (0 = from the clock).
    pub seed: u64,
}

struct Pty {
    master: TTYPort,
    // Held open so that the master does not see a hang-up while no host has the device open.
    _slave: TTYPort,
    path: String,
}

fn open_pty(link: Option<&Path>) -> Result<Pty, VirtualModemError> {
    let (mut master, slave) = TTYPort::pair().map_err(|e| VirtualModemError::Pty(e.to_string()))?;
    master
        .set_timeout(Duration::from_millis(10))
        .map_err(|e| VirtualModemError::Pty(e.to_string()))?;
    let path = slave
        .name()
        .ok_or_else(|| VirtualModemError::Pty("the pty slave has no name".into()))?;
    if let Some(link) = link {
        relink(link, Path::new(&path)).map_err(|source| VirtualModemError::Link {
            path: link.to_path_buf(),
            source,
        })?;
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
    let mut pty = open_pty(opts.link.as_deref())?;
    announce(out, &pty.path)?;
    let seed = if opts.seed != 0 {
        opts.seed
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1
    };
    let mut noise = Noise(seed);
    let mut stalled = false;
    let mut stall_on: Option<String> = None;
    let mut controls_open = true;
    let mut next_idle_urc = Instant::now() + Duration::from_millis(100);
    let mut buf = [0u8; 4096];
    loop {
        while controls_open {
            match controls.try_recv() {
                Ok(Control::Quit) => return Ok(()),
                Ok(Control::Stall) => {
                    stalled = true;
                    announce(out, "control: stall")?;
                }
                Ok(Control::StallOn(t)) => {
                    stall_on = Some(t);
                    announce(out, "control: stall-on")?;
                }
                Ok(Control::Resume) => {
                    stalled = false;
                    stall_on = None;
                    announce(out, "control: resume")?;
                }
                Ok(Control::Stats) => {
                    let (resets, mistakes) = server.strict_counts();
                    announce(
                        out,
                        &format!("strict: resets={resets} cla_mistakes={mistakes}"),
                    )?;
                    announce(out, "control: stats")?;
                }
                Ok(Control::Garbage) => {
                    write_best_effort(&mut pty.master, b"\x00\xff\x13garbage\xfe\r\n\x11");
                    announce(out, "control: garbage")?;
                }
                Ok(Control::Reboot(d)) => {
                    log::info!("virtual modem: reboot ({} ms)", d.as_millis());
                    // Like a USB re-enumeration: the device comes back under another name (the
                    // new pty exists before the old one is closed, so their numbers differ),
                    // and only the stable link leads to it, once it is back.
                    let fresh = open_pty(None)?;
                    drop(std::mem::replace(&mut pty, fresh));
                    // Acknowledged once the old device is gone; the new path follows.
                    announce(out, "control: reboot")?;
                    std::thread::sleep(d);
                    server.reboot();
                    stalled = false;
                    stall_on = None;
                    if let Some(link) = &opts.link {
                        relink(link, Path::new(&pty.path)).map_err(|source| {
                            VirtualModemError::Link {
                                path: link.clone(),
                                source,
                            }
                        })?;
                    }
                    announce(out, &pty.path)?;
                    write_best_effort(&mut pty.master, b"\r\nRDY\r\n");
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => controls_open = false,
            }
        }
        match pty.master.read(&mut buf) {
            Ok(n) if n > 0 => {
                for reply in server.feed(buf.get(..n).unwrap_or_default()) {
                    if let Some(t) = &stall_on {
                        stalled |= reply.command.to_ascii_uppercase().contains(t.as_str());
                    }
                    send_reply(&mut pty.master, &reply, stalled, opts.urc_noise, &mut noise);
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
        if opts.urc_noise && Instant::now() >= next_idle_urc {
            let line = format!("\r\n{}\r\n", noise.urc());
            write_best_effort(&mut pty.master, line.as_bytes());
            next_idle_urc = Instant::now() + Duration::from_millis(50 + noise.next() % 400);
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
