//! Which NAFs may ask the key API for which keys (TS 33.220: the BSF checks that the NAF
//! asking is authorised for the NAF_Id). Each credential is a bearer token with a name, the NAF
//! FQDNs it may ask keys for, and whether the key API returns the subscriber's IMPI to it.
//!
//! The `--nafs FILE` format (TOML):
//!
//! ```toml
//! [[naf]]
//! name = "naf-a"                     # shown in logs; never the token
//! fqdns = ["naf-a.example.com"]      # the NAF_Id FQDNs this credential may ask keys for
//! token_file = "/etc/bsf/naf-a.token" # mode 0600 (or stricter), printable ASCII, not empty
//! impi = false                       # return the IMPI in key answers (default false)
//! ```
//!
//! Token files readable by group or others are refused: a bearer token is the NAF's whole
//! credential.

use super::BsfError;
use serde::Deserialize;
pub use simbridge::gba::ids::{check_fqdn, normalize_fqdn};
use simbridge::secret::SecretVec;
use std::path::{Path, PathBuf};

/// The FQDNs a credential may ask keys for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NafScope {
    /// Any FQDN: only for embedded use (the demo, tests) through [`NafCredential::any_naf`]; the
    /// `bsf` command never builds one.
    Any,
    /// These FQDNs (lower case, without a trailing dot).
    Only(Vec<String>),
}

/// One NAF credential of the key API.
#[derive(Clone)]
pub struct NafCredential {
    /// Name shown in logs.
    pub name: String,
    /// Bearer token.
    pub token: SecretVec,
    /// FQDNs it may ask keys for.
    pub scope: NafScope,
    /// Whether key answers carry the IMPI.
    pub impi: bool,
}

impl std::fmt::Debug for NafCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NafCredential")
            .field("name", &self.name)
            .field("scope", &self.scope)
            .field("impi", &self.impi)
            .finish_non_exhaustive()
    }
}

impl NafCredential {
    /// A credential allowed keys for every NAF, with the IMPI (embedded use only).
    pub fn any_naf(token: SecretVec) -> Self {
        Self {
            name: "default".into(),
            token,
            scope: NafScope::Any,
            impi: true,
        }
    }

    /// A credential for `fqdns` only.
    pub fn for_fqdns(name: &str, token: SecretVec, fqdns: &[String], impi: bool) -> Self {
        Self {
            name: name.into(),
            token,
            scope: NafScope::Only(fqdns.iter().map(|f| normalize_fqdn(f)).collect()),
            impi,
        }
    }

    /// Whether this credential may ask keys for `fqdn`.
    pub fn allows(&self, fqdn: &str) -> bool {
        match &self.scope {
            NafScope::Any => true,
            NafScope::Only(list) => {
                let want = normalize_fqdn(fqdn);
                list.contains(&want)
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NafsFile {
    #[serde(default)]
    naf: Vec<NafEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NafEntry {
    name: String,
    fqdns: Vec<String>,
    token_file: PathBuf,
    #[serde(default)]
    impi: bool,
}

fn nafs_err(path: &Path, message: String) -> BsfError {
    BsfError::Nafs {
        path: path.to_path_buf(),
        message,
    }
}

/// Reads a bearer token file: it must be private to its owner (no group or other permission
/// bits), non-empty printable ASCII without spaces once surrounding whitespace is removed.
pub fn read_token_file(path: &Path) -> Result<SecretVec, BsfError> {
    let err = |m: String| BsfError::Token {
        path: path.to_path_buf(),
        message: m,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| err(e.to_string()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(err(format!(
                "mode {:04o} lets others read it; a token file must be 0600 (chmod 600 {})",
                mode & 0o7777,
                path.display()
            )));
        }
    }
    let mut raw = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let token = SecretVec::from(raw.trim_ascii());
    zeroize::Zeroize::zeroize(&mut raw);
    if token.is_empty() {
        return Err(err("empty".into()));
    }
    if !token.expose().iter().all(|b| b.is_ascii_graphic()) {
        return Err(err("must be printable ASCII without spaces".into()));
    }
    Ok(token)
}

/// Loads a `--nafs` file. Relative `token_file` paths are taken from the file's directory.
pub fn load_nafs_file(path: &Path) -> Result<Vec<NafCredential>, BsfError> {
    let text = std::fs::read_to_string(path).map_err(|e| nafs_err(path, e.to_string()))?;
    let f: NafsFile = toml::from_str(&text).map_err(|e| nafs_err(path, e.to_string()))?;
    if f.naf.is_empty() {
        return Err(nafs_err(path, "no [[naf]] entry".into()));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out: Vec<NafCredential> = Vec::new();
    for (i, e) in f.naf.iter().enumerate() {
        let key = |k: &str| format!("naf[{i}].{k}");
        if e.name.is_empty() || e.name.len() > 64 || e.name.chars().any(char::is_control) {
            return Err(nafs_err(
                path,
                format!("{}: 1 to 64 characters", key("name")),
            ));
        }
        if out.iter().any(|c| c.name == e.name) {
            return Err(nafs_err(
                path,
                format!("{}: {:?} is used twice", key("name"), e.name),
            ));
        }
        if e.fqdns.is_empty() {
            return Err(nafs_err(path, format!("{}: empty list", key("fqdns"))));
        }
        if let Some(bad) = e.fqdns.iter().find(|f| !check_fqdn(f)) {
            return Err(nafs_err(
                path,
                format!("{}: {bad:?} is not a host name", key("fqdns")),
            ));
        }
        let token_path = base.join(&e.token_file);
        let token = read_token_file(&token_path)
            .map_err(|err| nafs_err(path, format!("{}: {err}", key("token_file"))))?;
        if let Some(other) = out.iter().find(|c| c.token.expose() == token.expose()) {
            return Err(nafs_err(
                path,
                format!(
                    "{}: the same token as {:?} (each NAF needs its own)",
                    key("token_file"),
                    other.name
                ),
            ));
        }
        out.push(NafCredential::for_fqdns(&e.name, token, &e.fqdns, e.impi));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn private(path: &Path, text: &str) {
        std::fs::write(path, text).expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    #[test]
    fn loads_entries_and_refuses_bad_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        private(&dir.path().join("a.token"), "token-a\n");
        private(&dir.path().join("b.token"), "token-b\n");
        let good = "[[naf]]\nname = \"a\"\nfqdns = [\"Naf-A.example.com.\"]\ntoken_file = \"a.token\"\n\
                    [[naf]]\nname = \"b\"\nfqdns = [\"naf-b.example.com\"]\ntoken_file = \"b.token\"\nimpi = true\n";
        let p = dir.path().join("nafs.toml");
        std::fs::write(&p, good).expect("write");
        let c = load_nafs_file(&p).expect("valid");
        assert_eq!(c.len(), 2);
        assert!(c[0].allows("naf-a.example.com") && !c[0].allows("naf-b.example.com"));
        assert!(!c[0].impi && c[1].impi);
        assert_eq!(c[1].token.expose(), b"token-b");

        let cases = [
            (good.replace("a.token", "b.token"), "same token"),
            (good.replace("\"a\"", "\"b\""), "used twice"),
            (
                good.replace("[\"Naf-A.example.com.\"]", "[]"),
                "naf[0].fqdns",
            ),
            (good.replace("Naf-A.example.com.", "a b"), "not a host name"),
            (good.replace("impi = true", "impi = 1"), "impi"),
            (format!("{good}bogus = 1\n"), "bogus"),
            ("".into(), "no [[naf]]"),
        ];
        for (text, want) in cases {
            std::fs::write(&p, &text).expect("write");
            let e = load_nafs_file(&p).expect_err(want).to_string();
            assert!(e.contains("nafs.toml") && e.contains(want), "{want}: {e}");
        }
        // A token readable by others is refused, naming the file and the mode.
        std::fs::write(&p, good).expect("write");
        std::fs::set_permissions(
            dir.path().join("b.token"),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
        let e = load_nafs_file(&p).expect_err("0644").to_string();
        assert!(
            e.contains("naf[1].token_file") && e.contains("b.token") && e.contains("0644"),
            "{e}"
        );
        assert!(!e.contains("token-b"), "the token is not in the error: {e}");
    }
}
