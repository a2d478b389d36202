//! The Ub 200 OK body, `application/vnd.3gpp.bsf+xml` (TS 24.109 Annex C): `<BootstrappingInfo
//! xmlns="uri:3gpp-gba"><btid>…</btid><lifetime>…</lifetime></BootstrappingInfo>`.
//!
//! Read with `roxmltree` (0.21), a small, well-kept, read-only XML parser without dependencies:
//! it handles character references, CDATA, comments and namespace prefixes as XML 1.0 says, and
//! refuses a DTD by default, so no entity is ever expanded (no "billion laughs").
//! Tolerant where the schema lets a BSF vary: any namespace (or none) on the elements, whitespace
//! around the values, unknown elements (an `Extension`) ignored.

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

impl BootstrappingInfo {
    /// Renders the body a BSF sends.
    pub fn to_xml(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BootstrappingInfo xmlns=\"uri:3gpp-gba\">\n  <btid>{}</btid>\n  <lifetime>{}</lifetime>\n</BootstrappingInfo>\n",
            escape(&self.btid),
            escape(&self.lifetime)
        )
    }

    /// Reads `btid` and `lifetime` (children of the root `BootstrappingInfo`) from a body; other
    /// elements are ignored.
    pub fn parse(body: &[u8]) -> Result<Self, GbaError> {
        if body.len() > MAX_BODY {
            return Err(GbaError::BadXml(format!(
                "body of {} bytes is too large",
                body.len()
            )));
        }
        let text = std::str::from_utf8(body).map_err(|_| GbaError::BadXml("not UTF-8".into()))?;
        let doc = roxmltree::Document::parse(text).map_err(GbaError::XmlSyntax)?;
        let root = doc.root_element();
        if root.tag_name().name() != "BootstrappingInfo" {
            return Err(GbaError::BadXml(
                "root element is not BootstrappingInfo".into(),
            ));
        }
        let value = |name: &str| {
            root.children()
                .find(|n| n.is_element() && n.tag_name().name() == name)
                .map(|n| {
                    // Text and CDATA pieces, in order (roxmltree resolves references).
                    n.descendants()
                        .filter(|d| d.is_text())
                        .filter_map(|d| d.text())
                        .collect::<String>()
                        .trim()
                        .to_string()
                })
        };
        let btid = value("btid")
            .filter(|b| !b.is_empty())
            .ok_or_else(|| GbaError::BadXml("no btid".into()))?;
        let lifetime = value("lifetime")
            .filter(|l| !l.is_empty())
            .ok_or_else(|| GbaError::BadXml("no lifetime".into()))?;
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
    fn character_references_and_cdata_are_read() {
        let body = b"<BootstrappingInfo xmlns=\"uri:3gpp-gba\"><btid>&#x41;B&#67;&lt;@bsf</btid><lifetime><![CDATA[2020-10-28T23:36:26]]>Z</lifetime></BootstrappingInfo>";
        let info = BootstrappingInfo::parse(body).expect("valid");
        assert_eq!(info.btid, "ABC<@bsf");
        assert_eq!(info.lifetime, "2020-10-28T23:36:26Z");
        // No namespace at all, and an unknown root-level namespace, are fine too.
        let plain = b"<BootstrappingInfo><btid><![CDATA[x@y]]></btid><lifetime>2020-10-28T23:36:26</lifetime></BootstrappingInfo>";
        assert_eq!(BootstrappingInfo::parse(plain).expect("plain").btid, "x@y");
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
            b"<BootstrappingInfo><btid>x</btid><lifetime> </lifetime></BootstrappingInfo>",
        ] {
            assert!(BootstrappingInfo::parse(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
        assert!(BootstrappingInfo::parse(&vec![b' '; MAX_BODY + 1]).is_err());
    }
}
