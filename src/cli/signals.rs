//! SIGTERM / SIGINT as a flag the long-running commands poll, so they save state and exit cleanly.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// A flag set when SIGTERM or SIGINT arrives.
pub fn termination_flag() -> std::io::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, flag.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, flag.clone())?;
    Ok(flag)
}
