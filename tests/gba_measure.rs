//! What one bootstrap costs on the wire: HTTP round trips and TCP payload bytes, counted by a
//! TCP relay (`RecordingRelay`) between the Ub client and our BSF. Run with `--nocapture` to see the figures.

mod gba_support;
mod support;

use gba_support::*;
use simbridge::gba::{self, UbConfig, UreqTransport};
use std::time::Duration;

fn measure(card_text: &str, hss_sqn: &str) -> (u32, u32, u64, u64, u64) {
    let bsf = TestBsf::start(K, hss_sqn);
    let proxy = RecordingRelay::start(bsf.addr());
    let mut card = soft_card(card_text);
    let out = {
        let mut t = UreqTransport::new(Duration::from_secs(10));
        let o = gba::bootstrap(
            &mut card,
            &mut t,
            &UbConfig::new(&format!("http://{}/", proxy.addr)),
            bsf.clock.now(),
        )
        .expect("bootstrap");
        drop(t); // closes the kept-alive connection so the pumps finish
        o
    };
    let (up, down) = proxy.bytes();
    (out.round_trips, out.resyncs, up, down, proxy.connections())
}

#[test]
fn one_bootstrap_costs_two_round_trips() {
    let (rt, resyncs, up, down, conns) =
        measure(&profile_text(K, "000000000000", false), "000000000000");
    println!(
        "GBA_ME bootstrap: {rt} HTTP round trips, {conns} TCP connection(s), {up} B up + {down} B down = {} B TCP payload",
        up + down
    );
    assert_eq!((rt, resyncs), (2, 0));
    assert_eq!(conns, 1, "both requests on one kept-alive connection");
    // Two requests with a Digest header each (~250-450 B), a 401 and a 200 with the XML body.
    assert!((400..=1200).contains(&up), "up {up}");
    assert!((500..=1500).contains(&down), "down {down}");

    let (rt, _, up_u, down_u, _) = measure(&profile_text(K, "000000000000", true), "000000000000");
    println!(
        "GBA_U bootstrap: {rt} HTTP round trips, {up_u} B up + {down_u} B down = {} B",
        up_u + down_u
    );
    assert_eq!(rt, 2);

    let (rt, resyncs, up_r, down_r, _) =
        measure(&profile_text(K, "000000200000", false), "000000000000");
    println!(
        "GBA_ME bootstrap with one AUTS resync: {rt} round trips, {up_r} B up + {down_r} B down = {} B",
        up_r + down_r
    );
    assert_eq!((rt, resyncs), (3, 1));
    assert!(up_r > up && down_r > down);
}
