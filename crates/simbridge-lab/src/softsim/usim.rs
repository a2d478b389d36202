//! The software USIM's command processor: SELECT, READ BINARY/RECORD, UPDATE BINARY (EF_GBABP),
//! GET RESPONSE, VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER (PIN1 and its PUK),
//! AUTHENTICATE (3G and GBA contexts), MANAGE CHANNEL and STATUS, with T=0 behaviour (61xx for
//! case-4 answers, 6Cxx for a wrong Le) so the host's procedure-byte handling is exercised.

use super::fs::{Df, EfBody, FileSystem, df_fcp, ef_fcp};
use super::gba_u::GbaU;
use super::profile::Profile;
use super::state::{CardState, StateError};
use simbridge::aka::{self, SqnArray, SqnCheck, SqnPolicy};
use simbridge::card::{CardChannel, CardError};
use simbridge::uicc::apdu::{ApduError, Command, Response};
use simbridge::uicc::auth;
use simbridge::uicc::files::fid;
use simbridge::uicc::gba_files::{self, GbaBp};
use simbridge::uicc::sw::StatusWord as Sw;
use std::path::{Path, PathBuf};

/// ATR of the software USIM: T=0, two historical bytes.
pub const ATR: [u8; 4] = [0x3B, 0x02, 0x14, 0x50];
const PIN_TRIES: u8 = 3;

mod pin;
/// Logical channels 0..=19 (TS 102 221 §10.1.1 CLA coding).
const CHANNELS: usize = 20;

#[derive(Debug, Clone, Default)]
struct ChannelState {
    open: bool,
    df: Option<Df>,
    /// The application selected on this channel (what '7FFF' names).
    app: Option<Df>,
    ef: Option<usize>,
    pending: Vec<u8>,
}

/// Errors loading the software USIM.
#[derive(Debug, thiserror::Error)]
pub enum SoftSimError {
    /// The profile is bad.
    #[error(transparent)]
    Profile(#[from] super::profile::ProfileError),
    /// The state file is bad.
    #[error(transparent)]
    State(#[from] StateError),
}

/// A software USIM. Implements [`CardChannel`], so it stands wherever a real card does.
#[derive(Debug)]
pub struct SoftUsim {
    profile: Profile,
    fs: FileSystem,
    state: CardState,
    state_path: Option<PathBuf>,
    channels: Vec<ChannelState>,
    pin_verified: bool,
    gba: GbaU,
    commands: u64,
}

type Answer = Result<(Vec<u8>, Sw), Sw>;

impl SoftUsim {
    /// Loads a profile and its persisted state (`<profile>.state`, created on first use).
    pub fn load(profile_path: &Path) -> Result<Self, SoftSimError> {
        let profile = Profile::load(profile_path)?;
        let state_path = CardState::path_for(profile_path);
        Self::from_profile(profile, Some(state_path))
    }

    /// Builds the card from a profile. With `state_path`, SQN and PIN state are loaded from it (if
    /// present) and saved to it before every answer that changes them; without, they live in memory.
    pub fn from_profile(
        profile: Profile,
        state_path: Option<PathBuf>,
    ) -> Result<Self, SoftSimError> {
        let loaded = match &state_path {
            Some(p) => CardState::load(p)?,
            None => None,
        };
        let state = loaded.unwrap_or_else(|| {
            let policy = SqnPolicy {
                ind_bits: profile.ind_bits,
                ..SqnPolicy::default()
            };
            CardState::new(SqnArray::new(policy, profile.sqn), PIN_TRIES)
        });
        let mut fs = FileSystem::from_profile(&profile);
        restore_gba_files(&mut fs, &state);
        let mut gba = GbaU::default();
        if let Some(g) = &state.gba_u {
            let ks = hex::decode(&g.ks)
                .ok()
                .and_then(|b| simbridge::secret::Secret::from_slice(&b));
            let rand = hex::decode(&g.rand)
                .ok()
                .and_then(|b| <[u8; 16]>::try_from(b).ok());
            if let (Some(ks), Some(rand)) = (ks, rand) {
                gba.restore(ks, rand);
            }
        }
        let mut card = Self {
            profile,
            fs,
            state,
            state_path,
            channels: vec![ChannelState::default(); CHANNELS],
            pin_verified: false,
            gba,
            commands: 0,
        };
        card.power_on();
        Ok(card)
    }

    /// The profile behind the card.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The highest SQN the card has accepted.
    pub fn sqn_ms(&self) -> u64 {
        self.state.sqn.highest()
    }

    /// Command APDUs processed since power-on.
    pub fn command_count(&self) -> u64 {
        self.commands
    }

    /// Ks_int_NAF the card keeps for a NAF_Id after a GBA_U derivation.
    pub fn gba_int_key(&self, naf_id: &[u8]) -> Option<&simbridge::secret::Secret<32>> {
        self.gba.int_key(naf_id)
    }

    /// Cold reset: channel 0 open with the MF selected, PIN not verified, GBA_U context kept
    /// (it lives in the card's non-volatile memory).
    pub fn power_on(&mut self) {
        self.channels = vec![ChannelState::default(); CHANNELS];
        if let Some(c0) = self.channels.first_mut() {
            c0.open = true;
            c0.df = Some(Df::Mf);
        }
        self.pin_verified = false;
        self.commands = 0;
    }

    /// Processes one command APDU and returns the response bytes (data + SW).
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.commands += 1;
        let cmd = match Command::parse(apdu) {
            Ok(c) => c,
            Err(
                ApduError::TooShort(_)
                | ApduError::LengthMismatch { .. }
                | ApduError::Extended
                | ApduError::DataTooLong(_),
            ) => {
                return Sw::WrongLength.bytes().to_vec();
            }
        };
        let Some(ch) = channel_of(cmd.cla) else {
            return Sw::ClaNotSupported.bytes().to_vec();
        };
        if !self.channels.get(ch).is_some_and(|c| c.open) {
            // TS 102 221: a command on a closed logical channel.
            return Sw::Other(0x6881).bytes().to_vec();
        }
        let answer = match cmd.ins {
            0xA4 => self.select(ch, &cmd),
            0xB0 => self.read_binary(ch, &cmd),
            0xB2 => self.read_record(ch, &cmd),
            0xC0 => return self.get_response(ch, &cmd),
            0x20 => self.verify(&cmd),
            0x24 => self.change_pin(&cmd),
            0x2C => self.unblock_pin(&cmd),
            0xD6 => self.update_binary(ch, &cmd),
            0x88 => self.authenticate(ch, &cmd),
            0x70 => self.manage_channel(&cmd),
            0xF2 => self.status(ch),
            _ => Err(Sw::InsNotSupported),
        };
        match answer {
            Err(sw) => sw.bytes().to_vec(),
            Ok((data, sw)) => self.t0_answer(ch, &cmd, data, sw),
        }
    }

    /// Applies T=0 rules: data of a command that carried data (case 4) waits for GET RESPONSE;
    /// a case-2 command whose Le differs from the data length gets 6Cxx.
    fn t0_answer(&mut self, ch: usize, cmd: &Command, data: Vec<u8>, sw: Sw) -> Vec<u8> {
        if data.is_empty() || sw != Sw::Ok {
            return Response::new(data, sw).to_bytes();
        }
        if !cmd.data.is_empty() {
            let n = data.len().min(255) as u8;
            if let Some(c) = self.channels.get_mut(ch) {
                c.pending = data;
            }
            return Sw::MoreData(n).bytes().to_vec();
        }
        let le = usize::from(cmd.le.unwrap_or(0));
        let want = if le == 0 { 256 } else { le };
        if want != data.len() {
            return Sw::WrongLe(data.len().min(255) as u8).bytes().to_vec();
        }
        Response::new(data, sw).to_bytes()
    }

    fn get_response(&mut self, ch: usize, cmd: &Command) -> Vec<u8> {
        let Some(c) = self.channels.get_mut(ch) else {
            return Sw::TechnicalProblem.bytes().to_vec();
        };
        if cmd.p1 != 0 || cmd.p2 != 0 {
            return Sw::WrongP1P2.bytes().to_vec();
        }
        if c.pending.is_empty() {
            return Sw::ConditionsNotSatisfied.bytes().to_vec();
        }
        let le = usize::from(cmd.le.unwrap_or(0));
        let want = if le == 0 { 256 } else { le };
        if want > c.pending.len() {
            return Sw::WrongLe(c.pending.len().min(255) as u8).bytes().to_vec();
        }
        let rest = c.pending.split_off(want);
        let data = std::mem::replace(&mut c.pending, rest);
        let sw = if c.pending.is_empty() {
            Sw::Ok
        } else {
            Sw::MoreData(c.pending.len().min(255) as u8)
        };
        Response::new(data, sw).to_bytes()
    }

    fn select(&mut self, ch: usize, cmd: &Command) -> Answer {
        let want_fcp = match cmd.p2 & 0x0C {
            0x04 => true,
            0x0C => false,
            _ => return Err(Sw::IncorrectP1P2),
        };
        let cur = self.channels.get(ch).and_then(|c| c.df).unwrap_or(Df::Mf);
        let (df, ef, fcp) = match cmd.p1 {
            0x00 => {
                let fid = match cmd.data.as_slice() {
                    [a, b] => u16::from_be_bytes([*a, *b]),
                    _ => return Err(Sw::WrongLength),
                };
                if fid == 0x3F00 {
                    (Df::Mf, None, df_fcp(Df::Mf))
                } else if fid == 0x7FFF {
                    // The current application (not the current DF: after SELECT MF it is still
                    // the application selected last on this channel).
                    let app = self.channels.get(ch).and_then(|c| c.app).unwrap_or(cur);
                    (app, None, df_fcp(app))
                } else {
                    let idx = self.fs.find(cur, fid).ok_or(Sw::FileNotFound)?;
                    let ef = self.fs.efs.get(idx).ok_or(Sw::FileNotFound)?;
                    (cur, Some(idx), ef_fcp(ef))
                }
            }
            0x04 => {
                let df = self.fs.find_adf(&cmd.data).ok_or(Sw::FileNotFound)?;
                (df, None, df_fcp(df))
            }
            _ => return Err(Sw::IncorrectP1P2),
        };
        if let Some(c) = self.channels.get_mut(ch) {
            c.df = Some(df);
            c.ef = ef;
            if cmd.p1 == 0x04 {
                c.app = Some(df);
            }
        }
        Ok((if want_fcp { fcp } else { Vec::new() }, Sw::Ok))
    }

    fn selected_ef(&self, ch: usize) -> Result<&super::fs::Ef, Sw> {
        let idx = self
            .channels
            .get(ch)
            .and_then(|c| c.ef)
            .ok_or(Sw::NoEfSelected)?;
        let ef = self.fs.efs.get(idx).ok_or(Sw::NoEfSelected)?;
        if ef.pin_protected && self.pin_required() {
            return Err(Sw::SecurityNotSatisfied);
        }
        Ok(ef)
    }

    fn pin_required(&self) -> bool {
        self.profile.pin.is_some() && !self.pin_verified
    }

    fn read_binary(&mut self, ch: usize, cmd: &Command) -> Answer {
        if cmd.p1 & 0x80 != 0 {
            return Err(Sw::IncorrectP1P2); // short-FID addressing is not supported
        }
        let offset = usize::from(u16::from_be_bytes([cmd.p1, cmd.p2]));
        match &self.selected_ef(ch)?.body {
            EfBody::Transparent(b) => {
                let rest = b
                    .get(offset..)
                    .filter(|r| !r.is_empty())
                    .ok_or(Sw::IncorrectP1P2)?;
                let le = usize::from(cmd.le.unwrap_or(0));
                // A shorter Le reads a part; Le = 0 or a longer one gets 6Cxx from t0_answer.
                let n = if le != 0 && le < rest.len() {
                    le
                } else {
                    rest.len()
                };
                Ok((rest[..n].to_vec(), Sw::Ok))
            }
            EfBody::Records { .. } => Err(Sw::IncompatibleFile),
        }
    }

    fn read_record(&mut self, ch: usize, cmd: &Command) -> Answer {
        if cmd.p2 & 0x07 != 0x04 {
            return Err(Sw::IncorrectP1P2); // only absolute record numbers
        }
        match &self.selected_ef(ch)?.body {
            EfBody::Records { records, .. } => {
                let idx = usize::from(cmd.p1)
                    .checked_sub(1)
                    .ok_or(Sw::IncorrectP1P2)?;
                records
                    .get(idx)
                    .map(|r| (r.clone(), Sw::Ok))
                    .ok_or(Sw::RecordNotFound)
            }
            EfBody::Transparent(_) => Err(Sw::IncompatibleFile),
        }
    }

    /// UPDATE BINARY on the current transparent EF, where the access condition is UPDATE PIN
    /// (UPDATE ADM files answer 6982: the ME never holds ADM). Persisted before the answer.
    fn update_binary(&mut self, ch: usize, cmd: &Command) -> Answer {
        if cmd.p1 & 0x80 != 0 {
            return Err(Sw::IncorrectP1P2); // short-FID addressing is not supported
        }
        let offset = usize::from(u16::from_be_bytes([cmd.p1, cmd.p2]));
        let idx = self
            .channels
            .get(ch)
            .and_then(|c| c.ef)
            .ok_or(Sw::NoEfSelected)?;
        let pin_required = self.pin_required();
        let ef = self.fs.get_mut(idx).ok_or(Sw::NoEfSelected)?;
        if !ef.update_pin || pin_required {
            return Err(Sw::SecurityNotSatisfied);
        }
        let EfBody::Transparent(body) = &mut ef.body else {
            return Err(Sw::IncompatibleFile);
        };
        if cmd.data.is_empty() {
            return Err(Sw::WrongLength);
        }
        let end = offset
            .checked_add(cmd.data.len())
            .ok_or(Sw::IncorrectP1P2)?;
        body.get_mut(offset..end)
            .ok_or(Sw::IncorrectP1P2)?
            .copy_from_slice(&cmd.data);
        self.snapshot_gba_files();
        self.save().map_err(|_| Sw::TechnicalProblem)?;
        Ok((Vec::new(), Sw::Ok))
    }

    /// After a GBA_U bootstrap the card writes RAND into EF_GBABP (the B-TID and lifetime are
    /// the ME's to write) and forgets the NAF list of the previous Ks.
    /// This card keeps one Ks: the application that ran the bootstrap gets its RAND in its
    /// EF_GBABP, the other one's says "none" (zero lengths).
    fn gba_files_after_bootstrap(&mut self, rand: &[u8; 16], on_isim: bool) {
        for (df, bp, nl) in GBA_FILES {
            let ours = (df == Df::Isim) == on_isim;
            if let Some(ef) = self.fs.ef_mut(df, bp) {
                if let EfBody::Transparent(body) = &mut ef.body {
                    let mut new = if ours {
                        let mut v = vec![16];
                        v.extend_from_slice(rand);
                        v
                    } else {
                        vec![0]
                    };
                    new.extend_from_slice(&[0, 0]);
                    new.resize(body.len().max(new.len()), 0xFF);
                    *body = new;
                }
            }
            if let Some(ef) = self.fs.ef_mut(df, nl) {
                if let EfBody::Records { len, records } = &mut ef.body {
                    for r in records.iter_mut() {
                        *r = vec![0xFF; *len];
                    }
                }
            }
        }
        self.snapshot_gba_files();
    }

    /// Records a NAF derivation in EF_GBANL under the B-TID in EF_GBABP: the NAF's record is
    /// replaced, else the first free one is used, else the oldest (record 1) goes.
    fn record_naf(&mut self, naf_id: &[u8], on_isim: bool) -> Result<(), Sw> {
        let (df, bp, nl) = if on_isim { GBA_FILES[1] } else { GBA_FILES[0] };
        let btid = match self.fs.ef(df, bp).map(|e| &e.body) {
            Some(EfBody::Transparent(b)) => GbaBp::decode(b).map(|bp| bp.btid).unwrap_or_default(),
            _ => return Ok(()),
        };
        let Some(ef) = self.fs.ef_mut(df, nl) else {
            return Ok(());
        };
        let EfBody::Records { len, records } = &mut ef.body else {
            return Ok(());
        };
        let Some(rec) = gba_files::encode_gbanl_record(naf_id, &btid, *len) else {
            return Ok(()); // too long for a record: derived, not listed
        };
        let mine =
            |r: &Vec<u8>| gba_files::decode_gbanl_record(r).is_some_and(|(n, _)| n == naf_id);
        if let Some(pos) = records.iter().position(mine) {
            records.remove(pos);
        } else if let Some(pos) = records
            .iter()
            .position(|r| gba_files::decode_gbanl_record(r).is_none())
        {
            records.remove(pos);
        } else if !records.is_empty() {
            records.remove(0);
        }
        records.push(rec);
        // Used records first, in derivation order; free ones after them.
        records.sort_by_key(|r| gba_files::decode_gbanl_record(r).is_none());
        self.snapshot_gba_files();
        self.save().map_err(|_| Sw::TechnicalProblem)
    }

    /// Copies the GBA files into the persisted state (the ISIM's after the USIM's).
    fn snapshot_gba_files(&mut self) {
        let mut bps = Vec::new();
        let mut nls = Vec::new();
        for (df, bp, nl) in GBA_FILES {
            if let Some(EfBody::Transparent(b)) = self.fs.ef(df, bp).map(|e| &e.body) {
                bps.push(hex::encode(b));
            }
            if let Some(EfBody::Records { records, .. }) = self.fs.ef(df, nl).map(|e| &e.body) {
                nls.extend(records.iter().map(hex::encode));
            }
        }
        self.state.gbabp = (!bps.is_empty()).then(|| bps.join(","));
        self.state.gbanl = nls;
    }

    fn save(&self) -> Result<(), StateError> {
        match &self.state_path {
            Some(p) => self.state.save(p),
            None => Ok(()),
        }
    }

    /// TS 33.102 §6.3.3 order: MAC first, then SQN freshness.
    fn check_autn(
        &mut self,
        rand: &[u8; 16],
        autn: &[u8; 16],
    ) -> Result<Result<aka::AkaOutputs, [u8; 14]>, Sw> {
        let keys = &self.profile.keys;
        let out = keys.f2345(rand);
        let mut sqn_b = [0u8; 6];
        for (i, b) in sqn_b.iter_mut().enumerate() {
            *b = autn[i] ^ out.ak[i];
        }
        let amf = [autn[6], autn[7]];
        let xmac = keys.f1(rand, &sqn_b, &amf);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&xmac[..], &autn[8..16])) {
            return Err(Sw::AuthMacFailure);
        }
        let sqn = aka::sqn_from_bytes(&sqn_b);
        match self.state.sqn.check(sqn) {
            SqnCheck::Accept => {
                self.state.sqn.accept(sqn);
                // Write-ahead: the SQN is on disk before the answer leaves the card.
                self.save().map_err(|_| Sw::TechnicalProblem)?;
                Ok(Ok(out))
            }
            SqnCheck::Reject { sqn_ms } => Ok(Err(keys.build_auts(rand, sqn_ms))),
        }
    }

    fn authenticate(&mut self, ch: usize, cmd: &Command) -> Answer {
        if cmd.p1 != 0 {
            return Err(Sw::IncorrectP1P2);
        }
        // AKA runs in the USIM or the ISIM (TS 31.103 §7.1: the same AUTHENTICATE; this card
        // has one K for both), whichever is the channel's current application.
        let app = self.channels.get(ch).and_then(|c| c.df);
        if !matches!(app, Some(Df::Usim | Df::Isim)) {
            return Err(Sw::ConditionsNotSatisfied);
        }
        if self.pin_required() {
            return Err(Sw::SecurityNotSatisfied);
        }
        match cmd.p2 {
            auth::P2_3G => {
                let (rand, autn) = parse_rand_autn(&cmd.data)?;
                match self.check_autn(&rand, &autn)? {
                    Ok(out) => {
                        let kc = aka::gsm_kc(out.ck.expose(), out.ik.expose());
                        Ok((
                            auth::encode_3g_success(
                                &out.res,
                                out.ck.expose(),
                                out.ik.expose(),
                                Some(&kc),
                            ),
                            Sw::Ok,
                        ))
                    }
                    Err(auts) => Ok((auth::encode_sync_failure(&auts), Sw::Ok)),
                }
            }
            auth::P2_GBA if !self.profile.gba_u => Err(Sw::ContextNotSupported),
            auth::P2_GBA => match cmd.data.split_first() {
                Some((&auth::TAG_GBA_BOOTSTRAP, rest)) => {
                    let (rand, autn) = parse_rand_autn(rest)?;
                    match self.check_autn(&rand, &autn)? {
                        Ok(out) => {
                            self.gba.bootstrap(out.ck.expose(), out.ik.expose(), rand);
                            self.gba_files_after_bootstrap(&rand, app == Some(Df::Isim));
                            // Ks lives in the card's non-volatile memory: it survives a restart.
                            self.state.gba_u =
                                self.gba.stored().map(|(ks, r)| super::state::GbaUState {
                                    ks: hex::encode(ks.expose()),
                                    rand: hex::encode(r),
                                });
                            self.save().map_err(|_| Sw::TechnicalProblem)?;
                            let mut d = vec![auth::TAG_SUCCESS, out.res.len() as u8];
                            d.extend_from_slice(&out.res);
                            Ok((d, Sw::Ok))
                        }
                        Err(auts) => Ok((auth::encode_sync_failure(&auts), Sw::Ok)),
                    }
                }
                Some((&auth::TAG_GBA_NAF, rest)) => {
                    let (naf_id, rest) = take_lv(rest)?;
                    let (impi, rest) = take_lv(rest)?;
                    if !rest.is_empty() {
                        return Err(Sw::WrongData);
                    }
                    let ks = self
                        .gba
                        .derive(naf_id, impi)
                        .ok_or(Sw::ConditionsNotSatisfied)?;
                    self.record_naf(naf_id, app == Some(Df::Isim))?;
                    let mut d = vec![auth::TAG_SUCCESS, 32];
                    d.extend_from_slice(ks.expose());
                    Ok((d, Sw::Ok))
                }
                _ => Err(Sw::WrongData),
            },
            _ => Err(Sw::IncorrectP1P2),
        }
    }

    fn manage_channel(&mut self, cmd: &Command) -> Answer {
        match (cmd.p1, cmd.p2) {
            (0x00, 0x00) => {
                let free = (1..CHANNELS)
                    .find(|i| self.channels.get(*i).is_some_and(|c| !c.open))
                    .ok_or(Sw::NoMemory)?;
                if let Some(c) = self.channels.get_mut(free) {
                    *c = ChannelState {
                        open: true,
                        df: Some(Df::Mf),
                        ..ChannelState::default()
                    };
                }
                Ok((vec![free as u8], Sw::Ok))
            }
            (0x80, n) => {
                let n = usize::from(n);
                let c = self
                    .channels
                    .get_mut(n)
                    .filter(|c| n != 0 && c.open)
                    .ok_or(Sw::IncorrectP1P2)?;
                *c = ChannelState::default();
                Ok((Vec::new(), Sw::Ok))
            }
            _ => Err(Sw::IncorrectP1P2),
        }
    }

    fn status(&mut self, ch: usize) -> Answer {
        let df = self.channels.get(ch).and_then(|c| c.df).unwrap_or(Df::Mf);
        Ok((df_fcp(df), Sw::Ok))
    }
}

/// The GBA files of each application: (ADF, EF_GBABP, EF_GBANL).
const GBA_FILES: [(Df, u16, u16); 2] = [
    (Df::Usim, fid::EF_GBABP, fid::EF_GBANL),
    (Df::Isim, fid::EF_ISIM_GBABP, fid::EF_ISIM_GBANL),
];

/// Puts persisted EF_GBABP / EF_GBANL contents back (when they fit the files of this profile).
fn restore_gba_files(fs: &mut FileSystem, state: &CardState) {
    let bps: Vec<&str> = state
        .gbabp
        .as_deref()
        .map(|s| s.split(',').collect())
        .unwrap_or_default();
    let mut nls = state.gbanl.iter();
    for (i, (df, bp, nl)) in GBA_FILES.into_iter().enumerate() {
        if let (Some(h), Some(ef)) = (bps.get(i), fs.ef_mut(df, bp)) {
            if let (Ok(b), EfBody::Transparent(body)) = (hex::decode(h), &mut ef.body) {
                if b.len() == body.len() {
                    *body = b;
                }
            }
        }
        if let Some(ef) = fs.ef_mut(df, nl) {
            if let EfBody::Records { len, records } = &mut ef.body {
                let got: Vec<Vec<u8>> = nls
                    .by_ref()
                    .take(records.len())
                    .filter_map(|h| hex::decode(h).ok())
                    .filter(|r| r.len() == *len)
                    .collect();
                if got.len() == records.len() {
                    *records = got;
                }
            }
        }
    }
}

/// Logical channel number from CLA (TS 102 221 §10.1.1); `None` for an unsupported class.
fn channel_of(cla: u8) -> Option<usize> {
    match cla {
        0x00..=0x03 | 0x80..=0x83 | 0xA0 => Some(usize::from(cla & 0x03)),
        0x40..=0x4F | 0xC0..=0xCF => Some(4 + usize::from(cla & 0x0F)),
        _ => None,
    }
}

fn parse_rand_autn(d: &[u8]) -> Result<([u8; 16], [u8; 16]), Sw> {
    match d {
        [16, rest @ ..] if rest.len() == 33 && rest[16] == 16 => {
            let mut rand = [0u8; 16];
            let mut autn = [0u8; 16];
            rand.copy_from_slice(&rest[..16]);
            autn.copy_from_slice(&rest[17..]);
            Ok((rand, autn))
        }
        _ => Err(Sw::WrongLength),
    }
}

fn take_lv(b: &[u8]) -> Result<(&[u8], &[u8]), Sw> {
    let (len, rest) = b.split_first().ok_or(Sw::WrongData)?;
    let len = usize::from(*len);
    if rest.len() < len {
        return Err(Sw::WrongData);
    }
    Ok(rest.split_at(len))
}

impl CardChannel for SoftUsim {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        Ok(self.process(apdu))
    }

    fn reset(&mut self) -> Result<Vec<u8>, CardError> {
        self.power_on();
        Ok(ATR.to_vec())
    }

    fn describe(&self) -> String {
        format!("software USIM ({})", self.profile.path.display())
    }
}
