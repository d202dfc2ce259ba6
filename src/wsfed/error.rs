//! The one error type of the WS-Federation module.
//!
//! Every variant carries a stable code (see [`WsFedError::code`]) so the HTTP edge can map it to a
//! status and an error page once, and so tests and logs do not depend on message wording.
//! Messages never echo attacker-controlled input in full: a `wreply` or `wa` value is either left
//! out or cut short, because error pages are rendered back to the browser.

use thiserror::Error;

/// Why a `wreply` URL was refused. Kept apart from the message so tests can assert the exact
/// reason and logs can count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyRejection {
    /// Empty, or not of the form `scheme://authority/path`.
    Malformed,
    /// A character outside printable ASCII: whitespace, control characters, raw Unicode
    /// (look-alike hosts must arrive as punycode), or a backslash, which browsers treat as `/`.
    ForbiddenCharacter,
    /// Neither `https`, nor `http` to a loopback host with loopback explicitly allowed.
    SchemeNotAllowed,
    /// `user:password@host`: the classic way to make a URL look like a trusted host.
    UserInfo,
    /// A fragment is never needed on a POST target and only hides tricks.
    Fragment,
    /// The host is not a plain DNS name, or ends with a dot.
    BadHost,
    /// The port is not a number in 1..=65535.
    BadPort,
    /// Well formed, but not one of the allowed URLs.
    NotAllowed,
}

impl ReplyRejection {
    fn describe(self) -> &'static str {
        match self {
            Self::Malformed => "not an absolute URL",
            Self::ForbiddenCharacter => "contains a forbidden character",
            Self::SchemeNotAllowed => "scheme not allowed (https only)",
            Self::UserInfo => "contains user information",
            Self::Fragment => "contains a fragment",
            Self::BadHost => "host is not a valid DNS name",
            Self::BadPort => "port is not valid",
            Self::NotAllowed => "not an allowed reply address",
        }
    }
}

impl std::fmt::Display for ReplyRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// Errors of the WS-Federation issuer core.
#[derive(Debug, Error)]
pub enum WsFedError {
    /// The query string or form body is not valid `application/x-www-form-urlencoded` UTF-8.
    #[error("the request is not valid form-urlencoded UTF-8")]
    MalformedEncoding,

    /// The whole request is larger than we are willing to parse.
    #[error("the request is too long (more than {max} bytes)")]
    RequestTooLong { max: usize },

    /// A protocol parameter appears twice; we refuse to guess which one the sender meant.
    #[error("parameter `{0}` appears more than once")]
    DuplicateParameter(&'static str),

    /// A required protocol parameter is missing or empty.
    #[error("required parameter `{0}` is missing")]
    MissingParameter(&'static str),

    /// `wa` names an action we do not implement. Holds at most 32 characters of it.
    #[error("unknown action `wa={0}`")]
    UnknownAction(String),

    /// A parameter is longer than its limit.
    #[error("parameter `{field}` is too long (more than {max} bytes)")]
    FieldTooLong { field: &'static str, max: usize },

    /// A parameter or token input has a value we cannot accept.
    #[error("`{field}` is invalid: {reason}")]
    InvalidValue { field: &'static str, reason: &'static str },

    /// Data our own code handed to the issuer (token inputs, certificate parameters, stored keys)
    /// is unusable: a server-side problem, since these values never come from the browser.
    #[error("issuer input `{field}` is invalid: {reason}")]
    InvalidIssuerInput { field: &'static str, reason: &'static str },

    /// A `wreply` (or a tenant allow-list entry) was refused.
    #[error("reply address refused: {0}")]
    ReplyRejected(ReplyRejection),

    /// Text that cannot appear in an XML 1.0 document (e.g. a NUL or other control character).
    #[error("`{0}` contains a character that XML cannot carry")]
    InvalidXmlCharacter(&'static str),

    /// A private key and certificate that do not belong together.
    #[error("the private key does not match the certificate")]
    KeyCertificateMismatch,

    /// Key generation, parsing or signing failed inside OpenSSL.
    #[error("cryptographic operation failed: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

impl WsFedError {
    /// A stable, documented code for this error, for API responses, error pages and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedEncoding => "WSFED_MALFORMED_ENCODING",
            Self::RequestTooLong { .. } => "WSFED_REQUEST_TOO_LONG",
            Self::DuplicateParameter(_) => "WSFED_DUPLICATE_PARAMETER",
            Self::MissingParameter(_) => "WSFED_MISSING_PARAMETER",
            Self::UnknownAction(_) => "WSFED_UNKNOWN_ACTION",
            Self::FieldTooLong { .. } => "WSFED_FIELD_TOO_LONG",
            Self::InvalidValue { .. } => "WSFED_INVALID_VALUE",
            Self::InvalidIssuerInput { .. } => "WSFED_INVALID_ISSUER_INPUT",
            Self::ReplyRejected(_) => "WSFED_REPLY_REJECTED",
            Self::InvalidXmlCharacter(_) => "WSFED_INVALID_XML_CHARACTER",
            Self::KeyCertificateMismatch => "WSFED_KEY_CERTIFICATE_MISMATCH",
            Self::Crypto(_) => "WSFED_CRYPTO",
        }
    }

    /// Whether the error was caused by the request (a 400-class answer) rather than by us or our
    /// configuration (a 500-class answer).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Self::MalformedEncoding
                | Self::RequestTooLong { .. }
                | Self::DuplicateParameter(_)
                | Self::MissingParameter(_)
                | Self::UnknownAction(_)
                | Self::FieldTooLong { .. }
                | Self::InvalidValue { .. }
                | Self::ReplyRejected(_)
        )
    }
}
