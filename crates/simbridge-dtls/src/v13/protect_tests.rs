//! Record protection: the mask's AES against FIPS-197, round trips in every suite and header
//! form, the overhead figures, and refusals (tampering, another epoch, no content type).

use super::*;
use crate::v13::key_schedule::{LabelPrefix, TrafficKeys};

fn keys(seed: u8) -> TrafficKeys {
    TrafficKeys::from_secret(LabelPrefix::Dtls13, &Secret::new([seed; 32]))
}

const SUITES: [AeadAlg; 3] = [AeadAlg::Aes128Ccm8, AeadAlg::Aes128Ccm, AeadAlg::Aes128Gcm];

const FORMS: [HeaderForm; 4] = [
    HeaderForm {
        seq_len: SeqLen::One,
        with_length: false,
    },
    HeaderForm {
        seq_len: SeqLen::One,
        with_length: true,
    },
    HeaderForm {
        seq_len: SeqLen::Two,
        with_length: false,
    },
    HeaderForm {
        seq_len: SeqLen::Two,
        with_length: true,
    },
];

#[test]
fn the_mask_is_aes_128_as_fips_197_appendix_c1() {
    let key = Secret::new(
        hex::decode("000102030405060708090a0b0c0d0e0f")
            .unwrap()
            .try_into()
            .unwrap(),
    );
    let pt: [u8; 16] = hex::decode("00112233445566778899aabbccddeeff")
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        record_number_mask(&key, &pt)[..],
        hex::decode("69c4e0d86a7b0430d8cdb78070b4c55a").unwrap()[..]
    );
}

#[test]
fn records_round_trip_in_every_suite_and_header_form() {
    for alg in SUITES {
        for form in FORMS {
            for cid in [None, Some(&[0xc1][..]), Some(&[1, 2, 3, 4][..])] {
                for content in [&b""[..], b"x", b"hello, world", &[0x42; 300]] {
                    let tx = Protection13::new(alg, &keys(1), 3);
                    let rx = Protection13::new(alg, &keys(1), 3);
                    let mut d = Vec::new();
                    tx.seal(41, 23, content, cid, form, &mut d).expect("seals");
                    assert_eq!(
                        d.len(),
                        content.len()
                            + tx.overhead(content.len(), cid.map_or(0, <[u8]>::len), form),
                        "{alg:?} {form:?}"
                    );
                    let (o, rest) = rx.open(&d, cid.map_or(0, <[u8]>::len), 40).expect("opens");
                    assert_eq!((o.seq, o.content_type), (41, 23));
                    assert_eq!(o.content, content);
                    assert!(rest.is_empty());
                }
            }
        }
    }
}

#[test]
fn the_smallest_ccm8_record_costs_11_bytes_and_12_with_a_one_byte_cid() {
    let p = Protection13::new(AeadAlg::Aes128Ccm8, &keys(2), 3);
    let short = HeaderForm {
        seq_len: SeqLen::One,
        with_length: false,
    };
    // header 2 + content type 1 + tag 8, once the content fills the 16-byte sample (7 B)
    assert_eq!(p.overhead(7, 0, short), 11);
    assert_eq!(p.overhead(50, 0, short), 11);
    assert_eq!(p.overhead(50, 1, short), 12);
    // shorter content is padded up to the sample
    assert_eq!(p.overhead(1, 0, short), 2 + 16 - 1);
    let gcm = Protection13::new(AeadAlg::Aes128Gcm, &keys(2), 3);
    assert_eq!(gcm.overhead(50, 0, short), 19);
    let mut d = Vec::new();
    p.seal(0, 23, &[0; 50], None, short, &mut d).expect("seals");
    assert_eq!(d.len(), 61);
}

#[test]
fn the_sequence_number_on_the_wire_is_encrypted() {
    let p = Protection13::new(AeadAlg::Aes128Ccm8, &keys(3), 3);
    let form = HeaderForm {
        seq_len: SeqLen::Two,
        with_length: false,
    };
    // many records: a masked field equal to the clear one every time would mean no mask
    let mut differs = 0;
    for seq in 0..64u64 {
        let mut d = Vec::new();
        p.seal(seq, 23, b"payload!", None, form, &mut d)
            .expect("seals");
        if u16::from_be_bytes([d[1], d[2]]) != seq as u16 {
            differs += 1;
        }
    }
    assert!(differs > 60, "{differs}");
}

#[test]
fn tampering_another_key_or_epoch_is_refused() {
    let alg = AeadAlg::Aes128Ccm8;
    let form = FORMS[1];
    let tx = Protection13::new(alg, &keys(4), 2);
    let mut d = Vec::new();
    tx.seal(7, 23, b"sensitive data", None, form, &mut d)
        .expect("seals");
    let rx = Protection13::new(alg, &keys(4), 2);
    for i in 0..d.len() {
        let mut bad = d.clone();
        bad[i] ^= 0x01;
        let r = rx.open(&bad, 0, 7);
        assert!(r.is_err(), "a flipped bit in byte {i} went through");
    }
    let other = Protection13::new(alg, &keys(5), 2);
    assert_eq!(other.open(&d, 0, 7).map(|_| ()), Err(RecordError13::Auth));
    let later = Protection13::new(alg, &keys(4), 3);
    assert_eq!(later.open(&d, 0, 7).map(|_| ()), Err(RecordError13::Epoch));
    // a record of padding only has no content type
    let mut e = Vec::new();
    tx.seal(8, 0, b"", None, form, &mut e).expect("seals");
    assert_eq!(
        rx.open(&e, 0, 8).map(|_| ()),
        Err(RecordError13::Wire(WireError::Invalid(
            Field::InnerContentType
        )))
    );
}

#[test]
fn records_with_lengths_share_a_datagram() {
    let alg = AeadAlg::Aes128Gcm;
    let tx = Protection13::new(alg, &keys(6), 3);
    let rx = Protection13::new(alg, &keys(6), 3);
    let mut d = Vec::new();
    tx.seal(1, 22, b"first", None, FORMS[1], &mut d)
        .expect("seals");
    tx.seal(2, 23, b"second", None, FORMS[0], &mut d)
        .expect("seals");
    let (a, rest) = rx.open(&d, 0, 1).expect("first");
    let (b, rest) = rx.open(rest, 0, 2).expect("second");
    assert_eq!((a.content_type, a.content), (22, b"first".to_vec()));
    assert_eq!((b.seq, b.content), (2, b"second".to_vec()));
    assert!(rest.is_empty());
}

#[test]
fn the_full_sequence_number_is_the_one_closest_to_the_expected() {
    // RFC 9147 §4.2.2: low bits 0x01 right after 0xff are 0x101, not 0x001
    assert_eq!(reconstruct_seq(0x100, 0x01, 8), 0x101);
    assert_eq!(reconstruct_seq(0x0fe, 0xff, 8), 0x0ff);
    // a late record from before the wrap
    assert_eq!(reconstruct_seq(0x102, 0xfe, 8), 0x0fe);
    assert_eq!(reconstruct_seq(0, 5, 8), 5);
    assert_eq!(reconstruct_seq(0x1_0005, 0xfffe, 16), 0xfffe);
    assert_eq!(reconstruct_seq(0xfff0, 0x0003, 16), 0x1_0003);
    // never below zero, never past the top
    assert_eq!(reconstruct_seq(3, 0xf0, 8), 0xf0);
    assert_eq!(reconstruct_seq(u64::MAX - 2, 0xff, 8), u64::MAX);
    // and a record sealed across the 8-bit wrap opens with the right number
    let alg = AeadAlg::Aes128Ccm8;
    let tx = Protection13::new(alg, &keys(7), 3);
    let rx = Protection13::new(alg, &keys(7), 3);
    let mut d = Vec::new();
    tx.seal(0x1_02, 23, b"after the wrap", None, FORMS[0], &mut d)
        .expect("seals");
    assert_eq!(rx.open(&d, 0, 0xff).expect("opens").0.seq, 0x102);
}
