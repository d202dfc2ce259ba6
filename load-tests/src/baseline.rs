//! In-process baselines for the sign-in benchmarks, measured on the same cores as the server:
//!
//! - `argon2`: raw argon2id verifications/s with the server's parameters (the same
//!   `TESSERA_ARGON2_*` settings and defaults), one verifying thread per core, nothing else.
//! - `rsa`: RSA-2048 PKCS#1 v1.5 SHA-256 signatures/s with the OpenSSL the server links
//!   (vendored), one thread per core. Only a cross-check of `openssl speed rsa2048`, which is the
//!   baseline of record.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde_json::{Value, json};
use tessera::app::Argon2Params;

/// The password every benchmark user has (long enough for the server's policy).
pub const PASSWORD: &str = "correct horse battery staple";

/// Runs `work` on `threads` OS threads for `seconds` after `warmup`; returns operations counted
/// inside the window.
fn on_threads(
    threads: usize,
    warmup: Duration,
    seconds: Duration,
    work: impl Fn() -> anyhow::Result<()> + Send + Sync + 'static,
) -> anyhow::Result<u64> {
    let work = Arc::new(work);
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (work, counting, stop, done) = (work.clone(), counting.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || -> anyhow::Result<()> {
                while !stop.load(Ordering::Relaxed) {
                    // An operation counts when it ends inside the window.
                    work()?;
                    if counting.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(())
            })
        })
        .collect();
    std::thread::sleep(warmup);
    counting.store(true, Ordering::Relaxed);
    std::thread::sleep(seconds);
    stop.store(true, Ordering::Relaxed);
    let counted = done.load(Ordering::Relaxed);
    for handle in handles {
        handle.join().map_err(|_| anyhow!("a baseline thread panicked"))??;
    }
    Ok(counted)
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

pub fn argon2(params: Argon2Params, threads: usize, seconds: u64) -> anyhow::Result<Value> {
    let argon2 = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(params.memory_kib, params.iterations, params.parallelism, None).map_err(|e| anyhow!("argon2 parameters: {e}"))?,
    );
    let salt = SaltString::generate(&mut OsRng);
    let phc = argon2.hash_password(PASSWORD.as_bytes(), &salt).map_err(|e| anyhow!("hashing: {e}"))?.to_string();
    let verify = move || {
        // Parsing the PHC string is part of a verification, as in the server.
        let hash = PasswordHash::new(&phc).map_err(|e| anyhow!("{e}"))?;
        argon2.verify_password(PASSWORD.as_bytes(), &hash).map_err(|e| anyhow!("verification failed: {e}"))
    };
    let window = Duration::from_secs(seconds);
    let count = on_threads(threads, Duration::from_secs(1), window, verify)?;
    Ok(json!({
        "benchmark": "argon2id_verify",
        "memory_kib": params.memory_kib,
        "iterations": params.iterations,
        "parallelism": params.parallelism,
        "threads": threads,
        "seconds": window.as_secs_f64(),
        "verifications": count,
        "verifications_per_second": count as f64 / window.as_secs_f64(),
    }))
}

pub fn rsa(threads: usize, seconds: u64) -> anyhow::Result<Value> {
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::sign::Signer;

    let key = PKey::from_rsa(Rsa::generate(2048)?).context("RSA key")?;
    // About the size of a token's SignedInfo.
    let message = vec![b'x'; 900];
    let sign = move || {
        let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
        signer.update(&message)?;
        signer.sign_to_vec()?;
        Ok(())
    };
    let window = Duration::from_secs(seconds);
    let started = Instant::now();
    let count = on_threads(threads, Duration::from_secs(1), window, sign)?;
    Ok(json!({
        "benchmark": "rsa2048_sign_in_process",
        "openssl": openssl::version::version(),
        "threads": threads,
        "seconds": window.as_secs_f64(),
        "signatures": count,
        "signatures_per_second": count as f64 / window.as_secs_f64(),
        "wall_seconds": started.elapsed().as_secs_f64(),
    }))
}
