use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::AppError;

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
}

/// Microsoft 365 and NIST both ask for at least 8 characters; 256 bounds the hashing work.
const MIN_CHARS: usize = 8;
const MAX_CHARS: usize = 256;

impl PasswordHasher {
    pub fn new(params: Argon2Params) -> Result<Self, AppError> {
        let params = Params::new(params.memory_kib, params.iterations, params.parallelism, None)
            .map_err(|e| AppError::validation("argon2", e.to_string()))?;
        Ok(Self { argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params) })
    }

    /// Hashes on a blocking thread: argon2 is deliberately slow and must not stall the runtime.
    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let chars = password.chars().count();
        if !(MIN_CHARS..=MAX_CHARS).contains(&chars) {
            return Err(AppError::validation("password", format!("must be {MIN_CHARS} to {MAX_CHARS} characters")));
        }
        let argon2 = self.argon2.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2.hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(e.to_string()))
    }

    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, AppError> {
        let argon2 = self.argon2.clone();
        let password = password.to_owned();
        let phc = phc.to_owned();
        tokio::task::spawn_blocking(move || PasswordHash::new(&phc).map(|hash| argon2.verify_password(password.as_bytes(), &hash).is_ok()))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(|e| AppError::Internal(e.to_string()))
    }
}
