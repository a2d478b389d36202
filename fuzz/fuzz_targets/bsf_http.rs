//! The emulated BSF's HTTP handlers without sockets: each request goes where the BSF server
//! routes it (`bsf::server`: the key API path to `KeyApi::handle` with the context store, every
//! other path to the Ub service `UbService::handle`), with arbitrary method, URL, Authorization,
//! User-Agent and body, over one fresh BSF per input (one demo subscriber, an in-memory context
//! store, SEQ state on tmpfs).
//!
//! Input: fields separated by 0x00, five per request: `flags+method`, `url`, `authorization`,
//! `user-agent`, `body`. The first byte of the first field holds flags: bit 0 sends to the key
//! API path, bit 1 replaces the Authorization by a correct answer to the last challenge (the
//! harness holds the subscriber's K, so a fuzz run reaches 200 OK, a stored context and the key
//! API's 200), bit 2 sends the key API's bearer token, bit 3 omits Authorization, bit 4 omits
//! User-Agent, bits 5-7 advance the clock by that many 20 s steps. `$N` in the Authorization
//! becomes the last nonce issued, `$B` in the body the last B-TID. (A flags byte of 0 is a
//! separator, so a request with no flag starts with an empty method.)
//!
//! Asserts: only the statuses the modules document; every Ub reply carries the Server header; a
//! Ub 200 only for an answer the harness computed, with a body that parses, a B-TID of the B-TID
//! form and a lifetime in the future; a key API 200 only with the token and a stored B-TID.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use simbridge::aka::SubscriberKeys;
use simbridge_lab::bsf::keyapi::MAX_KEY_REQUEST;
use simbridge_lab::bsf::{ContextStore, Hss, KeyApi, UbService, UbSettings, KEY_API_PATH};
use simbridge::gba::digest::{request_digest, Challenge, Credentials, DigestInput};
use simbridge::gba::ids::is_btid;
use simbridge::gba::time::parse_xs_datetime;
use simbridge::gba::xml::BootstrappingInfo;
use simbridge::secret::SecretVec;

const IMSI: &str = "001010123456789";
const IMPI: &str = "001010123456789@ims.mnc001.mcc001.3gppnetwork.org";
const K: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const OPC: &str = "62e75b8d6fa5bf46ec87a9276f9df54d";
const REALM: &str = "bsf.mnc001.mcc001.pub.3gppnetwork.org";
const TOKEN: &str = "fuzz-token-0123456789abcdef";

/// Profiles and SEQ state on tmpfs (a challenge may write SEQ state with fsync).
fn dirs() -> &'static (PathBuf, PathBuf) {
    static DIRS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        let base = PathBuf::from(if std::path::Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        })
        .join(format!("simbridge-fuzz-bsf-{}", std::process::id()));
        let profiles = base.join("profiles");
        std::fs::create_dir_all(&profiles).expect("profiles dir");
        std::fs::write(
            profiles.join("demo.toml"),
            format!(
                "iccid = \"8988211000000000017\"\nimsi = \"{IMSI}\"\nmnc_length = 2\nk = \"{}\"\nopc = \"{OPC}\"\namf = \"8000\"\nsqn = \"000000000020\"\ngba_u = false\n",
                hex::encode(K)
            ),
        )
        .expect("profile");
        (profiles, base.join("state"))
    })
}

fn opc() -> [u8; 16] {
    let mut b = [0u8; 16];
    hex::decode_to_slice(OPC, &mut b).expect("OPc");
    b
}

/// A correct Authorization for `nonce` (RES from Milenage with the subscriber's K).
fn answer(nonce: &str, uri: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(nonce)
        .ok()?;
    let rand: [u8; 16] = raw.get(..16)?.try_into().ok()?;
    let res = SubscriberKeys::from_opc(K, opc()).f2345(&rand).res;
    let input = DigestInput {
        username: IMPI,
        realm: REALM,
        nonce,
        nc: "00000001",
        cnonce: "0a4f113b",
        uri,
    };
    Some(
        Credentials {
            username: IMPI.into(),
            realm: REALM.into(),
            nonce: nonce.into(),
            uri: uri.into(),
            response: request_digest(&input, &res, "GET", b""),
            qop: Some("auth-int".into()),
            nc: Some("00000001".into()),
            cnonce: Some("0a4f113b".into()),
            opaque: None,
            algorithm: Some("AKAv1-MD5".into()),
            auts: None,
        }
        .to_header(),
    )
}

fuzz_target!(|data: &[u8]| {
    let (profiles, state) = dirs();
    let Ok(hss) = Hss::load(profiles, state, 0) else {
        panic!("the fuzz BSF's HSS does not load");
    };
    let mut ub = UbService::new(hss, ContextStore::in_memory(16), UbSettings::new(REALM));
    let keys = KeyApi::new(SecretVec::from(TOKEN.as_bytes()));
    let mut now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut nonce = String::new();
    let mut btid = String::new();
    let fields: Vec<&[u8]> = data.split(|b| *b == 0).collect();
    for req in fields.chunks(5).take(16) {
        let field = |i: usize| req.get(i).map(|f| String::from_utf8_lossy(f).into_owned());
        let head = req[0];
        let flags = head.first().copied().unwrap_or(0);
        let method = String::from_utf8_lossy(head.get(1..).unwrap_or_default()).into_owned();
        now += Duration::from_secs(20 * u64::from(flags >> 5));
        let key_api = flags & 1 != 0;
        let url = if key_api {
            KEY_API_PATH.to_string()
        } else {
            field(1).unwrap_or_default()
        };
        let mut harness_answer = false;
        let auth = if flags & 8 != 0 {
            None
        } else if flags & 2 != 0 {
            let uri = url.split('?').next().unwrap_or_default();
            harness_answer = true;
            answer(&nonce, if uri.is_empty() { "/" } else { uri })
        } else if flags & 4 != 0 {
            Some(format!("Bearer {TOKEN}"))
        } else {
            field(2).map(|a| a.replace("$N", &nonce))
        };
        let ua = if flags & 16 != 0 { None } else { field(3) };
        let body = req
            .get(4)
            .map(|b| String::from_utf8_lossy(b).replace("$B", &btid).into_bytes())
            .unwrap_or_default();
        let path = url.split('?').next().unwrap_or_default();
        if path == KEY_API_PATH {
            if body.len() > MAX_KEY_REQUEST {
                continue; // the server answers 413 before the handler
            }
            let r = keys.handle(ub.store(), &method, auth.as_deref(), &body, now);
            assert!(
                [200, 400, 401, 403, 404, 405].contains(&r.status),
                "key API {}",
                r.status
            );
            if r.status == 200 {
                assert_eq!(auth.as_deref(), Some(&*format!("Bearer {TOKEN}")));
                let v: serde_json::Value =
                    serde_json::from_slice(&r.body).expect("a 200 body is JSON");
                assert!(v.get("meKeyMaterial").is_some_and(|k| k.is_string()));
            }
        } else {
            let r = ub.handle(&method, &url, auth.as_deref(), ua.as_deref(), now);
            assert!(
                [200, 400, 401, 403, 405, 503].contains(&r.status),
                "Ub {}",
                r.status
            );
            assert!(r.header("server").is_some());
            if let Some(c) = r.header("www-authenticate") {
                nonce = Challenge::parse(c).expect("our challenge parses").nonce;
            }
            if r.status == 200 {
                assert!(
                    harness_answer,
                    "Ub 200 for a request the harness did not sign"
                );
                let info = BootstrappingInfo::parse(&r.body).expect("the 200 body parses");
                assert!(is_btid(&info.btid), "{}", info.btid);
                let exp = parse_xs_datetime(&info.lifetime).expect("lifetime parses");
                assert!(exp > now);
                btid = info.btid;
            }
        }
    }
});
