//! OSCORE keyed from GBA for tests and the bench report: one establishment exchange of
//! `simbridge::gba::oscore` with a B-TID of the real form, and a simbridge-oscore context from
//! either side's keying.

use simbridge::gba::oscore::{
    Choices, EstablishRequest, EstablishResponse, OSCORE_UA_ID, OscoreKeying, naf_keying, ue_keying,
};
use simbridge_oscore::context::{ContextParams, SecurityContext};

/// A B-TID as our BSF issues them: base64(RAND)@BSF FQDN (62 characters).
pub const BTID: &str = "AeHsnxK0hd4QGWPn4cXbGw==@bsf.mnc001.mcc001.pub.3gppnetwork.org";

/// One exchange under `ks_naf`: (request payload, response payload, UE keying, NAF keying).
/// The UE proposes an empty NAF sender ID; the NAF gives the UE `01`.
pub fn establish(ks_naf: &[u8]) -> (Vec<u8>, Vec<u8>, OscoreKeying, OscoreKeying) {
    let c = Choices::default();
    let req = EstablishRequest {
        ua_id: OSCORE_UA_ID,
        btid: BTID.into(),
        n1: vec![0x11; c.nonce_len],
        naf_sender_id: Vec::new(),
        input: None,
    }
    .encode();
    let resp = EstablishResponse {
        n2: vec![0x22; c.nonce_len],
        ue_sender_id: vec![0x01],
    }
    .encode();
    let ue = ue_keying(ks_naf, &req, &resp, &c).expect("UE keying");
    let naf = naf_keying(ks_naf, &req, &resp, &c).expect("NAF keying");
    (req, resp, ue, naf)
}

/// Our OSCORE context from one side's keying.
pub fn context(k: &OscoreKeying) -> SecurityContext {
    SecurityContext::derive(&ContextParams {
        master_secret: k.master_secret.expose(),
        master_salt: Some(&k.master_salt),
        sender_id: &k.sender_id,
        recipient_id: &k.recipient_id,
        id_context: None,
    })
    .expect("an OSCORE context from a GBA keying")
}
