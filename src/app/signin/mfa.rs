//! TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps, one step of clock skew, as every
//! authenticator app expects) and one-time recovery codes, stored as SHA-256 (they carry 50
//! random bits each, so a fast hash is enough).

use qrcode::QrCode;
use qrcode::render::svg;
use rand::Rng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use totp_rs::{Builder, Secret, Totp};

use crate::app::AppError;

pub const ISSUER: &str = "Tessera";
pub const RECOVERY_CODES: usize = 10;

pub fn new_seed() -> Vec<u8> {
    let mut seed = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    seed
}

fn totp(seed: &[u8], account: &str) -> Result<Totp, AppError> {
    Builder::new()
        .with_secret(Secret::from(seed.to_vec()))
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|e| AppError::Internal(format!("totp: {e}")))
}

/// The time step `code` belongs to, if it is the current code (or one step either side).
pub fn check(seed: &[u8], account: &str, code: &str, unix_time: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(seed, account).ok().and_then(|t| t.check(&code, unix_time))
}

/// The `otpauth://totp/…` URI an authenticator app reads from the QR code.
pub fn otpauth_uri(seed: &[u8], account: &str) -> Result<String, AppError> {
    totp(seed, account)?.to_url().map_err(|e| AppError::Internal(format!("totp: {e}")))
}

/// The seed as base32, for typing it in by hand.
pub fn base32(seed: &[u8]) -> String {
    Secret::from(seed.to_vec()).to_base32()
}

/// The QR code of `uri` as an SVG document fragment.
pub fn qr_svg(uri: &str) -> Result<String, AppError> {
    let code = QrCode::new(uri.as_bytes()).map_err(|e| AppError::Internal(format!("qr: {e}")))?;
    Ok(code.render::<svg::Color<'_>>().min_dimensions(200, 200).build())
}

/// Fresh recovery codes like `k3p9x-7hq2m`.
pub fn recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut code: String = (0..10).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect();
            code.insert(5, '-');
            code
        })
        .collect()
}

/// Whether the input looks like a recovery code rather than a TOTP code.
pub fn is_recovery_code(input: &str) -> bool {
    normalize(input).len() == 10
}

fn normalize(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

pub fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(normalize(code).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vector() {
        // RFC 6238 appendix B, SHA-1, T = 59: 94287082 (8 digits); 6 digits are the last six.
        let seed = b"12345678901234567890";
        assert_eq!(check(seed, "a@b.c", "287082", 59), Some(1));
        assert_eq!(check(seed, "a@b.c", "287083", 59), None);
        assert_eq!(check(seed, "a@b.c", "28708", 59), None);
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_normalized() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert!(is_recovery_code(&codes[0]));
        assert_eq!(code_hash(&codes[0]), code_hash(&codes[0].to_uppercase().replace('-', " ")));
        assert!(otpauth_uri(&new_seed(), "adele@contoso.com").unwrap().starts_with("otpauth://totp/"));
        assert!(qr_svg("otpauth://totp/x").unwrap().contains("<svg"));
    }
}
