//! Attaches a software USIM to a real pcscd through the vsmartcard `vpcd` reader driver.
//!
//! Wire protocol (vpcd is the TCP server, the card connects): every message is a 2-byte big-endian
//! length followed by the payload. One-byte payloads are control messages (00 power off, 01 power
//! on, 02 reset, 04 "send the ATR"); longer ones are command APDUs, answered with the response APDU.
//! Closing the connection is seen by pcscd as the card being removed.

use super::usim::{ATR, SoftUsim};
use log::{debug, info};
use simbridge::card::CardChannel;
use std::io::{self, Read, Write};
use std::net::TcpStream;

/// Test knobs for fault injection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Drop the connection (card removed) on receiving the Nth command APDU, without answering it.
    pub drop_after: Option<u64>,
}

/// Why a session with vpcd ended.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// vpcd closed the connection.
    Closed,
    /// A fault knob removed the card.
    Removed,
}

/// vpcd writes the length and the payload separately; with delayed ACKs on our side its Nagle
/// algorithm holds the payload back ~40 ms per message. Quick ACKs (which the kernel resets after
/// use, so they are set before every read) avoid that.
fn quickack(stream: &TcpStream) {
    #[cfg(target_os = "linux")]
    let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
}

#[cfg(test)]
fn read_msg(s: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    read_msg_with(s, |_| {})
}

fn read_msg_with<R: Read>(s: &mut R, between: impl Fn(&R)) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match s.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    between(s);
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf)?;
    Ok(Some(buf))
}

fn write_msg(s: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u16::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "message over 65535 bytes"))?;
    let mut out = Vec::with_capacity(2 + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    s.write_all(&out)
}

/// Serves one connection to vpcd until it closes (or a fault knob removes the card).
pub fn serve_connection(
    card: &mut SoftUsim,
    stream: &mut TcpStream,
    faults: Faults,
) -> io::Result<SessionEnd> {
    let mut apdus = 0u64;
    stream.set_nodelay(true)?;
    loop {
        quickack(stream);
        let Some(msg) = read_msg_with(stream, quickack)? else {
            break;
        };
        match msg.as_slice() {
            [0x00] => {
                debug!("vpcd: power off");
                card.power_on();
            }
            [0x01] | [0x02] => {
                debug!("vpcd: power on / reset");
                card.power_on();
            }
            [0x04] => write_msg(stream, &ATR)?,
            [] => {}
            [other] => debug!("vpcd: unknown control byte {other:02X}"),
            apdu => {
                apdus += 1;
                if faults.drop_after == Some(apdus) {
                    info!("fault injection: removing the card on APDU {apdus}");
                    return Ok(SessionEnd::Removed);
                }
                let resp = card
                    .transmit(apdu)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                write_msg(stream, &resp)?;
            }
        }
    }
    Ok(SessionEnd::Closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_round_trip_and_truncation() {
        let mut buf = Vec::new();
        write_msg(&mut buf, &[1, 2, 3]).expect("write");
        assert_eq!(buf, [0, 3, 1, 2, 3]);
        let mut r = &buf[..];
        assert_eq!(read_msg(&mut r).expect("read"), Some(vec![1, 2, 3]));
        assert_eq!(read_msg(&mut r).expect("eof"), None);
        let mut truncated = &[0u8, 5, 1][..];
        assert!(
            read_msg(&mut truncated).is_err(),
            "a truncated message is an error"
        );
    }
}
