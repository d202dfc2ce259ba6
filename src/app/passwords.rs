use std::cell::RefCell;
use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use super::AppError;
use super::cpu_pool::CpuPool;

/// argon2id cost. The default is OWASP's recommended minimum: 19 MiB, 2 passes, 1 lane.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self { memory_kib: 19_456, iterations: 2, parallelism: 1 }
    }
}

#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    params: Params,
    /// argon2 runs here, as many at a time as there are cores (see `cpu_pool`).
    pool: Arc<CpuPool>,
}

/// Microsoft 365 and NIST both ask for at least 8 characters; 256 bounds the hashing work.
const MIN_CHARS: usize = 8;
const MAX_CHARS: usize = 256;

thread_local! {
    /// Each pool thread's argon2 memory, kept between runs: allocating and freeing 19 MiB per
    /// run costs page faults, and the allocator keeps freed blocks per thread anyway.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2 into `out` with this thread's reusable memory.
fn argon2_into(argon2: &Argon2<'_>, blocks: usize, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<(), argon2::Error> {
    BLOCKS.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, Block::new());
        }
        argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
    })
}

fn hash_blocking(argon2: &Argon2<'_>, params: &Params, password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| e.to_string())?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(argon2, params.block_count(), password.as_bytes(), salt_bytes, &mut out).map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Checks a password against a PHC string, with the parameters the string names (a hash made
/// under older settings still verifies).
fn verify_blocking(password: &str, phc: &str) -> Result<bool, String> {
    let hash = PasswordHash::new(phc).map_err(|e| e.to_string())?;
    let algorithm = Algorithm::try_from(hash.algorithm).map_err(|e| e.to_string())?;
    let version = hash.version.map(Version::try_from).transpose().map_err(|e| e.to_string())?.unwrap_or_default();
    let params = Params::try_from(&hash).map_err(|e| e.to_string())?;
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else { return Err("the PHC string has no salt or hash".into()) };
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| e.to_string())?;
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    argon2_into(&Argon2::new(algorithm, version, params), blocks, password.as_bytes(), salt_bytes, &mut out).map_err(|e| e.to_string())?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out).map_err(|e| e.to_string())? == expected)
}

impl PasswordHasher {
    pub fn new(params: Argon2Params) -> Result<Self, AppError> {
        let params = Params::new(params.memory_kib, params.iterations, params.parallelism, None)
            .map_err(|e| AppError::validation("argon2", e.to_string()))?;
        Ok(Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone()),
            params,
            pool: Arc::new(CpuPool::per_core("argon2")),
        })
    }

    /// Hashes on the argon2 pool: argon2 is deliberately slow and must not stall the runtime.
    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let chars = password.chars().count();
        if !(MIN_CHARS..=MAX_CHARS).contains(&chars) {
            return Err(AppError::validation("password", format!("must be {MIN_CHARS} to {MAX_CHARS} characters")));
        }
        let (argon2, params) = (self.argon2.clone(), self.params.clone());
        let password = password.to_owned();
        self.pool
            .run(move || hash_blocking(&argon2, &params, &password))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(AppError::Internal)
    }

    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, AppError> {
        let password = password.to_owned();
        let phc = phc.to_owned();
        self.pool
            .run(move || verify_blocking(&password, &phc))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(AppError::Internal)
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

    use super::*;

    fn cheap() -> Argon2Params {
        Argon2Params { memory_kib: 64, iterations: 1, parallelism: 1 }
    }

    #[tokio::test]
    async fn hashes_verify_both_ways_with_the_argon2_crate() {
        let hasher = PasswordHasher::new(cheap()).unwrap();
        let phc = hasher.hash("correct horse battery").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(hasher.verify("correct horse battery", &phc).await.unwrap());
        assert!(!hasher.verify("correct horse batterx", &phc).await.unwrap());
        // The crate's own verifier agrees with ours, and ours accepts the crate's hashes.
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse battery", &parsed).is_ok());
        let params = Params::new(128, 2, 2, None).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"another password", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(hasher.verify("another password", &theirs).await.unwrap());
        assert!(!hasher.verify("correct horse battery", &theirs).await.unwrap());
    }

    #[tokio::test]
    async fn bad_input_is_an_error_not_a_panic() {
        let hasher = PasswordHasher::new(cheap()).unwrap();
        assert!(hasher.hash("short").await.is_err());
        assert!(hasher.verify("whatever pass", "not a phc string").await.is_err());
        assert!(hasher.verify("whatever pass", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ").await.is_err());
    }
}
