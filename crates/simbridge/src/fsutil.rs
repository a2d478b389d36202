//! File helpers for state that must never be half-written or readable by others.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Creates `dir` (and its parents) with mode 0700; an existing `dir` readable by others is
/// tightened to 0700 (state directories hold keys).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        b.mode(0o700);
        b.create(dir)?;
        let mode = fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        b.create(dir)
    }
}

/// A temporary name next to `name` that nobody can predict (16 random hex digits).
fn temp_name(name: &std::ffi::OsStr) -> io::Result<String> {
    let mut r = [0u8; 8];
    getrandom::fill(&mut r).map_err(|e| io::Error::other(format!("random generator: {e}")))?;
    Ok(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        hex::encode(r)
    ))
}

/// Writes `bytes` to `path` atomically with mode 0600: a temporary file in the same directory is
/// written, synced and renamed over the target, so a crash leaves the old or the new content.
pub fn write_atomic_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    // A random name opened with O_CREAT|O_EXCL|O_NOFOLLOW: another local user cannot plant a
    // file or a symbolic link where we write keys.
    let tmp = dir.join(temp_name(name)?);
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let mut f = opts.open(&tmp)?;
    let result = (|| {
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Ok(d) = fs::File::open(dir) {
            // Persist the rename itself; not all filesystems support syncing a directory.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `name` made safe as part of a file name in a state directory: ASCII letters, digits, `.` and
/// `-` are kept, anything else (a path separator above all) becomes `_`.
pub fn safe_file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn safe_file_stem_keeps_plain_names_and_neutralises_separators() {
        assert_eq!(safe_file_stem("coap-1.example"), "coap-1.example");
        assert_eq!(safe_file_stem("../etc/pass wd"), ".._etc_pass_wd");
    }

    use super::*;

    #[test]
    fn writes_private_and_replaces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("state.json");
        write_atomic_private(&p, b"one").expect("write");
        write_atomic_private(&p, b"two").expect("write");
        assert_eq!(fs::read(&p).expect("read"), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path()).expect("dir").collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn temporary_names_are_random_and_never_reused() {
        let a = temp_name(std::ffi::OsStr::new("s.json")).expect("name");
        let b = temp_name(std::ffi::OsStr::new("s.json")).expect("name");
        assert_ne!(a, b);
        assert!(a.starts_with(".s.json.tmp-") && a.len() == ".s.json.tmp-".len() + 16);
    }

    #[cfg(unix)]
    #[test]
    fn private_dirs_are_0700_even_when_they_existed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a/b");
        create_private_dir(&p).expect("create");
        assert_eq!(
            fs::metadata(&p).expect("meta").permissions().mode() & 0o777,
            0o700
        );
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
        create_private_dir(&p).expect("again");
        assert_eq!(
            fs::metadata(&p).expect("meta").permissions().mode() & 0o777,
            0o700
        );
    }
}
