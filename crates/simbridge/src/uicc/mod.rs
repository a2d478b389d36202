//! The card layer (ISO 7816-4, TS 102 221, TS 31.102/31.103): APDUs, status words, T=0 procedure
//! bytes, USIM/ISIM selection via EF_DIR, file reads, PIN, and AUTHENTICATE in the 3G and GBA
//! contexts. It knows nothing of how bytes reach the card ([`crate::card`]) nor of DTLS.

pub mod apdu;
pub mod auth;
pub mod files;
pub mod gba_files;
pub mod pin;
pub mod sw;

pub use apdu::{ApduError, Command, Response};
pub use auth::{AuthResult, GbaBootstrapResult};
pub use sw::StatusWord;

use crate::card::{CardChannel, CardError};
use crate::secret::Secret;
use files::{AppTemplate, fid};
use log::debug;

const INS_SELECT: u8 = 0xA4;
const INS_READ_BINARY: u8 = 0xB0;
const INS_READ_RECORD: u8 = 0xB2;
const INS_GET_RESPONSE: u8 = 0xC0;
const INS_VERIFY: u8 = 0x20;
const INS_AUTHENTICATE: u8 = 0x88;
/// Bound on chained GET RESPONSE rounds: some modems loop on 6100 forever (docs/sources.md sec. 7).
const MAX_GET_RESPONSE: usize = 8;
/// EF_DIR records read at most (cards have a handful).
const MAX_DIR_RECORDS: u8 = 16;

/// Errors of the card layer.
#[derive(Debug, thiserror::Error)]
pub enum UiccError {
    /// The channel failed (card removed, reader gone ...).
    #[error(transparent)]
    Card(#[from] CardError),
    /// The card answered a command with an error status word.
    #[error("{command}: card answered {sw}")]
    Status {
        /// Which command, in words.
        command: String,
        /// The status word.
        sw: StatusWord,
    },
    /// The card's answer could not be decoded.
    #[error("{0}")]
    Malformed(String),
    /// A file read from the card could not be decoded.
    #[error(transparent)]
    File(#[from] files::DecodeError),
    /// An AUTHENTICATE response could not be decoded.
    #[error(transparent)]
    Auth(#[from] auth::AuthDecodeError),
    /// The card has no USIM application.
    #[error("no USIM application on the card: {0}")]
    NoUsim(String),
    /// A PIN is needed before the card gives access.
    #[error("the card requires PIN1 ({}); give it with --pin", pin::tries_left(*.tries_left))]
    PinRequired {
        /// Remaining verification tries.
        tries_left: u8,
    },
    /// PIN verification failed.
    #[error("wrong PIN: {}", pin::tries_left(*.tries_left))]
    WrongPin {
        /// Remaining verification tries.
        tries_left: u8,
    },
    /// PIN1 is blocked (needs the PUK).
    #[error("PIN1 is blocked; unblock it with the PUK")]
    PinBlocked,
    /// The command could not be encoded.
    #[error("cannot build APDU: {0}")]
    Apdu(#[from] ApduError),
    /// The card does not support the GBA security context.
    #[error("the card does not support GBA_U (UST service 68 not available)")]
    GbaUnsupported,
    /// GBA NAF derivation before any bootstrap.
    #[error("the card holds no GBA bootstrapping context (run a GBA_U bootstrap first)")]
    NoGbaContext,
}

/// Where the IMPI came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImpiSource {
    /// Read from the ISIM's EF_IMPI.
    Isim,
    /// Derived from the IMSI (TS 23.003 §13.3).
    Derived,
}

/// State of PIN1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PinState {
    /// Whether access currently needs a PIN verification.
    pub required: bool,
    /// Remaining tries, when the card tells them.
    pub tries_left: Option<u8>,
}

/// A selected USIM and what was read from it.
pub struct Uicc<C: CardChannel> {
    chan: C,
    atr: Vec<u8>,
    iccid: Option<String>,
    apps: Vec<AppTemplate>,
    usim_aid: Vec<u8>,
    isim_aid: Option<Vec<u8>>,
    imsi: String,
    mnc_length: u8,
    ust: Vec<u8>,
    impi: String,
    impi_source: ImpiSource,
    /// EF_IST of the ISIM the IMPI came from (empty otherwise).
    ist: Vec<u8>,
    /// AID of the application selected last on our channel.
    current_aid: Option<Vec<u8>>,
    pin: PinState,
    apdus: u64,
}

/// A file the card may not have: FileNotFound gives `None`, other errors stay errors.
fn absent_if_not_found<T>(r: Result<T, UiccError>) -> Result<Option<T>, UiccError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(UiccError::Status {
            sw: StatusWord::FileNotFound,
            ..
        }) => Ok(None),
        Err(e) => Err(e),
    }
}

impl<C: CardChannel> Uicc<C> {
    /// A handle on `chan` before anything is read from the card (the openers fill it in).
    fn unread(chan: C) -> Self {
        Self {
            chan,
            atr: Vec::new(),
            iccid: None,
            apps: Vec::new(),
            usim_aid: Vec::new(),
            isim_aid: None,
            imsi: String::new(),
            mnc_length: 2,
            ust: Vec::new(),
            impi: String::new(),
            impi_source: ImpiSource::Derived,
            ist: Vec::new(),
            current_aid: None,
            pin: PinState {
                required: false,
                tries_left: None,
            },
            apdus: 0,
        }
    }

    /// Reads EF_DIR and picks the USIM (the partial AID when EF_DIR names none) and the ISIM.
    fn read_apps(&mut self) -> Result<(), UiccError> {
        self.apps = self.read_dir()?;
        self.usim_aid = self
            .apps
            .iter()
            .find(|a| a.is_usim())
            .map(|a| a.aid.clone())
            .unwrap_or_else(|| files::USIM_AID_PREFIX.to_vec());
        self.isim_aid = self
            .apps
            .iter()
            .find(|a| a.is_isim())
            .map(|a| a.aid.clone());
        Ok(())
    }

    /// Resets the card, selects the USIM (via EF_DIR, falling back to the partial AID) and reads
    /// ICCID, IMSI, AD, UST and the ISIM IMPI. `pin`, when given, is verified if the card asks.
    pub fn open(chan: C, pin: Option<&str>) -> Result<Self, UiccError> {
        let mut u = Self::unread(chan);
        u.atr = u.chan.reset()?;
        u.select_mf()?;
        u.iccid = absent_if_not_found(u.read_binary_file(fid::EF_ICCID, "EF_ICCID"))?
            .map(|b| files::decode_iccid(&b).map_err(UiccError::from))
            .transpose()?;
        u.read_apps()?;

        // On a basic channel shared with a modem's own USIM session, selecting an application
        // would end that session: use the USIM the modem selected (SELECT 7FFF, the current
        // application) and leave the ISIM alone.
        let shared = u.chan.basic_channel_shared();
        if shared && u.isim_aid.is_some() {
            log::warn!(
                "the card's ISIM is not reachable without a logical channel (the modem offers +CSIM on its basic channel only); the IMPI is derived from the IMSI"
            );
        }
        if let (false, Some(isim)) = (shared, u.isim_aid.clone()) {
            u.read_isim(&isim, pin)?;
        }
        u.select_usim(shared)?;
        u.read_usim(pin)?;
        debug!("USIM selected: {} APDUs", u.apdus);
        Ok(u)
    }

    /// Selects the MF; a card that refuses CLA 00 is a GSM SIM, not a UICC.
    fn select_mf(&mut self) -> Result<(), UiccError> {
        self.select_fid(fid::MF, "SELECT MF")
            .map(drop)
            .map_err(|e| match e {
                UiccError::Status {
                    sw: StatusWord::ClaNotSupported | StatusWord::InsNotSupported,
                    ..
                } => UiccError::NoUsim("a legacy GSM SIM (CLA 00 refused)".into()),
                e => e,
            })
    }

    /// Selects the ISIM and reads its IMPI (behind the PIN) and its service table.
    fn read_isim(&mut self, isim: &[u8], pin: Option<&str>) -> Result<(), UiccError> {
        self.select_aid(isim, "SELECT ISIM")?;
        self.pin_gate(pin, |u| u.read_binary_file(fid::EF_IMPI, "EF_IMPI"))
            .and_then(|b| files::decode_impi(&b).map_err(UiccError::from))
            .map(|impi| {
                self.impi = impi;
                self.impi_source = ImpiSource::Isim;
            })?;
        self.ist =
            absent_if_not_found(self.read_binary_file(fid::EF_IST, "EF_IST"))?.unwrap_or_default();
        Ok(())
    }

    /// Selects the USIM: by its AID, or on a shared basic channel the current application,
    /// which must then be a USIM.
    fn select_usim(&mut self, shared: bool) -> Result<(), UiccError> {
        let usim = self.usim_aid.clone();
        let selected = if shared {
            self.select_fid(fid::CURRENT_ADF, "SELECT current application")
                .and_then(|fcp| {
                    let aid = files::df_name(&fcp).unwrap_or_default();
                    if aid.starts_with(&files::USIM_AID_PREFIX) {
                        self.current_aid = Some(aid);
                        Ok(fcp)
                    } else {
                        Err(UiccError::NoUsim(format!(
                            "the modem's current application on the basic channel is not a USIM (AID {})",
                            hex::encode(aid)
                        )))
                    }
                })
        } else {
            self.select_aid(&usim, "SELECT USIM")
        };
        selected.map(drop).map_err(|e| match e {
            UiccError::Status {
                sw: StatusWord::FileNotFound,
                ..
            } => UiccError::NoUsim("USIM AID not found".into()),
            e => e,
        })
    }

    /// Reads the selected USIM's IMSI (behind the PIN), MNC length and service table; without an
    /// ISIM, the IMPI is derived from the IMSI.
    fn read_usim(&mut self, pin: Option<&str>) -> Result<(), UiccError> {
        let imsi = self.pin_gate(pin, |u| u.read_binary_file(fid::EF_IMSI, "EF_IMSI"))?;
        self.imsi = files::decode_imsi(&imsi).map_err(UiccError::from)?;
        self.mnc_length = absent_if_not_found(self.read_binary_file(fid::EF_AD, "EF_AD"))?
            .and_then(|ad| files::mnc_length_from_ad(&ad))
            // Old cards without the MNC length: North American MCCs (3xx) use 3 digits, most
            // others 2.
            .unwrap_or(if self.imsi.starts_with('3') { 3 } else { 2 });
        self.ust =
            absent_if_not_found(self.read_binary_file(fid::EF_UST, "EF_UST"))?.unwrap_or_default();
        if self.impi_source == ImpiSource::Derived {
            self.impi = files::impi_from_imsi(&self.imsi, self.mnc_length).ok_or_else(|| {
                UiccError::Malformed(format!("IMSI {} too short for an IMPI", self.imsi))
            })?;
        }
        Ok(())
    }

    /// Runs `read`; when the card says a PIN is needed, verifies `pin` (if given) and retries once.
    fn pin_gate<T>(
        &mut self,
        pin: Option<&str>,
        read: impl Fn(&mut Self) -> Result<T, UiccError>,
    ) -> Result<T, UiccError> {
        match read(self) {
            Err(UiccError::Status {
                sw: StatusWord::SecurityNotSatisfied,
                ..
            }) => {
                let tries = self.pin_tries()?;
                self.pin = PinState {
                    required: true,
                    tries_left: tries,
                };
                match pin {
                    Some(p) => {
                        self.verify_pin(p)?;
                        read(self)
                    }
                    None if tries == Some(0) => Err(UiccError::PinBlocked),
                    None => Err(UiccError::PinRequired {
                        tries_left: tries.unwrap_or(0),
                    }),
                }
            }
            other => other,
        }
    }

    /// Remaining PIN1 tries (VERIFY without data); `None` when PIN1 is disabled or already verified.
    pub fn pin_tries(&mut self) -> Result<Option<u8>, UiccError> {
        let r = self.transceive(&Command::new(0x00, INS_VERIFY, 0x00, 0x01))?;
        Ok(match r.sw {
            StatusWord::WrongPin(n) => Some(n),
            StatusWord::PinBlocked => Some(0),
            _ => None,
        })
    }

    /// VERIFY PIN1. A wrong PIN reports the remaining tries; at 0 the PIN is blocked.
    pub fn verify_pin(&mut self, pin: &str) -> Result<(), UiccError> {
        if !(4..=8).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UiccError::Malformed(
                "a PIN has 4 to 8 decimal digits".into(),
            ));
        }
        let mut data = [0xFFu8; 8];
        data[..pin.len()].copy_from_slice(pin.as_bytes());
        let r =
            self.transceive(&Command::new(0x00, INS_VERIFY, 0x00, 0x01).with_data(data.to_vec()))?;
        match r.sw {
            StatusWord::Ok => {
                self.pin = PinState {
                    required: false,
                    tries_left: None,
                };
                Ok(())
            }
            StatusWord::WrongPin(0) | StatusWord::PinBlocked => Err(UiccError::PinBlocked),
            StatusWord::WrongPin(n) => {
                self.pin.tries_left = Some(n);
                Err(UiccError::WrongPin { tries_left: n })
            }
            sw => Err(UiccError::Status {
                command: "VERIFY PIN".into(),
                sw,
            }),
        }
    }

    /// Sends one command, handling T=0 procedure bytes: 61xx/9Fxx → GET RESPONSE (chained, bounded),
    /// 6Cxx → resend with Le = xx.
    pub fn transceive(&mut self, cmd: &Command) -> Result<Response, UiccError> {
        let mut r = self.raw(cmd)?;
        if let StatusWord::WrongLe(n) = r.sw {
            let mut again = cmd.clone();
            again.le = Some(n);
            r = self.raw(&again)?;
        }
        let mut data = Vec::new();
        for _ in 0..MAX_GET_RESPONSE {
            match r.sw {
                StatusWord::MoreData(n) | StatusWord::MoreDataLegacy(n) => {
                    data.extend_from_slice(&r.data);
                    let get = Command::new(cmd.cla, INS_GET_RESPONSE, 0, 0).with_le(n);
                    r = self.raw(&get)?;
                    if let StatusWord::WrongLe(m) = r.sw {
                        r = self.raw(&get.with_le(m))?;
                    }
                }
                _ => {
                    data.extend_from_slice(&r.data);
                    return Ok(Response::new(data, r.sw));
                }
            }
        }
        Err(UiccError::Malformed(format!(
            "card kept answering 61xx after {MAX_GET_RESPONSE} GET RESPONSE rounds"
        )))
    }

    fn raw(&mut self, cmd: &Command) -> Result<Response, UiccError> {
        let bytes = cmd.to_bytes()?;
        self.apdus += 1;
        let resp = self.chan.transmit(&bytes)?;
        Response::parse(&resp).ok_or_else(|| {
            UiccError::Malformed(format!(
                "response of {} bytes has no status word",
                resp.len()
            ))
        })
    }

    fn expect_ok(&mut self, cmd: &Command, what: &str) -> Result<Vec<u8>, UiccError> {
        let r = self.transceive(cmd)?;
        if r.sw == StatusWord::Ok {
            Ok(r.data)
        } else {
            Err(UiccError::Status {
                command: what.to_string(),
                sw: r.sw,
            })
        }
    }

    fn select_fid(&mut self, file: u16, what: &str) -> Result<Vec<u8>, UiccError> {
        let cmd = Command::new(0x00, INS_SELECT, 0x00, 0x04)
            .with_data(file.to_be_bytes().to_vec())
            .with_le(0);
        self.expect_ok(&cmd, what)
    }

    fn select_aid(&mut self, aid: &[u8], what: &str) -> Result<Vec<u8>, UiccError> {
        let cmd = Command::new(0x00, INS_SELECT, 0x04, 0x04)
            .with_data(aid.to_vec())
            .with_le(0);
        let fcp = self.expect_ok(&cmd, what)?;
        self.current_aid = Some(aid.to_vec());
        Ok(fcp)
    }

    fn read_binary_file(&mut self, file: u16, name: &str) -> Result<Vec<u8>, UiccError> {
        self.select_fid(file, &format!("SELECT {name}"))?;
        self.expect_ok(
            &Command::new(0x00, INS_READ_BINARY, 0, 0).with_le(0),
            &format!("READ BINARY {name}"),
        )
    }

    fn read_dir(&mut self) -> Result<Vec<AppTemplate>, UiccError> {
        match self.select_fid(fid::EF_DIR, "SELECT EF_DIR") {
            Ok(_) => {}
            Err(UiccError::Status {
                sw: StatusWord::FileNotFound,
                ..
            }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
        let mut apps = Vec::new();
        for rec in 1..=MAX_DIR_RECORDS {
            let r = self.transceive(&Command::new(0x00, INS_READ_RECORD, rec, 0x04).with_le(0))?;
            match r.sw {
                StatusWord::Ok => {
                    if let Some(app) = files::parse_dir_record(&r.data).map_err(UiccError::from)? {
                        apps.push(app);
                    }
                }
                StatusWord::RecordNotFound | StatusWord::IncorrectP1P2 => break,
                sw => {
                    return Err(UiccError::Status {
                        command: format!("READ RECORD {rec} of EF_DIR"),
                        sw,
                    });
                }
            }
        }
        self.select_fid(fid::MF, "SELECT MF")?;
        Ok(apps)
    }

    /// AUTHENTICATE in the 3G context (P2 = 81).
    pub fn authenticate(
        &mut self,
        rand: &[u8; 16],
        autn: &[u8; 16],
    ) -> Result<AuthResult, UiccError> {
        let cmd = Command::new(0x00, INS_AUTHENTICATE, 0x00, auth::P2_3G)
            .with_data(auth::data_3g(rand, autn))
            .with_le(0);
        let r = self.transceive(&cmd)?;
        match r.sw {
            StatusWord::Ok => auth::decode_3g(&r.data).map_err(UiccError::from),
            StatusWord::AuthMacFailure => Ok(AuthResult::MacFailure),
            StatusWord::SecurityNotSatisfied => Err(UiccError::PinRequired {
                tries_left: self.pin_tries()?.unwrap_or(0),
            }),
            sw => Err(UiccError::Status {
                command: "AUTHENTICATE (3G)".into(),
                sw,
            }),
        }
    }

    /// AUTHENTICATE in GBA bootstrapping mode (P2 = 84, tag DD): the card keeps Ks.
    pub fn gba_bootstrap(
        &mut self,
        rand: &[u8; 16],
        autn: &[u8; 16],
    ) -> Result<GbaBootstrapResult, UiccError> {
        if !self.supports_gba_u() {
            return Err(UiccError::GbaUnsupported);
        }
        let cmd = Command::new(0x00, INS_AUTHENTICATE, 0x00, auth::P2_GBA)
            .with_data(auth::data_gba_bootstrap(rand, autn))
            .with_le(0);
        let r = self.transceive(&cmd)?;
        match r.sw {
            StatusWord::Ok => auth::decode_gba_bootstrap(&r.data).map_err(UiccError::from),
            StatusWord::AuthMacFailure => Ok(GbaBootstrapResult::MacFailure),
            StatusWord::ContextNotSupported | StatusWord::WrongP1P2 => {
                Err(UiccError::GbaUnsupported)
            }
            sw => Err(UiccError::Status {
                command: "AUTHENTICATE (GBA bootstrap)".into(),
                sw,
            }),
        }
    }

    /// AUTHENTICATE in GBA NAF-derivation mode (P2 = 84, tag DE): returns Ks_ext_NAF; the card
    /// keeps Ks_int_NAF.
    pub fn gba_naf_derive(&mut self, naf_id: &[u8], impi: &str) -> Result<Secret<32>, UiccError> {
        if !self.supports_gba_u() {
            return Err(UiccError::GbaUnsupported);
        }
        let data = auth::data_gba_naf(naf_id, impi.as_bytes())
            .ok_or_else(|| UiccError::Malformed("NAF_Id and IMPI too long for one APDU".into()))?;
        let cmd = Command::new(0x00, INS_AUTHENTICATE, 0x00, auth::P2_GBA)
            .with_data(data)
            .with_le(0);
        let r = self.transceive(&cmd)?;
        match r.sw {
            StatusWord::Ok => auth::decode_gba_naf(&r.data).map_err(UiccError::from),
            StatusWord::ConditionsNotSatisfied => Err(UiccError::NoGbaContext),
            sw => Err(UiccError::Status {
                command: "AUTHENTICATE (GBA NAF derivation)".into(),
                sw,
            }),
        }
    }

    /// The card's ATR.
    pub fn atr(&self) -> &[u8] {
        &self.atr
    }
    /// ICCID, when EF_ICCID exists.
    pub fn iccid(&self) -> Option<&str> {
        self.iccid.as_deref()
    }
    /// IMSI digits.
    pub fn imsi(&self) -> &str {
        &self.imsi
    }
    /// Mobile country code.
    pub fn mcc(&self) -> &str {
        self.imsi.get(..3).unwrap_or("")
    }
    /// Mobile network code.
    pub fn mnc(&self) -> &str {
        self.imsi
            .get(3..3 + usize::from(self.mnc_length))
            .unwrap_or("")
    }
    /// MNC length (2 or 3).
    pub fn mnc_length(&self) -> u8 {
        self.mnc_length
    }
    /// IMPI: the ISIM's, else derived from the IMSI.
    pub fn impi(&self) -> &str {
        &self.impi
    }
    /// Where the IMPI came from.
    pub fn impi_source(&self) -> ImpiSource {
        self.impi_source
    }
    /// Applications listed in EF_DIR.
    pub fn applications(&self) -> &[AppTemplate] {
        &self.apps
    }
    /// The selected USIM AID.
    pub fn usim_aid(&self) -> &[u8] {
        &self.usim_aid
    }
    /// Whether the application GBA runs in ([`Uicc::gba_app`]) supports the GBA security
    /// context: GBA_U (UST service 68 of the USIM, IST service 2 of the ISIM).
    pub fn supports_gba_u(&self) -> bool {
        self.gba_app_supports_gba_u()
    }
    /// PIN1 state as seen while opening.
    pub fn pin_state(&self) -> PinState {
        self.pin
    }
    /// APDUs sent so far (including GET RESPONSE and resends).
    pub fn apdu_count(&self) -> u64 {
        self.apdus
    }
    /// The underlying channel.
    pub fn channel(&self) -> &C {
        &self.chan
    }
}

#[cfg(test)]
mod tests;
