//! `simbridge oscore show --state DIR`: the OSCORE contexts a gateway or server keeps in its
//! state directory (IDs, B-TID, key expiry, the sequence number stored ahead; the Master Secret
//! and Salt only with `--reveal`), and `--aiocoap DIR` to hand one to a stock OSCORE stack in the
//! security-context format aiocoap reads (settings.json and sequence.json).

use super::{CliError, CliResult};
use simbridge::bridge::oscore::store::{Role, StoredContext};
use simbridge::bridge::oscore::{DEFAULT_SEQ_STEP, server::contexts_dir};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Sequence numbers handed to the exported copy: our own context continues beyond them, so the
/// two never use one nonce twice.
const HANDOVER: u64 = 1 << 20;

/// `oscore` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum OscoreCommand {
    /// The OSCORE contexts kept in a state directory
    Show(ShowArgs),
}

/// `oscore show` options.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// The gateway's or server's state directory
    #[arg(long)]
    state: PathBuf,
    /// Only the context with this Recipient ID (hex; the server's file name)
    #[arg(long, value_name = "HEX")]
    recipient_id: Option<String>,
    /// Print the Master Secret and Salt too
    #[arg(long)]
    reveal: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// Write the one selected context into DIR as aiocoap's security context (settings.json,
    /// sequence.json; needs --reveal). Our own copy then skips the numbers handed over: stop the
    /// gateway or server first, it rewrites the file
    #[arg(long, value_name = "DIR")]
    aiocoap: Option<PathBuf>,
}

/// Runs `oscore`.
pub fn run(c: OscoreCommand) -> CliResult {
    match c {
        OscoreCommand::Show(a) => show(a),
    }
}

/// Every context file under `state` (the gateway's `oscore-*.json`, the server's directory).
fn context_files(state: &Path) -> Result<Vec<PathBuf>, CliError> {
    let read = |d: &Path| -> Result<Vec<PathBuf>, CliError> {
        match std::fs::read_dir(d) {
            Ok(rd) => Ok(rd.flatten().map(|e| e.path()).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(CliError::new(format!("{}: {e}", d.display()))),
        }
    };
    if !state.is_dir() {
        return Err(CliError::new(format!(
            "--state {}: not a directory",
            state.display()
        )));
    }
    let mut files: Vec<PathBuf> = read(state)?
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("oscore-") && n.ends_with(".json"))
        })
        .collect();
    files.extend(
        read(&contexts_dir(state))?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "json")),
    );
    files.sort();
    Ok(files)
}

fn show(a: ShowArgs) -> CliResult {
    if a.aiocoap.is_some() && !a.reveal {
        return Err(CliError::new(
            "--aiocoap writes the Master Secret into a file: add --reveal to say you mean it",
        ));
    }
    let mut found = Vec::new();
    for f in context_files(&a.state)? {
        let rec = StoredContext::load(&f)
            .map_err(|e| CliError::new(e.to_string()))?
            .ok_or_else(|| CliError::new(format!("{}: vanished while reading", f.display())))?;
        if a.recipient_id
            .as_deref()
            .is_some_and(|r| !r.eq_ignore_ascii_case(&rec.recipient_id))
        {
            continue;
        }
        found.push((f, rec));
    }
    if found.is_empty() {
        return Err(CliError::new(format!(
            "no OSCORE context in {}{}",
            a.state.display(),
            a.recipient_id
                .as_deref()
                .map(|r| format!(" with recipient ID {r}"))
                .unwrap_or_default()
        )));
    }
    if let Some(dir) = &a.aiocoap {
        let [(file, rec)] = found.as_mut_slice() else {
            return Err(CliError::new(format!(
                "{} contexts in {}: choose one with --recipient-id",
                found.len(),
                a.state.display()
            )));
        };
        export_aiocoap(file, rec, dir)?;
    }
    if a.json {
        let v: Vec<_> = found.iter().map(|(f, r)| json(f, r, a.reveal)).collect();
        println!("{}", serde_json::Value::Array(v));
    } else {
        for (f, r) in &found {
            print_text(f, r, a.reveal);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn role(r: &StoredContext) -> &'static str {
    match r.role {
        Role::Gateway => "gateway",
        Role::Server => "server",
    }
}

/// The first sequence number the owner will use after its next start.
fn next_seq(r: &StoredContext) -> u64 {
    r.seq_stored.map_or(0, |s| s + DEFAULT_SEQ_STEP)
}

fn json(f: &Path, r: &StoredContext, reveal: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        "file": f.display().to_string(),
        "role": role(r),
        "btid": r.btid,
        "key_expires": r.key_expires,
        "sender_id": r.sender_id,
        "recipient_id": r.recipient_id,
        "id_context": null,
        "algorithm": "AES-CCM-16-64-128",
        "hkdf": "SHA-256",
        "next_sequence_number": next_seq(r),
    });
    if reveal {
        v["master_secret"] = r.master_secret_hex().into();
        v["master_salt"] = r.master_salt.clone().into();
    }
    v
}

fn print_text(f: &Path, r: &StoredContext, reveal: bool) {
    let id = |s: &str| {
        if s.is_empty() {
            "(empty)".to_string()
        } else {
            s.to_string()
        }
    };
    println!("{}", f.display());
    println!("  role:                 {}", role(r));
    println!("  B-TID:                {}", r.btid);
    println!("  key expires:          {}", r.key_expires);
    println!("  sender ID:            {}", id(&r.sender_id));
    println!("  recipient ID:         {}", id(&r.recipient_id));
    println!("  ID context:           (none)");
    println!("  algorithm:            AES-CCM-16-64-128, HKDF SHA-256");
    println!("  next sequence number: {} (after a restart)", next_seq(r));
    if reveal {
        println!("  master secret:        {}", r.master_secret_hex());
        println!("  master salt:          {}", r.master_salt);
    } else {
        println!("  master secret, salt:  (hidden; --reveal prints them)");
    }
}

/// Writes aiocoap's settings.json and sequence.json, then moves our own copy past the numbers
/// handed over.
fn export_aiocoap(file: &Path, rec: &mut StoredContext, dir: &Path) -> Result<(), CliError> {
    let at = |p: &Path, e: std::io::Error| CliError::new(format!("{}: {e}", p.display()));
    simbridge::fsutil::create_private_dir(dir).map_err(|e| at(dir, e))?;
    let settings = serde_json::json!({
        "sender-id_hex": rec.sender_id,
        "recipient-id_hex": rec.recipient_id,
        "secret_hex": rec.master_secret_hex(),
        "salt_hex": rec.master_salt,
        "algorithm": "AES-CCM-16-64-128",
        "kdf-hashfun": "sha256",
    });
    let start = next_seq(rec);
    // "unknown": aiocoap proves freshness with Echo before it accepts a request.
    let sequence = serde_json::json!({ "next-to-send": start, "received": "unknown" });
    for (name, v) in [("settings.json", settings), ("sequence.json", sequence)] {
        let p = dir.join(name);
        simbridge::fsutil::write_atomic_private(&p, v.to_string().as_bytes())
            .map_err(|e| at(&p, e))?;
    }
    // Our copy resumes at seq_stored + step: beyond everything aiocoap may use.
    rec.seq_stored = Some(start + HANDOVER);
    rec.save(file).map_err(|e| CliError::new(e.to_string()))?;
    eprintln!(
        "wrote {} (sequence numbers from {start}); {} now continues from {}",
        dir.display(),
        file.display(),
        start + HANDOVER + DEFAULT_SEQ_STEP
    );
    Ok(())
}
