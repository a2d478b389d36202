//! The Ub 200 OK body, `application/vnd.3gpp.bsf+xml` (TS 24.109 Annex C): `<BootstrappingInfo
//! xmlns="uri:3gpp-gba"><btid>…</btid><lifetime>…</lifetime></BootstrappingInfo>`.
//!
//! A small hand-written reader rather than `quick-xml`: the body has two text elements, the reader
//! needs no namespace handling beyond ignoring prefixes, and it refuses DTDs (so no entity
//! expansion) and oversized input — less code to trust than a general parser for two strings.

use super::GbaError;

/// Largest body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// What the BSF returns after a successful bootstrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrappingInfo {
    /// The bootstrapping transaction identifier (opaque to the client).
    pub btid: String,
    /// Key expiry as sent (`xs:dateTime`).
    pub lifetime: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn unescape(s: &str) -> Result<String, GbaError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(rest.get(..i).unwrap_or_default());
        let tail = rest.get(i..).unwrap_or_default();
        let end = tail
            .find(';')
            .ok_or_else(|| GbaError::BadXml("unterminated entity".into()))?;
        let ent = tail.get(1..end).unwrap_or_default();
        out.push(match ent {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                return Err(GbaError::BadXml(format!(
                    "unsupported entity &{};",
                    ent.chars().take(16).collect::<String>()
                )))
            }
        });
        rest = tail.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

impl BootstrappingInfo {
    /// Renders the body a BSF sends.
    pub fn to_xml(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BootstrappingInfo xmlns=\"uri:3gpp-gba\">\n  <btid>{}</btid>\n  <lifetime>{}</lifetime>\n</BootstrappingInfo>\n",
            escape(&self.btid),
            escape(&self.lifetime)
        )
    }

    /// Reads `btid` and `lifetime` from a body; other elements (e.g. `Extension`) are ignored.
    pub fn parse(body: &[u8]) -> Result<Self, GbaError> {
        if body.len() > MAX_BODY {
            return Err(GbaError::BadXml(format!(
                "body of {} bytes is too large",
                body.len()
            )));
        }
        let text = std::str::from_utf8(body).map_err(|_| GbaError::BadXml("not UTF-8".into()))?;
        let (mut btid, mut lifetime, mut root) = (None, None, None);
        let mut rest = text;
        // Text of the element opened last, when it is one we want.
        let mut open: Option<(&str, usize)> = None;
        let mut consumed = 0usize;
        while let Some(lt) = rest.find('<') {
            let after = rest.get(lt + 1..).unwrap_or_default();
            let gt = after
                .find('>')
                .ok_or_else(|| GbaError::BadXml("unterminated tag".into()))?;
            let tag = after.get(..gt).unwrap_or_default();
            let tag_start = consumed + lt;
            let next = lt + 1 + gt + 1;
            if tag.starts_with('!') {
                if tag.starts_with("!--") {
                    // Comment: skip to "-->" (it may contain '>').
                    let end = rest
                        .get(lt..)
                        .and_then(|r| r.find("-->"))
                        .ok_or_else(|| GbaError::BadXml("unterminated comment".into()))?;
                    consumed += lt + end + 3;
                    rest = rest.get(lt + end + 3..).unwrap_or_default();
                    continue;
                }
                return Err(GbaError::BadXml("DTD or CDATA not accepted".into()));
            }
            if !tag.starts_with('?') {
                let closing = tag.starts_with('/');
                let name = tag
                    .trim_start_matches('/')
                    .split(|c: char| c.is_whitespace() || c == '/')
                    .next()
                    .unwrap_or_default();
                let local = name.rsplit(':').next().unwrap_or_default();
                if closing {
                    if let Some((want, start)) = open.take() {
                        if want == local {
                            let inner = text.get(start..tag_start).unwrap_or_default();
                            let v = unescape(inner.trim())?;
                            match local {
                                "btid" => btid = Some(v),
                                _ => lifetime = Some(v),
                            }
                        }
                    }
                } else {
                    if root.is_none() {
                        root = Some(local.to_string());
                    }
                    if matches!(local, "btid" | "lifetime") && !tag.ends_with('/') {
                        open = Some((
                            if local == "btid" { "btid" } else { "lifetime" },
                            consumed + next,
                        ));
                    } else {
                        open = None;
                    }
                }
            }
            consumed += next;
            rest = rest.get(next..).unwrap_or_default();
        }
        if root.as_deref() != Some("BootstrappingInfo") {
            return Err(GbaError::BadXml(
                "root element is not BootstrappingInfo".into(),
            ));
        }
        let btid = btid
            .filter(|b| !b.is_empty())
            .ok_or_else(|| GbaError::BadXml("no btid".into()))?;
        let lifetime = lifetime.ok_or_else(|| GbaError::BadXml("no lifetime".into()))?;
        Ok(Self { btid, lifetime })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_24109_example_and_round_trips() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<BootstrappingInfo xmlns="uri:3gpp-gba">
  <btid>I1U8vpY3qJ0hiuZNrke/NQ==@bsf.mnc001.mcc001.pub.3gppnetwork.org</btid>
  <!-- a comment > with a bracket -->
  <lifetime>2020-10-28T23:36:26Z</lifetime>
  <Extension><x>1</x></Extension>
</BootstrappingInfo>"#;
        let info = BootstrappingInfo::parse(body).expect("valid");
        assert_eq!(
            info.btid,
            "I1U8vpY3qJ0hiuZNrke/NQ==@bsf.mnc001.mcc001.pub.3gppnetwork.org"
        );
        assert_eq!(info.lifetime, "2020-10-28T23:36:26Z");
        let again = BootstrappingInfo::parse(info.to_xml().as_bytes()).expect("own output");
        assert_eq!(again, info);
        let prefixed = b"<g:BootstrappingInfo xmlns:g=\"uri:3gpp-gba\"><g:btid>a&amp;b@x</g:btid><g:lifetime>2020-10-28T23:36:26Z</g:lifetime></g:BootstrappingInfo>";
        assert_eq!(
            BootstrappingInfo::parse(prefixed).expect("prefixed").btid,
            "a&b@x"
        );
    }

    #[test]
    fn rejects_bad_bodies() {
        for body in [
            &b""[..],
            b"<other><btid>x</btid><lifetime>y</lifetime></other>",
            b"<BootstrappingInfo><lifetime>y</lifetime></BootstrappingInfo>",
            b"<BootstrappingInfo><btid>x</btid></BootstrappingInfo>",
            b"<!DOCTYPE x [<!ENTITY a \"b\">]><BootstrappingInfo><btid>&a;</btid><lifetime>y</lifetime></BootstrappingInfo>",
            b"<BootstrappingInfo><btid>x&unknown;</btid><lifetime>y</lifetime></BootstrappingInfo>",
            b"<BootstrappingInfo><btid",
            b"\xff\xfe",
        ] {
            assert!(BootstrappingInfo::parse(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
        assert!(BootstrappingInfo::parse(&vec![b' '; MAX_BODY + 1]).is_err());
    }
}
