//! The software USIM's file system: MF with EF_DIR and EF_ICCID, the USIM ADF (EF_IMSI, EF_AD,
//! EF_UST, EF_GBABP, EF_GBANL) and, when the profile has an IMPI, the ISIM ADF (EF_IMPI, EF_IST).

use super::profile::Profile;
use simbridge::uicc::files::{self, AppTemplate, fid};

/// A dedicated file: the MF or an application (ADF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Df {
    /// Master file.
    Mf,
    /// USIM application.
    Usim,
    /// ISIM application.
    Isim,
}

/// Contents of an elementary file.
#[derive(Debug, Clone)]
pub enum EfBody {
    /// Transparent EF.
    Transparent(Vec<u8>),
    /// Linear fixed EF: records of equal length.
    Records {
        /// Record length.
        len: usize,
        /// The records.
        records: Vec<Vec<u8>>,
    },
}

/// One EF.
#[derive(Debug, Clone)]
pub struct Ef {
    /// The DF it lives in.
    pub df: Df,
    /// File identifier.
    pub fid: u16,
    /// Contents.
    pub body: EfBody,
    /// Whether reading needs PIN1 (when PIN1 is enabled).
    pub pin_protected: bool,
    /// Whether the ME may update it (access condition UPDATE PIN); `false` is UPDATE ADM, which
    /// the ME never holds.
    pub update_pin: bool,
}

/// Size of EF_GBABP: RAND (1 + 16), a B-TID of up to 128 bytes and a lifetime of up to 50
/// (with their length bytes); a real card's file is sized by its issuer the same way.
pub const GBABP_SIZE: usize = 1 + 16 + 1 + 128 + 1 + 50;
/// EF_GBANL: records and their length (a NAF_ID of a long FQDN + Ua id, and a B-TID).
pub const GBANL_RECORDS: usize = 8;
/// Record length of EF_GBANL.
pub const GBANL_RECORD_LEN: usize = 200;

/// USIM AID used by the software USIM (RID + 1002 + a made-up provider part).
pub const USIM_AID: [u8; 16] = [
    0xA0, 0, 0, 0, 0x87, 0x10, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x07, 0x09, 0, 0,
];
/// ISIM AID used by the software USIM.
pub const ISIM_AID: [u8; 16] = [
    0xA0, 0, 0, 0, 0x87, 0x10, 0x04, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x07, 0x09, 0, 0,
];
const DIR_RECORD_LEN: usize = 38;

/// An EF the ME may read (behind PIN1 when `pin_protected`) but not update.
fn ef(df: Df, fid: u16, body: EfBody, pin_protected: bool) -> Ef {
    Ef {
        df,
        fid,
        body,
        pin_protected,
        update_pin: false,
    }
}

/// The MF's EFs: EF_DIR with the USIM (and, with an IMPI, the ISIM) application, EF_ICCID.
fn mf_efs(p: &Profile) -> Vec<Ef> {
    let mut apps = vec![AppTemplate {
        aid: USIM_AID.to_vec(),
        label: Some("USIM".into()),
    }];
    if p.impi.is_some() {
        apps.push(AppTemplate {
            aid: ISIM_AID.to_vec(),
            label: Some("ISIM".into()),
        });
    }
    let dir = apps
        .iter()
        .map(|a| files::build_dir_record(a, DIR_RECORD_LEN))
        .collect();
    vec![
        ef(
            Df::Mf,
            fid::EF_DIR,
            EfBody::Records {
                len: DIR_RECORD_LEN,
                records: dir,
            },
            false,
        ),
        ef(
            Df::Mf,
            fid::EF_ICCID,
            EfBody::Transparent(
                files::encode_iccid(&p.iccid)
                    .map(|b| b.to_vec())
                    .unwrap_or_default(),
            ),
            false,
        ),
    ]
}

/// The USIM's EFs: EF_IMSI, EF_AD, EF_UST and, with GBA_U, EF_GBABP and EF_GBANL.
fn usim_efs(p: &Profile) -> Vec<Ef> {
    let mut services = vec![files::UST_GSM_ACCESS];
    if p.gba_u {
        services.push(files::UST_GBA);
    }
    let mut efs = vec![
        ef(
            Df::Usim,
            fid::EF_IMSI,
            EfBody::Transparent(
                files::encode_imsi(&p.imsi)
                    .map(|b| b.to_vec())
                    .unwrap_or_default(),
            ),
            true,
        ),
        ef(
            Df::Usim,
            fid::EF_AD,
            EfBody::Transparent(vec![0x00, 0x00, 0x00, p.mnc_length]),
            false,
        ),
        ef(
            Df::Usim,
            fid::EF_UST,
            EfBody::Transparent(files::build_service_table(&services, 10)),
            true,
        ),
    ];
    if p.gba_u {
        // TS 31.102 §4.2.79 and §4.2.83.
        efs.extend(gba_efs(Df::Usim, fid::EF_GBABP, fid::EF_GBANL));
    }
    efs
}

/// The ISIM's EFs: EF_IMPI, EF_IST and, with GBA_U, its own EF_GBABP and EF_GBANL.
fn isim_efs(impi: &str, gba_u: bool) -> Vec<Ef> {
    // IST service n°2 (GBA: the ISIM has the GBA security context) with GBA_U.
    let ist: &[u16] = if gba_u { &[files::IST_GBA] } else { &[] };
    let mut efs = vec![
        ef(
            Df::Isim,
            fid::EF_IMPI,
            EfBody::Transparent(files::encode_impi(impi)),
            true,
        ),
        ef(
            Df::Isim,
            fid::EF_IST,
            EfBody::Transparent(files::build_service_table(ist, 2)),
            true,
        ),
    ];
    if gba_u {
        // TS 31.103 §4.2.10/§4.2.11: the ISIM's own EF_GBABP and EF_GBANL.
        efs.extend(gba_efs(Df::Isim, fid::EF_ISIM_GBABP, fid::EF_ISIM_GBANL));
    }
    efs
}

/// EF_GBABP (READ PIN, UPDATE PIN; empty, zero lengths, until a bootstrap) and EF_GBANL (READ
/// PIN, UPDATE ADM: the card itself records each NAF derivation) of an application.
fn gba_efs(df: Df, gbabp_fid: u16, gbanl_fid: u16) -> [Ef; 2] {
    let mut gbabp = vec![0x00, 0x00, 0x00];
    gbabp.resize(GBABP_SIZE, 0xFF);
    [
        Ef {
            update_pin: true,
            ..ef(df, gbabp_fid, EfBody::Transparent(gbabp), true)
        },
        ef(
            df,
            gbanl_fid,
            EfBody::Records {
                len: GBANL_RECORD_LEN,
                records: vec![vec![0xFF; GBANL_RECORD_LEN]; GBANL_RECORDS],
            },
            true,
        ),
    ]
}

/// The file tree.
#[derive(Debug, Clone)]
pub struct FileSystem {
    /// All EFs.
    pub efs: Vec<Ef>,
    /// Whether an ISIM exists.
    pub has_isim: bool,
}

impl FileSystem {
    /// Builds the tree for a profile.
    pub fn from_profile(p: &Profile) -> Self {
        let mut efs = mf_efs(p);
        efs.extend(usim_efs(p));
        if let Some(impi) = &p.impi {
            efs.extend(isim_efs(impi, p.gba_u));
        }
        Self {
            efs,
            has_isim: p.impi.is_some(),
        }
    }

    /// Finds an EF by FID in `df`, falling back to the MF (as cards resolve MF-level EFs).
    pub fn find(&self, df: Df, fid: u16) -> Option<usize> {
        self.efs
            .iter()
            .position(|e| e.df == df && e.fid == fid)
            .or_else(|| self.efs.iter().position(|e| e.df == Df::Mf && e.fid == fid))
    }

    /// Mutable access to an EF of `df` by FID.
    pub fn ef_mut(&mut self, df: Df, fid: u16) -> Option<&mut Ef> {
        self.efs.iter_mut().find(|e| e.df == df && e.fid == fid)
    }

    /// An EF of `df` by FID.
    pub fn ef(&self, df: Df, fid: u16) -> Option<&Ef> {
        self.efs.iter().find(|e| e.df == df && e.fid == fid)
    }

    /// Mutable access to an EF by index.
    pub fn get_mut(&mut self, idx: usize) -> Option<&mut Ef> {
        self.efs.get_mut(idx)
    }

    /// Resolves an AID (full or partial, at least the 7-byte RID + application code) to an ADF.
    pub fn find_adf(&self, aid: &[u8]) -> Option<Df> {
        if aid.len() < 7 {
            return None;
        }
        if USIM_AID.starts_with(aid) {
            Some(Df::Usim)
        } else if self.has_isim && ISIM_AID.starts_with(aid) {
            Some(Df::Isim)
        } else {
            None
        }
    }
}

/// FCP template for an EF (TS 102 221 §11.1.1.3).
pub fn ef_fcp(ef: &Ef) -> Vec<u8> {
    let mut inner = Vec::new();
    match &ef.body {
        EfBody::Transparent(b) => {
            inner.extend_from_slice(&[0x82, 0x02, 0x41, 0x21]);
            inner.extend_from_slice(&[0x83, 0x02]);
            inner.extend_from_slice(&ef.fid.to_be_bytes());
            inner.extend_from_slice(&[0x80, 0x02]);
            inner.extend_from_slice(&(b.len() as u16).to_be_bytes());
        }
        EfBody::Records { len, records } => {
            inner.extend_from_slice(&[
                0x82,
                0x05,
                0x42,
                0x21,
                0x00,
                *len as u8,
                records.len() as u8,
            ]);
            inner.extend_from_slice(&[0x83, 0x02]);
            inner.extend_from_slice(&ef.fid.to_be_bytes());
            inner.extend_from_slice(&[0x80, 0x02]);
            inner.extend_from_slice(&((len * records.len()) as u16).to_be_bytes());
        }
    }
    let mut out = vec![0x62, inner.len() as u8];
    out.extend_from_slice(&inner);
    out
}

/// FCP template for a DF or ADF.
pub fn df_fcp(df: Df) -> Vec<u8> {
    let mut inner = vec![0x82, 0x02, 0x78, 0x21];
    match df {
        Df::Mf => inner.extend_from_slice(&[0x83, 0x02, 0x3F, 0x00]),
        Df::Usim => {
            inner.extend_from_slice(&[0x84, USIM_AID.len() as u8]);
            inner.extend_from_slice(&USIM_AID);
        }
        Df::Isim => {
            inner.extend_from_slice(&[0x84, ISIM_AID.len() as u8]);
            inner.extend_from_slice(&ISIM_AID);
        }
    }
    let mut out = vec![0x62, inner.len() as u8];
    out.extend_from_slice(&inner);
    out
}
