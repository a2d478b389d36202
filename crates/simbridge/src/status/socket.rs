//! The status socket: a Unix stream socket in the state directory (`status-gateway.sock` or
//! `status-server.sock`, mode 0600, so only the service's user can read it). A reader connects
//! and gets one JSON document: the [`Snapshot`], or `{"error": "..."}`. `simbridge status` is
//! the reader.
//!
//! The socket is bound under a temporary name, restricted to 0600 and then renamed into place,
//! so it is never reachable with wider permissions. A socket left behind by a process that died
//! is replaced; a live one (another process with the same state directory) or a path that is not
//! a socket is refused with an error naming it. The file is removed when the server stops.

use super::{Role, Snapshot, StatusSource};
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a reader may take to read an answer, and a client waits for one.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer a client reads (a server with 100k sessions stays well below).
const MAX_ANSWER: u64 = 256 << 20;

/// What can go wrong with a status socket.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// A file operation on the socket path failed.
    #[error("{path}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The path exists and is not a socket: it is left alone.
    #[error("{0}: exists and is not a socket; not replaced (remove it if it is stale)")]
    NotASocket(PathBuf),
    /// Another live process serves this path (two processes with one state directory).
    #[error(
        "{0}: another simbridge process answers on this status socket (two processes with the same state_dir?)"
    )]
    InUse(PathBuf),
    /// No status socket in the directory.
    #[error(
        "{0}: no status socket (status-gateway.sock or status-server.sock); is `simbridge bridge` or `simbridge server` running with state_dir = this directory?"
    )]
    NoSocket(PathBuf),
    /// The socket exists but nobody answers.
    #[error("{0}: nothing answers (a socket left by a process that is no longer running)")]
    Stale(PathBuf),
    /// The process answered with an error or something that is not a status document.
    #[error("{path}: {message}")]
    BadAnswer {
        /// The socket path.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StatusError + '_ {
    move |source| StatusError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What travels on the socket.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Answer {
    Ok(Box<Snapshot>),
    Err { error: String },
}

/// The socket path for `role` in `dir`.
pub fn socket_path(dir: &Path, role: Role) -> PathBuf {
    dir.join(format!("status-{}.sock", role.name()))
}

/// A running status socket; dropping it stops the thread and removes the socket file.
pub struct StatusSocket {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for StatusSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusSocket")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A status socket bound (the path claimed, so a second process with the same state directory
/// is refused before it touches any state) but not answering yet.
pub struct BoundSocket {
    path: PathBuf,
    listener: Option<UnixListener>,
}

impl std::fmt::Debug for BoundSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundSocket")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl BoundSocket {
    /// Binds `status-<role>.sock` in `dir` with mode 0600.
    pub fn bind(dir: &Path, role: Role) -> Result<Self, StatusError> {
        let path = socket_path(dir, role);
        clear_stale(&path)?;
        let tmp = dir.join(format!(
            ".status-{}.sock.{}",
            role.name(),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&tmp);
        let listener = UnixListener::bind(&tmp).map_err(io_err(&tmp))?;
        let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = placed {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err(&path)(e));
        }
        Ok(Self {
            path,
            listener: Some(listener),
        })
    }

    /// Answers every connection with a snapshot from `source`, in a thread of its own.
    pub fn serve(mut self, source: Arc<dyn StatusSource>) -> Result<StatusSocket, StatusError> {
        let listener = self
            .listener
            .take()
            .ok_or_else(|| StatusError::Stale(self.path.clone()))?;
        let path = std::mem::take(&mut self.path);
        let stop = Arc::new(AtomicBool::new(false));
        let spawned = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("simbridge-status".into())
                .spawn(move || serve(&listener, &*source, &stop))
        };
        let thread = match spawned {
            Ok(t) => t,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(io_err(&path)(e));
            }
        };
        log::info!("status: answering on {}", path.display());
        Ok(StatusSocket {
            path,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for BoundSocket {
    fn drop(&mut self) {
        if self.listener.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl StatusSocket {
    /// Binds `status-<role>.sock` in `dir` (mode 0600) and answers every connection with a
    /// snapshot from `source`, in a thread of its own.
    pub fn start(
        dir: &Path,
        role: Role,
        source: Arc<dyn StatusSource>,
    ) -> Result<Self, StatusError> {
        BoundSocket::bind(dir, role)?.serve(source)
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StatusSocket {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Removes a socket left by a dead process; refuses a live socket or a non-socket.
fn clear_stale(path: &Path) -> Result<(), StatusError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                return Err(StatusError::InUse(path.to_path_buf()));
            }
            std::fs::remove_file(path).map_err(io_err(path))
        }
        Ok(_) => Err(StatusError::NotASocket(path.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    }
}

fn serve(listener: &UnixListener, source: &dyn StatusSource, stop: &AtomicBool) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let mut stream = match conn {
            Ok(s) => s,
            Err(e) => {
                log::debug!("status: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let answer = match source.snapshot() {
            Ok(s) => Answer::Ok(Box::new(s)),
            Err(error) => Answer::Err { error },
        };
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        let written = serde_json::to_vec(&answer)
            .map_err(io::Error::other)
            .and_then(|j| stream.write_all(&j));
        if let Err(e) = written {
            log::debug!("status: answer not delivered: {e}");
        }
    }
}

/// Reads the snapshot from one status socket.
pub fn query(path: &Path) -> Result<Snapshot, StatusError> {
    let s = UnixStream::connect(path).map_err(|e| match e.kind() {
        io::ErrorKind::ConnectionRefused => StatusError::Stale(path.to_path_buf()),
        _ => io_err(path)(e),
    })?;
    s.set_read_timeout(Some(IO_TIMEOUT)).map_err(io_err(path))?;
    let mut buf = Vec::new();
    s.take(MAX_ANSWER)
        .read_to_end(&mut buf)
        .map_err(io_err(path))?;
    let bad = |message: String| StatusError::BadAnswer {
        path: path.to_path_buf(),
        message,
    };
    match serde_json::from_slice::<Answer>(&buf) {
        Ok(Answer::Ok(s)) => Ok(*s),
        Ok(Answer::Err { error }) => Err(bad(error)),
        Err(e) => Err(bad(format!("not a status document ({e})"))),
    }
}

/// Reads every status socket in `dir` (gateway first, then server).
pub fn query_dir(dir: &Path) -> Result<Vec<Snapshot>, StatusError> {
    let mut out = Vec::new();
    for role in [Role::Gateway, Role::Server] {
        let path = socket_path(dir, role);
        match std::fs::symlink_metadata(&path) {
            Ok(_) => out.push(query(&path)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&path)(e)),
        }
    }
    if out.is_empty() {
        return Err(StatusError::NoSocket(dir.to_path_buf()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Result<Snapshot, String>);
    impl StatusSource for Fixed {
        fn snapshot(&self) -> Result<Snapshot, String> {
            self.0.clone()
        }
        fn healthy(&self, _: Duration) -> bool {
            true
        }
    }

    #[test]
    fn serves_a_snapshot_with_mode_0600_and_removes_the_socket_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let snap = Snapshot::new(Role::Server, std::time::SystemTime::now());
        let sock = StatusSocket::start(dir.path(), Role::Server, Arc::new(Fixed(Ok(snap.clone()))))
            .expect("start");
        let mode = std::fs::metadata(sock.path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(query_dir(dir.path()).expect("query"), vec![snap]);
        let path = sock.path().to_path_buf();
        drop(sock);
        assert!(!path.exists(), "socket removed on stop");
        assert!(matches!(
            query_dir(dir.path()),
            Err(StatusError::NoSocket(_))
        ));
    }

    #[test]
    fn refuses_a_live_socket_and_a_non_socket_but_replaces_a_stale_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = || Arc::new(Fixed(Err("loop stopped".into())));
        let first = StatusSocket::start(dir.path(), Role::Gateway, src()).expect("start");
        assert!(matches!(
            StatusSocket::start(dir.path(), Role::Gateway, src()),
            Err(StatusError::InUse(_))
        ));
        match query(first.path()) {
            Err(StatusError::BadAnswer { message, .. }) => assert_eq!(message, "loop stopped"),
            other => panic!("expected the source's error, got {other:?}"),
        }
        drop(first);
        // A stale socket: bound by a listener that is gone, file left behind.
        let path = socket_path(dir.path(), Role::Gateway);
        drop(UnixListener::bind(&path).expect("bind"));
        assert!(matches!(query(&path), Err(StatusError::Stale(_))));
        let again = StatusSocket::start(dir.path(), Role::Gateway, src()).expect("replaces");
        drop(again);
        std::fs::write(&path, b"config").expect("write");
        assert!(matches!(
            StatusSocket::start(dir.path(), Role::Gateway, src()),
            Err(StatusError::NotASocket(_))
        ));
        assert_eq!(std::fs::read(&path).expect("kept"), b"config");
    }
}
