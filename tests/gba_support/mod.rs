//! Helpers shared by the GBA/BSF integration tests: a temporary BSF on loopback with a virtual
//! clock, a Milenage card that implements `AkaCard` (the same checks as a USIM: MAC first, then
//! the SQN array), raw HTTP for malformed requests, and a key-API caller.
#![allow(dead_code)]

pub mod cli;

use simbridge::aka::{SqnArray, SqnCheck, SqnPolicy, SubscriberKeys, sqn_from_bytes};
use simbridge::gba::{self, AkaCard, CardAka, GbaError};
use simbridge::secret::{Secret, SecretVec};
use simbridge_lab::bsf::{BsfConfig, BsfServer};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The demo subscriber (sim-profiles/demo.toml keys; test keys only).
pub const IMSI: &str = "001010123456789";
pub const IMPI: &str = "001010123456789@ims.mnc001.mcc001.3gppnetwork.org";
pub const K: &str = "000102030405060708090a0b0c0d0e0f";
pub const OPC: &str = "62e75b8d6fa5bf46ec87a9276f9df54d";
pub const TOKEN: &str = "test-token-0123456789abcdef";

pub fn profile_text(k: &str, sqn: &str, gba_u: bool) -> String {
    format!(
        "iccid = \"8988211000000000017\"\nimsi = \"{IMSI}\"\nmnc_length = 2\nk = \"{k}\"\nopc = \"{OPC}\"\namf = \"8000\"\nsqn = \"{sqn}\"\ngba_u = {gba_u}\n"
    )
}

fn hex16(s: &str) -> [u8; 16] {
    let mut b = [0u8; 16];
    hex::decode_to_slice(s, &mut b).expect("16 hex bytes");
    b
}

/// A card computing AKA with Milenage, checking MAC before SQN (TS 33.102 §6.3.3).
pub struct MilenageCard {
    pub keys: SubscriberKeys,
    pub sqn: SqnArray,
    pub impi: String,
    pub gba_u: bool,
    /// GBA_U: Ks and RAND kept in the card after a GBA bootstrap.
    pub gba_ks: Option<(Secret<32>, [u8; 16])>,
    pub auth_calls: u32,
}

impl MilenageCard {
    pub fn new(k: &str, initial_sqn: u64, gba_u: bool) -> Self {
        Self {
            keys: SubscriberKeys::from_opc(hex16(k), hex16(OPC)),
            sqn: SqnArray::new(SqnPolicy::default(), initial_sqn),
            impi: IMPI.to_string(),
            gba_u,
            gba_ks: None,
            auth_calls: 0,
        }
    }

    fn run(&mut self, rand: &[u8; 16], autn: &[u8; 16]) -> CardAka {
        self.auth_calls += 1;
        let out = self.keys.f2345(rand);
        let mut sqn_b = [0u8; 6];
        for (i, b) in sqn_b.iter_mut().enumerate() {
            *b = autn[i] ^ out.ak[i];
        }
        let amf = [autn[6], autn[7]];
        if self.keys.f1(rand, &sqn_b, &amf)[..] != autn[8..] {
            return CardAka::MacFailure;
        }
        let sqn = sqn_from_bytes(&sqn_b);
        match self.sqn.check(sqn) {
            SqnCheck::Reject { sqn_ms } => CardAka::SyncFailure {
                auts: self.keys.build_auts(rand, sqn_ms),
            },
            SqnCheck::Accept => {
                self.sqn.accept(sqn);
                CardAka::Success {
                    res: SecretVec::from(&out.res[..]),
                    ks: Some(gba::ks_from_ck_ik(&out.ck, &out.ik)),
                }
            }
        }
    }
}

impl AkaCard for MilenageCard {
    fn impi(&self) -> String {
        self.impi.clone()
    }
    fn supports_gba_u(&self) -> bool {
        self.gba_u
    }
    fn authenticate(&mut self, rand: &[u8; 16], autn: &[u8; 16]) -> Result<CardAka, GbaError> {
        Ok(self.run(rand, autn))
    }
    fn gba_bootstrap(&mut self, rand: &[u8; 16], autn: &[u8; 16]) -> Result<CardAka, GbaError> {
        if !self.gba_u {
            return Err(GbaError::Card("GBA_U not supported".into()));
        }
        Ok(match self.run(rand, autn) {
            CardAka::Success { res, ks } => {
                self.gba_ks = ks.map(|k| (k, *rand));
                CardAka::Success { res, ks: None }
            }
            other => other,
        })
    }
    fn gba_naf_derive(&mut self, naf_id: &[u8], impi: &str) -> Result<Secret<32>, GbaError> {
        let (ks, rand) = self
            .gba_ks
            .as_ref()
            .ok_or_else(|| GbaError::Card("no GBA_U Ks in the card".into()))?;
        gba::kdf(
            ks.expose(),
            0x01,
            &[b"gba-me", rand, impi.as_bytes(), naf_id],
        )
    }
}

/// A settable clock shared with the BSF.
#[derive(Clone)]
pub struct TestClock(pub Arc<Mutex<SystemTime>>);

impl TestClock {
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(SystemTime::now())))
    }
    pub fn now(&self) -> SystemTime {
        *self.0.lock().expect("clock")
    }
    pub fn advance(&self, d: Duration) {
        let mut t = self.0.lock().expect("clock");
        *t += d;
    }
}

/// A BSF on 127.0.0.1:0 over a temporary profiles and state directory.
pub struct TestBsf {
    pub server: BsfServer,
    pub dir: tempfile::TempDir,
    pub clock: TestClock,
}

impl TestBsf {
    /// Starts a BSF whose subscriber has key `k` and initial SQN `sqn` (hex).
    pub fn start(k: &str, sqn: &str) -> Self {
        Self::start_with(k, sqn, |_| {})
    }

    pub fn start_with(k: &str, sqn: &str, tweak: impl FnOnce(&mut BsfConfig)) -> Self {
        start_bsf_with_profile(&profile_text(k, sqn, true), tweak)
    }

    /// Stops the BSF and starts a new one on the same profiles, state and clock.
    pub fn restart(&mut self) {
        let profiles = self.dir.path().join("profiles");
        let c2 = self.clock.clone();
        let mut cfg = BsfConfig::new(
            &profiles,
            &self.state_dir(),
            "127.0.0.1:0",
            SecretVec::from(TOKEN.as_bytes()),
        );
        cfg.clock = Some(Arc::new(move || c2.now()));
        let old = std::mem::replace(
            &mut self.server,
            BsfServer::start(cfg).expect("BSF restarts"),
        );
        old.shutdown();
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn contexts(&self) -> usize {
        self.server.with_service(|s| s.store().len())
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }
}

/// A raw HTTP/1.1 exchange (Connection: close), with timeouts; returns (status, head, body).
pub fn raw_http(addr: SocketAddr, request: &[u8]) -> (u16, String, Vec<u8>) {
    raw_http_timeout(addr, request, Duration::from_secs(10))
}

/// [`raw_http`] with a read timeout (for junk that the server may leave hanging).
pub fn raw_http_timeout(
    addr: SocketAddr,
    request: &[u8],
    timeout: Duration,
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(timeout)).expect("timeout");
    s.set_write_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(request).expect("send");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, _) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body_at = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(buf.len(), |p| p + 4);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), buf[body_at..].to_vec())
}

/// GET / with the given headers.
pub fn get(addr: SocketAddr, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    let mut req = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    raw_http(addr, req.as_bytes())
}

/// The value of a header in a raw response head.
pub fn head_header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// Calls the key API; returns (status, JSON body).
pub fn key_api(addr: SocketAddr, token: Option<&str>, body: &str) -> (u16, serde_json::Value) {
    let mut req = format!(
        "POST /nbsp-gba/v1/bootstrapping-info-retrieval HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    let (status, _, body) = raw_http(addr, req.as_bytes());
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

pub fn key_request(btid: &str, fqdn: &str, ua: &str) -> String {
    serde_json::json!({"btId": btid, "nafId": {"nafFqdn": fqdn, "uaSecProtId": ua}}).to_string()
}

/// Files in a directory tree (to check that nothing was cached).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A software USIM (main's `softsim`) behind the `uicc` layer, from profile text.
pub fn soft_card(text: &str) -> simbridge::uicc::Uicc<simbridge_lab::softsim::SoftUsim> {
    let profile =
        simbridge_lab::softsim::Profile::parse(text, Path::new("test-card.toml")).expect("profile");
    let usim = simbridge_lab::softsim::SoftUsim::from_profile(profile, None).expect("soft USIM");
    simbridge::uicc::Uicc::open(usim, None).expect("USIM opens")
}

/// A transport that counts the requests it sends.
pub struct Counting<T> {
    pub inner: T,
    pub requests: u32,
}

impl<T: gba::UbTransport> gba::UbTransport for Counting<T> {
    fn get(
        &mut self,
        url: &str,
        headers: &[(String, String)],
    ) -> Result<gba::HttpResponse, GbaError> {
        self.requests += 1;
        self.inner.get(url, headers)
    }
}

/// The first 401 challenge for `impi`: (nonce, realm, RAND, AUTN).
pub fn challenge(addr: SocketAddr, impi: &str) -> (String, String, [u8; 16], [u8; 16]) {
    let auth =
        format!("Digest username=\"{impi}\", realm=\"x\", nonce=\"\", uri=\"/\", response=\"\"");
    let (status, head, _) = get(addr, &[("Authorization", &auth)]);
    assert_eq!(status, 401, "{head}");
    let ch =
        gba::digest::Challenge::parse(&head_header(&head, "www-authenticate").expect("challenge"))
            .expect("parse");
    let raw = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        ch.nonce.as_bytes(),
    )
    .expect("b64");
    (
        ch.nonce.clone(),
        ch.realm.clone(),
        raw[..16].try_into().expect("rand"),
        raw[16..32].try_into().expect("autn"),
    )
}

/// An Authorization header answering `nonce` with `password` (RES, or empty with AUTS).
pub fn answer_header(
    impi: &str,
    realm: &str,
    nonce: &str,
    password: &[u8],
    auts: Option<String>,
) -> String {
    let input = gba::digest::DigestInput {
        username: impi,
        realm,
        nonce,
        nc: "00000001",
        cnonce: "abcdef",
        uri: "/",
    };
    gba::digest::Credentials {
        username: impi.into(),
        realm: realm.into(),
        nonce: nonce.into(),
        uri: "/".into(),
        response: gba::digest::request_digest(&input, password, "GET", b""),
        qop: Some("auth-int".into()),
        nc: Some("00000001".into()),
        cnonce: Some("abcdef".into()),
        opaque: None,
        algorithm: Some("AKAv1-MD5".into()),
        auts,
    }
    .to_header()
}

/// RES of a Milenage card for a challenge (panics on anything but success).
pub fn res_of(card: &mut MilenageCard, rand: &[u8; 16], autn: &[u8; 16]) -> Vec<u8> {
    match card.authenticate(rand, autn).expect("card") {
        CardAka::Success { res, .. } => res.expose().to_vec(),
        other => panic!("card said {other:?}"),
    }
}

/// Bytes recorded in one direction of one connection.
pub type Log = Arc<Mutex<Vec<u8>>>;

/// A TCP relay in front of a BSF that records every byte each way, so a test can check what
/// really went over the wire (HTTP requests and responses, whatever the client's connection reuse).
pub struct RecordingRelay {
    pub addr: SocketAddr,
    /// Per connection: (client → server bytes, server → client bytes).
    pub conns: Arc<Mutex<Vec<(Log, Log)>>>,
}

impl RecordingRelay {
    /// Listens on 127.0.0.1:0 and forwards each connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind relay");
        let addr = listener.local_addr().expect("addr");
        let conns: Arc<Mutex<Vec<_>>> = Arc::default();
        let c2 = conns.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let (up, down): (Log, Log) = Default::default();
                c2.lock().expect("conns").push((up.clone(), down.clone()));
                let pipe = |mut from: TcpStream, mut to: TcpStream, log: Log| {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 4096];
                        while let Ok(n) = from.read(&mut buf) {
                            // Logged before it is passed on: whatever the peer got is recorded.
                            log.lock().expect("log").extend_from_slice(&buf[..n]);
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                };
                let (c_r, s_r) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                pipe(c_r, server, up);
                pipe(s_r, client, down);
            }
        });
        Self { addr, conns }
    }

    /// `http://<addr>/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// TCP payload bytes recorded so far: (client → BSF, BSF → client).
    pub fn bytes(&self) -> (u64, u64) {
        let conns = self.conns.lock().expect("conns");
        conns.iter().fold((0, 0), |(u, d), (up, down)| {
            (
                u + up.lock().expect("log").len() as u64,
                d + down.lock().expect("log").len() as u64,
            )
        })
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.conns.lock().expect("conns").len() as u64
    }

    /// The heads of every HTTP message recorded in one direction (`requests` true: client → BSF).
    pub fn heads(&self, requests: bool) -> Vec<String> {
        let conns = self.conns.lock().expect("conns");
        let mut out = Vec::new();
        for (up, down) in conns.iter() {
            let bytes = if requests { up } else { down }
                .lock()
                .expect("log")
                .clone();
            let mut rest = &bytes[..];
            while let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&rest[..end]).into_owned();
                let mut body = head_header(&head, "content-length")
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if head_header(&head, "transfer-encoding")
                    .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
                {
                    body = rest[end + 4..]
                        .windows(5)
                        .position(|w| w == b"0\r\n\r\n")
                        .map_or(rest.len() - end - 4, |p| p + 5);
                }
                out.push(head);
                rest = rest.get(end + 4 + body..).unwrap_or_default();
            }
        }
        out
    }
}

/// A BSF like [`TestBsf::start_with`] whose subscriber profile is `profile` (text).
pub fn start_bsf_with_profile(profile: &str, tweak: impl FnOnce(&mut BsfConfig)) -> TestBsf {
    start_bsf_with_profiles(&[("demo.toml", profile)], tweak)
}

/// A BSF like [`TestBsf::start_with`] over several profiles: (file name, text).
pub fn start_bsf_with_profiles(
    profiles_text: &[(&str, &str)],
    tweak: impl FnOnce(&mut BsfConfig),
) -> TestBsf {
    let dir = tempfile::tempdir().expect("tempdir");
    let profiles = dir.path().join("profiles");
    std::fs::create_dir_all(&profiles).expect("mkdir");
    for (name, text) in profiles_text {
        std::fs::write(profiles.join(name), text).expect("write profile");
    }
    let clock = TestClock::new();
    let c2 = clock.clone();
    let mut cfg = BsfConfig::new(
        &profiles,
        &dir.path().join("state"),
        "127.0.0.1:0",
        SecretVec::from(TOKEN.as_bytes()),
    );
    cfg.clock = Some(Arc::new(move || c2.now()));
    tweak(&mut cfg);
    let server = BsfServer::start(cfg).expect("BSF starts");
    TestBsf { server, dir, clock }
}
