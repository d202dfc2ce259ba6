//! Minimal JWS compact handling: parse, verify RS256/PS256 client assertions, and sign or
//! verify the emulator's own HS256 access tokens.
//!
//! Access tokens are real JWTs (so a test can read `roles`, `tid`, `appid` like it would from
//! Entra) but HMAC-signed with a per-run key: nothing outside the emulator needs to verify
//! them, and it avoids generating an RSA key at every start.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer, Verifier};
use serde_json::{Map, Value};

/// A parsed (not yet verified) compact JWS.
pub(crate) struct Jwt {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    pub signing_input: String,
    pub signature: Vec<u8>,
}

/// Decodes base64url, tolerating the padding some clients (MSAL Python) add.
pub(crate) fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn parse(token: &str) -> Option<Jwt> {
    let mut parts = token.split('.');
    let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let object = |part: &str| match serde_json::from_slice::<Value>(&b64url_decode(part)?) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    };
    Some(Jwt { header: object(h)?, claims: object(c)?, signing_input: format!("{h}.{c}"), signature: b64url_decode(s)? })
}

/// Verifies an RSA signature for `RS256` (PKCS#1 v1.5) or `PS256` (PSS, salt length
/// detected, as Microsoft's and Python's libraries differ).
pub(crate) fn verify_rsa(alg: &str, key: &PKey<Public>, input: &[u8], signature: &[u8]) -> bool {
    let run = || -> Result<bool, openssl::error::ErrorStack> {
        let mut v = Verifier::new(MessageDigest::sha256(), key)?;
        if alg == "PS256" {
            v.set_rsa_padding(Padding::PKCS1_PSS)?;
            v.set_rsa_mgf1_md(MessageDigest::sha256())?;
            // -2: recover the salt length from the signature (OpenSSL's "auto").
            v.set_rsa_pss_saltlen(RsaPssSaltlen::custom(-2))?;
        } else {
            v.set_rsa_padding(Padding::PKCS1)?;
        }
        v.update(input)?;
        v.verify(signature)
    };
    matches!(alg, "RS256" | "PS256") && run().unwrap_or(false)
}

fn hmac(key: &[u8], input: &[u8]) -> Option<Vec<u8>> {
    let pkey = PKey::hmac(key).ok()?;
    let mut signer = Signer::new(MessageDigest::sha256(), &pkey).ok()?;
    signer.update(input).ok()?;
    signer.sign_to_vec().ok()
}

/// Signs an HS256 JWT.
pub(crate) fn sign_hs256(key: &[u8], header: &Value, claims: &Value) -> Option<String> {
    let input = format!("{}.{}", b64url(&serde_json::to_vec(header).ok()?), b64url(&serde_json::to_vec(claims).ok()?));
    let sig = hmac(key, input.as_bytes())?;
    Some(format!("{input}.{}", b64url(&sig)))
}

/// Verifies an HS256 JWT signature in constant time.
pub(crate) fn verify_hs256(key: &[u8], jwt: &Jwt) -> bool {
    if jwt.header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return false;
    }
    match hmac(key, jwt.signing_input.as_bytes()) {
        Some(expected) => expected.len() == jwt.signature.len() && openssl::memcmp::eq(&expected, &jwt.signature),
        None => false,
    }
}

/// A NumericDate claim; MSAL sends fractional seconds.
pub(crate) fn numeric(claims: &Map<String, Value>, name: &str) -> Option<f64> {
    claims.get(name).and_then(Value::as_f64)
}
