//! Password hashing with argon2id, off the async workers and with bounded concurrency.
//!
//! Hashing is deliberately expensive (19 MiB, 2 passes by default). It runs on Tokio's blocking
//! pool behind a semaphore: a burst of sign-ins waits for a slot instead of occupying every core,
//! so session checks — the hot path — keep answering. Unknown accounts are verified against a
//! dummy hash made with the same parameters, so "no such account" costs as much as "wrong
//! password" (SEC-56).

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

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
        let dummy = argon(&params)
            .hash_password(&dummy_password)
            .map_err(|e| HashError::Failed(e.to_string()))?
            .to_string();
        Ok(PasswordHasher {
            params,
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            queue_timeout,
            dummy: dummy.into(),
            in_flight: Default::default(),
        })
    }

    /// Number of hashes running now (exported as a metric).
    pub fn in_flight_gauge(&self) -> prometheus_client::metrics::gauge::Gauge {
        self.in_flight.clone()
    }

    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let params = self.params.clone();
        self.run(move || {
            argon(&params)
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| HashError::Failed(e.to_string()))
        })
        .await
    }

    /// Check `password` against `stored`, or against the dummy hash when there is no account.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<Verification, HashError> {
        let params = self.params.clone();
        let real = stored.is_some();
        let phc = stored.unwrap_or_else(|| self.dummy.to_string());
        self.run(move || {
            let Ok(parsed) = PasswordHash::new(&phc) else {
                // A corrupt stored hash never matches; still spend the time of a real check.
                let _ = argon(&params).hash_password(password.as_bytes());
                return Ok(Verification {
                    matches: false,
                    needs_rehash: false,
                });
            };
            let matches = argon(&params)
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            let needs_rehash = real && matches && !same_parameters(&parsed, &params);
            Ok(Verification {
                matches: matches && real,
                needs_rehash,
            })
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = tokio::time::timeout(self.queue_timeout, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| HashError::Busy)?
            .map_err(|_| HashError::Busy)?;
        let gauge = self.in_flight.clone();
        gauge.inc();
        let result = tokio::task::spawn_blocking(move || {
            lower_this_threads_priority();
            let r = work();
            drop(permit);
            r
        })
        .await;
        gauge.dec();
        result.map_err(|e| HashError::Failed(e.to_string()))?
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

fn argon(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
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
            .run(|| {
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
