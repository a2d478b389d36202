use super::*;
use crate::rng::SeededRng;

const ID: &[u8] =
    b"3GPP-bootstrapping-uicc.ZAkQ5c3Kce/d0VvGQFYHgA==@bsf.mnc001.mcc001.pub.3gppnetwork.org";

fn origin(key_expires: Option<u64>) -> TicketOrigin {
    TicketOrigin {
        identity: ID.to_vec(),
        key_expires,
    }
}

fn issue(i: &TicketIssuer, n: u8, o: &TicketOrigin, now: u64) -> NewSessionTicket {
    let rng = SeededRng::new(u64::from(n) + 1);
    let b = i
        .issue(&Secret::new([9; 32]), 0x1305, n, o, now, &rng)
        .expect("issue")
        .expect("a ticket");
    NewSessionTicket::parse(&b).expect("parse")
}

#[test]
fn a_ticket_opens_once_within_its_lifetime_under_its_key() {
    let issuer = TicketIssuer::new(Secret::new([3; 16]), 3600);
    let res = Secret::new([9; 32]);
    let nst = issue(&issuer, 0, &origin(None), 1000);
    assert_eq!(nst.ticket.len(), TICKET_OVERHEAD + ID.len());
    assert_eq!(TICKET_OVERHEAD, 80);
    assert_eq!(nst.lifetime_secs, 3600);
    // the client's PSK from the ticket is the one sealed in it
    let client_side = nst.clone().into_ticket(&res, 0x1305);
    let r = issuer.open(&nst.ticket, 1500).expect("opens");
    assert_eq!(r.psk, client_side.psk);
    assert_eq!(r.suite, 0x1305);
    assert_eq!(r.origin, origin(None));
    // what the server reads the client's ticket age with, and no 0-RTT unless configured
    assert_eq!(r.age_add, nst.age_add);
    assert_eq!(r.issued, 1000);
    assert_eq!((nst.max_early_data, r.max_early_data), (None, None));
    assert!(issuer.redeem(&r, 1500));
    assert_eq!(
        issuer.open(&nst.ticket, 1501).map(|_| ()),
        Err(TicketError::Used)
    );
    let nst2 = issue(&issuer, 1, &origin(None), 1000);
    assert_eq!(
        issuer.open(&nst2.ticket, 4600).map(|_| ()),
        Err(TicketError::Expired)
    );
    let other = TicketIssuer::new(Secret::new([4; 16]), 3600);
    assert_eq!(
        other.open(&nst2.ticket, 1500).map(|_| ()),
        Err(TicketError::Invalid)
    );
    let mut bad = nst2.ticket.clone();
    bad[20] ^= 1;
    assert_eq!(
        issuer.open(&bad, 1500).map(|_| ()),
        Err(TicketError::Invalid)
    );
}

#[test]
fn a_ticket_never_outlives_the_key_it_descends_from_and_passes_its_expiry_on() {
    let issuer = TicketIssuer::new(Secret::new([3; 16]), 3600);
    let nst = issue(&issuer, 0, &origin(Some(1600)), 1000);
    assert_eq!(
        nst.lifetime_secs, 600,
        "min(issuer lifetime, key expiry - now)"
    );
    let r = issuer.open(&nst.ticket, 1599).expect("opens");
    assert_eq!(r.origin.key_expires, Some(1600));
    assert_eq!(
        issuer.open(&nst.ticket, 1600).map(|_| ()),
        Err(TicketError::Expired)
    );
    // a key expiring within the second: no ticket at all
    let rng = SeededRng::new(1);
    let none = issuer
        .issue(
            &Secret::new([9; 32]),
            0x1305,
            0,
            &origin(Some(1000)),
            1000,
            &rng,
        )
        .expect("issue");
    assert!(none.is_none());
}

#[test]
fn an_identity_over_the_bound_gets_no_ticket_and_tickets_are_not_identities() {
    let issuer = TicketIssuer::new(Secret::new([3; 16]), 3600);
    let long = TicketOrigin {
        identity: vec![b'a'; MAX_IDENTITY + 1],
        key_expires: None,
    };
    let rng = SeededRng::new(1);
    let r = issuer
        .issue(&Secret::new([9; 32]), 0x1305, 0, &long, 1000, &rng)
        .expect("issue");
    assert!(r.is_none());
    let nst = issue(&issuer, 0, &origin(None), 1000);
    assert!(TicketIssuer::looks_like_ticket(&nst.ticket));
    assert!(!TicketIssuer::looks_like_ticket(ID));
}

#[test]
fn the_previous_key_still_opens_after_a_rotation_and_not_after_two() {
    let mut issuer = TicketIssuer::new(Secret::new([3; 16]), 3600);
    let old = issue(&issuer, 0, &origin(None), 1000);
    issuer.rotate(Secret::new([5; 16]));
    let new = issue(&issuer, 1, &origin(None), 1000);
    assert_ne!(old.ticket[1], new.ticket[1], "key ids differ");
    assert!(issuer.open(&old.ticket, 1001).is_ok());
    assert!(issuer.open(&new.ticket, 1001).is_ok());
    issuer.rotate(Secret::new([6; 16]));
    assert_eq!(
        issuer.open(&old.ticket, 1001).map(|_| ()),
        Err(TicketError::Invalid)
    );
    assert!(issuer.open(&new.ticket, 1001).is_ok());
}

#[test]
fn a_full_used_register_refuses_tickets_instead_of_forgetting_used_ones() {
    let issuer = TicketIssuer::with_capacity(Secret::new([3; 16]), 3600, 1);
    let a = issue(&issuer, 0, &origin(None), 1000);
    let b = issue(&issuer, 1, &origin(None), 1000);
    let ra = issuer.open(&a.ticket, 1001).expect("a");
    assert!(issuer.redeem(&ra, 1001));
    let rb = issuer.open(&b.ticket, 1001).expect("b");
    assert!(!issuer.redeem(&rb, 1001), "full: refused");
    assert_eq!(issuer.used_count(), 1);
    // once a's ticket expired its id is forgotten and b can be taken
    let c = issue(&issuer, 2, &origin(None), 4000);
    let rc = issuer.open(&c.ticket, 4700).expect("c");
    assert!(issuer.redeem(&rc, 4700));
}

#[test]
fn a_ticket_issued_with_early_data_announces_and_carries_its_maximum() {
    let mut issuer = TicketIssuer::new(Secret::new([3; 16]), 3600);
    issuer.early_data = Some(1024);
    let a = issue(&issuer, 0, &origin(None), 1000);
    let b = issue(&issuer, 1, &origin(None), 1000);
    assert_eq!(a.max_early_data, Some(1024));
    assert_eq!(a.ticket.len(), TICKET_OVERHEAD + ID.len());
    let r = issuer.open(&a.ticket, 1001).expect("opens");
    assert_eq!(r.max_early_data, Some(1024));
    assert_eq!(r.age_add, a.age_add);
    // each ticket its own age_add (from its own PSK), so ages do not link tickets
    assert_ne!(a.age_add, b.age_add);
    // the setting is read at issue time: a ticket issued before it changed keeps its value
    issuer.early_data = None;
    assert_eq!(
        issuer.open(&a.ticket, 1001).map(|r| r.max_early_data),
        Ok(Some(1024))
    );
}
