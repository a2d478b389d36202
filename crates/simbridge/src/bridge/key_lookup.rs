//! Bounded key lookups for the server: a fixed pool of worker threads asks the BSF's key API;
//! one lookup per (B-TID, key kind, NAF_Id) is in flight at a time (later handshakes with the
//! same identity wait on it), and identities the BSF does not know are remembered for a short
//! while (negative cache) so a client, or an attacker, repeating a bogus identity costs no new
//! request. Identity syntax and the SNI are checked before anything reaches this pool
//! ([`super::NafKeys::plan`]).
//!
//! The owner (the server loop, one thread) calls [`KeyLookups::request`] and, when woken,
//! [`KeyLookups::poll`]; workers share only the job queue.

use super::naf_keys::{KeyPlan, NafKeys};
use crate::gba::ids::NafKeyKind;
use crate::gba::key_api::client::{KeyApiClient, KeyFetchError};
use crate::secret::SecretVec;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// Limits of the key lookups (`[keys]` `lookup_workers`, `negative_cache_secs`).
#[derive(Debug, Clone)]
pub struct LookupSettings {
    /// Worker threads, hence BSF requests in flight at most (default 4).
    pub workers: usize,
    /// How long an identity the BSF does not know is answered "unknown" without asking again
    /// (default 30 s).
    pub negative_ttl: Duration,
    /// Most distinct lookups queued; beyond, a request is answered "unavailable" at once
    /// (default 10,000).
    pub max_queued: usize,
    /// Most identities in the negative cache (default 100,000; the oldest go first).
    pub max_negative: usize,
}

impl Default for LookupSettings {
    fn default() -> Self {
        Self {
            workers: 4,
            negative_ttl: Duration::from_secs(30),
            max_queued: 10_000,
            max_negative: 100_000,
        }
    }
}

/// What a lookup gave.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The key.
    Key(SecretVec),
    /// The BSF does not know the B-TID (or it expired, or has no key of this kind): the
    /// handshake goes on with a random key (RFC 4279 §2). The text says why, for the log.
    Unknown(String),
    /// The key API could not answer (unreachable, 5xx, refused our credential): the
    /// handshake ends with internal_error so the client retries later. Shared: one lookup can
    /// answer several handshakes.
    Unavailable(Arc<Unavailable>),
}

/// Why the key API could not answer a lookup.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// The server has no key API configured.
    #[error("no key API")]
    NoKeyApi,
    /// Too many lookups wait already.
    #[error("{0} key lookups already queued")]
    QueueFull(usize),
    /// The request to the BSF failed.
    #[error(transparent)]
    Fetch(#[from] KeyFetchError),
}

impl Outcome {
    fn unavailable(why: impl Into<Unavailable>) -> Self {
        Outcome::Unavailable(Arc::new(why.into()))
    }
}

/// A request's immediate answer.
#[derive(Debug)]
pub enum Requested {
    /// Answered now (negative cache, or the queue is full).
    Now(Outcome),
    /// Queued, or joined a lookup in flight: the answer comes from [`KeyLookups::poll`].
    Queued,
}

struct Jobs {
    queue: VecDeque<KeyPlan>,
    stop: bool,
}

type Shared = Arc<(Mutex<Jobs>, Condvar)>;

/// The lookup pool.
pub struct KeyLookups {
    settings: LookupSettings,
    jobs: Shared,
    results: Receiver<(KeyPlan, Outcome)>,
    waiting: HashMap<KeyPlan, Vec<SocketAddr>>,
    negative: HashMap<KeyPlan, Instant>,
    workers: Vec<JoinHandle<()>>,
    requests: u64,
}

impl std::fmt::Debug for KeyLookups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyLookups")
            .field("settings", &self.settings)
            .field("in_flight_or_queued", &self.waiting.len())
            .field("negative", &self.negative.len())
            .finish_non_exhaustive()
    }
}

/// One BSF request, classified.
pub fn fetch(keys: &NafKeys, client: &KeyApiClient, plan: &KeyPlan) -> Outcome {
    let uicc = plan.kind == NafKeyKind::Uicc;
    match client.fetch(&plan.btid, &plan.naf, uicc) {
        Ok(m) if m.expires > SystemTime::now() => {
            let key = if uicc {
                m.uicc_key.as_ref()
            } else {
                Some(&m.key)
            };
            match key {
                Some(k) => {
                    let key = SecretVec::from(&k.expose()[..]);
                    keys.remember(plan, key.clone(), m.expires);
                    Outcome::Key(key)
                }
                None => Outcome::Unknown("no Ks_int_NAF (a GBA_ME bootstrap)".into()),
            }
        }
        Ok(_) => Outcome::Unknown("B-TID expired".into()),
        Err(e @ (KeyFetchError::NotFound | KeyFetchError::Expired)) => {
            Outcome::Unknown(format!("{e}; the client must bootstrap again"))
        }
        Err(e) => Outcome::unavailable(e),
    }
}

impl KeyLookups {
    /// Starts `settings.workers` workers fetching through `keys`' key-API client; `notify` is
    /// called after each result (the server loop's waker).
    pub fn start(
        keys: Arc<NafKeys>,
        settings: LookupSettings,
        notify: Arc<dyn Fn() + Send + Sync>,
    ) -> std::io::Result<Self> {
        let jobs: Shared = Arc::new((
            Mutex::new(Jobs {
                queue: VecDeque::new(),
                stop: false,
            }),
            Condvar::new(),
        ));
        let (tx, results) = mpsc::channel();
        let mut workers = Vec::new();
        if let Some(client) = keys.key_api() {
            for i in 0..settings.workers.max(1) {
                let (jobs, tx, keys, client, notify) = (
                    jobs.clone(),
                    tx.clone(),
                    keys.clone(),
                    client.clone(),
                    notify.clone(),
                );
                workers.push(
                    std::thread::Builder::new()
                        .name(format!("simbridge-keys-{i}"))
                        .spawn(move || worker(&jobs, &tx, &keys, &client, &*notify))?,
                );
            }
        }
        Ok(Self {
            settings,
            jobs,
            results,
            waiting: HashMap::new(),
            negative: HashMap::new(),
            workers,
            requests: 0,
        })
    }

    /// Asks for the key of `plan` on behalf of `peer`.
    pub fn request(&mut self, peer: SocketAddr, plan: KeyPlan, now: Instant) -> Requested {
        if let Some(until) = self.negative.get(&plan) {
            if *until > now {
                return Requested::Now(Outcome::Unknown(
                    "B-TID unknown to the BSF (asked within the negative-cache time)".into(),
                ));
            }
            self.negative.remove(&plan);
        }
        if self.workers.is_empty() {
            return Requested::Now(Outcome::unavailable(Unavailable::NoKeyApi));
        }
        if let Some(w) = self.waiting.get_mut(&plan) {
            if !w.contains(&peer) {
                w.push(peer);
            }
            return Requested::Queued;
        }
        if self.waiting.len() >= self.settings.max_queued {
            return Requested::Now(Outcome::unavailable(Unavailable::QueueFull(
                self.waiting.len(),
            )));
        }
        self.waiting.insert(plan.clone(), vec![peer]);
        self.requests += 1;
        let (lock, cv) = &*self.jobs;
        if let Ok(mut j) = lock.lock() {
            j.queue.push_back(plan);
        }
        cv.notify_one();
        Requested::Queued
    }

    /// Results that arrived: each waiting peer with the plan and outcome.
    pub fn poll(&mut self, now: Instant) -> Vec<(SocketAddr, KeyPlan, Outcome)> {
        let mut out = Vec::new();
        while let Ok((plan, outcome)) = self.results.try_recv() {
            if matches!(outcome, Outcome::Unknown(_)) {
                self.remember_unknown(plan.clone(), now);
            }
            for peer in self.waiting.remove(&plan).unwrap_or_default() {
                out.push((peer, plan.clone(), outcome.clone()));
            }
        }
        out
    }

    fn remember_unknown(&mut self, plan: KeyPlan, now: Instant) {
        if self.negative.len() >= self.settings.max_negative {
            self.negative.retain(|_, until| *until > now);
            if self.negative.len() >= self.settings.max_negative {
                if let Some(oldest) = self
                    .negative
                    .iter()
                    .min_by_key(|(_, until)| **until)
                    .map(|(p, _)| p.clone())
                {
                    self.negative.remove(&oldest);
                }
            }
        }
        self.negative.insert(plan, now + self.settings.negative_ttl);
    }

    /// Lookups started (BSF requests asked of the workers) so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Stops the workers (a lookup in flight finishes first, bounded by the client's timeout).
    pub fn stop(&mut self) {
        let (lock, cv) = &*self.jobs;
        if let Ok(mut j) = lock.lock() {
            j.stop = true;
            j.queue.clear();
        }
        cv.notify_all();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl Drop for KeyLookups {
    fn drop(&mut self) {
        self.stop();
    }
}

fn worker(
    jobs: &Shared,
    tx: &Sender<(KeyPlan, Outcome)>,
    keys: &NafKeys,
    client: &KeyApiClient,
    notify: &(dyn Fn() + Send + Sync),
) {
    let (lock, cv) = &**jobs;
    loop {
        let plan = {
            let Ok(mut j) = lock.lock() else { return };
            loop {
                if j.stop {
                    return;
                }
                if let Some(p) = j.queue.pop_front() {
                    break p;
                }
                j = match cv.wait(j) {
                    Ok(j) => j,
                    Err(_) => return,
                };
            }
        };
        // The client of the moment: a configuration reload may have pointed it at another BSF.
        let current = keys.key_api();
        let outcome = fetch(keys, current.as_deref().unwrap_or(client), &plan);
        if tx.send((plan, outcome)).is_err() {
            return;
        }
        notify();
    }
}
