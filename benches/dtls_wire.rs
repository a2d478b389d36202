//! Wire benchmark (a harness, not a timed test): `cargo bench --bench dtls_wire`.
//!
//! 1. Bytes on the wire of a full DTLS 1.2 PSK handshake, TLS_PSK_WITH_AES_128_CCM_8, with the
//!    HelloVerifyRequest cookie exchange, for every client/server pair we can run here (ours,
//!    OpenSSL, GnuTLS, Mbed TLS 2.28): a counting UDP relay sits in front of each server and counts
//!    datagrams, UDP-payload bytes each way, IP bytes (+28 per datagram) and flights. Then the
//!    size of one application-data record carrying 6 bytes ("ping1\n") gives the per-record
//!    overhead.
//! 2. Record seal+open throughput (MB/s) of our record protection (CCM_8, CCM, GCM) against
//!    `openssl speed -evp aes-128-ccm|aes-128-gcm` (encrypt and -decrypt, combined), 64 B and
//!    1 KiB records, both divided by CPU time; next to it the `ccm`/`aes-gcm` crates the engine
//!    used before, in the same run. `cargo bench --bench dtls_wire -- throughput` runs only this
//!    part (no peers) and writes target/bench/dtls_throughput.json.
//!
//! Prints Markdown tables and writes JSON to target/bench/dtls_wire.json. Pairs whose peer is
//! missing are left out with a note.

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use simbridge::dtls::internal::crypto::aead::RecordCipher;
use simbridge::dtls::suite::AeadAlg;
use simbridge::secret::Secret;
use support::launch::{
    GnutlsServer, gnutls_client, gnutls_server, mbedtls_client_stdin, mbedtls_server,
    openssl_client, openssl_server, ours_client, ours_server,
};
use support::peers::missing_reason;
use support::relay::RelayStats;
use support::suites::gnutls_priority;
use support::{PSK_HEX, Peer, Proc, Relay, RelayConfig, Stream};

const SUITE: &str = "TLS_PSK_WITH_AES_128_CCM_8";
const WAIT: Duration = Duration::from_secs(15);
/// The application record used to measure per-record overhead: 6 bytes of plaintext.
const PING: &str = "ping1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stack {
    Ours,
    /// OpenSSL with `-no_ticket` on the server (session-ID resumption only).
    Openssl,
    /// OpenSSL defaults: the server issues a session ticket.
    OpensslTicket,
    /// GnuTLS with `--noticket` on the server.
    Gnutls,
    /// GnuTLS defaults: the client asks for a ticket, the server issues one.
    GnutlsTicket,
    Mbedtls,
}

impl Stack {
    fn name(self) -> &'static str {
        match self {
            Stack::Ours => "ours",
            Stack::Openssl => "openssl",
            Stack::OpensslTicket => "openssl (ticket)",
            Stack::Gnutls => "gnutls",
            Stack::GnutlsTicket => "gnutls (ticket)",
            Stack::Mbedtls => "mbedtls 2.28",
        }
    }
    fn peer(self) -> Option<Peer> {
        match self {
            Stack::Ours => None,
            Stack::Openssl | Stack::OpensslTicket => Some(Peer::Openssl),
            Stack::Gnutls | Stack::GnutlsTicket => Some(Peer::Gnutls),
            Stack::Mbedtls => Some(Peer::Mbedtls),
        }
    }
}

/// A running server, held only so that it lives (and is killed on drop) for the measurement.
#[allow(dead_code)]
enum Server {
    Proc(Proc),
    Gnutls(GnutlsServer),
}

fn start_server(s: Stack) -> (Server, SocketAddr) {
    let local = |p: u16| -> SocketAddr { format!("127.0.0.1:{p}").parse().expect("addr") };
    match s {
        Stack::Ours => {
            let (p, a) = ours_server(PSK_HEX, &["--suite", SUITE]);
            (Server::Proc(p), a)
        }
        Stack::Openssl | Stack::OpensslTicket => {
            let mut extra = vec!["-naccept", "1"];
            if s == Stack::Openssl {
                extra.push("-no_ticket");
            }
            let (p, port) = openssl_server("PSK-AES128-CCM8", PSK_HEX, &extra);
            (Server::Proc(p), local(port))
        }
        Stack::Gnutls | Stack::GnutlsTicket => {
            // gnutls-cli's --noticket does not stop DTLS 1.2 tickets; the server's does.
            let extra: &[&str] = if s == Stack::Gnutls {
                &["--noticket"]
            } else {
                &[]
            };
            let (g, port) = gnutls_server(&gnutls_priority("AES-128-CCM-8"), extra);
            (Server::Gnutls(g), local(port))
        }
        Stack::Mbedtls => {
            let (p, port) = mbedtls_server(SUITE, PSK_HEX);
            (Server::Proc(p), local(port))
        }
    }
}

/// Starts the client; returns it with the stream and predicate that mark "handshake done".
fn start_client(s: Stack, to: SocketAddr) -> (Proc, Stream, fn(&str) -> bool) {
    match s {
        Stack::Ours => (
            ours_client(to, PSK_HEX, &["--suite", SUITE]),
            Stream::Stderr,
            |l| l.contains("\"connected\""),
        ),
        Stack::Openssl | Stack::OpensslTicket => (
            openssl_client(to, "PSK-AES128-CCM8", PSK_HEX, &[]),
            Stream::Stdout,
            |l| l.contains("Cipher is PSK-AES128-CCM8"),
        ),
        Stack::Gnutls | Stack::GnutlsTicket => (
            gnutls_client(to.port(), &gnutls_priority("AES-128-CCM-8"), PSK_HEX, &[]),
            Stream::Stdout,
            |l| l.contains("Handshake was completed"),
        ),
        Stack::Mbedtls => (
            mbedtls_client_stdin(to.port(), SUITE, PSK_HEX),
            Stream::Stdout,
            |l| l.starts_with("CONNECTED"),
        ),
    }
}

struct Row {
    client: Stack,
    server: Stack,
    hs: RelayStats,
    record_overhead: Option<usize>,
}

fn measure(client: Stack, server: Stack) -> Result<Row, String> {
    for s in [client, server] {
        if let Some(reason) = s.peer().and_then(missing_reason) {
            return Err(reason);
        }
    }
    let (_srv, addr) = start_server(server);
    let relay = Relay::start(addr, RelayConfig::default());
    let (mut cli, stream, done) = start_client(client, relay.addr());
    if cli.wait_line(stream, WAIT, done).is_none() {
        return Err(format!("no handshake; client said:\n{}", cli.transcript()));
    }
    // The last flight has crossed the relay before the client could see it; wait for strays.
    std::thread::sleep(Duration::from_millis(300));
    let hs = relay.stats();
    cli.write_line(PING);
    let after = relay.wait_for(Duration::from_secs(5), |s| {
        s.c2s.datagrams > hs.c2s.datagrams
    });
    let record_overhead = after
        .c2s
        .sizes
        .get(hs.c2s.sizes.len())
        .map(|n| n.saturating_sub(PING.len() + 1));
    cli.close_stdin();
    let _ = cli.wait_exit(Duration::from_secs(2));
    Ok(Row {
        client,
        server,
        hs,
        record_overhead,
    })
}

/// How a throughput run opens each record.
#[derive(Clone, Copy)]
enum OpenPath {
    /// `RecordCipher::open`: the plaintext in a fresh Vec, as the record layer does.
    Vec,
    /// `RecordCipher::open_in_place`: no allocation, like `openssl speed` on its buffer.
    InPlace,
}

/// CPU time this thread has run, in ns (Linux: /proc/thread-self/schedstat). `openssl speed`
/// divides by user CPU time too, so neither side is charged for time the shared machine gave
/// to other processes.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Runs `one(seq)` (seal+open of one `size`-byte record with sequence number `seq`) in batches of
/// 32 for ~0.8 s; MB/s of payload per second of this thread's CPU time (wall time if unknown).
fn mbps_over(size: usize, mut one: impl FnMut(u64)) -> f64 {
    let mut seq: u64 = 1 << 48;
    let mut bytes = 0u64;
    let run = Duration::from_millis(800);
    let cpu0 = thread_cpu_ns();
    let start = Instant::now();
    while start.elapsed() < run {
        for _ in 0..32 {
            one(seq);
            seq += 1;
            bytes += size as u64;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let secs = match (cpu0, thread_cpu_ns()) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
        _ => wall,
    };
    bytes as f64 / secs / 1e6
}

/// Seals (`seal_append` into a reused datagram buffer, as the record layer does) and opens
/// `size`-byte records for ~0.8 s; MB/s of payload through seal+open.
fn seal_open_mbps(alg: AeadAlg, size: usize, path: OpenPath) -> f64 {
    let c = RecordCipher::new(alg, &Secret::new([7u8; 16]), &Secret::new([1u8; 4]));
    let plain = vec![0x5au8; size];
    let mut rec = Vec::with_capacity(size + c.overhead());
    mbps_over(size, |seq| {
        let es = seq.to_be_bytes();
        rec.clear();
        c.seal_append(es, 23, 0xfefd, black_box(&plain), &mut rec)
            .expect("a record seals");
        match path {
            OpenPath::Vec => {
                let opened = c.open(es, 23, 0xfefd, &rec).expect("own record opens");
                black_box(opened);
            }
            OpenPath::InPlace => {
                let opened = c
                    .open_in_place(es, 23, 0xfefd, &mut rec)
                    .expect("own record opens");
                black_box(opened);
            }
        }
    })
}

/// Like [`seal_open_mbps`] with `OpenPath::InPlace`, but with the AES key schedule expanded once
/// up front instead of per record (for GCM, H and its powers are still derived per record):
/// the difference prices RecordCipher's choice of keeping only the raw key.
fn pre_expanded_mbps(alg: AeadAlg, size: usize) -> f64 {
    use aes::cipher::KeyInit;
    use simbridge::dtls::internal::crypto::aead::additional_data;
    use simbridge::dtls::internal::crypto::{ccm, gcm};
    let aes = aes::Aes128Enc::new((&[7u8; 16]).into());
    let tag_len = alg.tag_len();
    let plain = vec![0x5au8; size];
    let mut rec = vec![0u8; size + tag_len];
    mbps_over(size, |seq| {
        let es = seq.to_be_bytes();
        let mut n = [1u8; 12];
        n[4..].copy_from_slice(&es);
        let ad = additional_data(es, 23, 0xfefd, size);
        rec[..size].copy_from_slice(black_box(&plain));
        let (body, tag) = rec.split_at_mut(size);
        if alg == AeadAlg::Aes128Gcm {
            let t = gcm::seal_in_place_with(&aes, &n, &ad, body).expect("seals");
            tag.copy_from_slice(&t);
            gcm::open_in_place_with(&aes, &n, &ad, body, &t).expect("opens");
        } else {
            ccm::seal_in_place_with(&aes, &n, &ad, body, tag).expect("seals");
            ccm::open_in_place_with(&aes, &n, &ad, body, tag).expect("opens");
        }
        black_box(&rec);
    })
}

/// The record protection this engine had before its own CCM/GCM (kept for the before/after
/// comparison in the same run): the `ccm` 0.6 / `aes-gcm` 0.11 crates over a pre-expanded
/// `aes::Aes128`, sealing into fresh Vecs (plaintext copy, tag copy, record Vec) and opening
/// into a fresh Vec. MB/s of seal+open, CPU time like [`seal_open_mbps`].
fn crates_seal_open_mbps(alg: AeadAlg, size: usize) -> f64 {
    use aes_gcm::{AeadInOut, KeyInit};
    use ccm::consts::{U8, U12, U16};
    enum C {
        Ccm8(Box<ccm::Ccm<aes::Aes128, U8, U12>>),
        Ccm16(Box<ccm::Ccm<aes::Aes128, U16, U12>>),
        Gcm(Box<aes_gcm::Aes128Gcm>),
    }
    let key = [7u8; 16];
    let c = match alg {
        AeadAlg::Aes128Ccm8 => C::Ccm8(Box::new(ccm::Ccm::new((&key).into()))),
        AeadAlg::Aes128Ccm => C::Ccm16(Box::new(ccm::Ccm::new((&key).into()))),
        AeadAlg::Aes128Gcm => C::Gcm(Box::new(aes_gcm::Aes128Gcm::new((&key).into()))),
    };
    let seal = |n: &[u8; 12], ad: &[u8], p: &[u8]| -> Vec<u8> {
        let mut buf = p.to_vec();
        let b = buf.as_mut_slice().into();
        let tag = match &c {
            C::Ccm8(c) => c
                .encrypt_inout_detached(n.into(), ad, b)
                .map(|t| t.to_vec()),
            C::Ccm16(c) => c
                .encrypt_inout_detached(n.into(), ad, b)
                .map(|t| t.to_vec()),
            C::Gcm(c) => c
                .encrypt_inout_detached(n.into(), ad, b)
                .map(|t| t.to_vec()),
        }
        .expect("seals");
        buf.extend_from_slice(&tag);
        let mut rec = Vec::with_capacity(8 + buf.len());
        rec.extend_from_slice(&n[4..]);
        rec.extend_from_slice(&buf);
        rec
    };
    let open = |n: &[u8; 12], ad: &[u8], rec: &[u8]| -> Vec<u8> {
        let sealed = &rec[8..];
        let (ct, tag) = sealed.split_at(sealed.len() - alg.tag_len());
        let mut buf = ct.to_vec();
        let b = buf.as_mut_slice().into();
        let ok = match &c {
            C::Ccm8(c) => c.decrypt_inout_detached(n.into(), ad, b, tag.try_into().expect("tag")),
            C::Ccm16(c) => c.decrypt_inout_detached(n.into(), ad, b, tag.try_into().expect("tag")),
            C::Gcm(c) => c.decrypt_inout_detached(n.into(), ad, b, tag.try_into().expect("tag")),
        };
        ok.expect("opens");
        buf
    };
    let plain = vec![0x5au8; size];
    mbps_over(size, |seq| {
        let mut n = [1u8; 12];
        n[4..].copy_from_slice(&seq.to_be_bytes());
        let ad = simbridge::dtls::internal::crypto::aead::additional_data(
            seq.to_be_bytes(),
            23,
            0xfefd,
            size,
        );
        let rec = seal(&n, &ad, black_box(&plain));
        black_box(open(&n, &ad, &rec));
    })
}

/// Nanoseconds to expand one key the way `RecordCipher` does for every record (AES-128
/// encrypt schedule; for GCM also the hash key H = E(0) and POLYVAL's powers of H).
fn key_expansion_ns(alg: AeadAlg) -> f64 {
    use aes::cipher::{BlockCipherEncrypt, KeyInit};
    let n = 200_000u32;
    let start = Instant::now();
    for i in 0..n {
        let mut k = [7u8; 16];
        k[0] = i as u8;
        let aes = aes::Aes128Enc::new((&k).into());
        if alg == AeadAlg::Aes128Gcm {
            let mut h = aes::Block::default();
            aes.encrypt_block(&mut h);
            black_box(polyval::Polyval::new(&h));
        }
        black_box(aes);
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

/// `openssl speed` for one direction: MB/s (its "k" is 1000 bytes/s).
fn openssl_speed(evp: &str, size: usize, decrypt: bool) -> Option<f64> {
    let mut cmd = Command::new("openssl");
    cmd.args(["speed", "-seconds", "1", "-bytes", &size.to_string()]);
    if decrypt {
        cmd.arg("-decrypt");
    }
    let out = cmd.args(["-evp", evp]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last()?;
    let k = line.split_whitespace().last()?.strip_suffix('k')?;
    k.parse::<f64>().ok().map(|v| v / 1000.0)
}

fn main() {
    // `cargo bench` passes --bench; `-- throughput` runs only the record throughput part (no
    // peers started) and writes target/bench/dtls_throughput.json instead.
    let only_throughput = std::env::args().any(|a| a == "throughput");
    let pairs = [
        (Stack::Ours, Stack::Ours),
        (Stack::Openssl, Stack::Openssl),
        (Stack::OpensslTicket, Stack::OpensslTicket),
        (Stack::Gnutls, Stack::Gnutls),
        (Stack::GnutlsTicket, Stack::GnutlsTicket),
        (Stack::Mbedtls, Stack::Mbedtls),
        (Stack::Ours, Stack::Openssl),
        (Stack::Openssl, Stack::Ours),
        (Stack::Ours, Stack::Gnutls),
        (Stack::Gnutls, Stack::Ours),
        (Stack::Ours, Stack::Mbedtls),
        (Stack::Mbedtls, Stack::Ours),
    ];
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for (c, s) in pairs {
        if only_throughput {
            break;
        }
        match measure(c, s) {
            Ok(r) => rows.push(r),
            Err(e) => {
                eprintln!("left out {} -> {}: {e}", c.name(), s.name());
                skipped.push(json!({"client": c.name(), "server": s.name(), "reason": e}));
            }
        }
    }
    let reference = rows
        .iter()
        .find(|r| r.client == Stack::Openssl && r.server == Stack::Openssl)
        .map(|r| (r.hs.bytes(), r.hs.ip_bytes()));
    let ratio = |v: u64, base: Option<u64>| -> Option<f64> {
        base.filter(|b| *b > 0).map(|b| v as f64 / b as f64)
    };

    println!("\n## Full PSK handshake, {SUITE}, cookie exchange (relay counts)\n");
    println!(
        "| client → server | datagrams | flights | C→S B | S→C B | UDP payload B | IP B | vs OpenSSL (UDP) | vs OpenSSL (IP) | app record overhead B |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut json_rows = Vec::new();
    for r in &rows {
        let rb = ratio(r.hs.bytes(), reference.map(|x| x.0));
        let ri = ratio(r.hs.ip_bytes(), reference.map(|x| x.1));
        let f = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{v:.2}"));
        println!(
            "| {} → {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.client.name(),
            r.server.name(),
            r.hs.datagrams(),
            r.hs.flights,
            r.hs.c2s.bytes,
            r.hs.s2c.bytes,
            r.hs.bytes(),
            r.hs.ip_bytes(),
            f(rb),
            f(ri),
            r.record_overhead.map_or("–".into(), |v| v.to_string()),
        );
        json_rows.push(json!({
            "client": r.client.name(),
            "server": r.server.name(),
            "suite": SUITE,
            "datagrams": r.hs.datagrams(),
            "flights": r.hs.flights,
            "c2s_datagrams": r.hs.c2s.datagrams,
            "s2c_datagrams": r.hs.s2c.datagrams,
            "c2s_bytes": r.hs.c2s.bytes,
            "s2c_bytes": r.hs.s2c.bytes,
            "udp_payload_bytes": r.hs.bytes(),
            "ip_bytes": r.hs.ip_bytes(),
            "c2s_sizes": r.hs.c2s.sizes,
            "s2c_sizes": r.hs.s2c.sizes,
            "ratio_udp_vs_openssl": rb,
            "ratio_ip_vs_openssl": ri,
            "app_record_overhead_bytes": r.record_overhead,
        }));
    }
    println!("\nPer-datagram UDP payloads (C→S | S→C), in arrival order:\n");
    for r in &rows {
        println!(
            "- {} → {}: {:?} | {:?}",
            r.client.name(),
            r.server.name(),
            r.hs.c2s.sizes,
            r.hs.s2c.sizes
        );
    }

    println!("\n## Record seal+open throughput (MB/s, one core)\n");
    println!(
        "| algorithm | record size B | ours seal+open | OpenSSL seal+open (speed -evp, enc & -decrypt) | ours / OpenSSL | ours, open in place | same, AES key pre-expanded | per-record expansion cost | before (ccm/aes-gcm crates) | before / OpenSSL |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let have_openssl = missing_reason(Peer::Openssl).is_none();
    let mut json_tp = Vec::new();
    for (name, alg, evp) in [
        ("AES-128-CCM_8", AeadAlg::Aes128Ccm8, "aes-128-ccm"),
        ("AES-128-CCM", AeadAlg::Aes128Ccm, "aes-128-ccm"),
        ("AES-128-GCM", AeadAlg::Aes128Gcm, "aes-128-gcm"),
    ] {
        let expand_ns = key_expansion_ns(alg);
        for size in [64usize, 1024] {
            let ours = seal_open_mbps(alg, size, OpenPath::Vec);
            let in_place = seal_open_mbps(alg, size, OpenPath::InPlace);
            let before = crates_seal_open_mbps(alg, size);
            let pre = pre_expanded_mbps(alg, size);
            // share of the time per record that the per-record key expansion costs
            let expand_cost = 1.0 - in_place / pre;
            // two expansions (seal, open) per record, against the time one record takes
            // (an upper bound: in the record path E(0) shares the backend call with CTR)
            let record_ns = size as f64 * 1e3 / ours;
            let expand_share = 2.0 * expand_ns / record_ns;
            let theirs = if have_openssl {
                match (
                    openssl_speed(evp, size, false),
                    openssl_speed(evp, size, true),
                ) {
                    (Some(e), Some(d)) if e > 0.0 && d > 0.0 => Some(1.0 / (1.0 / e + 1.0 / d)),
                    _ => None,
                }
            } else {
                None
            };
            println!(
                "| {name} | {size} | {ours:.0} | {} | {} | {in_place:.0} | {pre:.0} | {:.0}% | {before:.0} | {} |",
                theirs.map_or("–".into(), |v| format!("{v:.0}")),
                theirs.map_or("–".into(), |v| format!("{:.2}", ours / v)),
                expand_cost * 100.0,
                theirs.map_or("–".into(), |v| format!("{:.2}", before / v)),
            );
            json_tp.push(json!({
                "algorithm": name, "record_bytes": size, "ours_mbps": ours,
                "openssl_evp": evp, "openssl_mbps": theirs,
                "ratio_vs_openssl": theirs.map(|t| ours / t),
                "ours_in_place_mbps": in_place,
                "key_expansion_ns": expand_ns,
                "key_expansion_share": expand_share,
                "before_crates_mbps": before,
                "pre_expanded_in_place_mbps": pre,
                "key_expansion_cost_share": expand_cost,
            }));
        }
    }
    println!(
        "\nOpenSSL's figure is `openssl speed -evp {{aes-128-ccm|aes-128-gcm}}` (raw EVP, default CCM tag), encrypt and decrypt combined as 1/(1/enc+1/dec); both sides divide by CPU time (ours: this thread's, from /proc/thread-self/schedstat); ours is RecordCipher::seal_append into a reused buffer + open into a fresh Vec (the record layer's path: DTLS nonce, 13-byte AD, AES key schedule expanded per record), \"open in place\" skips that Vec. For CCM OpenSSL sets the nonce per record but has no AD and a 12-byte tag; for GCM `speed -evp` streams one context with no per-record nonce, AD or tag, which favours OpenSSL at 64 B."
    );

    let out = json!({
        "suite": SUITE,
        "handshakes": json_rows,
        "left_out": skipped,
        "throughput": json_tp,
        "throughput_timing": "CPU time: openssl speed's user time, our thread's schedstat run time",
        "reference": "openssl -> openssl with -no_ticket",
    });
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("bench");
    std::fs::create_dir_all(&dir).expect("create target/bench");
    let path = dir.join(if only_throughput {
        "dtls_throughput.json"
    } else {
        "dtls_wire.json"
    });
    std::fs::write(&path, serde_json::to_string_pretty(&out).expect("json"))
        .expect("write dtls_wire.json");
    println!("\nJSON: {}", path.display());
}
