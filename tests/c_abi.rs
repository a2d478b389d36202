//! The C library as a gateway links it: scripts/install-lib stages libsimbridge, its header and
//! simbridge.pc; examples/c/gateway.c is compiled with `cc` and pkg-config and forwards libcoap's
//! plain coap-client through our `simbridge server` to libcoap's coap-server: with a GBA key
//! from the software SIM, and with a static key from the C key callback. Once more under
//! valgrind across an export, a restart of the example and the import. With the `pcsc` feature
//! (CI builds all features) the library is built with PC/SC as the packages are: the example,
//! linked statically, reads the card through pcscd; and scripts/lib-deb's two packages, unpacked,
//! are what the example builds and runs against.

mod common;
mod support;

use common::e2e::{coap, coap_backend, gateway_config, network};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// The staged install and the example built against it (once per test binary).
struct Built {
    prefix: PathBuf,
    /// Linked against the shared library.
    gateway: PathBuf,
    /// Linked against the static library (`pkg-config --static`).
    gateway_static: PathBuf,
}

/// With the `pcsc` feature the library is staged with PC/SC, as scripts/lib-deb packages it.
const STAGE_FEATURES: &[&str] = if cfg!(feature = "pcsc") {
    &["--features", "pcsc"]
} else {
    &[]
};

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
}

/// Stages the library with scripts/install-lib and compiles the example; `None` (skipped, or
/// a failure in CI) when cc, pkg-config or libcoap are missing.
fn built() -> Option<&'static Built> {
    let tools = have("cc") && have("pkg-config");
    if !require("cc and pkg-config (gcc, pkg-config)", tools)
        || !require(
            "coap-client-notls and coap-server-notls (libcoap3-bin)",
            have("coap-client-notls") && have("coap-server-notls"),
        )
    {
        return None;
    }
    static BUILT: OnceLock<Built> = OnceLock::new();
    Some(BUILT.get_or_init(|| {
        let prefix = target_dir().join("c-abi-stage");
        let o = run_with_timeout(
            Command::new(repo().join("scripts/install-lib"))
                .arg(&prefix)
                .args(STAGE_FEATURES),
            Duration::from_secs(1800),
        );
        assert!(
            o.status.success(),
            "scripts/install-lib: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let pc = prefix.join("lib/pkgconfig");
        let gateway = prefix.join("gateway");
        // The README's build line, with warnings as errors.
        compile_example(&pc, &gateway, false);
        let gateway_static = prefix.join("gateway-static");
        compile_example(&pc, &gateway_static, true);
        Built {
            prefix,
            gateway,
            gateway_static,
        }
    }))
}

/// `pkg-config` with the simbridge.pc under `pc` (and `sysroot`, for an unpacked package).
fn pkg_config(pc: &Path, sysroot: Option<&Path>, args: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("pkg-config");
    cmd.args(args).arg("simbridge").env("PKG_CONFIG_LIBDIR", pc);
    if let Some(root) = sysroot {
        cmd.env("PKG_CONFIG_SYSROOT_DIR", root);
    }
    let o = run_with_timeout(&mut cmd, Duration::from_secs(10));
    assert!(
        o.status.success(),
        "pkg-config {args:?} does not find simbridge.pc in {}",
        pc.display()
    );
    let out = String::from_utf8_lossy(&o.stdout);
    out.split_whitespace().map(str::to_string).collect()
}

/// Compiles examples/c/gateway.c to `out` with the build line of its README: dynamic, or static
/// (`-Wl,-Bstatic -lsimbridge -Wl,-Bdynamic $(pkg-config --static --libs simbridge)`).
fn compile_example(pc: &Path, out: &Path, static_link: bool) {
    compile_example_in(pc, None, out, static_link)
}

fn compile_example_in(pc: &Path, sysroot: Option<&Path>, out: &Path, static_link: bool) {
    let mut cmd = Command::new("cc");
    cmd.current_dir(repo().join("examples/c"))
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "gateway.c"])
        .args(pkg_config(pc, sysroot, &["--cflags"]));
    if static_link {
        cmd.args(["-Wl,-Bstatic", "-lsimbridge", "-Wl,-Bdynamic"])
            .args(pkg_config(pc, sysroot, &["--static", "--libs"]));
    } else {
        cmd.args(pkg_config(pc, sysroot, &["--libs"]));
    }
    let o = run_with_timeout(cmd.arg("-o").arg(out), Duration::from_secs(120));
    assert!(
        o.status.success(),
        "cc gateway.c ({}): {}",
        if static_link { "static" } else { "dynamic" },
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The shared libraries `binary` names (readelf's NEEDED entries).
fn needed(binary: &Path) -> Vec<String> {
    let o = run_with_timeout(
        Command::new("readelf").arg("-d").arg(binary),
        Duration::from_secs(10),
    );
    assert!(o.status.success(), "readelf -d {}", binary.display());
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split('[').nth(1)?.trim_end_matches(']').to_string()))
        .collect()
}

/// Starts the C example (optionally under `wrapper`, e.g. valgrind) and waits for its
/// "listening on ADDR" line.
fn start_example(b: &Built, wrapper: &[&str], args: &[&std::ffi::OsStr]) -> Running {
    start_binary(&b.gateway, &b.prefix.join("lib"), wrapper, args)
}

/// Starts `binary` (a build of the example) with `libdir` as LD_LIBRARY_PATH.
fn start_binary(
    binary: &Path,
    libdir: &Path,
    wrapper: &[&str],
    args: &[&std::ffi::OsStr],
) -> Running {
    let mut cmd = match wrapper.split_first() {
        Some((w, rest)) => {
            let mut c = Command::new(w);
            c.args(rest).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    cmd.args(args)
        .env("LD_LIBRARY_PATH", libdir)
        .env("RUST_LOG", "info");
    spawn_ready(&mut cmd, "the C example gateway")
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// A put and a get through the example listening at `local`.
fn coap_round(local: std::net::SocketAddr, text: &str) {
    let base = format!("coap://{local}");
    coap(&["-m", "put", "-e", text, &format!("{base}/example_data")]);
    assert_eq!(coap(&["-m", "get", &format!("{base}/example_data")]), text);
}

#[test]
fn c_example_forwards_coap_with_a_gba_key_from_the_software_sim() {
    let Some(b) = built() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let net = network(dir.path());
    let card = profile_copy(dir.path(), "demo.toml");
    let cfg = gateway_config(
        dir.path(),
        &net,
        &format!("softsim = \"{}\"", card.display()),
    );
    let saved = dir.path().join("session.export");
    let args = [
        os("--config"),
        cfg.as_os_str(),
        os("--state-file"),
        saved.as_os_str(),
    ];
    let gw = start_example(b, &[], &args);
    coap_round(addr_in(&gw.first_line), "through-the-c-gateway");
    assert_eq!(gw.terminate(), Some(0), "SIGTERM ends the example cleanly");
    assert!(saved.exists(), "the session was exported on SIGTERM");

    // Restarted: the export continues the session, no handshake, no AKA.
    let card_state = std::fs::read(card.with_extension("toml.state")).expect("card state");
    let gw = start_example(b, &[], &args);
    let local = addr_in(&gw.first_line);
    assert_eq!(
        coap(&["-m", "get", &format!("coap://{local}/example_data")]),
        "through-the-c-gateway"
    );
    let log = gw.stderr_lines(Duration::from_millis(200));
    assert!(
        log.iter().any(|l| l.contains("session continued")),
        "{log:?}"
    );
    assert_eq!(
        std::fs::read(card.with_extension("toml.state")).expect("card state"),
        card_state,
        "no AKA after the restart"
    );
    assert_eq!(gw.terminate(), Some(0));
}

/// Our server with one static identity in front of a coap-server; returns both processes and
/// the server's address.
fn static_network(dir: &Path, key_hex: &str) -> (KillOnDrop, Running) {
    let (backend, coap_port) = coap_backend();
    let key = write_file(dir, "server-key.hex", key_hex);
    let cfg = write_file(
        dir,
        "server.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\nbackend = \"127.0.0.1:{coap_port}\"\nstate_dir = \"{}\"\n[[keys.static]]\nidentity = \"c-gateway\"\nkey_file = \"{}\"\n",
            dir.join("server-state").display(),
            key.display()
        ),
    );
    let server = start_with_config("server", &cfg, "simbridge server");
    (backend, server)
}

/// The example's configuration for a `psk = "host"` route to `server`, and its key file.
fn host_key_setup(dir: &Path, server: &Running, key_hex: &str) -> (PathBuf, PathBuf) {
    let cfg = write_file(
        dir,
        "gateway.toml",
        &format!(
            "state_dir = \"{}\"\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"{}\"\npsk = \"host\"\n",
            dir.join("gw-state").display(),
            addr_in(&server.first_line)
        ),
    );
    (cfg, write_file(dir, "host-key.hex", key_hex))
}

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f";

#[test]
fn c_example_forwards_coap_with_a_static_key_from_the_c_callback() {
    let Some(b) = built() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (_backend, server) = static_network(dir.path(), KEY_HEX);
    let (cfg, key) = host_key_setup(dir.path(), &server, KEY_HEX);
    let args = [
        os("--config"),
        cfg.as_os_str(),
        os("--host-key"),
        os("c-gateway"),
        os("--host-key-file"),
        key.as_os_str(),
    ];
    let gw = start_example(b, &[], &args);
    coap_round(addr_in(&gw.first_line), "keyed-by-the-host");
    assert_eq!(gw.terminate(), Some(0));

    // A wrong key from the callback: the server refuses it, nothing gets through.
    let wrong = write_file(dir.path(), "wrong.hex", "ffeeddccbbaa99887766554433221100");
    let args = [
        os("--config"),
        cfg.as_os_str(),
        os("--host-key"),
        os("c-gateway"),
        os("--host-key-file"),
        wrong.as_os_str(),
    ];
    let gw = start_example(b, &[], &args);
    let o = run_with_timeout(
        Command::new("coap-client-notls").args([
            "-B",
            "3",
            "-m",
            "get",
            &format!("coap://{}/example_data", addr_in(&gw.first_line)),
        ]),
        Duration::from_secs(20),
    );
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("keyed-by-the-host"),
        "a wrong key must not get through"
    );
    assert_eq!(gw.terminate(), Some(0));
}

#[test]
fn c_example_under_valgrind_across_export_restart_and_import() {
    let Some(b) = built() else { return };
    if !require("valgrind", have("valgrind")) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (_backend, server) = static_network(dir.path(), KEY_HEX);
    let (cfg, key) = host_key_setup(dir.path(), &server, KEY_HEX);
    let saved = dir.path().join("session.export");
    let args = [
        os("--config"),
        cfg.as_os_str(),
        os("--host-key"),
        os("c-gateway"),
        os("--host-key-file"),
        key.as_os_str(),
        os("--state-file"),
        saved.as_os_str(),
    ];
    let valgrind = [
        "valgrind",
        "--error-exitcode=1",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
        "-q",
    ];
    let gw = start_example(b, &valgrind, &args);
    coap_round(addr_in(&gw.first_line), "under-valgrind");
    assert_eq!(
        gw.terminate(),
        Some(0),
        "valgrind found errors (or no clean exit)"
    );
    assert!(saved.exists(), "exported on SIGTERM");

    let gw = start_example(b, &valgrind, &args);
    let local = addr_in(&gw.first_line);
    assert_eq!(
        coap(&["-m", "get", &format!("coap://{local}/example_data")]),
        "under-valgrind"
    );
    let log = gw.stderr_lines(Duration::from_millis(200));
    assert!(
        log.iter().any(|l| l.contains("session continued")),
        "{log:?}"
    );
    assert_eq!(
        gw.terminate(),
        Some(0),
        "valgrind found errors (or no clean exit)"
    );
}

#[cfg(feature = "pcsc")]
#[test]
fn c_example_linked_statically_reads_the_card_through_pcscd() {
    use support::vpcd::{READER, ReaderLock, pcscd_ready, serve};
    let Some(b) = built() else { return };
    if !pcscd_ready() {
        return;
    }
    // The static build carries the library: no libsimbridge at run time, pcsc-lite from the system.
    let libs = needed(&b.gateway_static);
    assert!(
        !libs.iter().any(|l| l.starts_with("libsimbridge")),
        "{libs:?}"
    );
    assert!(
        libs.iter().any(|l| l.starts_with("libpcsclite")),
        "{libs:?}"
    );

    let _lock = ReaderLock::take();
    let dir = tempfile::tempdir().expect("tempdir");
    let net = network(dir.path());
    let card = profile_copy(dir.path(), "demo.toml");
    let _card = serve(&card);
    let cfg = gateway_config(dir.path(), &net, &format!("reader = \"{READER}\""));
    let gw = start_binary(
        &b.gateway_static,
        dir.path(),
        &[],
        &[os("--config"), cfg.as_os_str()],
    );
    coap_round(addr_in(&gw.first_line), "through-pcscd");
    let log = gw.stderr_lines(Duration::from_millis(200));
    assert_eq!(gw.terminate(), Some(0), "{log:?}");
}

/// scripts/lib-deb's runtime and development packages, unpacked into a root the way dpkg would
/// install them: the example builds against the -dev package with pkg-config, needs the runtime
/// package's library by its soname, and forwards CoAP with it.
#[cfg(feature = "pcsc")]
#[test]
fn debian_packages_build_and_run_the_c_example() {
    let Some(b) = built() else { return };
    if !require(
        "dpkg-deb and readelf (dpkg, binutils)",
        have("dpkg-deb") && have("readelf"),
    ) {
        return;
    }
    let o = run_with_timeout(
        &mut Command::new(repo().join("scripts/lib-deb")),
        Duration::from_secs(1800),
    );
    assert!(
        o.status.success(),
        "scripts/lib-deb: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let arch = String::from_utf8_lossy(
        &run_with_timeout(
            Command::new("dpkg").arg("--print-architecture"),
            Duration::from_secs(10),
        )
        .stdout,
    )
    .trim()
    .to_string();
    let multiarch = String::from_utf8_lossy(
        &run_with_timeout(
            Command::new("gcc").arg("-print-multiarch"),
            Duration::from_secs(10),
        )
        .stdout,
    )
    .trim()
    .to_string();
    let version = env!("CARGO_PKG_VERSION");
    let root = tempfile::tempdir().expect("tempdir");
    for name in ["libsimbridge1", "libsimbridge-dev"] {
        let deb = repo().join(format!("target/deb/{name}_{version}_{arch}.deb"));
        let o = run_with_timeout(
            Command::new("dpkg-deb")
                .arg("-x")
                .arg(&deb)
                .arg(root.path()),
            Duration::from_secs(60),
        );
        assert!(o.status.success(), "dpkg-deb -x {}", deb.display());
    }
    let libdir = root.path().join(format!("usr/lib/{multiarch}"));
    assert!(
        libdir.join("libsimbridge.so.1").is_file(),
        "the runtime package's library"
    );
    let gateway = b.prefix.join("gateway-from-deb");
    compile_example_in(
        &libdir.join("pkgconfig"),
        Some(root.path()),
        &gateway,
        false,
    );
    let libs = needed(&gateway);
    assert!(
        libs.iter().any(|l| l == "libsimbridge.so.1"),
        "linked by soname: {libs:?}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let (_backend, server) = static_network(dir.path(), KEY_HEX);
    let (cfg, key) = host_key_setup(dir.path(), &server, KEY_HEX);
    let args = [
        os("--config"),
        cfg.as_os_str(),
        os("--host-key"),
        os("c-gateway"),
        os("--host-key-file"),
        key.as_os_str(),
    ];
    let gw = start_binary(&gateway, &libdir, &[], &args);
    coap_round(addr_in(&gw.first_line), "from-the-packages");
    assert_eq!(gw.terminate(), Some(0));
}
