//! The DTLS 1.3 ticket master secret in the server's state directory: 32 random bytes made
//! once and kept, from which the endpoint derives each rotation period's ticket key, so
//! tickets issued before a restart, or a crash (nothing saved at stop), still resume.

use crate::dtls::v13::ticket_master::TicketMaster;
use crate::secret::Secret;
use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The master secret's file in the state directory.
pub(super) const MASTER_FILE: &str = "server-tickets.master";

fn invalid(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{}: {what}; remove it to make a new one (tickets issued under it stop opening)",
            path.display()
        ),
    )
}

/// Loads the master secret at `path`, creating it (32 random bytes, atomically, mode 0600) on
/// first use. A file of another size, or readable or writable by others, is an error naming it.
pub(super) fn load_or_create(path: &Path) -> io::Result<Secret<32>> {
    match std::fs::read(path) {
        Ok(mut b) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
                if mode != 0o600 {
                    zeroize::Zeroize::zeroize(&mut b);
                    return Err(invalid(path, &format!("mode {mode:o}, not 600")));
                }
            }
            let s = Secret::from_slice(&b);
            zeroize::Zeroize::zeroize(&mut b);
            s.ok_or_else(|| invalid(path, "not a 32-byte ticket master secret"))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => crate::bridge::state::create_key(path),
        Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    }
}

/// The endpoint's master for a server starting now: the secret from `dir` and the wall clock.
pub(super) fn for_start(dir: &Path) -> io::Result<TicketMaster> {
    crate::fsutil::create_private_dir(dir)?;
    let secret = load_or_create(&dir.join(MASTER_FILE))?;
    let wall_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Ok(TicketMaster { secret, wall_ms })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::write_atomic_private;

    #[test]
    fn created_once_then_loaded_the_same() {
        let d = tempfile::tempdir().unwrap();
        let a = for_start(d.path()).unwrap();
        let b = for_start(d.path()).unwrap();
        assert_eq!(a.secret.expose(), b.secret.expose());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(d.path().join(MASTER_FILE)).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o600);
            assert_eq!(m.len(), 32);
        }
    }

    #[test]
    fn a_file_of_the_wrong_size_or_mode_is_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(MASTER_FILE);
        write_atomic_private(&p, &[1; 31]).unwrap();
        let e = load_or_create(&p).unwrap_err().to_string();
        assert!(e.contains(MASTER_FILE) && e.contains("32-byte"), "{e}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            write_atomic_private(&p, &[1; 32]).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = load_or_create(&p).unwrap_err().to_string();
            assert!(e.contains(MASTER_FILE) && e.contains("644"), "{e}");
        }
    }
}
