//! Signals of the long-running commands. SIGTERM / SIGINT become a flag the commands that save
//! state poll ([`termination_flag`]), so they save and exit 0; SIGHUP becomes a flag for the
//! commands that reload ([`hangup_flag`]). [`default_handling`] covers the rest: a command that
//! installs no flag of its own exits 0 on SIGTERM/SIGINT (not 143), and SIGHUP never kills a
//! long-running command; it logs what a reload would need (a restart).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Set once a command polls its own termination flag.
static TERM_HANDLED: AtomicBool = AtomicBool::new(false);
/// Set once a command handles SIGHUP itself.
static HUP_HANDLED: AtomicBool = AtomicBool::new(false);
/// How long [`default_handling`] lets a command that registered its own SIGTERM handler directly
/// with signal-hook (not through [`termination_flag`]) finish before it exits 0 itself.
const GRACE: Duration = Duration::from_millis(1500);

/// A flag set when SIGTERM or SIGINT arrives.
pub fn termination_flag() -> std::io::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, flag.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, flag.clone())?;
    TERM_HANDLED.store(true, Ordering::SeqCst);
    Ok(flag)
}

/// A flag set when SIGHUP arrives (the command reloads; it clears the flag).
pub fn hangup_flag() -> std::io::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, flag.clone())?;
    HUP_HANDLED.store(true, Ordering::SeqCst);
    Ok(flag)
}

/// Installs the default handling for the long-running `command` (see the module doc). A failure
/// to install is logged: the command still runs, with the system's default actions.
pub fn default_handling(command: &'static str) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("{command}: cannot install signal handlers: {e}");
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if sig == SIGHUP {
                    if !HUP_HANDLED.load(Ordering::SeqCst) {
                        log::warn!(
                            "{command}: SIGHUP: nothing is reloaded while running; restart to apply a changed configuration"
                        );
                    }
                    continue;
                }
                if TERM_HANDLED.load(Ordering::SeqCst) {
                    continue;
                }
                // A command may have registered its own handler directly: let it finish first.
                let start = Instant::now();
                while start.elapsed() < GRACE && !TERM_HANDLED.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if !TERM_HANDLED.load(Ordering::SeqCst) {
                    log::info!("{command}: stopped by a signal");
                    std::process::exit(0);
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!("{command}: cannot start the signal thread: {e}");
    }
}
