//! Spawned processes: the one kill-on-drop guard ([`KillOnDrop`]) every test helper holds its
//! children in, and [`Proc`], a guarded process whose stdout/stderr are read line by line on
//! threads so that every wait has a timeout and a test never hangs. Stdin stays open as a pipe
//! until [`Proc::close_stdin`] (openssl s_server quits at stdin EOF).

use std::borrow::BorrowMut;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Kills (and reaps) the child when dropped, so a failing test never leaves a process behind.
/// `None` once the child was taken out (to collect its output).
pub struct KillOnDrop(pub Option<Child>);

impl KillOnDrop {
    /// Guards `child`.
    pub fn new(child: Child) -> Self {
        Self(Some(child))
    }

    /// The process id (to send it a signal); 0 once the child was taken out.
    pub fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    /// Sends SIGTERM and waits (at most `limit`) for the exit; its exit code (None: not exited in
    /// time, taken out, or ended by a signal).
    pub fn terminate(&mut self, limit: Duration) -> Option<i32> {
        let child = self.0.as_mut()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        self.wait_exit(limit).and_then(|st| st.code())
    }

    /// Waits (at most `limit`) for the child to exit by itself; its status.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let child = self.0.as_mut()?;
        let start = Instant::now();
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            if start.elapsed() >= limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The guarded child (panics once it was taken out: a test bug).
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("the guarded child was taken out")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Which output stream of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// A running process with a kill-on-drop guard.
pub struct Proc {
    name: String,
    child: KillOnDrop,
    stdin: Option<ChildStdin>,
    out_rx: Receiver<String>,
    err_rx: Receiver<String>,
    /// Every line seen so far on both streams, for failure messages.
    transcript: Arc<Mutex<Vec<String>>>,
    /// Transcript lines before this index are hidden from [`Proc::stdout_seen`].
    seen_from: usize,
    /// The two reader threads: finished once the child's ends of the pipes are closed.
    pumps: Vec<std::thread::JoinHandle<()>>,
}

/// Reads `r` line by line on a thread until the end of the stream; each line (lossy UTF-8,
/// without its line end) arrives on the returned channel. It keeps reading after the receiver
/// is gone, so the writing process never blocks on a full pipe.
pub fn line_reader<R: Read + Send + 'static>(r: R) -> Receiver<String> {
    line_reader_with(r, |_| {}).0
}

/// [`line_reader`] that shows each line to `tap` first; also returns the thread, finished at
/// the end of the stream.
pub fn line_reader_with<R: Read + Send + 'static>(
    r: R,
    mut tap: impl FnMut(&str) + Send + 'static,
) -> (Receiver<String>, std::thread::JoinHandle<()>) {
    let (tx, rx) = channel();
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(r);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\r', '\n'])
                        .to_string();
                    tap(&line);
                    // receiver gone: keep draining
                    let _ = tx.send(line);
                }
            }
        }
    });
    (rx, reader)
}

fn pump<R: Read + Send + 'static>(
    r: R,
    tag: &'static str,
    log: Arc<Mutex<Vec<String>>>,
) -> (Receiver<String>, std::thread::JoinHandle<()>) {
    line_reader_with(r, move |line| {
        if let Ok(mut l) = log.lock() {
            l.push(format!("{tag}: {line}"));
        }
    })
}

impl Proc {
    /// `program ARGS`, named after the program's file name.
    pub fn start(program: &Path, args: &[&str]) -> Proc {
        let name = program
            .file_name()
            .map_or_else(|| "peer".into(), |n| n.to_string_lossy().into_owned());
        let mut cmd = Command::new(program);
        cmd.args(args);
        Proc::spawn(&name, cmd)
    }

    /// Spawns `cmd` with piped stdin/stdout/stderr.
    pub fn spawn(name: &str, mut cmd: impl BorrowMut<Command>) -> Proc {
        let cmd = cmd.borrow_mut();
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {name} ({cmd:?}): {e}"));
        let transcript = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        let (out_rx, out_pump) = pump(out, "out", transcript.clone());
        let (err_rx, err_pump) = pump(err, "err", transcript.clone());
        Proc {
            name: name.to_string(),
            stdin: child.stdin.take(),
            out_rx,
            err_rx,
            child: KillOnDrop::new(child),
            transcript,
            seen_from: 0,
            pumps: vec![out_pump, err_pump],
        }
    }

    /// The process id (to send it a signal).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The process name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits until a line on `stream` satisfies `pred`; returns it, or None after `timeout`.
    /// Lines before the match are consumed.
    pub fn wait_line(
        &self,
        stream: Stream,
        timeout: Duration,
        mut pred: impl FnMut(&str) -> bool,
    ) -> Option<String> {
        let rx = match stream {
            Stream::Stdout => &self.out_rx,
            Stream::Stderr => &self.err_rx,
        };
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if pred(&line) => return Some(line),
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return None;
                }
            }
        }
    }

    /// Like [`Proc::wait_line`] but panics with the transcript when nothing matches.
    pub fn expect_line(
        &self,
        stream: Stream,
        timeout: Duration,
        what: &str,
        pred: impl FnMut(&str) -> bool,
    ) -> String {
        match self.wait_line(stream, timeout, pred) {
            Some(l) => l,
            None => panic!(
                "{}: no {what} within {timeout:?}; transcript:\n{}",
                self.name,
                self.transcript()
            ),
        }
    }

    /// Waits until some line on either stream (as kept in the transcript) satisfies `pred`;
    /// panics with the transcript after `timeout`. Does not consume lines.
    pub fn expect_in_transcript(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .transcript
                .lock()
                .ok()
                .and_then(|l| l.iter().find(|x| pred(x)).cloned());
            if let Some(l) = found {
                return l;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}: no {what} within {timeout:?}; transcript:\n{}",
                    self.name,
                    self.transcript()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until a transcript line satisfies `pred` (true), or the process exits or
    /// `timeout` passes (false). Does not consume lines.
    pub fn wait_ready(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .transcript
                .lock()
                .map(|l| l.iter().any(|x| pred(x)))
                .unwrap_or(false);
            if found {
                return true;
            }
            if Instant::now() >= deadline || matches!(self.child.child().try_wait(), Ok(Some(_))) {
                // one last look: the line may have raced the exit
                std::thread::sleep(Duration::from_millis(50));
                return self
                    .transcript
                    .lock()
                    .map(|l| l.iter().any(|x| pred(x)))
                    .unwrap_or(false);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The stdout lines seen so far (since [`Proc::forget_seen`]), without consuming them.
    pub fn stdout_seen(&self) -> Vec<String> {
        self.transcript
            .lock()
            .map(|l| {
                l.iter()
                    .skip(self.seen_from)
                    .filter_map(|x| x.strip_prefix("out: ").map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether a stdout line seen so far contains `text`.
    pub fn has(&self, text: &str) -> bool {
        self.stdout_seen().iter().any(|l| l.contains(text))
    }

    /// Waits (at most `timeout`) until a stdout line seen so far contains `text`; returns it.
    /// Does not consume lines.
    pub fn wait_seen(&self, text: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.stdout_seen().into_iter().find(|l| l.contains(text)) {
                return Some(l);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Hides the lines seen so far from [`Proc::stdout_seen`], [`Proc::has`] and
    /// [`Proc::wait_seen`] (a new round of the same peer).
    pub fn forget_seen(&mut self) {
        self.seen_from = self.transcript.lock().map_or(0, |l| l.len());
    }

    /// Stdin, until [`Proc::close_stdin`].
    pub fn stdin(&mut self) -> Option<&mut ChildStdin> {
        self.stdin.as_mut()
    }

    /// Writes one line (a newline is added) to stdin.
    pub fn write_line(&mut self, line: &str) {
        let name = self.name.clone();
        let stdin = self
            .stdin
            .as_mut()
            .unwrap_or_else(|| panic!("{name}: stdin already closed"));
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|_| stdin.flush())
            .unwrap_or_else(|e| panic!("{name}: write to stdin: {e}"));
    }

    /// Closes stdin (EOF for the process).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to exit by itself, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let st = self.child.wait_exit(timeout)?;
        // The exit can be seen before the reader threads took the last lines: let them reach
        // the end of both pipes (bounded: a grandchild may hold them).
        let drained = Instant::now() + Duration::from_secs(2);
        while self.pumps.iter().any(|p| !p.is_finished()) && Instant::now() < drained {
            std::thread::sleep(Duration::from_millis(5));
        }
        Some(st)
    }

    /// Everything the process printed so far (both streams, in arrival order per stream).
    pub fn transcript(&self) -> String {
        self.transcript
            .lock()
            .map(|l| l.join("\n"))
            .unwrap_or_default()
    }

    /// Sends SIGTERM and waits (at most `limit`) for the exit; its exit code.
    pub fn terminate(&mut self, limit: Duration) -> Option<i32> {
        self.stdin = None;
        self.child.terminate(limit)
    }

    /// Kills the process now and reaps it.
    pub fn kill(&mut self) {
        self.stdin = None;
        let c = self.child.child();
        let _ = c.kill();
        let _ = c.wait();
    }
}
