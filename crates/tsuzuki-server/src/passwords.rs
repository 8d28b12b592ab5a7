//! Password hashing with argon2id, off the async workers and with bounded concurrency.
//!
//! Hashing is deliberately expensive (19 MiB, 2 passes by default). It runs on Tokio's blocking
//! pool behind a semaphore: a burst of sign-ins waits for a slot instead of occupying every core,
//! so session checks — the hot path — keep answering. Unknown accounts are verified against a
//! dummy hash made with the same parameters, so "no such account" costs as much as "wrong
//! password" (SEC-56).

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use zeroize::Zeroize as _;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing slot stayed busy for the whole queue timeout.
    #[error("password hashing is saturated")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matches: bool,
    /// The stored hash was made with other parameters than those configured now.
    pub needs_rehash: bool,
}

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    slots: Arc<Semaphore>,
    queue_timeout: Duration,
    dummy: Arc<str>,
    in_flight: prometheus_client::metrics::gauge::Gauge,
    workspaces: Arc<Workspaces>,
}

/// Argon2's working memory (19 MiB by default), handed from one hash to the next while sign-ins
/// wait for a slot, and given back once none waits. Allocated per hash instead, a burst of
/// sign-ins left a freed copy in each blocking-pool thread's allocator (resident memory 62 MiB
/// instead of 42 after one, docs/benchmarks.md), and every hash faulted 19 MiB of fresh pages in;
/// kept for good, it pinned 19 MiB that the rest of the server could otherwise reuse. At most one
/// per hashing slot exists. Zeroed when given back.
#[derive(Default)]
struct Workspaces {
    pool: Mutex<Vec<Vec<Block>>>,
    /// Hashes that wait for a slot or for their workspace (see [`Waiting`]).
    waiting: AtomicUsize,
    /// Workspaces allocated so far, and the most blocks one held (for the tests).
    allocated: AtomicUsize,
    largest: AtomicUsize,
}

impl Workspaces {
    /// Run `work` on `blocks` blocks of working memory; `None` if they cannot be allocated.
    /// `waiting` is this hash's place in the queue, given up once it holds its memory.
    fn with<T>(
        &self,
        blocks: usize,
        waiting: Option<Waiting>,
        work: impl FnOnce(&mut [Block]) -> T,
    ) -> Option<T> {
        let taken = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        drop(waiting);
        let mut memory = taken.unwrap_or_else(|| {
            self.allocated.fetch_add(1, Ordering::Relaxed);
            Vec::new()
        });
        if memory.len() < blocks {
            // Fallible: a stored hash's parameters are data, and an allocation that cannot be
            // made must fail this check, not abort the process.
            memory.try_reserve_exact(blocks - memory.len()).ok()?;
            memory.resize(blocks, Block::new());
            self.largest.fetch_max(blocks, Ordering::Relaxed);
        }
        let result = work(&mut memory[..blocks]);
        // Another hash waits: hand the memory on as it is. The next hash's first pass writes
        // every block before it reads any, so nothing of this one reaches it, and a wipe per
        // hash would only add 19 MiB of memory traffic to each sign-in of a burst.
        if self.waiting.load(Ordering::Acquire) > 0 {
            self.pool
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(memory);
        } else {
            wipe(&mut memory);
        }
        Some(result)
    }
}

impl PasswordHasher {
    pub fn new(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        concurrency: usize,
        queue_timeout: Duration,
    ) -> Result<Self, HashError> {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|e| HashError::Failed(e.to_string()))?;
        let dummy_password: [u8; 16] = tsuzuki_core::token::random_bytes();
        let workspaces = Arc::new(Workspaces::default());
        let dummy = hash_phc(&workspaces, None, &params, &dummy_password)?;
        Ok(PasswordHasher {
            params,
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            queue_timeout,
            dummy: dummy.into(),
            in_flight: Default::default(),
            workspaces,
        })
    }

    /// Number of hashes running now (exported as a metric).
    pub fn in_flight_gauge(&self) -> prometheus_client::metrics::gauge::Gauge {
        self.in_flight.clone()
    }

    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let params = self.params.clone();
        let workspaces = self.workspaces.clone();
        self.run(move |waiting| hash_phc(&workspaces, Some(waiting), &params, password.as_bytes()))
            .await
    }

    /// Check `password` against `stored`, or against the dummy hash when there is no account.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<Verification, HashError> {
        let params = self.params.clone();
        let workspaces = self.workspaces.clone();
        let real = stored.is_some();
        let phc = stored.unwrap_or_else(|| self.dummy.to_string());
        self.run(move |waiting| {
            let parsed = PasswordHash::new(&phc).ok();
            let mut waiting = Some(waiting);
            let checked = parsed.as_ref().and_then(|p| {
                let limit = memory_limit(&params);
                matches_phc(&workspaces, waiting.take(), p, password.as_bytes(), limit)
                    .map(|matches| (p, matches))
            });
            let Some((parsed, matches)) = checked else {
                // A corrupt stored hash never matches; still spend the time of a real check.
                let _ = hash_phc(&workspaces, waiting.take(), &params, password.as_bytes());
                return Ok(Verification {
                    matches: false,
                    needs_rehash: false,
                });
            };
            let needs_rehash = real && matches && !same_parameters(parsed, &params);
            Ok(Verification {
                matches: matches && real,
                needs_rehash,
            })
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(Waiting) -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let waiting = Waiting::join(&self.workspaces);
        let permit = tokio::time::timeout(self.queue_timeout, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| HashError::Busy)?
            .map_err(|_| HashError::Busy)?;
        let gauge = self.in_flight.clone();
        gauge.inc();
        let result = tokio::task::spawn_blocking(move || {
            lower_this_threads_priority();
            let r = work(waiting);
            drop(permit);
            r
        })
        .await;
        gauge.dec();
        result.map_err(|e| HashError::Failed(e.to_string()))?
    }
}

/// Zero the working memory before it goes back to the allocator (`zeroize`: not optimised away).
fn wipe(memory: &mut [Block]) {
    for block in memory {
        block.as_mut().zeroize();
    }
}

/// A hash's place in the queue for a slot and a workspace, counted in [`Workspaces::waiting`]:
/// given up when the hash takes its workspace, when its wait for a slot times out, or when its
/// caller goes away.
struct Waiting(Arc<Workspaces>);

impl Waiting {
    fn join(workspaces: &Arc<Workspaces>) -> Waiting {
        workspaces.waiting.fetch_add(1, Ordering::AcqRel);
        Waiting(workspaces.clone())
    }
}

impl Drop for Waiting {
    /// The last to stop waiting gives back what is still pooled: a workspace handed on to a
    /// sign-in that then stopped waiting (its queue timeout, or its client gone) would otherwise
    /// stay. Zeroed off the async workers: zeroing 19 MiB takes milliseconds.
    fn drop(&mut self) {
        if self.0.waiting.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let left = std::mem::take(&mut *self.0.pool.lock().unwrap_or_else(|p| p.into_inner()));
        if left.is_empty() {
            return;
        }
        let give_back = move || {
            for mut memory in left {
                wipe(&mut memory);
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(give_back)),
            Err(_) => give_back(),
        }
    }
}

/// The niceness of hashing threads. A burst of sign-ins keeps the hashing slots busy; on a small
/// machine those threads share cores with the async workers that answer session checks, and at
/// equal priority the scheduler's time slices show up in the checks' latency. At nice 10 the
/// workers win the core when both are runnable; hashing still gets every idle cycle.
pub const HASHING_NICE: i32 = 10;

/// Lower the calling (blocking-pool) thread's priority once. Tokio's blocking pool runs only
/// password hashing in this process, so the lowered threads serve nothing else.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        thread_local!(static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
        LOWERED.with(|lowered| {
            if !lowered.get() {
                // On Linux, PRIO_PROCESS with a thread id sets that thread's niceness. Failure
                // (a sandbox that forbids it) only costs latency, never correctness.
                let tid = Some(rustix::thread::gettid());
                // Only ever lower the priority: an already-niced process stays as it is.
                let current = rustix::process::getpriority_process(tid).unwrap_or(0);
                if current < HASHING_NICE {
                    let _ = rustix::process::setpriority_process(tid, HASHING_NICE);
                }
                lowered.set(true);
            }
        });
    }
}

/// The most memory (KiB) a stored hash may ask for: four times the configured amount, and never
/// less than 256 MiB, so that hashes made before the configured memory was lowered still verify
/// (and are re-hashed); more than that is refused as corrupt (docs/configuration.md).
fn memory_limit(params: &Params) -> u32 {
    params.m_cost().saturating_mul(4).max(256 * 1024)
}

fn argon(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

/// A new argon2id hash of `password` in PHC form, with a fresh 128-bit salt from the OS CSPRNG.
fn hash_phc(
    workspaces: &Workspaces,
    waiting: Option<Waiting>,
    params: &Params,
    password: &[u8],
) -> Result<String, HashError> {
    let failed = |e: &dyn std::fmt::Display| HashError::Failed(e.to_string());
    let salt: [u8; 16] = tsuzuki_core::token::random_bytes();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    workspaces
        .with(params.block_count(), waiting, |memory| {
            argon(params).hash_password_into_with_memory(password, &salt, &mut out, memory)
        })
        .ok_or_else(|| failed(&"cannot allocate the working memory"))?
        .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| failed(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| failed(&e))?),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

/// Does `password` match the stored hash, computed with the stored hash's own algorithm,
/// version and parameters? `None` when the stored hash cannot be used (corrupt, unknown
/// algorithm, no salt or output, more memory than `memory_limit_kib`). The comparison is
/// constant-time (`Output`'s `==`).
fn matches_phc(
    workspaces: &Workspaces,
    waiting: Option<Waiting>,
    stored: &PasswordHash,
    password: &[u8],
    memory_limit_kib: u32,
) -> Option<bool> {
    let algorithm = Algorithm::try_from(stored.algorithm.as_str()).ok()?;
    let version = match stored.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(stored).ok()?;
    // Memory far beyond the configured amount is not a hash this server made: treated as
    // corrupt rather than spending gigabytes on it.
    if params.m_cost() > memory_limit_kib {
        return None;
    }
    let (salt, expected) = (stored.salt.as_ref()?, stored.hash.as_ref()?);
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let out = buffer.get_mut(..expected.len())?;
    let argon = Argon2::new(algorithm, version, params.clone());
    workspaces
        .with(params.block_count(), waiting, |memory| {
            argon.hash_password_into_with_memory(password, salt, out, memory)
        })?
        .ok()?;
    Some(Output::new(out).ok()? == *expected)
}

fn same_parameters(hash: &PasswordHash, params: &Params) -> bool {
    hash.algorithm.as_str() == "argon2id"
        && Params::try_from(hash).is_ok_and(|p| {
            p.m_cost() == params.m_cost()
                && p.t_cost() == params.t_cost()
                && p.p_cost() == params.p_cost()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(m: u32, t: u32) -> PasswordHasher {
        PasswordHasher::new(m, t, 1, 1, Duration::from_secs(30)).unwrap()
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_and_verify() {
        let h = hasher(19_456, 2);
        let phc = h.hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let ok = h
            .verify("correct horse battery".into(), Some(phc.clone()))
            .await
            .unwrap();
        assert_eq!(
            ok,
            Verification {
                matches: true,
                needs_rehash: false
            }
        );
        let bad = h.verify("wrong".into(), Some(phc)).await.unwrap();
        assert!(!bad.matches);
    }

    /// Hashes stored before the reused workspaces (made by argon2's own hasher) still verify, and
    /// the new ones verify with argon2's own verifier: the same PHC strings either way.
    #[tokio::test]
    async fn hashes_interoperate_with_argon2s_own_hasher() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let params = Params::new(19_456, 2, 1, None).unwrap();
        let theirs = argon(&params)
            .hash_password(b"correct horse battery")
            .unwrap()
            .to_string();
        let h = hasher(19_456, 2);
        let v = h
            .verify("correct horse battery".into(), Some(theirs.clone()))
            .await
            .unwrap();
        assert!(v.matches && !v.needs_rehash);
        assert!(
            !h.verify("wrong".into(), Some(theirs))
                .await
                .unwrap()
                .matches
        );
        let ours = h.hash("correct horse battery".into()).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            argon(&params)
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        assert!(argon(&params).verify_password(b"wrong", &parsed).is_err());
        // A corrupt stored hash never matches.
        let corrupt = h
            .verify(
                "correct horse battery".into(),
                Some("$argon2id$v=19$nonsense".into()),
            )
            .await
            .unwrap();
        assert!(!corrupt.matches);
    }

    /// Sign-ins queued behind one slot share one workspace, and it is given back (wiped) when
    /// none waits.
    #[tokio::test]
    async fn workspaces_are_shared_by_a_queue_and_given_back() {
        let h = hasher(8_192, 1);
        let start = h.workspaces.allocated.load(Ordering::Relaxed);
        let hashes: Vec<_> = (0..4)
            .map(|_| {
                let h = h.clone();
                tokio::spawn(async move { h.hash("correct horse battery".into()).await })
            })
            .collect();
        for hash in hashes {
            hash.await.unwrap().unwrap();
        }
        assert_eq!(
            h.workspaces.allocated.load(Ordering::Relaxed) - start,
            1,
            "four queued hashes, one workspace"
        );
        assert!(h.workspaces.pool.lock().unwrap().is_empty(), "given back");
        assert_eq!(h.workspaces.waiting.load(Ordering::Relaxed), 0);
        // Handed on to a hash that then stopped waiting: the last one out gives it back.
        let w = Arc::new(Workspaces::default());
        {
            let _first = Waiting::join(&w);
            let _gone = Waiting::join(&w);
            w.with(4, None, |_| ());
            assert_eq!(w.pool.lock().unwrap().len(), 1, "handed on");
        }
        assert!(
            w.pool.lock().unwrap().is_empty(),
            "given back by the last one out"
        );
        // What goes back to the allocator is wiped.
        let mut memory = vec![Block::new(); 4];
        memory.iter_mut().for_each(|b| b.as_mut().fill(7));
        wipe(&mut memory);
        assert!(memory.iter().all(|b| b.as_ref().iter().all(|x| *x == 0)));
    }

    /// With two slots, two hashes at once and nobody waiting: neither keeps its workspace.
    #[tokio::test]
    async fn nothing_is_kept_when_nobody_waits() {
        let h = PasswordHasher::new(8_192, 1, 1, 2, Duration::from_secs(30)).unwrap();
        let (a, b) = tokio::join!(
            h.hash("correct horse battery".into()),
            h.hash("staple battery horse".into())
        );
        a.unwrap();
        b.unwrap();
        assert!(h.workspaces.pool.lock().unwrap().is_empty());
    }

    /// A stored hash that asks for far more memory than configured (here 4 GiB) is not one this
    /// server made: it never matches, and its memory is never allocated — a value written into
    /// the password column cannot exhaust the server's memory.
    #[tokio::test]
    async fn a_stored_hash_asking_for_absurd_memory_never_matches() {
        let h = hasher(8_192, 1);
        let phc = h.hash("correct horse battery".into()).await.unwrap();
        let absurd = phc.replace("m=8192", "m=4194304");
        assert!(4_194_304 > memory_limit(&h.params));
        assert_ne!(absurd, phc);
        let v = h
            .verify("correct horse battery".into(), Some(absurd))
            .await
            .unwrap();
        assert!(!v.matches);
        assert_eq!(
            h.workspaces.largest.load(Ordering::Relaxed),
            8_192,
            "no workspace beyond the configured size"
        );
        // Made with more memory than now configured, within the limit: still verifies.
        let older = hasher(32_768, 1)
            .hash("correct horse battery".into())
            .await
            .unwrap();
        let v = h
            .verify("correct horse battery".into(), Some(older))
            .await
            .unwrap();
        assert!(v.matches && v.needs_rehash);
    }

    #[tokio::test]
    async fn unknown_account_never_matches_even_the_dummy_password() {
        let h = hasher(19_456, 2);
        assert!(!h.verify(String::new(), None).await.unwrap().matches);
    }

    #[tokio::test]
    async fn changed_parameters_ask_for_a_rehash() {
        let old = hasher(19_456, 2)
            .hash("correct horse battery".into())
            .await
            .unwrap();
        let v = hasher(19_456, 3)
            .verify("correct horse battery".into(), Some(old))
            .await
            .unwrap();
        assert_eq!(
            v,
            Verification {
                matches: true,
                needs_rehash: true
            }
        );
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_lower_priority() {
        let h = hasher(19_456, 2);
        // Field 19 of /proc/thread-self/stat is the thread's nice value.
        let nice = h
            .run(|_waiting| {
                let stat = std::fs::read_to_string("/proc/thread-self/stat")
                    .map_err(|e| HashError::Failed(e.to_string()))?;
                let after_comm = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
                Ok(after_comm
                    .split_whitespace()
                    .nth(16)
                    .and_then(|n| n.parse::<i32>().ok()))
            })
            .await
            .unwrap();
        let nice = nice.expect("nice value readable");
        assert!(nice >= HASHING_NICE, "hashing thread at nice {nice}");
        // The test's own (worker) thread is not lowered.
        let own = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let own_nice: i32 = own
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .nth(16)
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            own_nice < HASHING_NICE || own_nice == nice,
            "worker at {own_nice}"
        );
    }

    #[tokio::test]
    async fn saturated_slots_answer_busy() {
        let h = PasswordHasher::new(19_456, 2, 1, 1, Duration::from_millis(1)).unwrap();
        let _held = h.slots.clone().acquire_owned().await.unwrap();
        assert!(matches!(h.hash("x".into()).await, Err(HashError::Busy)));
    }
}
