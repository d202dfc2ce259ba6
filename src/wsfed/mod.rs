//! WS-Federation passive requestor issuer: the pure core, with no HTTP and no storage.
//!
//! Flow of a sign-in, and which file does what:
//!
//! 1. [`request`]: parse `wa=wsignin1.0&wtrealm=…&wctx=…` into a [`WsFedRequest`].
//! 2. [`reply`]: check `wreply` (or pick the cloud's endpoint) against the allow-list, giving a
//!    [`ReplyUrl`].
//! 3. The caller authenticates the user and fills a [`TokenInput`] (clock and IDs injected).
//! 4. [`token`] (with [`saml`], [`signature`] and the canonical writer in `xml`): the signed
//!    RSTR, signed with a [`SigningCredential`] from [`keys`].
//! 5. [`form`]: the self-posting page carrying `wresult` and `wctx` to the [`ReplyUrl`].
//!
//! [`metadata`] writes the federation metadata document with the active and next certificates.
//! Every failure is a [`WsFedError`] with a stable [`WsFedError::code`].

pub mod error;
pub mod form;
pub mod keys;
pub mod metadata;
pub mod reply;
pub mod request;
pub mod saml;
pub mod signature;
pub mod token;
pub mod views;
mod xml;

pub use error::{ReplyRejection, WsFedError};
pub use form::{html_escape, sign_in_response_page};
pub use keys::{Certificate, CertificateParams, KeySize, SigningCredential};
pub use metadata::{MetadataInput, federation_metadata};
pub use reply::{MicrosoftCloud, ReplyPolicy, ReplyUrl};
pub use request::{Freshness, SignInRequest, SignOutRequest, WsFedRequest};
pub use saml::AuthMethod;
pub use token::{AssertionId, MICROSOFT_ONLINE_REALM, TokenInput, issue_rstr};

#[cfg(test)]
mod testutil;
