//! Record splitting, handshake fragment parsing and reassembly on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simbridge::dtls::internal::reassembly::{max_message_len, Reassembler};
use simbridge::dtls::internal::wire::handshake::parse_fragments;
use simbridge::dtls::internal::wire::record::split_datagram;

fuzz_target!(|data: &[u8]| {
    let (records, _) = split_datagram(data);
    let mut r = Reassembler::default();
    for rec in records {
        let _ = rec.header.epoch_seq();
        if let Ok(frags) = parse_fragments(rec.fragment) {
            for f in frags {
                // a server's bounds and budget: what an attacker meets
                let room = 2048usize.saturating_sub(r.buffered());
                r.insert(&f, rec.header.epoch, max_message_len(f.msg_type, true), room);
                assert!(r.buffered() <= 2048);
                while r.pop().is_some() {}
            }
        }
    }
});
