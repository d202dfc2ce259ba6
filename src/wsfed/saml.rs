//! The SAML 1.1 assertion Entra ID expects from a federated identity provider.
//!
//! Shape (element order follows `oasis-sstc-saml-schema-assertion-1.1.xsd`: Conditions, then
//! statements, then the signature last):
//!
//! * `saml:Conditions` with the validity window and `saml:AudienceRestrictionCondition`;
//! * `saml:AttributeStatement`: the subject (NameIdentifier = ImmutableID, bearer confirmation)
//!   and the claims Entra reads: `UPN` and `ImmutableID`, plus the MFA claim when MFA was done;
//! * `saml:AuthenticationStatement`: how and when the user authenticated, same subject;
//! * `ds:Signature`, appended by [`super::signature`].
//!
//! The MFA claim. Entra honours MFA done at the federated IdP (federatedIdpMfaBehavior
//! `acceptIfMfaDoneByFederatedIdp`) when `http://schemas.microsoft.com/claims/multipleauthn`
//! appears in the assertion. Microsoft's page "Satisfy Microsoft Entra ID MFA controls with MFA
//! claims from a federated IdP" documents, for WS-Fed/SAML 1.1, an `AttributeStatement` attribute
//! `authenticationmethod` in namespace `http://schemas.microsoft.com/ws/2008/06/identity/claims`
//! (or the value as `AuthenticationStatement/@AuthenticationMethod`). AD FS, following Microsoft's
//! setup guides for Office 365, passes through the claim type
//! `http://schemas.microsoft.com/claims/authnmethodsreferences`, which its SAML 1.1 serializer
//! splits into AttributeName `authnmethodsreferences` and AttributeNamespace
//! `http://schemas.microsoft.com/claims`. We emit both attributes, so either reading finds it, and
//! keep the AuthenticationStatement on the first factor (password) as AD FS does.

use super::error::WsFedError;
use super::xml::XmlWriter;

/// SAML 1.0/1.1 assertion namespace.
pub const SAML_NS: &str = "urn:oasis:names:tc:SAML:1.0:assertion";
/// NameIdentifier format of the ImmutableID.
pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
/// Bearer subject confirmation.
pub const CM_BEARER: &str = "urn:oasis:names:tc:SAML:1.0:cm:bearer";
/// Namespace of the `UPN` attribute.
pub const UPN_NAMESPACE: &str = "http://schemas.xmlsoap.org/claims";
/// Namespace of the `ImmutableID` attribute.
pub const IMMUTABLE_ID_NAMESPACE: &str = "http://schemas.microsoft.com/LiveID/Federation/2008/05";
/// The value that tells Entra MFA was done.
pub const MULTIPLE_AUTHN: &str = "http://schemas.microsoft.com/claims/multipleauthn";
/// AD FS's name/namespace for the authentication-methods-references claim.
pub const AUTHN_METHODS_REFERENCES: (&str, &str) = ("authnmethodsreferences", "http://schemas.microsoft.com/claims");
/// The name/namespace Microsoft documents for the MFA claim in SAML 1.1.
pub const AUTHENTICATION_METHOD: (&str, &str) = ("authenticationmethod", "http://schemas.microsoft.com/ws/2008/06/identity/claims");

/// End tag of the assertion, where the signature goes in front of.
pub(crate) const ASSERTION_END: &str = "</saml:Assertion>";

/// How the user proved who they are (the first factor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// Password: `urn:oasis:names:tc:SAML:1.0:am:password` (SAML 1.1 core, 7.1).
    #[default]
    Password,
}

impl AuthMethod {
    /// The SAML 1.1 authentication method URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::Password => "urn:oasis:names:tc:SAML:1.0:am:password",
        }
    }
}

/// Everything an assertion says, already validated and formatted by [`super::token`].
pub(crate) struct AssertionFields<'a> {
    pub assertion_id: &'a str,
    pub issuer: &'a str,
    pub issue_instant: &'a str,
    pub not_before: &'a str,
    pub not_on_or_after: &'a str,
    pub audience: &'a str,
    pub immutable_id: &'a str,
    pub upn: &'a str,
    pub mfa_done: bool,
    pub auth_method: AuthMethod,
    pub auth_instant: &'a str,
}

/// The unsigned assertion in exclusive canonical form (see [`super::xml`]).
pub(crate) fn canonical_assertion(f: &AssertionFields<'_>) -> Result<String, WsFedError> {
    let mut w = XmlWriter::new();
    w.start(
        "saml:Assertion",
        &[("saml", SAML_NS)],
        &[
            ("MajorVersion", "1"),
            ("MinorVersion", "1"),
            ("AssertionID", f.assertion_id),
            ("Issuer", f.issuer),
            ("IssueInstant", f.issue_instant),
        ],
    );

    w.start("saml:Conditions", &[], &[("NotBefore", f.not_before), ("NotOnOrAfter", f.not_on_or_after)]);
    w.start("saml:AudienceRestrictionCondition", &[], &[]);
    w.text_element("saml:Audience", &[], &[], f.audience);
    w.end("saml:AudienceRestrictionCondition");
    w.end("saml:Conditions");

    w.start("saml:AttributeStatement", &[], &[]);
    subject(&mut w, f.immutable_id);
    attribute(&mut w, ("UPN", UPN_NAMESPACE), f.upn);
    attribute(&mut w, ("ImmutableID", IMMUTABLE_ID_NAMESPACE), f.immutable_id);
    if f.mfa_done {
        attribute(&mut w, AUTHN_METHODS_REFERENCES, MULTIPLE_AUTHN);
        attribute(&mut w, AUTHENTICATION_METHOD, MULTIPLE_AUTHN);
    }
    w.end("saml:AttributeStatement");

    w.start(
        "saml:AuthenticationStatement",
        &[],
        &[("AuthenticationMethod", f.auth_method.uri()), ("AuthenticationInstant", f.auth_instant)],
    );
    subject(&mut w, f.immutable_id);
    w.end("saml:AuthenticationStatement");

    w.end("saml:Assertion");
    w.finish()
}

fn subject(w: &mut XmlWriter, name_identifier: &str) {
    w.start("saml:Subject", &[], &[]);
    w.text_element("saml:NameIdentifier", &[], &[("Format", NAMEID_UNSPECIFIED)], name_identifier);
    w.start("saml:SubjectConfirmation", &[], &[]);
    w.text_element("saml:ConfirmationMethod", &[], &[], CM_BEARER);
    w.end("saml:SubjectConfirmation");
    w.end("saml:Subject");
}

fn attribute(w: &mut XmlWriter, (name, namespace): (&str, &str), value: &str) {
    w.start("saml:Attribute", &[], &[("AttributeName", name), ("AttributeNamespace", namespace)]);
    w.text_element("saml:AttributeValue", &[], &[], value);
    w.end("saml:Attribute");
}
