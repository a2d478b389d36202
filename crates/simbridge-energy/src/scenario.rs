//! The traffic and battery side of the model: how often the device talks, what one application
//! exchange carries, how often its NAT binding and its key change, and the battery.

use super::sourced::{Sourced, param_table};
use serde::Serialize;

/// Traffic, network and battery parameters; see `params()` for units and sources.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    /// Application exchanges per day (each wakes the device from PSM).
    pub messages_per_day: Sourced,
    /// Application payload per uplink message.
    pub payload_bytes: Sourced,
    /// CoAP bytes around the payload in the request (header, token, options, payload marker).
    pub coap_request_bytes: Sourced,
    /// Bytes of the application response (0 = one-way, no response).
    pub response_bytes: Sourced,
    /// Round trips of the application exchange itself (1 for a confirmable request/response).
    pub app_round_trips: Sourced,
    /// IP + UDP header bytes per datagram.
    pub ip_udp_bytes: Sourced,
    /// The NAT binding changes at least this often (idle timeout or reassignment).
    pub nat_rebind_min: Sourced,
    /// Lifetime of the PSK (GBA Ks): a new key means a full handshake.
    pub key_lifetime_h: Sourced,
    /// IP bytes the device sends in one GBA Ub bootstrap (TCP/IP headers included), paid once
    /// per key lifetime whatever the DTLS strategy; 0 with both directions models a
    /// pre-shared key that never changes hands.
    pub bootstrap_bytes_up: Sourced,
    /// IP bytes the device receives in one Ub bootstrap (TCP/IP headers included).
    pub bootstrap_bytes_down: Sourced,
    /// Round trips of one Ub bootstrap (TCP handshake and two HTTP exchanges).
    pub bootstrap_round_trips: Sourced,
    /// Battery energy.
    pub battery_wh: Sourced,
    /// Battery self-discharge, percent of capacity per year.
    pub self_discharge_pct_per_year: Sourced,
}

param_table!(Scenario {
    "messages_per_day" => messages_per_day: "1/day", Positive, "application exchanges per day";
    "payload_bytes" => payload_bytes: "B", NonNegative, "application payload per uplink message";
    "coap_request_bytes" => coap_request_bytes: "B", NonNegative, "CoAP header/token/options around the payload";
    "response_bytes" => response_bytes: "B", NonNegative, "application response (0 = one-way)";
    "app_round_trips" => app_round_trips: "RTT", NonNegative, "round trips of the application exchange";
    "ip_udp_bytes" => ip_udp_bytes: "B", NonNegative, "IP + UDP header per datagram";
    "nat_rebind_min" => nat_rebind_min: "min", Positive, "NAT binding changes at least this often";
    "key_lifetime_h" => key_lifetime_h: "h", Positive, "PSK (Ks_NAF) lifetime: full handshake per key";
    "bootstrap_bytes_up" => bootstrap_bytes_up: "B", NonNegative, "IP bytes up of one Ub bootstrap (once per key)";
    "bootstrap_bytes_down" => bootstrap_bytes_down: "B", NonNegative, "IP bytes down of one Ub bootstrap (once per key)";
    "bootstrap_round_trips" => bootstrap_round_trips: "RTT", NonNegative, "round trips of one Ub bootstrap";
    "battery_wh" => battery_wh: "Wh", Positive, "battery energy";
    "self_discharge_pct_per_year" => self_discharge_pct_per_year: "%/y", NonNegative, "battery self-discharge";
});

impl Default for Scenario {
    fn default() -> Self {
        Self {
            messages_per_day: Sourced::cite(
                24.0,
                "hourly: TR 36.888 UL regular reporting every 60 min (also 5 / 30 min); boaks' long-term Thingy:91 test",
            ),
            payload_bytes: Sourced::cite(
                50.0,
                "3GPP TR 45.820 sec. 5.4 evaluation grid: 50 B or 200 B UL",
            ),
            coap_request_bytes: Sourced::cite(
                11.0,
                "[assumption] CoAP header 4 + token 4 + Uri-Path 2 + payload marker 1 (RFC 7252)",
            ),
            response_bytes: Sourced::cite(
                8.0,
                "[assumption] CoAP ACK 2.04 with a 4-byte token and no payload (RFC 7252)",
            ),
            app_round_trips: Sourced::cite(
                1.0,
                "confirmable CoAP request and its response (RFC 7252)",
            ),
            ip_udp_bytes: Sourced::cite(
                28.0,
                "IPv4 20 + UDP 8 per datagram, no header compression (RFC 791, RFC 768)",
            ),
            nat_rebind_min: Sourced::cite(
                5.0,
                "RFC 4787 REQ-5: UDP mapping timer >= 2 min, 5 min or more recommended; the bridge fault test rebinds every 5 min (carrier NATs are often shorter)",
            ),
            key_lifetime_h: Sourced::cite(
                24.0,
                "simbridge BSF default bootstrapping lifetime 24 h (TS 33.220 leaves it to the operator)",
            ),
            // Measured: 12 TCP segments, 2066 B of IP packets for one GBA_ME bootstrap, of which
            // 635 B TCP payload up and 791 B down (docs/gba.md); the 640 B of TCP/IP headers
            // are split evenly over the 6 segments each way.
            bootstrap_bytes_up: Sourced::cite(
                955.0,
                "measured: one GBA_ME Ub bootstrap, 635 B TCP payload up + half of the 640 B TCP/IP headers of its 12 segments (tcpdump on loopback, docs/gba.md)",
            ),
            bootstrap_bytes_down: Sourced::cite(
                1111.0,
                "measured: one GBA_ME Ub bootstrap, 791 B TCP payload down + half of the 640 B TCP/IP headers of its 12 segments (tcpdump on loopback, docs/gba.md)",
            ),
            bootstrap_round_trips: Sourced::cite(
                3.0,
                "TCP handshake + 2 HTTP round trips (TS 24.109 Ub: request, 401 challenge, authenticated request, 200 OK)",
            ),
            battery_wh: Sourced::cite(5.0, "3GPP TR 45.820 sec. 5.4: 5 Wh battery"),
            self_discharge_pct_per_year: Sourced::cite(
                0.0,
                "3GPP TR 45.820 sec. 5.4 evaluates without leakage",
            ),
        }
    }
}
