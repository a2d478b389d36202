//! The energy model itself: pure arithmetic from parameters and figures to energy per message,
//! average current and battery life. No I/O, no clock.

use super::EnergyError;
use super::radio::{Coverage, Radio, RadioParams};
use super::scenario::Scenario;
use super::strategy::{Figures, StrategyId, StrategySet};
use serde::Serialize;

/// 3GPP's evaluation battery (TR 45.820 §5.4).
pub const TARGET_BATTERY_WH: f64 = 5.0;
/// 3GPP's battery-life objective on that battery, in years.
pub const TARGET_YEARS: f64 = 10.0;
const SECONDS_PER_DAY: f64 = 86_400.0;
/// A year of 365 days, as in the TR 45.820 battery-life arithmetic.
const SECONDS_PER_YEAR: f64 = 365.0 * SECONDS_PER_DAY;
/// The security share of a message's energy the report finds a key lifetime for: security
/// should cost a tenth of the energy at most.
pub const SECURITY_SHARE_GOAL_PCT: f64 = 10.0;

/// From which key (Ks) lifetime a strategy's security share of energy per message stays under
/// [`SECURITY_SHARE_GOAL_PCT`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyLifetimeBound {
    /// Under the goal even with a new key (bootstrap and full handshake) for every message.
    Any,
    /// Under the goal from this key lifetime on, in hours.
    AtLeastHours(f64),
    /// Over the goal even with a key that never expires: the per-message cost alone is too much.
    Never,
}

/// Everything the model needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Model {
    /// Radio parameters (of `radio.radio`).
    pub radio: RadioParams,
    /// Coverage level.
    pub coverage: Coverage,
    /// Whether the device sends Release Assistance Indication after its last expected packet.
    pub rai: bool,
    /// `long-lived` without CID re-runs a full handshake after a NAT rebinding instead of
    /// resuming (for servers that do not offer resumption).
    pub rebind_full: bool,
    /// Traffic, network and battery.
    pub scenario: Scenario,
    /// Byte / round-trip figures per strategy.
    pub strategies: StrategySet,
}

/// Where one message's energy goes, in joules.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Breakdown {
    /// Wake-up, random access, RRC setup and release.
    pub setup_j: f64,
    /// Transmitting the uplink bytes.
    pub tx_j: f64,
    /// Receiving the downlink bytes.
    pub rx_j: f64,
    /// Connected time spent on round trips.
    pub wait_j: f64,
    /// RRC inactivity tail (shortened by RAI).
    pub tail_j: f64,
    /// Periodic TAUs between messages, when messages are rarer than T3412.
    pub tau_j: f64,
}

impl Breakdown {
    /// Energy of one message event.
    pub fn total_j(&self) -> f64 {
        self.setup_j + self.tx_j + self.rx_j + self.wait_j + self.tail_j + self.tau_j
    }
}

/// The projection for one strategy (or the no-security reference).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Projection {
    /// Strategy key (`plain` for the reference row).
    pub strategy: String,
    /// Name for people.
    pub label: String,
    /// True for the no-security reference row.
    pub reference: bool,
    /// Where the byte / round-trip figures come from.
    pub figures_source: String,
    /// Handshakes per message (expected value: fractions are amortised handshakes).
    pub handshakes_per_message: f64,
    /// GBA Ub bootstraps per message (one per key lifetime; 0 for the reference row).
    pub bootstraps_per_message: f64,
    /// From which key lifetime the security share stays under [`SECURITY_SHARE_GOAL_PCT`].
    pub key_lifetime_for_goal: KeyLifetimeBound,
    /// On-air traffic per message: bytes include IP/UDP headers; round trips include the
    /// application's own.
    pub on_air: Figures,
    /// Where the energy goes.
    pub breakdown: Breakdown,
    /// Energy per message event, J.
    pub energy_per_message_j: f64,
    /// Of which the security layer, J (difference to the no-security reference).
    pub security_overhead_j: f64,
    /// Security share of the message energy, %.
    pub security_overhead_pct: f64,
    /// Average power over a day, µW (messages plus PSM floor).
    pub average_power_uw: f64,
    /// Average current at the supply voltage, µA.
    pub average_current_ua: f64,
    /// Battery life on the scenario's battery, years.
    pub battery_life_years: f64,
    /// Battery life on 3GPP's 5 Wh battery without leakage, years.
    pub battery_life_years_5wh: f64,
    /// Whether `battery_life_years_5wh` reaches 3GPP's 10 years.
    pub meets_3gpp_target: bool,
}

/// The model's answer for every strategy that has figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Radio.
    pub radio: Radio,
    /// Coverage level.
    pub coverage: Coverage,
    /// RAI used.
    pub rai: bool,
    /// Handshake of `long-lived` after a NAT rebinding: "abbreviated" or "full".
    pub rebind_handshake: &'static str,
    /// Application exchanges per day.
    pub messages_per_day: f64,
    /// Application payload per message, B.
    pub payload_bytes: f64,
    /// Battery, Wh.
    pub battery_wh: f64,
    /// PSK lifetime, h.
    pub key_lifetime_h: f64,
    /// NAT rebinding period, min.
    pub nat_rebind_min: f64,
    /// 3GPP objective: years on `target_battery_wh`.
    pub target_years: f64,
    /// 3GPP evaluation battery, Wh.
    pub target_battery_wh: f64,
    /// The no-security reference first, then one row per strategy, in table order.
    pub rows: Vec<Projection>,
}

impl Report {
    /// The row of `strategy` (its key, e.g. `long-lived-cid`; `plain` for the reference).
    pub fn row(&self, strategy: &str) -> Option<&Projection> {
        self.rows.iter().find(|p| p.strategy == strategy)
    }
}

impl Model {
    /// A model with the published defaults for `radio`.
    pub fn new(radio: Radio, coverage: Coverage, rai: bool) -> Self {
        Self {
            radio: super::radio::defaults(radio),
            coverage,
            rai,
            rebind_full: false,
            scenario: Scenario::default(),
            strategies: StrategySet::default(),
        }
    }

    /// Seconds between two messages.
    fn interval_s(&self) -> f64 {
        SECONDS_PER_DAY / self.scenario.messages_per_day.value
    }

    /// Share of messages that open a new key lifetime (a Ub bootstrap and a full handshake).
    fn key_share(&self) -> f64 {
        (self.interval_s() / (self.scenario.key_lifetime_h.value * 3600.0)).min(1.0)
    }

    /// One GBA Ub bootstrap: its bytes are IP bytes already (TCP), so no datagram headers are
    /// added to them.
    fn bootstrap(&self) -> Figures {
        let sc = &self.scenario;
        Figures::new(
            sc.bootstrap_bytes_up.value,
            sc.bootstrap_bytes_down.value,
            0.0,
            0.0,
            sc.bootstrap_round_trips.value,
        )
    }

    /// Handshakes of `id` per message, as (figures, expected count) pairs.
    pub fn handshakes(&self, id: StrategyId) -> Vec<(Figures, f64)> {
        self.handshakes_at(id, self.key_share())
    }

    /// Handshakes of `id` per message when a share `f_key` of messages opens a new key.
    fn handshakes_at(&self, id: StrategyId, f_key: f64) -> Vec<(Figures, f64)> {
        let Some(s) = self.strategies.strategies.get(&id) else {
            return Vec::new();
        };
        let interval = self.interval_s();
        // Share of messages that find a new NAT binding.
        let f_rebind = (interval / (self.scenario.nat_rebind_min.value * 60.0)).min(1.0);
        let full = self.strategies.key_change_handshake(id);
        match id {
            StrategyId::FullPerMessage | StrategyId::Dtls13Psk | StrategyId::Dtls13ZeroRtt => {
                vec![(s.per_connection, 1.0)]
            }
            StrategyId::ResumePerMessage => {
                vec![(s.per_connection, 1.0 - f_key), (full, f_key)]
            }
            StrategyId::LongLived => {
                let rebind = if self.rebind_full {
                    full
                } else {
                    s.per_connection
                };
                vec![(rebind, (1.0 - f_key) * f_rebind), (full, f_key)]
            }
            // OSCORE does not care about addresses: only a new key costs an exchange.
            StrategyId::LongLivedCid | StrategyId::Dtls13LongLivedCid | StrategyId::Oscore => {
                vec![(s.per_connection, f_key)]
            }
        }
    }

    /// The application exchange without any security: request up, response down.
    fn application(&self) -> Figures {
        let sc = &self.scenario;
        let has_response = sc.response_bytes.value > 0.0;
        Figures::new(
            sc.payload_bytes.value + sc.coap_request_bytes.value,
            sc.response_bytes.value,
            1.0,
            if has_response { 1.0 } else { 0.0 },
            sc.app_round_trips.value,
        )
    }

    /// Energy of one message event carrying `traffic` (UDP payload bytes; IP/UDP headers are
    /// added per datagram here).
    pub fn event_energy(&self, traffic: &Figures) -> Breakdown {
        let r = &self.radio;
        let c = self.coverage;
        let v = r.supply_v.value;
        let ip = self.scenario.ip_udp_bytes.value;
        let up = traffic.bytes_up + ip * traffic.datagrams_up;
        let down = traffic.bytes_down + ip * traffic.datagrams_down;
        let setup_j = r.setup_j.value * r.setup_scale.at(c);
        let tail_s = if self.rai {
            r.rai_tail_s.value
        } else {
            r.tail_s.value
        };
        // Messages rarer than T3412 pay for the periodic TAUs in between (each a wake-up).
        let taus = (self.interval_s() / (r.t3412_h.value * 3600.0) - 1.0).max(0.0);
        Breakdown {
            setup_j,
            tx_j: v * r.tx_ma.at(c) / 1e3 * up * r.byte_up_ms.at(c) / 1e3,
            rx_j: v * r.rx_ma.value / 1e3 * down * r.byte_down_ms.at(c) / 1e3,
            wait_j: v * r.rx_ma.value / 1e3 * traffic.round_trips * r.rtt_s.at(c),
            tail_j: v * r.tail_ma.value / 1e3 * tail_s,
            tau_j: taus * setup_j,
        }
    }

    /// Checks every parameter (for models assembled in code rather than through overrides).
    pub fn validate(&self) -> Result<(), EnergyError> {
        self.radio.validate()?;
        self.scenario.validate()?;
        for (id, s) in &self.strategies.strategies {
            let figs = [
                ("per_connection", Some(s.per_connection)),
                ("per_message", Some(s.per_message)),
                ("per_key_change", s.per_key_change),
            ];
            for (part, f) in figs {
                let Some(f) = f else { continue };
                let vals = [
                    ("bytes_up", f.bytes_up),
                    ("bytes_down", f.bytes_down),
                    ("datagrams_up", f.datagrams_up),
                    ("datagrams_down", f.datagrams_down),
                    ("round_trips", f.round_trips),
                ];
                for (name, v) in vals {
                    super::sourced::Domain::NonNegative
                        .check(v, &format!("strategies.{id}.{part}.{name}"))?;
                }
            }
        }
        Ok(())
    }

    /// Runs the model for the reference and every strategy that has figures.
    pub fn run(&self) -> Result<Report, EnergyError> {
        self.validate()?;
        let app = self.application();
        let plain = self.project("plain", "no security (reference)", true, "", 0.0, &app, 0.0);
        let plain_j = plain.energy_per_message_j;
        let mut rows = vec![plain];
        let f_key = self.key_share();
        for (id, s) in &self.strategies.strategies {
            let (traffic, n) = self.traffic(*id, &app, f_key);
            let source = if *id == StrategyId::LongLived && self.rebind_full {
                format!(
                    "{}; rebind_full: a full handshake after each rebinding",
                    s.source
                )
            } else {
                s.source.to_string()
            };
            let mut row = self.project(id.key(), id.label(), false, &source, n, &traffic, plain_j);
            row.bootstraps_per_message = f_key;
            row.key_lifetime_for_goal = self.key_lifetime_for_goal(*id, &app, plain_j);
            rows.push(row);
        }
        let sc = &self.scenario;
        Ok(Report {
            radio: self.radio.radio,
            coverage: self.coverage,
            rai: self.rai,
            rebind_handshake: if self.rebind_full {
                "full"
            } else {
                "abbreviated"
            },
            messages_per_day: sc.messages_per_day.value,
            payload_bytes: sc.payload_bytes.value,
            battery_wh: sc.battery_wh.value,
            key_lifetime_h: sc.key_lifetime_h.value,
            nat_rebind_min: sc.nat_rebind_min.value,
            target_years: TARGET_YEARS,
            target_battery_wh: TARGET_BATTERY_WH,
            rows,
        })
    }

    /// What one message of `id` carries on average (application, security records, its share
    /// of handshakes and of Ub bootstraps) and its handshakes per message, when a share `f_key`
    /// of messages opens a new key.
    fn traffic(&self, id: StrategyId, app: &Figures, f_key: f64) -> (Figures, f64) {
        let Some(s) = self.strategies.strategies.get(&id) else {
            return (*app, 0.0);
        };
        let mut traffic = app
            .plus(&s.per_message_for(app))
            .plus(&self.bootstrap().scaled(f_key));
        let mut n = 0.0;
        for (f, k) in self.handshakes_at(id, f_key) {
            traffic = traffic.plus(&f.scaled(k));
            n += k;
        }
        (traffic, n)
    }

    /// Security share of the message energy of `id`, %, when a share `f_key` of messages opens
    /// a new key.
    fn security_share_at(&self, id: StrategyId, app: &Figures, plain_j: f64, f_key: f64) -> f64 {
        let e = self.event_energy(&self.traffic(id, app, f_key).0).total_j();
        if e > 0.0 {
            (e - plain_j) / e * 100.0
        } else {
            0.0
        }
    }

    /// The shortest key lifetime that keeps the security share of `id` under the goal. The
    /// share falls as keys live longer (fewer bootstraps and full handshakes per message), so a
    /// bisection over the share of key-opening messages finds the bound.
    fn key_lifetime_for_goal(
        &self,
        id: StrategyId,
        app: &Figures,
        plain_j: f64,
    ) -> KeyLifetimeBound {
        let goal = SECURITY_SHARE_GOAL_PCT;
        if self.security_share_at(id, app, plain_j, 1.0) < goal {
            return KeyLifetimeBound::Any;
        }
        if self.security_share_at(id, app, plain_j, 0.0) >= goal {
            return KeyLifetimeBound::Never;
        }
        // Invariant: under the goal at `lo`, not under it at `hi`.
        let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            if self.security_share_at(id, app, plain_j, mid) < goal {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        if lo == 0.0 {
            // the bound lies beyond 2^60 message intervals: no key lives that long
            return KeyLifetimeBound::Never;
        }
        KeyLifetimeBound::AtLeastHours(self.interval_s() / lo / 3600.0)
    }

    #[allow(clippy::too_many_arguments)] // one private constructor of a flat output row
    fn project(
        &self,
        key: &str,
        label: &str,
        reference: bool,
        source: &str,
        handshakes: f64,
        traffic: &Figures,
        plain_j: f64,
    ) -> Projection {
        let sc = &self.scenario;
        let v = self.radio.supply_v.value;
        let ip = sc.ip_udp_bytes.value;
        let breakdown = self.event_energy(traffic);
        let e = breakdown.total_j();
        let floor_w = v * (self.radio.psm_ua.value + self.radio.board_ua.value) / 1e6;
        let power_w = e * sc.messages_per_day.value / SECONDS_PER_DAY + floor_w;
        let life = |wh: f64, leak_pct: f64| {
            let joules = wh * 3600.0;
            let leak_w = leak_pct / 100.0 * joules / SECONDS_PER_YEAR;
            joules / (power_w + leak_w) / SECONDS_PER_YEAR
        };
        let years_5wh = life(TARGET_BATTERY_WH, 0.0);
        let overhead = if reference { 0.0 } else { e - plain_j };
        Projection {
            strategy: key.into(),
            label: label.into(),
            reference,
            figures_source: if reference {
                "the application exchange alone (scenario parameters)".into()
            } else {
                source.into()
            },
            handshakes_per_message: handshakes,
            bootstraps_per_message: 0.0,
            key_lifetime_for_goal: KeyLifetimeBound::Any,
            on_air: Figures {
                bytes_up: traffic.bytes_up + ip * traffic.datagrams_up,
                bytes_down: traffic.bytes_down + ip * traffic.datagrams_down,
                ..*traffic
            },
            breakdown,
            energy_per_message_j: e,
            security_overhead_j: overhead,
            security_overhead_pct: if e > 0.0 { overhead / e * 100.0 } else { 0.0 },
            average_power_uw: power_w * 1e6,
            average_current_ua: power_w / v * 1e6,
            battery_life_years: life(sc.battery_wh.value, sc.self_discharge_pct_per_year.value),
            battery_life_years_5wh: years_5wh,
            meets_3gpp_target: years_5wh >= TARGET_YEARS,
        }
    }
}

impl super::strategy::StrategyFigures {
    /// The per-message security overhead for an application exchange `app`: the downlink part
    /// applies only when the exchange has a response.
    pub fn per_message_for(&self, app: &Figures) -> Figures {
        let mut f = self.per_message;
        if app.datagrams_down == 0.0 && app.bytes_down == 0.0 {
            f.bytes_down = 0.0;
            f.datagrams_down = 0.0;
        }
        f
    }
}
