//! The radio side of the model: NB-IoT and LTE-M parameters with their published sources
//! (listed with their primary documents in docs/energy.md, Sources), per coverage level where the
//! sources say they differ.

use super::EnergyError;
use super::sourced::{Sourced, param_table};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Radio access technology of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Radio {
    /// NB-IoT (LTE Cat-NB1/NB2).
    Nbiot,
    /// LTE-M (LTE Cat-M1).
    Ltem,
}

impl Radio {
    /// Name used on the command line and in files.
    pub fn key(self) -> &'static str {
        match self {
            Radio::Nbiot => "nbiot",
            Radio::Ltem => "ltem",
        }
    }

    /// Name for people.
    pub fn label(self) -> &'static str {
        match self {
            Radio::Nbiot => "NB-IoT",
            Radio::Ltem => "LTE-M",
        }
    }
}

impl fmt::Display for Radio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for Radio {
    type Err = EnergyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "nbiot" | "nb-iot" => Ok(Radio::Nbiot),
            "ltem" | "lte-m" => Ok(Radio::Ltem),
            _ => Err(EnergyError::Unknown {
                origin: "--radio".into(),
                what: "radio",
                name: s.into(),
                expected: "nbiot or ltem".into(),
            }),
        }
    }
}

/// Coverage level: how many repetitions the link needs (NB-IoT CE levels 0/1/2, LTE-M CE mode
/// A/B), which stretches time on air and per round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Coverage {
    /// Good coverage, no or few repetitions (MCL around 144 dB).
    Normal,
    /// Extended coverage (MCL around 154 dB).
    Extended,
    /// Extreme coverage, at the 164 dB MCL design target.
    Extreme,
}

impl Coverage {
    /// Name used on the command line and in files.
    pub fn key(self) -> &'static str {
        match self {
            Coverage::Normal => "normal",
            Coverage::Extended => "extended",
            Coverage::Extreme => "extreme",
        }
    }
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for Coverage {
    type Err = EnergyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "normal" => Ok(Coverage::Normal),
            "extended" => Ok(Coverage::Extended),
            "extreme" => Ok(Coverage::Extreme),
            _ => Err(EnergyError::Unknown {
                origin: "--coverage".into(),
                what: "coverage level",
                name: s.into(),
                expected: "normal, extended or extreme".into(),
            }),
        }
    }
}

/// One value per coverage level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerCoverage {
    /// Normal coverage.
    pub normal: Sourced,
    /// Extended coverage.
    pub extended: Sourced,
    /// Extreme coverage.
    pub extreme: Sourced,
}

impl PerCoverage {
    /// The value for `c`.
    pub fn at(&self, c: Coverage) -> f64 {
        match c {
            Coverage::Normal => self.normal.value,
            Coverage::Extended => self.extended.value,
            Coverage::Extreme => self.extreme.value,
        }
    }
}

/// Radio parameters of one technology. Currents in mA (µA for sleep floors), times in s or ms,
/// energies in J; see `params()` for units, meanings and sources.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RadioParams {
    /// Which radio these are for.
    pub radio: Radio,
    /// Supply voltage: every current is turned into power at this voltage.
    pub supply_v: Sourced,
    /// Module PSM floor current.
    pub psm_ua: Sourced,
    /// Board quiescent current added to the PSM floor (regulators, MCU asleep).
    pub board_ua: Sourced,
    /// Energy to wake from PSM, synchronise, random access, RRC connection setup and release,
    /// in normal coverage.
    pub setup_j: Sourced,
    /// Multiplier on `setup_j` by coverage level (repetitions of random access and RRC messages).
    pub setup_scale: PerCoverage,
    /// Current while transmitting (power control: low in normal coverage, 23 dBm beyond).
    pub tx_ma: PerCoverage,
    /// Current while connected and receiving or waiting for a reply.
    pub rx_ma: Sourced,
    /// Air time per uplink byte.
    pub byte_up_ms: PerCoverage,
    /// Air time per downlink byte.
    pub byte_down_ms: PerCoverage,
    /// Connected time added by each round trip (scheduling, repetitions, network latency).
    pub rtt_s: PerCoverage,
    /// RRC inactivity timer: connected (cDRX) time after the last packet, without RAI.
    pub tail_s: Sourced,
    /// Average current during the RRC inactivity tail (cDRX).
    pub tail_ma: Sourced,
    /// Connected time left after the last packet when Release Assistance Indication is used.
    pub rai_tail_s: Sourced,
    /// Periodic TAU timer (T3412): a device silent for longer wakes up for a TAU.
    pub t3412_h: Sourced,
}

param_table!(RadioParams {
    "supply_v" => supply_v: "V", Positive, "supply voltage (currents -> power)";
    "psm_ua" => psm_ua: "uA", NonNegative, "module PSM floor";
    "board_ua" => board_ua: "uA", NonNegative, "board quiescent current on top of the PSM floor";
    "setup_j" => setup_j: "J", NonNegative, "wake-up + random access + RRC setup/release (normal coverage)";
    "setup_scale.normal" => setup_scale.normal: "x", NonNegative, "setup energy multiplier, normal coverage";
    "setup_scale.extended" => setup_scale.extended: "x", NonNegative, "setup energy multiplier, extended coverage";
    "setup_scale.extreme" => setup_scale.extreme: "x", NonNegative, "setup energy multiplier, extreme coverage";
    "tx_ma.normal" => tx_ma.normal: "mA", NonNegative, "TX current, normal coverage (0-10 dBm)";
    "tx_ma.extended" => tx_ma.extended: "mA", NonNegative, "TX current, extended coverage (23 dBm)";
    "tx_ma.extreme" => tx_ma.extreme: "mA", NonNegative, "TX current, extreme coverage (23 dBm)";
    "rx_ma" => rx_ma: "mA", NonNegative, "connected RX / waiting current";
    "byte_up_ms.normal" => byte_up_ms.normal: "ms/B", NonNegative, "air time per uplink byte, normal coverage";
    "byte_up_ms.extended" => byte_up_ms.extended: "ms/B", NonNegative, "air time per uplink byte, extended coverage";
    "byte_up_ms.extreme" => byte_up_ms.extreme: "ms/B", NonNegative, "air time per uplink byte, extreme coverage";
    "byte_down_ms.normal" => byte_down_ms.normal: "ms/B", NonNegative, "air time per downlink byte, normal coverage";
    "byte_down_ms.extended" => byte_down_ms.extended: "ms/B", NonNegative, "air time per downlink byte, extended coverage";
    "byte_down_ms.extreme" => byte_down_ms.extreme: "ms/B", NonNegative, "air time per downlink byte, extreme coverage";
    "rtt_s.normal" => rtt_s.normal: "s", NonNegative, "connected time per round trip, normal coverage";
    "rtt_s.extended" => rtt_s.extended: "s", NonNegative, "connected time per round trip, extended coverage";
    "rtt_s.extreme" => rtt_s.extreme: "s", NonNegative, "connected time per round trip, extreme coverage";
    "tail_s" => tail_s: "s", NonNegative, "RRC inactivity tail without RAI";
    "tail_ma" => tail_ma: "mA", NonNegative, "average current in the tail (cDRX)";
    "rai_tail_s" => rai_tail_s: "s", NonNegative, "connected time after the last packet with RAI";
    "t3412_h" => t3412_h: "h", Positive, "periodic TAU timer T3412";
});

const V_SRC: &str = "3.7 V, the Nordic Online Power Profiler convention; NCS power_nrf91.rst measured at 3.7 V (supplies: nRF91 3.0-5.5 V, BG96 3.3-4.3 V, SARA-R5 3.3-4.4 V)";
const PSM_SRC: &str = "nRF9160 PS 2.7 uA, SIM7080 spec 3.2 uA, BG95xA forum < 3 uA (spread: SARA-R510S 0.5 uA .. BG96 10 uA)";
const BOARD_SRC: &str = "board add-on (nRF Connect SDK power_nrf91.rst measured floor 3.44 uA; boaks Thingy:91 about 40 uA)";
const SCALE_NORMAL: &str = "by definition (setup_j is the normal-coverage figure)";
const SCALE_EXT: &str =
    "[assumption] between normal and extreme; no published per-CE-level setup energy was found";
const SCALE_EXTREME: &str = "[assumption] u-blox NB-IoT app note: 200 B uplink in ECL2 good vs bad SNR 200 uWh vs 1.07 mWh (x5.4)";
const TX23_SRC: &str = "I_TX at 23 dBm: BG96 / SARA-R5 class 135-236 mA (nRF9160 M1 100-115 mA); the UE transmits at full power in coverage enhancement";
const BYTE_DOWN_NOTE: &str = "[assumption] same as uplink: the sources give one time per byte";

/// Default NB-IoT parameters (recommended set; sources in docs/energy.md, Sources).
pub fn nbiot_defaults() -> RadioParams {
    RadioParams {
        radio: Radio::Nbiot,
        supply_v: Sourced::cite(3.7, V_SRC),
        psm_ua: Sourced::cite(3.0, PSM_SRC),
        board_ua: Sourced::cite(5.0, BOARD_SRC),
        setup_j: Sourced::cite(
            0.4,
            "nRF9160 PS PSM TAU event 550 mJ / 2.7 s at 23 dBm (lab, CMW500); boaks live wake-up 0.25 J / 3 s (default chosen between them: 0.4 J)",
        ),
        setup_scale: PerCoverage {
            normal: Sourced::cite(1.0, SCALE_NORMAL),
            extended: Sourced::cite(2.0, SCALE_EXT),
            extreme: Sourced::cite(5.0, SCALE_EXTREME),
        },
        tx_ma: PerCoverage {
            normal: Sourced::cite(
                100.0,
                "I_TX at 0-10 dBm: SARA-R5 Cat-NB2 90-100 mA, BG96 Cat-NB1 96-110 mA",
            ),
            extended: Sourced::cite(200.0, TX23_SRC),
            extreme: Sourced::cite(200.0, TX23_SRC),
        },
        rx_ma: Sourced::cite(
            50.0,
            "nRF9160 PS balanced RMC (Cat-NB1) 35-45 mA; u-blox SARA-R5 about 50 mA",
        ),
        byte_up_ms: PerCoverage {
            normal: Sourced::cite(
                0.8,
                "about 10 kbit/s: live NB-IoT < 10 kbit/s (Robinson 2019, ZA)",
            ),
            extended: Sourced::cite(
                8.0,
                "[assumption] about 1 kbit/s, between normal and the 164 dB target",
            ),
            extreme: Sourced::cite(
                50.0,
                "160 bit/s at MCL 164 dB, the Rel-13 layer-3 target (Ratasuk et al. 2017); 264 bit/s measured (Ugwuanyi 2021)",
            ),
        },
        byte_down_ms: PerCoverage {
            normal: Sourced::cite(0.8, BYTE_DOWN_NOTE),
            extended: Sourced::cite(8.0, BYTE_DOWN_NOTE),
            extreme: Sourced::cite(50.0, BYTE_DOWN_NOTE),
        },
        rtt_s: PerCoverage {
            normal: Sourced::cite(
                1.0,
                "boaks: message exchange 1.5 s, RTT 'up to 1-2 s' (Californium #1843)",
            ),
            extended: Sourced::cite(
                3.0,
                "boaks/Leshan #998: 'usually 4 s per request from deep sleep'",
            ),
            extreme: Sourced::cite(
                10.0,
                "exception-report latency <= 10 s for 99 % at MCL 164 dB (Ratasuk et al. 2017)",
            ),
        },
        tail_s: Sourced::cite(
            20.0,
            "Martinez et al. 2019 (Vodafone ES) 20 s; u-blox SARA-N2 20 s cDRX tail (spread: 12 s Roestad NO .. 270 s MTN-ZTE, Robinson ZA)",
        ),
        tail_ma: Sourced::cite(
            10.0,
            "nRF Connect SDK power_nrf91.rst measured 8.5 mA cDRX average on LTE-M; u-blox SARA-N2 about 50 mA is the high end",
        ),
        rai_tail_s: Sourced::cite(
            1.5,
            "Roestad 2020 (nRF9160 NB-IoT): 12 s -> 1.47 s connected with RAI; boaks about 1 s",
        ),
        t3412_h: Sourced::cite(
            24.0,
            "application-dependent (TS 24.301: default 54 min, T3412-ext up to 413 days)",
        ),
    }
}

/// Default LTE-M parameters (recommended set; sources in docs/energy.md, Sources).
pub fn ltem_defaults() -> RadioParams {
    RadioParams {
        radio: Radio::Ltem,
        supply_v: Sourced::cite(3.7, V_SRC),
        psm_ua: Sourced::cite(3.0, PSM_SRC),
        board_ua: Sourced::cite(5.0, BOARD_SRC),
        setup_j: Sourced::cite(
            0.2,
            "nRF9160 PS PSM TAU event 105 mJ / 1.5 s (lab, CMW500); boaks live wake-up 0.35 J / 2.4 s (default chosen between them: 0.2 J)",
        ),
        setup_scale: PerCoverage {
            normal: Sourced::cite(1.0, SCALE_NORMAL),
            extended: Sourced::cite(2.0, SCALE_EXT),
            extreme: Sourced::cite(5.0, SCALE_EXTREME),
        },
        tx_ma: PerCoverage {
            normal: Sourced::cite(
                110.0,
                "I_TX at 0-10 dBm: SARA-R5 Cat-M1 100-115 mA, BG96 Cat-M1 128-140 mA (nRF9160 45-55 mA)",
            ),
            extended: Sourced::cite(200.0, TX23_SRC),
            extreme: Sourced::cite(200.0, TX23_SRC),
        },
        rx_ma: Sourced::cite(
            60.0,
            "connected-active: nRF9160 PS 35-45 mA, u-blox SARA-R5 about 50 mA",
        ),
        byte_up_ms: PerCoverage {
            normal: Sourced::cite(0.03, "about 300 kbit/s: BG96 Cat-M1 peak 300-375 kbit/s"),
            extended: Sourced::cite(0.3, "[assumption] CE mode A repetitions, x10"),
            extreme: Sourced::cite(3.0, "[assumption] CE mode B repetitions, x100"),
        },
        byte_down_ms: PerCoverage {
            normal: Sourced::cite(0.03, BYTE_DOWN_NOTE),
            extended: Sourced::cite(0.3, BYTE_DOWN_NOTE),
            extreme: Sourced::cite(3.0, BYTE_DOWN_NOTE),
        },
        rtt_s: PerCoverage {
            normal: Sourced::cite(
                0.2,
                "RCR Wireless 2017 10-15 ms air latency; boaks: exchange 0.8 s, 'all together 1 s' incl. wake-up",
            ),
            extended: Sourced::cite(0.5, "[assumption] CE mode A"),
            extreme: Sourced::cite(2.0, "[assumption] CE mode B"),
        },
        tail_s: Sourced::cite(
            10.0,
            "boaks (DE 2022) 10 s; NCS power_nrf91.rst measured 11 s ('can be over one minute in some networks')",
        ),
        tail_ma: Sourced::cite(
            8.5,
            "NCS power_nrf91.rst: tail 93.82 mC over 11 s (cDRX 0.32 s) = 8.5 mA; boaks 8.5-9 mA",
        ),
        rai_tail_s: Sourced::cite(
            10.0,
            "RAI assumed unavailable on LTE-M (boaks' DE network 2022 did not offer it; iotcreators forum: 'only works on NB-IoT'): same as tail_s",
        ),
        t3412_h: Sourced::cite(
            24.0,
            "application-dependent (TS 24.301: default 54 min, T3412-ext up to 413 days)",
        ),
    }
}

/// Default parameters for `radio`.
pub fn defaults(radio: Radio) -> RadioParams {
    match radio {
        Radio::Nbiot => nbiot_defaults(),
        Radio::Ltem => ltem_defaults(),
    }
}
