//! The token we hand Entra ID: a WS-Trust 2005/02 `RequestSecurityTokenResponse` carrying a
//! signed SAML 1.1 assertion. This is the `wresult` of the sign-in response form.
//!
//! Everything that varies between two calls (the clock, the assertion ID, the key) is an input,
//! so the same inputs always give the same bytes (RSA PKCS#1 v1.5 signatures are deterministic),
//! which the golden-file tests rely on.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use uuid::Uuid;

use super::error::WsFedError;
use super::keys::SigningCredential;
use super::saml::{self, AssertionFields, AuthMethod};
use super::signature;
use super::xml::{XmlWriter, check_xml_text};

/// The realm and audience of Microsoft 365 in the global cloud (and the `wtrealm` Entra sends).
pub const MICROSOFT_ONLINE_REALM: &str = "urn:federation:MicrosoftOnline";
/// WS-Trust 2005/02 namespace, the one Entra's passive endpoint reads.
pub const TRUST_NS: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust";
/// WS-Security utility namespace (`wsu:Created`, `wsu:Expires`).
pub const WSU_NS: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
/// WS-Policy 2004/09 namespace (`wsp:AppliesTo`).
pub const WSP_NS: &str = "http://schemas.xmlsoap.org/ws/2004/09/policy";
/// WS-Addressing 1.0 namespace (`wsa:EndpointReference`).
pub const WSA_NS: &str = "http://www.w3.org/2005/08/addressing";
/// Token type of a SAML 1.1 assertion.
pub const SAML11_TOKEN_TYPE: &str = "urn:oasis:names:tc:SAML:1.0:assertion";
/// WS-Trust issue request type.
pub const REQUEST_TYPE_ISSUE: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust/Issue";
/// Key type of a bearer token.
pub const KEY_TYPE_NO_PROOF_KEY: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey";

/// The longest token lifetime we issue. Entra only uses the token to start its own session, so
/// AD FS's default of one hour is plenty; a long-lived bearer token is only risk.
pub const MAX_TOKEN_LIFETIME: TimeDelta = TimeDelta::hours(8);
/// Longest value we accept for URIs and identifiers in a token.
pub const MAX_TOKEN_FIELD_BYTES: usize = 2048;

/// A SAML 1.1 `AssertionID`: an XML `ID`, so it must be an NCName; ours are `_` + a UUID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssertionId(String);

impl AssertionId {
    /// A fresh random ID.
    pub fn random() -> Self {
        Self::from_uuid(Uuid::new_v4())
    }

    /// The ID for a given UUID (for callers that draw their own randomness, and for tests).
    pub fn from_uuid(uuid: Uuid) -> Self {
        // An NCName cannot start with a digit, and a UUID may; the underscore fixes that.
        Self(format!("_{}", uuid.hyphenated()))
    }

    /// Accepts an existing ID if it is a plain-ASCII NCName of at most 256 characters.
    pub fn parse(value: &str) -> Result<Self, WsFedError> {
        let mut chars = value.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if first_ok && rest_ok && value.len() <= 256 {
            Ok(Self(value.to_owned()))
        } else {
            Err(WsFedError::InvalidIssuerInput {
                field: "assertion_id",
                reason: "not an NCName (letter or underscore, then letters, digits, _ - .)",
            })
        }
    }

    /// The ID as written in `AssertionID` (and referenced as `#ID` by the signature).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What to say in a token. All fields are inputs so output is reproducible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInput {
    /// The issuer URI registered for the user's domain (Graph `issuerUri`).
    pub issuer: String,
    /// The audience, [`MICROSOFT_ONLINE_REALM`] for the global cloud (another cloud may use its
    /// own realm: pass the `wtrealm` you accepted).
    pub audience: String,
    /// The user's ImmutableID (`onPremisesImmutableId`): NameIdentifier and `ImmutableID` claim.
    pub immutable_id: String,
    /// The user's UPN: the `UPN` claim.
    pub upn: String,
    /// The first factor the user presented.
    pub auth_method: AuthMethod,
    /// Whether a second factor was verified in this authentication.
    pub mfa_done: bool,
    /// When the user authenticated (may be earlier than `now` with a session).
    pub auth_instant: DateTime<Utc>,
    /// Issue time: IssueInstant, NotBefore, Created.
    pub now: DateTime<Utc>,
    /// Validity after `now`, at most [`MAX_TOKEN_LIFETIME`].
    pub lifetime: TimeDelta,
    /// The assertion's ID.
    pub assertion_id: AssertionId,
}

/// Time as SAML and WS-Security write it: UTC, millisecond precision, `Z`.
fn xml_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn check_field(field: &'static str, value: &str, max: usize) -> Result<(), WsFedError> {
    let invalid = |reason| WsFedError::InvalidIssuerInput { field, reason };
    if value.is_empty() {
        return Err(invalid("is empty"));
    }
    if value.len() > max {
        return Err(invalid("is too long"));
    }
    check_xml_text(field, value)?;
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid("contains whitespace or control characters"));
    }
    Ok(())
}

/// Builds and signs the RSTR for a sign-in.
pub fn issue_rstr(input: &TokenInput, credential: &SigningCredential) -> Result<String, WsFedError> {
    check_field("issuer", &input.issuer, MAX_TOKEN_FIELD_BYTES)?;
    check_field("audience", &input.audience, MAX_TOKEN_FIELD_BYTES)?;
    check_field("immutable_id", &input.immutable_id, 256)?;
    check_field("upn", &input.upn, 256)?;
    if !input.upn.contains('@') {
        return Err(WsFedError::InvalidIssuerInput { field: "upn", reason: "has no @" });
    }
    if input.lifetime <= TimeDelta::zero() || input.lifetime > MAX_TOKEN_LIFETIME {
        return Err(WsFedError::InvalidIssuerInput { field: "lifetime", reason: "must be positive and at most eight hours" });
    }
    if input.auth_instant > input.now {
        return Err(WsFedError::InvalidIssuerInput { field: "auth_instant", reason: "is later than now" });
    }
    let expires =
        input.now.checked_add_signed(input.lifetime).ok_or(WsFedError::InvalidIssuerInput { field: "now", reason: "out of range" })?;

    let now = xml_time(input.now);
    let expires = xml_time(expires);
    let auth_instant = xml_time(input.auth_instant);
    let assertion = saml::canonical_assertion(&AssertionFields {
        assertion_id: input.assertion_id.as_str(),
        issuer: &input.issuer,
        issue_instant: &now,
        not_before: &now,
        not_on_or_after: &expires,
        audience: &input.audience,
        immutable_id: &input.immutable_id,
        upn: &input.upn,
        mfa_done: input.mfa_done,
        auth_method: input.auth_method,
        auth_instant: &auth_instant,
    })?;
    let signed = signature::sign_enveloped_last(&assertion, saml::ASSERTION_END, input.assertion_id.as_str(), credential)?;

    let mut w = XmlWriter::new();
    w.start("t:RequestSecurityTokenResponse", &[("t", TRUST_NS)], &[]);
    w.start("t:Lifetime", &[], &[]);
    w.text_element("wsu:Created", &[("wsu", WSU_NS)], &[], &now);
    w.text_element("wsu:Expires", &[("wsu", WSU_NS)], &[], &expires);
    w.end("t:Lifetime");
    w.start("wsp:AppliesTo", &[("wsp", WSP_NS)], &[]);
    w.start("wsa:EndpointReference", &[("wsa", WSA_NS)], &[]);
    w.text_element("wsa:Address", &[], &[], &input.audience);
    w.end("wsa:EndpointReference");
    w.end("wsp:AppliesTo");
    w.start("t:RequestedSecurityToken", &[], &[]);
    w.raw(&signed);
    w.end("t:RequestedSecurityToken");
    w.text_element("t:TokenType", &[], &[], SAML11_TOKEN_TYPE);
    w.text_element("t:RequestType", &[], &[], REQUEST_TYPE_ISSUE);
    w.text_element("t:KeyType", &[], &[], KEY_TYPE_NO_PROOF_KEY);
    w.end("t:RequestSecurityTokenResponse");
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wsfed::testutil::{assert_golden, fixed_input, test_credential};

    #[test]
    fn golden_rstr_without_mfa() {
        let rstr = issue_rstr(&fixed_input(false), &test_credential()).unwrap();
        assert_golden("rstr.xml", &rstr);
    }

    #[test]
    fn golden_rstr_with_mfa() {
        let rstr = issue_rstr(&fixed_input(true), &test_credential()).unwrap();
        assert_golden("rstr-mfa.xml", &rstr);
    }

    #[test]
    fn same_inputs_same_bytes() {
        let cred = test_credential();
        assert_eq!(issue_rstr(&fixed_input(true), &cred).unwrap(), issue_rstr(&fixed_input(true), &cred).unwrap());
    }

    #[test]
    fn rstr_structure() {
        let rstr = issue_rstr(&fixed_input(true), &test_credential()).unwrap();
        let expect_in_order = [
            "<t:RequestSecurityTokenResponse xmlns:t=\"http://schemas.xmlsoap.org/ws/2005/02/trust\">",
            "<t:Lifetime><wsu:Created xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\">2026-03-01T10:00:00.250Z</wsu:Created>",
            "<wsu:Expires xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\">2026-03-01T11:00:00.250Z</wsu:Expires></t:Lifetime>",
            "<wsp:AppliesTo xmlns:wsp=\"http://schemas.xmlsoap.org/ws/2004/09/policy\"><wsa:EndpointReference xmlns:wsa=\"http://www.w3.org/2005/08/addressing\"><wsa:Address>urn:federation:MicrosoftOnline</wsa:Address>",
            "<t:RequestedSecurityToken><saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:1.0:assertion\" AssertionID=\"_0f8fad5b-d9cb-469f-a165-70867728950e\" IssueInstant=\"2026-03-01T10:00:00.250Z\" Issuer=\"https://sts.tessera.example/contoso.com/\" MajorVersion=\"1\" MinorVersion=\"1\">",
            "<saml:Conditions NotBefore=\"2026-03-01T10:00:00.250Z\" NotOnOrAfter=\"2026-03-01T11:00:00.250Z\"><saml:AudienceRestrictionCondition><saml:Audience>urn:federation:MicrosoftOnline</saml:Audience>",
            "<saml:AttributeStatement><saml:Subject><saml:NameIdentifier Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\">Zm9vYmFyLWltbXV0YWJsZQ==</saml:NameIdentifier><saml:SubjectConfirmation><saml:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</saml:ConfirmationMethod></saml:SubjectConfirmation></saml:Subject>",
            "<saml:Attribute AttributeName=\"UPN\" AttributeNamespace=\"http://schemas.xmlsoap.org/claims\"><saml:AttributeValue>alice@contoso.com</saml:AttributeValue></saml:Attribute>",
            "<saml:Attribute AttributeName=\"ImmutableID\" AttributeNamespace=\"http://schemas.microsoft.com/LiveID/Federation/2008/05\"><saml:AttributeValue>Zm9vYmFyLWltbXV0YWJsZQ==</saml:AttributeValue></saml:Attribute>",
            "<saml:Attribute AttributeName=\"authnmethodsreferences\" AttributeNamespace=\"http://schemas.microsoft.com/claims\"><saml:AttributeValue>http://schemas.microsoft.com/claims/multipleauthn</saml:AttributeValue></saml:Attribute>",
            "<saml:Attribute AttributeName=\"authenticationmethod\" AttributeNamespace=\"http://schemas.microsoft.com/ws/2008/06/identity/claims\"><saml:AttributeValue>http://schemas.microsoft.com/claims/multipleauthn</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>",
            "<saml:AuthenticationStatement AuthenticationInstant=\"2026-03-01T09:59:30.000Z\" AuthenticationMethod=\"urn:oasis:names:tc:SAML:1.0:am:password\"><saml:Subject>",
            "</saml:AuthenticationStatement><ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">",
            "<ds:Reference URI=\"#_0f8fad5b-d9cb-469f-a165-70867728950e\">",
            "</ds:Signature></saml:Assertion></t:RequestedSecurityToken>",
            "<t:TokenType>urn:oasis:names:tc:SAML:1.0:assertion</t:TokenType>",
            "<t:RequestType>http://schemas.xmlsoap.org/ws/2005/02/trust/Issue</t:RequestType>",
            "<t:KeyType>http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey</t:KeyType></t:RequestSecurityTokenResponse>",
        ];
        let mut from = 0;
        for part in expect_in_order {
            match rstr[from..].find(part) {
                Some(i) => from += i + part.len(),
                None => panic!("missing (or out of order): {part}\nin: {rstr}"),
            }
        }
        assert!(rstr.ends_with("</t:RequestSecurityTokenResponse>"));
    }

    #[test]
    fn no_mfa_claim_without_mfa() {
        let rstr = issue_rstr(&fixed_input(false), &test_credential()).unwrap();
        assert!(!rstr.contains("multipleauthn"));
        assert!(!rstr.contains("authnmethodsreferences"));
    }

    #[test]
    fn special_characters_are_escaped() {
        let mut input = fixed_input(false);
        input.upn = "o'<b>&\"x\"@contoso.com".to_owned();
        input.issuer = "https://sts.example/?a=1&b=\"2\"".to_owned();
        let rstr = issue_rstr(&input, &test_credential()).unwrap();
        assert!(rstr.contains("<saml:AttributeValue>o'&lt;b&gt;&amp;\"x\"@contoso.com</saml:AttributeValue>"));
        assert!(rstr.contains("Issuer=\"https://sts.example/?a=1&amp;b=&quot;2&quot;\""));
    }

    #[test]
    fn assertion_ids() {
        let id = AssertionId::random();
        assert!(id.as_str().starts_with('_'));
        assert_ne!(id, AssertionId::random());
        assert_eq!(AssertionId::parse("_abc-1.2").unwrap().as_str(), "_abc-1.2");
        for bad in ["", "1abc", "-a", "a b", "a:b", "é", "a\"b"] {
            assert!(AssertionId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(AssertionId::parse(&"a".repeat(257)).is_err());
    }

    #[test]
    fn invalid_inputs_are_refused() {
        type Change = fn(&mut TokenInput);
        let cases: &[(&str, Change)] = &[
            ("issuer", |i| i.issuer.clear()),
            ("issuer", |i| i.issuer = "https://a b".to_owned()),
            ("audience", |i| i.audience.clear()),
            ("immutable_id", |i| i.immutable_id.clear()),
            ("immutable_id", |i| i.immutable_id = "a\u{0}b".to_owned()),
            ("upn", |i| i.upn = "alice".to_owned()),
            ("upn", |i| i.upn = "al\u{1}ice@contoso.com".to_owned()),
            ("upn", |i| i.upn = "a\u{FFFE}@contoso.com".to_owned()),
            ("upn", |i| i.upn = format!("{}@contoso.com", "a".repeat(300))),
            ("lifetime", |i| i.lifetime = TimeDelta::zero()),
            ("lifetime", |i| i.lifetime = TimeDelta::hours(9)),
            ("auth_instant", |i| i.auth_instant = i.now + TimeDelta::seconds(1)),
        ];
        for (field, change) in cases {
            let mut input = fixed_input(false);
            change(&mut input);
            let err = issue_rstr(&input, &test_credential()).unwrap_err();
            match &err {
                WsFedError::InvalidIssuerInput { field: f, .. } | WsFedError::InvalidXmlCharacter(f) => {
                    assert_eq!(f, field, "{err}")
                }
                other => panic!("{field}: unexpected {other}"),
            }
            assert!(!err.is_client_error());
        }
    }
}
