//! Known-answer and differential tests of our AES-128-CCM (crates/simbridge-dtls/src/crypto/ccm.rs).
//!
//! Vectors with the 12-byte nonce only (L = 3): NIST SP 800-38C Appendix C Example 3 (the one
//! example with Nlen = 96, Tlen = 64, i.e. CCM_8) and Wycheproof aes_ccm_test.json, group
//! ivSize 96 / keySize 128 / tagSize 128 (C2SP/wycheproof, version 0.8r12). RFC 3610's vectors
//! use 13-byte nonces (L = 2), which this implementation does not take. The `ccm` crate serves
//! as the reference for many random lengths of payload and additional data, tags 8 and 16.

use super::ccm::{CcmError, MAX_PAYLOAD, open_in_place, seal_in_place};
use super::test_rng::Rng;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn key(s: &str) -> [u8; 16] {
    h(s).try_into().unwrap()
}

fn nonce(s: &str) -> [u8; 12] {
    h(s).try_into().unwrap()
}

/// Seals `msg` and checks ciphertext and tag; opens it back; returns the sealed parts.
fn check_kat(k: &str, n: &str, ad: &str, msg: &str, ct: &str, tag: &str) {
    let (k, n, ad) = (key(k), nonce(n), h(ad));
    let mut buf = h(msg);
    let mut t = vec![0u8; tag.len() / 2];
    seal_in_place(&k, &n, &ad, &mut buf, &mut t).unwrap();
    assert_eq!(hex::encode(&buf), ct, "ciphertext, msg {msg}");
    assert_eq!(hex::encode(&t), tag, "tag, msg {msg}");
    open_in_place(&k, &n, &ad, &mut buf, &t).unwrap();
    assert_eq!(hex::encode(&buf), msg, "opened, msg {msg}");
}

#[test]
fn nist_sp800_38c_example3_ccm8() {
    check_kat(
        "404142434445464748494a4b4c4d4e4f",
        "101112131415161718191a1b",
        "000102030405060708090a0b0c0d0e0f10111213",
        "202122232425262728292a2b2c2d2e2f3031323334353637",
        "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5",
        "484392fbc1b09951",
    );
}

/// Wycheproof aes_ccm_test.json, valid cases of the 96-bit-nonce, 128-bit-key, 128-bit-tag
/// group: (tcId, key, iv, aad, msg, ct, tag). Lengths cover empty, partial, exact and multiple
/// blocks of payload and of AD (1..65 bytes).
#[rustfmt::skip]
const WYCHEPROOF_VALID: &[(u32, &str, &str, &str, &str, &str, &str)] = &[
    (1, "bedcfb5a011ebc84600fcb296c15af0d", "438a547a94ea88dce46c6c85", "", "", "", "25d1a38495a7dea45bda049705627d10"),
    (2, "384ea416ac3c2f51a76e7d8226346d4e", "b30c084727ad1c592ac21d12", "", "35", "d7", "6be3fd13b7065afc19e3b8a3b96b39fb"),
    (3, "cae31cd9f55526eb038241fc44cac1e5", "b5e006ded553110e6dc56529", "", "d10989f2c52e94ad", "e64d0b64ebb381ec", "25409c795d491d804e583917227b73c7"),
    (4, "ffdf4228361ea1f8165852136b3480f7", "0e1666f2dc652f7708fb8f0d", "", "25b12e28ac0ef6ead0226a3b2288c800", "aaf596fa5b00aaac27700146aec932a9", "848b6735d32c96e4a0532bcdfaf33582"),
    (5, "c15ed227dd2e237ecd087eaaaad19ea4", "965ff6643116ac1443a2dec7", "", "fee62fde973fe025ad6b322dcdf3c63fc7", "0333df2a86d7f094dd8bce75da6c38c5c1", "417da29df85a1d134feee8aa35569081"),
    (6, "a8ee11b26d7ceb7f17eaa1e4b83a2cf6", "fbbc04fd6e025b7193eb57f6", "", "c08f085e6a9e0ef3636280c11ecfadf0c1e72919ffc17eaf", "fcaaa38feda3aca975ac76553c3e7ef36b887a8c4d8241f9", "c2c6dcaeaeb9f38a3a42d2f4e8a17de4"),
    (7, "1655bf662f7ee685615701fd3779d628", "42b51388f6f9047a2a994575", "", "857b2f6cd608c9cea0246c740caa4ca19c5f1c7d71cb9273f0d8c8bb65b70a", "b3fb66d3f2cb7590ad5ef5604813c125020ee3d791cb0ec67eb5eb86709b6b", "155577b98a811e45324616043997bc03"),
    (8, "3fd50741ec47ddbfc2fc090975d154f0", "eef1a6e651321852f0b25a31", "", "d6f6a9a24db6a7a6176d4362639c4fd77f70f3e089dd940086e12a9becbaf97f82", "532694bb2851ea7f3bdd37c4e806be5b953ea79d08100e74af3fa67eca8890db28", "9e1acee688848bca454c6d04753d3c7d"),
    (9, "42e38abef2dd7573248c5aefb3ecca54", "064b3cfbe04d94d4d5c19b30", "", "2c763b9ec84903bcbb8aec15e678a3a955e4870edbf62d9d3c81c4f9ed6154877875779ca33cce8f73a55ca7af1d8d817fc6baac00ef962c5a0da339ce81427a3d59", "4ca01b5b2a5e57bcc1a4b7f63f049dc477e3ee2e5c268efb346ff95b7dcd67f86ed0f11bb17c1dd7fb511d2f37b9684550c0d84be0f10030ccc4e0de5b74ef92ea54", "c5a57dd6fa16aa9de8de20e6bd321396"),
    (10, "59ab7ec1c02bb206af5a9131f1134311", "5508f5cea197386986d92dbe", "a43d39f78a2e9a8a", "", "", "09ec70faae333537a7314929ddfb525b"),
    (11, "9415f925bcb41dc25e86c826dbc8bf68", "bdffaa763b916ff0ee3f3ce4", "705d676cd8a94451", "feb36167eafc02c8e2bd6e13817686ba", "08db327a88be7b48f430fd7bfccdf502", "b7c249f810adacf99abded1f3b9130f2"),
    (12, "d97c9b043bdccfd59491a995e78f1696", "ef423240358830df915506a3", "3ddba7b3ab69c8b2", "f047594a5cffda64303a80b2fa6a957169", "e0caf2a9d50f70ecaa43b4a287c3b34a99", "cff4c61882b413b686ff35b63a3a73de"),
    (13, "16be38c05c7bc5c68ee6203871799240", "acca8ae916119e49d87c33a7", "28", "", "", "217d40efd972701fcc33df5362e1ea9c"),
    (14, "7c89680b4bca11a64314f4cac57a95df", "07c8ef981bea995257d3d65a", "b8e8", "", "", "dea636ded8b9ef2a08ffdf58a05b7871"),
    (15, "439fd5c3b76587d5a601ba6ef8fad214", "ed1d316d0834d174c1b5b438", "eae252f42d2c71", "", "", "e8530426cbabf63633ff373159247e38"),
    (16, "1a44f3550688fddbc1e5041dc98952c0", "5d2904298f668ba95eaa1797", "d55908958b70abee81054cdf3d3df5", "", "", "5c71b4f069cfa13b7634db4b13e7be7d"),
    (17, "7db6d8e58e3c552a644520aa805e2f48", "e98693e9f6632d115b5d5a74", "6fc1ca24e69786aa26bfb5d46ef8cb56", "", "", "b9a8a6d461a441fbd5bb6a8ac0d47e9d"),
    (18, "de6ed169d396cfb7378e892c7faf1d5d", "efc1870282e77ca8063f1beb", "eedf6e776ad37dc610825a6168e21356c2", "", "", "0d650a974ebea22fed077d229e0c9e65"),
    (19, "6cf09599181c07aeb21d7820bf706595", "4c4c525a8c7ee6879aefa79e", "bd913967db07b9eb5907f0be71ce886c41ff923c296c0ef3f704e98f649e59", "", "", "806e48e7d452b63b6126f576efbdf4c4"),
    (20, "ef35b5c797bb6beedb513ba3d8aebd25", "0576a1017ac00e49110c4cac", "a386d5c44de8c6a5063adf5ba9f0b75e9ad1f239a530dd76d797554d7b037d7d", "", "", "6966a1cf5729332b26fd3e3850b74865"),
    (21, "649f3dfddbf1af6087674568e2e6d7c3", "6ca6f87b7a8584df4f4687b9", "35312ca23e4eb36cb0a66c6f386b8ec29f6d11e82fbfcaadfd6cbc9b59d51a6c0270868274d91f60978d1f0f37280930d3fdcb3e90ea461eccc83fa0d975548816", "", "", "3daa0003de384d78443ffd3a5ea48179"),
    (22, "a5b5b6bae45b741fe4663890098f326a", "4bad10c6d84fd43fd13ad36f", "30", "127b150080ec0bc7704e26f4ab11abb6", "75e6ffcb6114833b67cd93bdf2c22b55", "c90e18eaf810b7bcefe7a526b1783b20"),
    (23, "0cecb9f512932d68e2c7c0bc4bd621c8", "2186a3091237adae83540e24", "743e", "437aeb94d842283ba57bb758e3d229f0", "646cef72906e2b8f69ac3134b496598e", "9dab1ee9314a0430abf54c37c88c790f"),
    (24, "a3fd2fdcce8a63bfe4eb2db7e42adbe1", "690e7ad1e05d0d4ab4552cf7", "ab91ec8cc73373", "be0231b5c7861f0af7b6381479d25b77", "a884f769fcc727839d59711fa3cb5ee0", "f2017e3bd10bb1b43fdcc0feeffc9c68"),
    (25, "55e04c122780be52ed9328928039008c", "0c908e58cddad69dea1a32c3", "25591707c004f506f4b51e85e29f6a", "26eb70672eef03667b34cc7d0df05872", "89166dcd7d74a445dfd3526c5180d825", "8b8ed5f97a168881c3b6efe91cfe7043"),
    (26, "5f0a1b5f8f8673d566ec7f54e7dca4f2", "c30968c967e53505621628db", "c07092d799dac2b4c05fbddd04743c34", "f6538476daf04524cf134309dd84e187", "2315110f7ec64e7a23e5a762822f71ab", "dc7b12fa2dbfbdc6d85faa77a2eb767e"),
    (27, "671a70e883fb0611dffd0b1dd9b8cca2", "a51c37f467893c1608e56274", "3ea12d80f40f34f812479d2ecc13d2d6df", "3baf3edf04dc0c97aae081cdeb08021d", "5d5630fc728ffb08ce693f7299e6728b", "00023f11a023c0786c105fe4c003af6e"),
    (28, "20bbf74c1e63982c472c4743569e4c84", "459fc7c004bf46323a02d846", "4f2285ce3dafa528c694a5272d3b7b929097db398772653bd9bbbdb3b2c8e1", "6db50992e8fbbee15d4979d3e322dacd", "8703e44697138c58532d97ee99231d94", "f14c2f39a4871a4a16c42f6fe878deef"),
    (29, "63f03172505d90e94900125cb8a4b0dd", "52c20979cdaaade573dba650", "5189ea6f39b2a78c0202fdff146c5cc6bdc7491d4786f80c6c6aef65634c05da", "602c98997ee03fd11ce00e92de193977", "5590155f3e701b4a960989d0251bac65", "fd6a2c9273d124b5553be42e78931465"),
    (30, "5bf008f6f27cc21f5ae82fb7907b1d92", "580af48bc1108604d5551343", "482da24bb4fb9eaa0dbf403733597f5b3ee8338b5d09a1d6f9070bb069264abbcacc5657aa6353f179d1bb4c7fa00526789eaf08e0da258cbdb39e9877c68b4a75", "ca89d6ae284afb6792cd894e07aa8336", "1b89c6bcddefbe9233ee4093468a5f61", "a49c7747dad42df6d729a01f4c50cf34"),
    (31, "30d8692eb3b62db6144f74ee9dec5296", "fe9f6fb4415cfb4189f9c76d", "", "", "", "804f915fc7fea2ca7d8baf1350c5227b"),
    (32, "21517fd9ebfd387dff2a0c0518ab8267", "61f6c4ec9e2091d4a031804a", "76d332ba081b3d3cfba271167ba108cd", "", "", "2cc4b905a4d39e35d4beaebded9b5966"),
    (33, "a716f931c8f9d977f7da8573bc65f2bf", "91773659adac8f12e5526316", "", "9c98038c5e8d1af597b3b9188b3624fb", "99ae76cfff552ce37b210e26e810787c", "2bdab5e6f008b0cc751d5b067487eb2b"),
    (34, "875b0b4a84150524eb1f50f9d8de1388", "fdc5014ed1ad706129d57322", "35a6d9829c8449c4402e385cc5c6fe98", "2f575dfb2dbe9d238de576fc63e4ac32", "3469c3ff738aa32aacc1ac48d89b1d75", "fa68720a3171a54c4b3690bffde7b610"),
    (35, "d6298fff67dba1ec250308e0bc5f4fae", "d96f9bbbfa14e9616c458df5", "", "8eeb4445a34c81fdbc478b83df71116ce6", "476869a3ddb386bf42478d0c84179045be", "9136d994daa22ead4d0827e5825001ac"),
    (36, "e3d3ec41f28eb35fb53f5fa91804e051", "89d270fc8b583bc631cefd39", "3d2f458c67c5b6c794b1f12dad409e0f", "847acf521995b33f8bc474c8befbca3bb2", "28aaec53493cd6252cf6410ed141bdafb7", "47bf3e16c227ca11fd68a16d407c2cc3"),
    (38, "2c9b9ff47d742c4ab224e9ca1ed57c4c", "917962caf3932441c259282f", "72175bdfdb4a23e97fdcbd263baf4316", "b542c2f3f81670ddf74f15184ab7de17e057cde9eef92babdb837500774c19", "320ae0c11e92d10d5bf5485c854b2d8f6318e33f16b520cffd35ada381c967", "a4866908e664ee140c6ae2b9d2ab8416"),
];

#[test]
fn wycheproof_aes128_ccm_nonce96_tag128_valid() {
    for (id, k, n, ad, msg, ct, tag) in WYCHEPROOF_VALID {
        eprintln!("tcId {id}");
        check_kat(k, n, ad, msg, ct, tag);
    }
}

/// Wycheproof tcId 39..65 share key, iv, msg and ct; each carries a modified tag.
#[test]
fn wycheproof_modified_tags_are_rejected() {
    let k = key("000102030405060708090a0b0c0d0e0f");
    let n = nonce("505152535455565758595a5b");
    let ct = h("3ee9f3430f3e803c0a46b7a84cd803de");
    // The valid tag (flip bit 0 of tcId 39 back) opens the record: the vectors are on point.
    let mut buf = ct.clone();
    open_in_place(
        &k,
        &n,
        &[],
        &mut buf,
        &h("3c6d5f66430ad65bb034077297f0929a"),
    )
    .unwrap();
    assert_eq!(hex::encode(&buf), "202122232425262728292a2b2c2d2e2f");
    for (id, tag) in [
        (39, "3d6d5f66430ad65bb034077297f0929a"),
        (43, "3c6d5fe6430ad65bb034077297f0929a"),
        (47, "3c6d5f66430ad65bb134077297f0929a"),
        (54, "3c6d5f66430ad65bb034077297f0929b"),
        (57, "3c6d5f66430ad65bb034077297f0921a"),
        (60, "3c6d5f66430ad6dbb034077297f0921a"),
        (61, "c392a099bcf529a44fcbf88d680f6d65"),
        (62, "00000000000000000000000000000000"),
        (63, "ffffffffffffffffffffffffffffffff"),
        (64, "bceddfe6c38a56db30b487f21770121a"),
        (65, "3d6c5e67420bd75ab135067396f1939b"),
    ] {
        let mut buf = ct.clone();
        assert_eq!(
            open_in_place(&k, &n, &[], &mut buf, &h(tag)),
            Err(CcmError::Auth),
            "tcId {id}"
        );
        // no unauthenticated plaintext is left behind
        assert_eq!(buf, vec![0u8; 16], "tcId {id}");
    }
}

fn reference_seal(tag_len: usize, k: &[u8; 16], n: &[u8; 12], ad: &[u8], msg: &[u8]) -> Vec<u8> {
    use ccm::aead::{AeadInOut, KeyInit};
    use ccm::consts::{U8, U12, U16};
    let mut buf = msg.to_vec();
    let tag = if tag_len == 8 {
        ccm::Ccm::<aes::Aes128, U8, U12>::new(k.into())
            .encrypt_inout_detached(n.into(), ad, buf.as_mut_slice().into())
            .unwrap()
            .to_vec()
    } else {
        ccm::Ccm::<aes::Aes128, U16, U12>::new(k.into())
            .encrypt_inout_detached(n.into(), ad, buf.as_mut_slice().into())
            .unwrap()
            .to_vec()
    };
    buf.extend_from_slice(&tag);
    buf
}

#[test]
fn matches_ccm_crate_on_random_lengths() {
    let mut rng = Rng(0x5EED_CC11_D7E5_0001);
    let mut cases = 0;
    for round in 0..600 {
        let tag_len = if round % 2 == 0 { 8 } else { 16 };
        // every length 0..=80 once per tag size, then random up to 2 KiB
        let len = if round < 162 {
            round / 2
        } else {
            rng.below(2049)
        };
        let ad_len = match round % 5 {
            0 => 0,
            1 => 13,
            2 => 23 + rng.below(256), // tls12_cid AD: 23 bytes + CID
            _ => rng.below(300),
        };
        let k: [u8; 16] = rng.bytes(16).try_into().unwrap();
        let n: [u8; 12] = rng.bytes(12).try_into().unwrap();
        let ad = rng.bytes(ad_len);
        let msg = rng.bytes(len);
        let expected = reference_seal(tag_len, &k, &n, &ad, &msg);
        let mut buf = msg.clone();
        let mut tag = vec![0u8; tag_len];
        seal_in_place(&k, &n, &ad, &mut buf, &mut tag).unwrap();
        assert_eq!(
            &expected[..len],
            &buf[..],
            "ct len {len} ad {ad_len} t {tag_len}"
        );
        assert_eq!(
            &expected[len..],
            &tag[..],
            "tag len {len} ad {ad_len} t {tag_len}"
        );
        open_in_place(&k, &n, &ad, &mut buf, &tag).unwrap();
        assert_eq!(buf, msg);
        cases += 1;
    }
    assert_eq!(cases, 600);
}

/// AD of 2^16 - 2^8 bytes and more takes the 0xfffe || 4-byte length encoding.
#[test]
fn long_additional_data_matches_ccm_crate() {
    let mut rng = Rng(7);
    let k: [u8; 16] = rng.bytes(16).try_into().unwrap();
    let n: [u8; 12] = rng.bytes(12).try_into().unwrap();
    for ad_len in [0xFEFF, 0xFF00, 0x1_0005] {
        let ad = rng.bytes(ad_len);
        let msg = rng.bytes(37);
        let expected = reference_seal(16, &k, &n, &ad, &msg);
        let mut buf = msg.clone();
        let mut tag = [0u8; 16];
        seal_in_place(&k, &n, &ad, &mut buf, &mut tag).unwrap();
        assert_eq!(&expected[..37], &buf[..], "ad {ad_len}");
        assert_eq!(&expected[37..], &tag[..], "ad {ad_len}");
    }
}

#[test]
fn tampered_ciphertext_ad_nonce_or_tag_fail() {
    let k = [9u8; 16];
    let n = [3u8; 12];
    let ad = b"epoch-seq-type-version-len".to_vec();
    let msg: Vec<u8> = (0..100u8).collect();
    for tag_len in [8usize, 16] {
        let mut ct = msg.clone();
        let mut tag = vec![0u8; tag_len];
        seal_in_place(&k, &n, &ad, &mut ct, &mut tag).unwrap();
        let fails = |k: &[u8; 16], n: &[u8; 12], ad: &[u8], ct: &[u8], tag: &[u8]| {
            let mut b = ct.to_vec();
            open_in_place(k, n, ad, &mut b, tag) == Err(CcmError::Auth) && b.iter().all(|&x| x == 0)
        };
        for i in [0, 15, 16, 50, 99] {
            let mut c = ct.clone();
            c[i] ^= 0x80;
            assert!(fails(&k, &n, &ad, &c, &tag), "ct byte {i}");
        }
        for i in 0..tag_len {
            let mut t = tag.clone();
            t[i] ^= 1;
            assert!(fails(&k, &n, &ad, &ct, &t), "tag byte {i}");
        }
        let mut a = ad.clone();
        a[0] ^= 1;
        assert!(fails(&k, &n, &a, &ct, &tag), "ad");
        assert!(fails(&k, &n, &ad[..ad.len() - 1], &ct, &tag), "short ad");
        assert!(fails(&k, &n, &[], &ct, &tag), "no ad");
        assert!(fails(&k, &[4u8; 12], &ad, &ct, &tag), "nonce");
        assert!(fails(&[8u8; 16], &n, &ad, &ct, &tag), "key");
        assert!(fails(&k, &n, &ad, &ct[..99], &tag), "truncated ct");
        // the untampered record opens
        let mut b = ct.clone();
        open_in_place(&k, &n, &ad, &mut b, &tag).unwrap();
        assert_eq!(b, msg);
    }
}

#[test]
fn refuses_bad_tag_lengths_and_oversized_payload() {
    let (k, n) = ([0u8; 16], [0u8; 12]);
    for t in [0usize, 2, 3, 7, 17, 18] {
        let mut tag = vec![0u8; t];
        assert_eq!(
            seal_in_place(&k, &n, &[], &mut [1, 2, 3], &mut tag),
            Err(CcmError::TagLen),
            "tag {t}"
        );
        assert_eq!(
            open_in_place(&k, &n, &[], &mut [1, 2, 3], &tag),
            Err(CcmError::TagLen)
        );
    }
    let mut big = vec![0u8; MAX_PAYLOAD + 1];
    let mut tag = [0u8; 8];
    assert_eq!(
        seal_in_place(&k, &n, &[], &mut big, &mut tag),
        Err(CcmError::TooLong)
    );
    // the largest payload is fine (the 3-byte length field holds it)
    big.truncate(MAX_PAYLOAD);
    seal_in_place(&k, &n, &[], &mut big, &mut tag).unwrap();
    open_in_place(&k, &n, &[], &mut big, &tag).unwrap();
    assert!(big.iter().all(|&b| b == 0));
}
