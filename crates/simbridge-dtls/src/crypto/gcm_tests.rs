//! Known-answer and differential tests of our AES-128-GCM (crates/simbridge-dtls/src/crypto/gcm.rs).
//!
//! Vectors: McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", test cases 1-4
//! (AES-128, 96-bit IV; also NIST's gcmEncryptExtIV128 set). The `aes-gcm` crate serves as the
//! reference for many random lengths of payload and additional data.

use super::gcm::{GcmError, open_in_place, seal_in_place};
use super::test_rng::Rng;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn check_kat(k: &str, n: &str, ad: &str, msg: &str, ct: &str, tag: &str) {
    let k: [u8; 16] = h(k).try_into().unwrap();
    let n: [u8; 12] = h(n).try_into().unwrap();
    let ad = h(ad);
    let mut buf = h(msg);
    let t = seal_in_place(&k, &n, &ad, &mut buf).unwrap();
    assert_eq!(hex::encode(&buf), ct);
    assert_eq!(hex::encode(t), tag);
    open_in_place(&k, &n, &ad, &mut buf, &t).unwrap();
    assert_eq!(hex::encode(&buf), msg);
}

#[test]
fn mcgrew_viega_test_case_1_empty() {
    check_kat(
        "00000000000000000000000000000000",
        "000000000000000000000000",
        "",
        "",
        "",
        "58e2fccefa7e3061367f1d57a4e7455a",
    );
}

#[test]
fn mcgrew_viega_test_case_2_one_block() {
    check_kat(
        "00000000000000000000000000000000",
        "000000000000000000000000",
        "",
        "00000000000000000000000000000000",
        "0388dace60b6a392f328c2b971b2fe78",
        "ab6e47d42cec13bdf53a67b21257bddf",
    );
}

#[test]
fn mcgrew_viega_test_case_3_four_blocks() {
    check_kat(
        "feffe9928665731c6d6a8f9467308308",
        "cafebabefacedbaddecaf888",
        "",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
        "4d5c2af327cd64a62cf35abd2ba6fab4",
    );
}

#[test]
fn mcgrew_viega_test_case_4_ad_and_partial_block() {
    check_kat(
        "feffe9928665731c6d6a8f9467308308",
        "cafebabefacedbaddecaf888",
        "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
        "5bc94fbc3221a5db94fae95ae7121a47",
    );
}

#[test]
fn matches_aes_gcm_crate_on_random_lengths() {
    use aes_gcm::{AeadInOut, Aes128Gcm, KeyInit};
    let mut rng = Rng(0x6C4D_0001_2345_6789);
    for round in 0..500usize {
        // every length 0..=200 once, then random up to 4 KiB (several VAES batches)
        let len = if round <= 200 {
            round
        } else {
            (rng.next() % 4097) as usize
        };
        let ad_len = match round % 4 {
            0 => 0,
            1 => 13,
            _ => (rng.next() % 300) as usize,
        };
        let k: [u8; 16] = rng.bytes(16).try_into().unwrap();
        let n: [u8; 12] = rng.bytes(12).try_into().unwrap();
        let ad = rng.bytes(ad_len);
        let msg = rng.bytes(len);
        let mut expected = msg.clone();
        let etag = Aes128Gcm::new((&k).into())
            .encrypt_inout_detached((&n).into(), &ad, expected.as_mut_slice().into())
            .unwrap();
        let mut buf = msg.clone();
        let tag = seal_in_place(&k, &n, &ad, &mut buf).unwrap();
        assert_eq!(buf, expected, "ct len {len} ad {ad_len}");
        assert_eq!(&tag[..], &etag[..], "tag len {len} ad {ad_len}");
        open_in_place(&k, &n, &ad, &mut buf, &tag).unwrap();
        assert_eq!(buf, msg);
    }
}

#[test]
fn tampered_ciphertext_ad_nonce_or_tag_fail_and_leave_ciphertext() {
    let k = [5u8; 16];
    let n = [6u8; 12];
    let ad = b"thirteen-byte".to_vec();
    let msg: Vec<u8> = (0..77u8).collect();
    let mut ct = msg.clone();
    let tag = seal_in_place(&k, &n, &ad, &mut ct).unwrap();
    let fails = |k: &[u8; 16], n: &[u8; 12], ad: &[u8], c: &[u8], t: &[u8; 16]| {
        let mut b = c.to_vec();
        open_in_place(k, n, ad, &mut b, t) == Err(GcmError::Auth) && b == c
    };
    for i in [0, 16, 76] {
        let mut c = ct.clone();
        c[i] ^= 1;
        assert!(fails(&k, &n, &ad, &c, &tag), "ct byte {i}");
    }
    for i in [0, 7, 15] {
        let mut t = tag;
        t[i] ^= 0x40;
        assert!(fails(&k, &n, &ad, &ct, &t), "tag byte {i}");
    }
    let mut a = ad.clone();
    a[12] ^= 1;
    assert!(fails(&k, &n, &a, &ct, &tag), "ad");
    assert!(fails(&k, &n, &[], &ct, &tag), "no ad");
    assert!(fails(&k, &[7u8; 12], &ad, &ct, &tag), "nonce");
    assert!(fails(&k, &n, &ad, &ct[..76], &tag), "truncated");
    let mut b = ct.clone();
    open_in_place(&k, &n, &ad, &mut b, &tag).unwrap();
    assert_eq!(b, msg);
}
