//! The client assertion of the certificate credential (graph-notes.md §2): a JWT signed RS256
//! by the app's key, naming the certificate by its SHA-256 thumbprint (`x5t#S256`), for the
//! token endpoint as audience, valid for five minutes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use serde_json::json;

/// Microsoft's guidance: "keep it short - 5-10 minutes after nbf at most".
const LIFETIME_SECS: i64 = 300;

#[derive(Debug, thiserror::Error)]
#[error("cannot sign the client assertion: {0}")]
pub struct AssertionError(String);

pub fn client_assertion(
    private_key_pem: &[u8],
    x5t_s256: &str,
    client_id: &str,
    audience: &str,
    now: DateTime<Utc>,
) -> Result<String, AssertionError> {
    let bad = |e: openssl::error::ErrorStack| AssertionError(e.to_string());
    let key = PKey::private_key_from_pem(private_key_pem).map_err(bad)?;
    let header = json!({"alg": "RS256", "typ": "JWT", "x5t#S256": x5t_s256});
    let issued = now.timestamp();
    let claims = json!({
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": issued,
        "iat": issued,
        "exp": issued + LIFETIME_SECS,
    });
    let encode = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let input = format!("{}.{}", encode(&header), encode(&claims));
    let mut signer = Signer::new(MessageDigest::sha256(), &key).map_err(bad)?;
    signer.update(input.as_bytes()).map_err(bad)?;
    let signature = signer.sign_to_vec().map_err(bad)?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// The `x5t#S256` of a DER certificate.
pub fn x5t_s256(certificate_der: &[u8]) -> String {
    use sha2::Digest as _;
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(certificate_der))
}

#[cfg(test)]
mod tests {
    use openssl::rsa::Rsa;
    use openssl::sign::Verifier;

    use super::*;

    #[test]
    fn signs_rs256_with_the_thumbprint_audience_and_a_short_expiry() {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let pem = key.private_key_to_pem_pkcs8().unwrap();
        let now = chrono::Utc::now();
        let jwt = client_assertion(&pem, "thumb", "client", "https://login/t/oauth2/v2.0/token", now).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t#S256"], "thumb");
        assert_eq!(claims["aud"], "https://login/t/oauth2/v2.0/token");
        assert_eq!(claims["iss"], "client");
        assert_eq!(claims["sub"], "client");
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["nbf"].as_i64().unwrap(), LIFETIME_SECS);
        let mut verifier = Verifier::new(MessageDigest::sha256(), &key).unwrap();
        verifier.update(format!("{}.{}", parts[0], parts[1]).as_bytes()).unwrap();
        assert!(verifier.verify(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap());
    }
}
