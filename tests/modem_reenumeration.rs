//! USB re-enumeration beside a running gateway: `simbridge bridge` with `[card] modem = "<link>"`
//! keeps bridging while the modem's device disappears and comes back under another name behind
//! the stable link (as /dev/serial/by-id/... does on a Raspberry Pi), and the next bootstrap runs
//! on the card through the new device. The same scenario runs under qemu in tests/pi_emulated.rs.

mod common;
mod modem_support;
mod pi_support;
mod support;

#[test]
fn gateway_keeps_bridging_across_a_modem_reenumeration_behind_a_stable_link() {
    pi_support::gateway_survives_reenumeration(&pi_support::Runner::host());
}
