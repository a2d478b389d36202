//! Known answers: RFC 5869 Appendix A.1 for HKDF, the key schedule of RFC 8448 §3 (the
//! simple 1-RTT handshake: no PSK, X25519, TLS_AES_128_GCM_SHA256) with the TLS 1.3 prefix, and
//! the PSK binder of RFC 8448 §4 (the resumed 0-RTT handshake).
//! The "dtls13" prefix has no published trace; its HkdfLabel bytes are checked instead.

use super::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("test hex")
}

fn h32(s: &str) -> [u8; 32] {
    h(s).try_into().expect("32 bytes")
}

#[test]
fn hkdf_matches_rfc5869_case_1() {
    let ikm = [0x0b; 22];
    let salt = h("000102030405060708090a0b0c");
    let info = h("f0f1f2f3f4f5f6f7f8f9");
    let prk = hkdf_extract(&salt, &ikm);
    assert_eq!(
        prk.expose()[..],
        h("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")[..]
    );
    let mut okm = [0u8; 42];
    hkdf_expand(prk.expose(), &info, &mut okm).expect("42 bytes");
    assert_eq!(
        okm[..],
        h("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")[..]
    );
    let mut too_long = vec![0u8; 255 * 32 + 1];
    assert_eq!(
        hkdf_expand(prk.expose(), &info, &mut too_long),
        Err(KeyScheduleError::OutputTooLong)
    );
}

// RFC 8448 §3 inputs.
const ECDHE: &str = "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d";
const HELLO_HASH: &str = "860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8";
const SERVER_FINISHED_HASH: &str =
    "9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13";
const CLIENT_FINISHED_HASH: &str =
    "209145a96ee8e2a122ff810047cc952684658d6049e86429426db87c54ad143d";

#[test]
fn the_rfc8448_simple_handshake_schedule() {
    let p = LabelPrefix::Tls13;
    let early = EarlySecret::new(p, None);
    assert_eq!(
        early.secret().expose(),
        &h32("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a")
    );
    let derived = derive_secret(p, early.secret(), b"derived", &transcript_hash(b""));
    assert_eq!(
        derived.expose(),
        &h32("6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba")
    );
    let hs = early.into_handshake(Some(&h(ECDHE)));
    assert_eq!(
        hs.secret().expose(),
        &h32("1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac")
    );
    let hello = h32(HELLO_HASH);
    let c_hs = hs.client_traffic(&hello);
    let s_hs = hs.server_traffic(&hello);
    assert_eq!(
        c_hs.expose(),
        &h32("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21")
    );
    assert_eq!(
        s_hs.expose(),
        &h32("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
    );
    let ck = TrafficKeys::from_secret(p, &c_hs);
    let sk = TrafficKeys::from_secret(p, &s_hs);
    assert_eq!(
        ck.key.expose()[..],
        h("dbfaa693d1762c5b666af5d950258d01")[..]
    );
    assert_eq!(ck.iv.expose()[..], h("5bd3c71b836e0b76bb73265f")[..]);
    assert_eq!(
        sk.key.expose()[..],
        h("3fce516009c21727d0f2e4e86ee403bc")[..]
    );
    assert_eq!(sk.iv.expose()[..], h("5d313eb2671276ee13000b30")[..]);

    let master = hs.into_master();
    assert_eq!(
        master.secret().expose(),
        &h32("18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919")
    );
    let fin = h32(SERVER_FINISHED_HASH);
    assert_eq!(
        master.client_traffic(&fin).expose(),
        &h32("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5")
    );
    assert_eq!(
        master.server_traffic(&fin).expose(),
        &h32("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643")
    );
    assert_eq!(
        master.exporter(&fin).expose(),
        &h32("fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50")
    );
    assert_eq!(
        master.resumption(&h32(CLIENT_FINISHED_HASH)).expose(),
        &h32("7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c")
    );
}

#[test]
fn the_dtls13_prefix_builds_its_own_hkdf_label() {
    // HkdfLabel for "key", no context, 16 bytes: length 0x0010, label length 9,
    // "dtls13key", context length 0 (RFC 9147 §5.9 replaces "tls13 " by "dtls13").
    let secret = [0x42u8; 32];
    let mut via_label = [0u8; 16];
    expand_label(LabelPrefix::Dtls13, &secret, b"key", b"", &mut via_label).expect("fits");
    let mut by_hand = [0u8; 16];
    let info = [&[0x00, 0x10, 0x09][..], b"dtls13key", &[0x00]].concat();
    hkdf_expand(&secret, &info, &mut by_hand).expect("fits");
    assert_eq!(via_label, by_hand);
    // and the keys differ from TLS 1.3's for the same secret
    let s = Secret::new(secret);
    let d = TrafficKeys::from_secret(LabelPrefix::Dtls13, &s);
    let t = TrafficKeys::from_secret(LabelPrefix::Tls13, &s);
    assert_ne!(d.key.expose(), t.key.expose());
    assert_ne!(
        d.sn_key.expose(),
        d.key.expose(),
        "sn key has its own label"
    );
}

#[test]
fn an_external_psk_changes_every_stage_and_has_its_own_binder_label() {
    let p = LabelPrefix::Dtls13;
    let psk = [7u8; 16];
    let with = EarlySecret::new(p, Some(&psk));
    let without = EarlySecret::new(p, None);
    assert_ne!(with.secret().expose(), without.secret().expose());
    assert_ne!(
        with.binder_key(BinderKind::External).expose(),
        with.binder_key(BinderKind::Resumption).expose()
    );
    // psk_ke: no (EC)DHE, zeros in its place
    let hs = with.into_handshake(None);
    let zeros = EarlySecret::new(p, Some(&psk)).into_handshake(Some(&[0u8; 32]));
    assert_eq!(hs.secret().expose(), zeros.secret().expose());
}

#[test]
fn verify_data_is_hmac_under_the_finished_key() {
    let p = LabelPrefix::Tls13;
    let base = Secret::new([3u8; 32]);
    let hash = transcript_hash(b"messages");
    let mut fk = [0u8; 32];
    expand_label(p, base.expose(), b"finished", b"", &mut fk).expect("fits");
    assert_eq!(
        verify_data(p, &base, &hash),
        crate::crypto::prf::hmac(&fk, &[&hash])
    );
    assert_ne!(
        verify_data(LabelPrefix::Dtls13, &base, &hash),
        verify_data(p, &base, &hash)
    );
}

#[test]
fn a_key_update_moves_to_a_new_secret() {
    let p = LabelPrefix::Dtls13;
    let s0 = Secret::new([9u8; 32]);
    let s1 = next_traffic_secret(p, &s0);
    let s2 = next_traffic_secret(p, &s1);
    assert_ne!(s0.expose(), s1.expose());
    assert_ne!(s1.expose(), s2.expose());
    let mut by_hand = [0u8; 32];
    expand_label(p, s0.expose(), b"traffic upd", b"", &mut by_hand).expect("fits");
    assert_eq!(s1.expose(), &by_hand);
}

#[test]
fn labels_and_contexts_over_255_bytes_are_refused() {
    let mut out = [0u8; 16];
    let long = [b'x'; 250];
    assert_eq!(
        expand_label(LabelPrefix::Dtls13, &[0; 32], &long, b"", &mut out),
        Err(KeyScheduleError::LabelTooLong)
    );
    assert_eq!(
        expand_label(LabelPrefix::Dtls13, &[0; 32], b"key", &[0; 256], &mut out),
        Err(KeyScheduleError::LabelTooLong)
    );
}

#[test]
fn the_rfc8448_resumption_binder() {
    let p = LabelPrefix::Tls13;
    let psk = h("4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3");
    let early = EarlySecret::new(p, Some(&psk));
    assert_eq!(
        early.secret().expose(),
        &h32("9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c")
    );
    let binder_key = early.binder_key(BinderKind::Resumption);
    assert_eq!(
        binder_key.expose(),
        &h32("69fe131a3bbad5d63c64eebcc30e395b9d8107726a13d074e389dbc8a4e47256")
    );
    let mut finished_key = [0u8; 32];
    expand_label(p, binder_key.expose(), b"finished", b"", &mut finished_key).expect("fits");
    assert_eq!(
        finished_key,
        h32("5588673e72cb59c87d220caffe94f2dea9a3b1609f7d50e90a48227db9ed7eaa")
    );
    let truncated_hash = h32("63224b2e4573f2d3454ca84b9d009a04f6be9e05711a8396473aefa01e924a14");
    assert_eq!(
        psk_binder(&early, BinderKind::Resumption, &truncated_hash),
        h32("3add4fb2d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d")
    );
    // an external PSK (a GBA Ks_NAF) binds under its own label
    assert_ne!(
        psk_binder(&early, BinderKind::External, &truncated_hash),
        psk_binder(&early, BinderKind::Resumption, &truncated_hash)
    );
}
