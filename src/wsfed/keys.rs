//! Token-signing keys and their self-signed certificates.
//!
//! Entra ID does not check a chain for a federated domain's signing certificate: it trusts exactly
//! the certificate registered on the domain (`signingCertificate`, and `nextSigningCertificate`
//! during a rollover). So a self-signed certificate is what AD FS uses too; what matters is the
//! key, the validity window and a unique serial.
//!
//! The clock is an input ([`CertificateParams::not_before`]) so callers and tests decide it. The
//! key and the serial number come from OpenSSL's CSPRNG; tests that need fixed bytes load a stored
//! test key with [`SigningCredential::from_pem`] instead.

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectKeyIdentifier};
use openssl::x509::{X509, X509NameBuilder};
use secrecy::SecretString;
use sha2::{Digest as _, Sha256};

use super::error::WsFedError;

/// The longest validity we issue. AD FS uses one year by default; anything far beyond a few years
/// means a key that is never rotated.
pub const MAX_VALIDITY: TimeDelta = TimeDelta::days(5 * 366);
/// X.520's upper bound for a common name.
pub const MAX_COMMON_NAME_CHARS: usize = 64;

/// RSA modulus size of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeySize {
    /// RSA 2048: what AD FS uses and what every relying party accepts.
    #[default]
    Rsa2048,
    /// RSA 3072: for tenants whose policy asks for 128-bit security strength.
    Rsa3072,
}

impl KeySize {
    /// The modulus size in bits.
    pub fn bits(self) -> u32 {
        match self {
            Self::Rsa2048 => 2048,
            Self::Rsa3072 => 3072,
        }
    }
}

/// What to put in a new certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateParams {
    /// The subject (and issuer) common name, e.g. `Tessera token signing - contoso`.
    pub common_name: String,
    /// Start of validity; usually "now", injected.
    pub not_before: DateTime<Utc>,
    /// Length of validity, at most [`MAX_VALIDITY`].
    pub validity: TimeDelta,
    /// RSA key size.
    pub key_size: KeySize,
}

/// An X.509 certificate with its DER bytes and validity at hand.
#[derive(Clone)]
pub struct Certificate {
    x509: X509,
    der: Vec<u8>,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("sha1_thumbprint", &self.sha1_thumbprint())
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish()
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Certificate {}

impl Certificate {
    fn from_x509(x509: X509) -> Result<Self, WsFedError> {
        let der = x509.to_der()?;
        let not_before = asn1_to_chrono(x509.not_before())?;
        let not_after = asn1_to_chrono(x509.not_after())?;
        Ok(Self { x509, der, not_before, not_after })
    }

    /// Reads a PEM certificate (`-----BEGIN CERTIFICATE-----`).
    pub fn from_pem(pem: &[u8]) -> Result<Self, WsFedError> {
        Self::from_x509(X509::from_pem(pem)?)
    }

    /// Reads a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, WsFedError> {
        Self::from_x509(X509::from_der(der)?)
    }

    /// The certificate as PEM.
    pub fn to_pem(&self) -> Result<String, WsFedError> {
        let pem = self.x509.to_pem()?;
        // PEM is ASCII by construction; a failure here would be an OpenSSL bug.
        String::from_utf8(pem).map_err(|_| WsFedError::InvalidIssuerInput { field: "certificate", reason: "PEM output is not ASCII" })
    }

    /// The certificate as DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Base64 of the DER bytes on one line: the form of `ds:X509Certificate` in tokens and
    /// metadata, and of Graph's `signingCertificate` / `nextSigningCertificate`.
    pub fn base64_der(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.der)
    }

    /// SHA-1 of the DER bytes, upper-case hex: the "thumbprint" Windows, AD FS and Entra show.
    pub fn sha1_thumbprint(&self) -> String {
        hex::encode_upper(openssl::sha::sha1(&self.der))
    }

    /// SHA-256 of the DER bytes, upper-case hex.
    pub fn sha256_thumbprint(&self) -> String {
        hex::encode_upper(Sha256::digest(&self.der))
    }

    /// Start of validity.
    pub fn not_before(&self) -> DateTime<Utc> {
        self.not_before
    }

    /// End of validity.
    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }

    #[cfg(test)]
    pub(crate) fn x509(&self) -> &X509 {
        &self.x509
    }
}

/// A private signing key with its certificate.
#[derive(Clone)]
pub struct SigningCredential {
    key: PKey<Private>,
    certificate: Certificate,
}

impl std::fmt::Debug for SigningCredential {
    // Never print key material, even by accident in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningCredential").field("certificate", &self.certificate).finish_non_exhaustive()
    }
}

impl SigningCredential {
    /// Generates a new RSA key and a self-signed SHA-256 certificate for it.
    pub fn generate(params: &CertificateParams) -> Result<Self, WsFedError> {
        let cn = params.common_name.trim();
        if cn.is_empty() || cn.chars().count() > MAX_COMMON_NAME_CHARS {
            return Err(WsFedError::InvalidIssuerInput { field: "common_name", reason: "must be 1 to 64 characters" });
        }
        if cn.chars().any(char::is_control) {
            return Err(WsFedError::InvalidIssuerInput { field: "common_name", reason: "contains control characters" });
        }
        if params.validity <= TimeDelta::zero() || params.validity > MAX_VALIDITY {
            return Err(WsFedError::InvalidIssuerInput { field: "validity", reason: "must be positive and at most five years" });
        }
        let not_after = params
            .not_before
            .checked_add_signed(params.validity)
            .ok_or(WsFedError::InvalidIssuerInput { field: "validity", reason: "end of validity out of range" })?;

        let rsa = Rsa::generate(params.key_size.bits())?;
        let key = PKey::from_rsa(rsa)?;

        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_nid(Nid::COMMONNAME, cn)?;
        let name = name.build();

        // RFC 5280: a positive serial of at most 20 octets; 159 random bits keep it positive and
        // unpredictable without a registry of issued serials.
        let mut serial = BigNum::new()?;
        serial.rand(159, MsbOption::MAYBE_ZERO, false)?;

        let mut builder = X509::builder()?;
        builder.set_version(2)?; // X.509 v3, needed for extensions
        let serial = serial.to_asn1_integer()?;
        let not_before = chrono_to_asn1(params.not_before)?;
        let not_after = chrono_to_asn1(not_after)?;
        builder.set_serial_number(&serial)?;
        builder.set_subject_name(&name)?;
        builder.set_issuer_name(&name)?;
        builder.set_pubkey(&key)?;
        builder.set_not_before(&not_before)?;
        builder.set_not_after(&not_after)?;
        builder.append_extension(BasicConstraints::new().build()?)?;
        builder.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
        let ski = SubjectKeyIdentifier::new().build(&builder.x509v3_context(None, None))?;
        builder.append_extension(ski)?;
        builder.sign(&key, MessageDigest::sha256())?;

        Ok(Self { key, certificate: Certificate::from_x509(builder.build())? })
    }

    /// Loads a stored key (PKCS#8 or traditional PEM) and its PEM certificate, and checks that
    /// they belong together.
    pub fn from_pem(private_key_pem: &[u8], certificate_pem: &[u8]) -> Result<Self, WsFedError> {
        let key = PKey::private_key_from_pem(private_key_pem)?;
        let certificate = Certificate::from_pem(certificate_pem)?;
        Self::from_parts(key, certificate)
    }

    fn from_parts(key: PKey<Private>, certificate: Certificate) -> Result<Self, WsFedError> {
        if key.rsa().is_err() {
            return Err(WsFedError::InvalidIssuerInput { field: "private_key", reason: "not an RSA key" });
        }
        if !certificate.x509.public_key()?.public_eq(&key) {
            return Err(WsFedError::KeyCertificateMismatch);
        }
        Ok(Self { key, certificate })
    }

    /// The private key as PKCS#8 PEM, wrapped so it is wiped from memory when dropped and never
    /// printed. Encrypt it before storing it (see the design: secrets are encrypted at rest).
    pub fn private_key_pkcs8_pem(&self) -> Result<SecretString, WsFedError> {
        let pem = self.key.private_key_to_pem_pkcs8()?;
        let pem = String::from_utf8(pem)
            .map_err(|_| WsFedError::InvalidIssuerInput { field: "private_key", reason: "PEM output is not ASCII" })?;
        Ok(SecretString::from(pem))
    }

    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The RSA key size in bits.
    pub fn key_bits(&self) -> u32 {
        self.key.bits()
    }

    pub(crate) fn private_key(&self) -> &PKey<Private> {
        &self.key
    }
}

fn chrono_to_asn1(time: DateTime<Utc>) -> Result<Asn1Time, WsFedError> {
    // Through text rather than `from_unix`, whose `time_t` differs between platforms.
    // `from_str_x509` picks UTCTime or GeneralizedTime as RFC 5280 requires for the year.
    Ok(Asn1Time::from_str_x509(&time.format("%Y%m%d%H%M%SZ").to_string())?)
}

fn asn1_to_chrono(time: &openssl::asn1::Asn1TimeRef) -> Result<DateTime<Utc>, WsFedError> {
    let epoch = Asn1Time::from_unix(0)?;
    let diff = epoch.diff(time)?;
    let secs = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    DateTime::from_timestamp(secs, 0).ok_or(WsFedError::InvalidIssuerInput { field: "certificate", reason: "validity out of range" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    fn params(key_size: KeySize) -> CertificateParams {
        CertificateParams {
            common_name: "Tessera token signing - contoso".to_owned(),
            not_before: DateTime::from_timestamp(1_767_225_600, 0).unwrap(), // 2026-01-01
            validity: TimeDelta::days(365),
            key_size,
        }
    }

    #[test]
    fn generates_a_self_signed_sha256_certificate() {
        let cred = SigningCredential::generate(&params(KeySize::default())).unwrap();
        assert_eq!(cred.key_bits(), 2048);
        let cert = cred.certificate();
        let x509 = cert.x509();
        assert_eq!(x509.version(), 2);
        assert_eq!(x509.signature_algorithm().object().nid(), Nid::SHA256WITHRSAENCRYPTION);
        let cn = x509.subject_name().entries_by_nid(Nid::COMMONNAME).next().unwrap().data().as_slice().to_vec();
        let cn = String::from_utf8(cn).unwrap();
        assert_eq!(cn, "Tessera token signing - contoso");
        assert!(x509.verify(&x509.public_key().unwrap()).unwrap());
        assert_eq!(cert.not_before().to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert_eq!(cert.not_after().to_rfc3339(), "2027-01-01T00:00:00+00:00");
        assert_eq!(cert.sha1_thumbprint().len(), 40);
        assert_eq!(cert.sha256_thumbprint().len(), 64);
        assert!(cert.sha1_thumbprint().bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase()));
    }

    #[test]
    fn rsa_3072_and_random_serials() {
        let a = SigningCredential::generate(&params(KeySize::Rsa3072)).unwrap();
        assert_eq!(a.key_bits(), 3072);
        let b = SigningCredential::generate(&params(KeySize::Rsa2048)).unwrap();
        let serial = |c: &SigningCredential| c.certificate().x509().serial_number().to_bn().unwrap();
        assert_ne!(serial(&a), serial(&b));
        assert!(!serial(&a).is_negative());
    }

    #[test]
    fn pem_der_and_base64_round_trip() {
        let cred = SigningCredential::generate(&params(KeySize::Rsa2048)).unwrap();
        let cert = cred.certificate();
        let pem = cert.to_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert_eq!(&Certificate::from_pem(pem.as_bytes()).unwrap(), cert);
        assert_eq!(&Certificate::from_der(cert.der()).unwrap(), cert);
        let b64 = cert.base64_der();
        assert!(!b64.contains('\n'));
        let der = base64::engine::general_purpose::STANDARD.decode(&b64).unwrap();
        assert_eq!(der, cert.der());

        let key_pem = cred.private_key_pkcs8_pem().unwrap();
        assert!(key_pem.expose_secret().starts_with("-----BEGIN PRIVATE KEY-----"));
        let again = SigningCredential::from_pem(key_pem.expose_secret().as_bytes(), pem.as_bytes()).unwrap();
        assert_eq!(again.certificate(), cert);
        assert!(!format!("{again:?}").contains("PRIVATE"));
    }

    #[test]
    fn mismatched_key_and_certificate_are_refused() {
        let a = SigningCredential::generate(&params(KeySize::Rsa2048)).unwrap();
        let b = SigningCredential::generate(&params(KeySize::Rsa2048)).unwrap();
        let err = SigningCredential::from_pem(
            a.private_key_pkcs8_pem().unwrap().expose_secret().as_bytes(),
            b.certificate().to_pem().unwrap().as_bytes(),
        )
        .unwrap_err();
        assert_eq!(err.code(), "WSFED_KEY_CERTIFICATE_MISMATCH");
    }

    #[test]
    fn bad_parameters_are_refused() {
        let mut p = params(KeySize::Rsa2048);
        p.common_name = " ".to_owned();
        assert!(SigningCredential::generate(&p).is_err());
        p.common_name = "x".repeat(65);
        assert!(SigningCredential::generate(&p).is_err());
        p.common_name = "ok".to_owned();
        p.validity = TimeDelta::zero();
        assert!(SigningCredential::generate(&p).is_err());
        p.validity = MAX_VALIDITY + TimeDelta::days(1);
        assert!(SigningCredential::generate(&p).is_err());
        assert!(Certificate::from_pem(b"not a certificate").is_err());
    }
}
