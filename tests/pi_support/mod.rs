//! Shared helpers of the Raspberry Pi tests: running simbridge natively or as a cross-built
//! aarch64/armv7 binary under qemu-user, and the USB re-enumeration scenario for the gateway.
#![allow(dead_code)]

use crate::common::{Running, addr_in, bin, require, run_with_timeout, spawn_ready};
use crate::modem_support::{VirtualModem, Workdir};
use crate::support::{Echo, Proc, Stream};
use std::ffi::OsString;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// How to start simbridge: the host binary, or a cross-built one under qemu-user.
pub struct Runner {
    /// For messages: "host" or the target triple.
    pub name: String,
    program: OsString,
    prefix: Vec<OsString>,
    /// Extra time factor for waits (emulation is slower).
    pub slow: u32,
}

/// A cross target the Pi build produces (scripts/build-pi).
pub struct PiTarget {
    /// Rust target triple.
    pub triple: &'static str,
    /// qemu-user program.
    pub qemu: &'static str,
    /// The cross libc root (-L).
    pub libc_root: &'static str,
    /// Debian architecture (sysroot-<arch> under target/pi).
    pub deb_arch: &'static str,
    /// GNU triple (library directory in the sysroot).
    pub gnu: &'static str,
}

/// Raspberry Pi OS 64-bit.
pub const AARCH64: PiTarget = PiTarget {
    triple: "aarch64-unknown-linux-gnu",
    qemu: "qemu-aarch64",
    libc_root: "/usr/aarch64-linux-gnu",
    deb_arch: "arm64",
    gnu: "aarch64-linux-gnu",
};

/// Raspberry Pi OS 32-bit.
pub const ARMV7: PiTarget = PiTarget {
    triple: "armv7-unknown-linux-gnueabihf",
    qemu: "qemu-arm",
    libc_root: "/usr/arm-linux-gnueabihf",
    deb_arch: "armhf",
    gnu: "arm-linux-gnueabihf",
};

/// The cargo target directory (CARGO_TARGET_DIR or <repo>/target).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

impl Runner {
    /// The host binary under test.
    pub fn host() -> Self {
        Self {
            name: "host".into(),
            program: bin().into(),
            prefix: Vec::new(),
            slow: 1,
        }
    }

    /// The cross-built binary of `t` under qemu-user, or `None` (skipped, with the reason printed;
    /// a failure when SIMBRIDGE_REQUIRE_PEERS is set) when it or qemu is missing.
    pub fn emulated(t: &PiTarget) -> Option<Self> {
        let profile = std::env::var("SIMBRIDGE_PI_PROFILE").unwrap_or_else(|_| "release".into());
        let exe = target_dir().join(t.triple).join(&profile).join("simbridge");
        let libdir = target_dir()
            .join("pi")
            .join(format!("sysroot-{}", t.deb_arch))
            .join("usr/lib")
            .join(t.gnu);
        let qemu_ok = crate::common::have(t.qemu) && Path::new(t.libc_root).join("lib").is_dir();
        if !require(
            &format!("{} with {} (apt: qemu-user)", t.qemu, t.libc_root),
            qemu_ok,
        ) {
            return None;
        }
        // qemu-user 7.2 lacks the termios2 ioctls a real kernel has: see termios2_shim.c.
        let shim = target_dir()
            .join("pi")
            .join(format!("termios2-shim-{}.so", t.deb_arch));
        let what = format!(
            "{}, its libpcsclite sysroot and {} (scripts/build-pi builds them)",
            exe.display(),
            shim.display()
        );
        let built = exe.is_file() && libdir.join("libpcsclite.so.1").exists() && shim.is_file();
        if !require(&what, built) {
            return None;
        }
        let env = format!("LD_LIBRARY_PATH={}", libdir.display());
        let preload = format!("LD_PRELOAD={}", shim.display());
        Some(Self {
            name: t.triple.into(),
            program: t.qemu.into(),
            prefix: vec![
                "-L".into(),
                t.libc_root.into(),
                "-E".into(),
                env.into(),
                "-E".into(),
                preload.into(),
                exe.into(),
            ],
            slow: 4,
        })
    }

    /// A command that runs simbridge (arguments still to add).
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.prefix);
        c
    }

    /// Runs simbridge to completion, bounded (`limit` times the emulation factor).
    pub fn run(&self, args: &[&str], limit: Duration) -> Output {
        run_with_timeout(self.command().args(args), limit * self.slow)
    }
}

/// A long-running process (the support [`Proc`]) whose first stdout line says it is ready and
/// whose stderr lines are counted.
pub struct Watched {
    proc: Proc,
    /// The first stdout line.
    pub first_line: String,
    /// stderr lines seen so far (as of the last [`Watched::drain`]).
    pub log: Vec<String>,
}

impl Watched {
    /// Starts `cmd` and waits (bounded) for its first stdout line.
    pub fn start(cmd: &mut Command, what: &str, limit: Duration) -> Self {
        let proc = Proc::spawn(what, cmd);
        let Some(first_line) = proc.wait_line(Stream::Stdout, limit, |_| true) else {
            panic!(
                "{what} did not become ready within {limit:?}; output:\n{}",
                proc.transcript()
            );
        };
        let mut w = Self {
            proc,
            first_line,
            log: Vec::new(),
        };
        w.drain();
        w
    }

    /// Collects the stderr lines that arrived.
    pub fn drain(&mut self) {
        self.log = self
            .proc
            .transcript()
            .lines()
            .filter_map(|l| l.strip_prefix("err: ").map(str::to_string))
            .collect();
    }

    /// How many stderr lines so far contain `text`.
    pub fn count(&mut self, text: &str) -> usize {
        self.drain();
        self.log.iter().filter(|l| l.contains(text)).count()
    }

    /// SIGTERM, then the exit code (bounded wait).
    pub fn terminate(mut self) -> Option<i32> {
        self.proc.terminate(Duration::from_secs(20))
    }
}

/// Sends one datagram to the gateway's local port and waits for the echo (bounded).
fn round_trip(sock: &UdpSocket, to: std::net::SocketAddr, n: usize, limit: Duration) -> bool {
    // '#' (0x23) has CoAP version bits 00: the gateway treats it as plain UDP, not CoAP.
    let msg = format!("#pi-{n}");
    sock.send_to(msg.as_bytes(), to).expect("send");
    let start = Instant::now();
    let mut buf = [0u8; 256];
    while start.elapsed() < limit {
        if let Ok((len, _)) = sock.recv_from(&mut buf) {
            if buf.get(..len) == Some(msg.as_bytes()) {
                return true;
            }
        }
    }
    false
}

/// Text the key service logs for a bootstrap that ran on the card.
const BOOTSTRAP_DONE: &str = "GBA bootstrap done";
/// Text the session logs when an upstream session is up.
const SESSION_UP: &str = "upstream session up";

/// The gateway (run by `gw`) with `[card] modem = "<stable link>"` keeps bridging while the modem
/// disappears and comes back under another device name behind the link (a USB re-enumeration):
/// no datagram is lost, the upstream session carries on, and the next bootstrap after the
/// re-enumeration runs AKA on the card through the new device (the key service reopens it);
/// bootstrap attempts while the card is away back off instead of spinning.
pub fn gateway_survives_reenumeration(gw: &Runner) {
    let w = Workdir::new();
    // The card: the demo USIM (GBA_U) behind a virtual Quectel modem on a pty, with a stable link.
    let card = w.profile("demo.toml", "card.toml");
    let mut modem = VirtualModem::start(&w, &card, "quectel", &[]);
    let first_device = modem.device.clone();

    // The network side runs natively: BSF (its own copy of the subscriber), DTLS server, echo.
    std::fs::create_dir_all(w.path("profiles")).expect("dir");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sim-profiles/demo.toml"),
        w.path("profiles/demo.toml"),
    )
    .expect("copy profile");
    std::fs::write(w.path("token"), "pi-token\n").expect("token");
    std::fs::set_permissions(
        w.path("token"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod 600");
    // Lifetime 700 s and rekey_before 697 s: a make-before-break bootstrap on the card every ~3 s
    // (the context cache keeps 600 s and the session 60 s of margin, so 700 s is still usable),
    // so a rekey falls due while the modem is away.
    let bsf: Running = spawn_ready(
        Command::new(bin())
            .args(["bsf", "--listen", "127.0.0.1:0", "--lifetime", "700"])
            .arg("--profiles")
            .arg(w.path("profiles"))
            .arg("--state")
            .arg(w.path("bsf"))
            .arg("--token-file")
            .arg(w.path("token"))
            .args(["--naf", "localhost"]),
        "simbridge bsf",
    );
    let bsf_url = format!("http://{}", addr_in(&bsf.first_line));
    let echo = Echo::start();
    let server_cfg = w.path("server.toml");
    std::fs::write(
        &server_cfg,
        format!(
            "listen = \"127.0.0.1:0\"\nbackend = \"{}\"\n[keys]\nbsf = \"{bsf_url}\"\ntoken_file = \"{}\"\nnaf = \"localhost\"\n",
            echo.addr,
            w.path("token").display()
        ),
    )
    .expect("server config");
    let server = spawn_ready(
        Command::new(bin())
            .arg("server")
            .arg("--config")
            .arg(&server_cfg),
        "simbridge server",
    );
    let upstream = addr_in(&server.first_line);

    let gw_cfg = w.path("gateway.toml");
    std::fs::write(
        &gw_cfg,
        format!(
            "state_dir = \"{}\"\n[card]\nmodem = \"{}\"\n[gba]\nbsf = \"{bsf_url}\"\n[session]\nrekey_before_secs = 697\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"localhost:{}\"\npsk = \"gba\"\n",
            w.path("gw-state").display(),
            modem.link_str(),
            upstream.port()
        ),
    )
    .expect("gateway config");
    let mut gateway = Watched::start(
        gw.command()
            .arg("bridge")
            .arg("--config")
            .arg(&gw_cfg)
            .env("RUST_LOG", "info"),
        &format!("simbridge bridge ({})", gw.name),
        Duration::from_secs(20) * gw.slow,
    );
    let local = addr_in(&gateway.first_line);
    let client = UdpSocket::bind("127.0.0.1:0").expect("client");
    client
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");

    let answer = Duration::from_secs(15) * gw.slow;
    let mut sent = 0usize;
    // The first datagram waits for the bootstrap (AKA through the modem) and the handshake.
    if !round_trip(&client, local, sent, answer) {
        gateway.drain();
        panic!(
            "first datagram not echoed ({}); gateway log:\n{}",
            gw.name,
            gateway.log.join("\n")
        );
    }
    sent += 1;
    assert!(gateway.count(BOOTSTRAP_DONE) >= 1, "{:?}", gateway.log);

    // USB re-enumeration: the device goes away for 5 s (a rekey falls due meanwhile) and comes
    // back under a new name; only the link stays. Traffic goes on while it is away.
    let up_before = gateway.count(SESSION_UP);
    modem.control("reboot 5000");
    let before = gateway.count(BOOTSTRAP_DONE);
    let away = Instant::now();
    let new_device = loop {
        if let Some(dev) = modem.next_line(Duration::from_millis(1)) {
            break dev;
        }
        assert!(
            away.elapsed() < Duration::from_secs(20),
            "the modem did not come back"
        );
        if !round_trip(&client, local, sent, answer) {
            gateway.drain();
            panic!(
                "datagram {sent} lost while the modem was away ({}); gateway log:\n{}",
                gw.name,
                gateway.log.join("\n")
            );
        }
        sent += 1;
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_ne!(
        new_device, first_device,
        "same device name after the re-enumeration"
    );
    assert_eq!(
        std::fs::read_link(&modem.link).expect("link"),
        PathBuf::from(&new_device),
        "the stable link follows the new device"
    );

    // The next bootstrap reopens the card through the new device, and its session comes up.
    let deadline = Instant::now() + Duration::from_secs(60) * gw.slow;
    while gateway.count(BOOTSTRAP_DONE) <= before || gateway.count(SESSION_UP) <= up_before {
        assert!(
            Instant::now() < deadline,
            "no bootstrap and session through the re-enumerated modem ({}); gateway log:\n{}",
            gw.name,
            gateway.log.join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Datagrams on the session keyed through the re-opened card. (Quiet while the sessions are
    // switched: a reply in flight on the old session at the switch is a separate matter.)
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..5 {
        if !round_trip(&client, local, sent, answer) {
            gateway.drain();
            panic!(
                "datagram {sent} lost ({}); gateway log:\n{}",
                gw.name,
                gateway.log.join("\n")
            );
        }
        sent += 1;
    }
    eprintln!(
        "{}: {sent} datagrams echoed across the re-enumeration ({first_device} -> {new_device}); {} bootstraps, {} failed while the card was away",
        gw.name,
        gateway.count(BOOTSTRAP_DONE),
        gateway.count("GBA bootstrap failed")
    );
    for l in gateway.log.iter().filter(|l| l.contains("WARN")) {
        eprintln!("    gateway: {l}");
    }
    // Attempts while the card was away back off (1 s, 2 s, ...) instead of spinning.
    let failed = gateway.count("GBA bootstrap failed");
    assert!(
        failed <= 10,
        "{failed} failed bootstrap attempts during a 5 s outage: a busy retry loop"
    );
    assert_eq!(
        gateway.terminate(),
        Some(0),
        "SIGTERM ends the gateway cleanly"
    );
    drop(echo);
}
