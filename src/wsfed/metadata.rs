//! The WS-Federation metadata document (`FederationMetadata/2007-06/FederationMetadata.xml`).
//!
//! One `md:EntityDescriptor` per issuer URI (per federated domain), with one
//! `md:RoleDescriptor xsi:type="fed:SecurityTokenServiceType"` (WS-Federation 1.2, 3.1.2.2). It
//! lists a signing `md:KeyDescriptor` for the active certificate and, during a rollover, a second
//! one for the next certificate, so a relying party that reads metadata trusts both before the
//! switch.
//!
//! Schema notes: `fed:SecurityTokenServiceType` requires at least one
//! `fed:SecurityTokenServiceEndpoint` before `fed:PassiveRequestorEndpoint`. We have no active
//! (WS-Trust SOAP) endpoint, and the passive endpoint is the STS endpoint that issues our tokens,
//! so it is listed under both. Only the SAML 1.1 token type is offered because it is the only one
//! we issue. The document is not signed: Entra ID does not read it (the certificates reach Entra
//! through Graph), and a metadata signature would need canonicalization with an inclusive prefix
//! list for the QName in `xsi:type`, which this module's writer deliberately does not do.

use super::error::WsFedError;
use super::keys::Certificate;
use super::signature::DS_NS;
use super::token::{SAML11_TOKEN_TYPE, WSA_NS};
use super::xml::XmlWriter;

/// SAML 2.0 metadata namespace (the container WS-Federation 1.2 metadata uses).
pub const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// WS-Federation 1.2 namespace.
pub const FED_NS: &str = "http://docs.oasis-open.org/wsfed/federation/200706";
/// XML Schema instance namespace (for `xsi:type`).
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// What the metadata document describes.
#[derive(Debug, Clone, Copy)]
pub struct MetadataInput<'a> {
    /// The issuer URI of the domain (`entityID`).
    pub issuer: &'a str,
    /// The passive requestor endpoint URL (where Entra redirects browsers).
    pub passive_endpoint: &'a str,
    /// The certificate tokens are signed with now.
    pub active_certificate: &'a Certificate,
    /// The certificate that will take over, published ahead of the switch.
    pub next_certificate: Option<&'a Certificate>,
}

/// Writes the metadata document, with an XML declaration, UTF-8.
pub fn federation_metadata(input: &MetadataInput<'_>) -> Result<String, WsFedError> {
    for (field, value) in [("issuer", input.issuer), ("passive_endpoint", input.passive_endpoint)] {
        if value.is_empty() || value.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(WsFedError::InvalidIssuerInput { field, reason: "must be a non-empty URI" });
        }
    }

    let mut w = XmlWriter::new();
    w.raw("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    w.start("md:EntityDescriptor", &[("md", MD_NS)], &[("entityID", input.issuer)]);
    w.start(
        "md:RoleDescriptor",
        &[("fed", FED_NS), ("xsi", XSI_NS)],
        &[("xsi:type", "fed:SecurityTokenServiceType"), ("protocolSupportEnumeration", FED_NS)],
    );
    key_descriptor(&mut w, input.active_certificate);
    // During a rollover the next certificate is published beside the active one; the same
    // certificate twice would only confuse readers.
    if let Some(next) = input.next_certificate.filter(|next| *next != input.active_certificate) {
        key_descriptor(&mut w, next);
    }
    w.start("fed:TokenTypesOffered", &[], &[]);
    w.empty_element("fed:TokenType", &[], &[("Uri", SAML11_TOKEN_TYPE)]);
    w.end("fed:TokenTypesOffered");
    endpoint(&mut w, "fed:SecurityTokenServiceEndpoint", input.passive_endpoint);
    endpoint(&mut w, "fed:PassiveRequestorEndpoint", input.passive_endpoint);
    w.end("md:RoleDescriptor");
    w.end("md:EntityDescriptor");
    w.finish()
}

fn key_descriptor(w: &mut XmlWriter, certificate: &Certificate) {
    w.start("md:KeyDescriptor", &[], &[("use", "signing")]);
    w.start("ds:KeyInfo", &[("ds", DS_NS)], &[]);
    w.start("ds:X509Data", &[], &[]);
    w.text_element("ds:X509Certificate", &[], &[], &certificate.base64_der());
    w.end("ds:X509Data");
    w.end("ds:KeyInfo");
    w.end("md:KeyDescriptor");
}

fn endpoint(w: &mut XmlWriter, element: &str, address: &str) {
    w.start(element, &[], &[]);
    w.start("wsa:EndpointReference", &[("wsa", WSA_NS)], &[]);
    w.text_element("wsa:Address", &[], &[], address);
    w.end("wsa:EndpointReference");
    w.end(element);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wsfed::testutil::{assert_golden, test_credential, test_next_credential};

    const ENDPOINT: &str = "https://sts.tessera.example/wsfed";

    #[test]
    fn golden_metadata_with_next_certificate() {
        let active = test_credential();
        let next = test_next_credential();
        let xml = federation_metadata(&MetadataInput {
            issuer: "https://sts.tessera.example/contoso.com/",
            passive_endpoint: ENDPOINT,
            active_certificate: active.certificate(),
            next_certificate: Some(next.certificate()),
        })
        .unwrap();
        assert_golden("metadata.xml", &xml);
        assert!(xml.contains(&active.certificate().base64_der()));
        assert!(xml.contains(&next.certificate().base64_der()));
        assert_eq!(xml.matches("<md:KeyDescriptor use=\"signing\">").count(), 2);
    }

    #[test]
    fn one_key_descriptor_without_rollover() {
        let active = test_credential();
        for next in [None, Some(active.certificate())] {
            let xml = federation_metadata(&MetadataInput {
                issuer: "urn:x",
                passive_endpoint: ENDPOINT,
                active_certificate: active.certificate(),
                next_certificate: next,
            })
            .unwrap();
            assert_eq!(xml.matches("<md:KeyDescriptor").count(), 1);
        }
    }

    #[test]
    fn escapes_and_refuses_bad_input() {
        let active = test_credential();
        let xml = federation_metadata(&MetadataInput {
            issuer: "https://sts.example/?a=1&b=<2>",
            passive_endpoint: ENDPOINT,
            active_certificate: active.certificate(),
            next_certificate: None,
        })
        .unwrap();
        assert!(xml.contains("entityID=\"https://sts.example/?a=1&amp;b=&lt;2>\""));
        for (issuer, endpoint) in [("", ENDPOINT), ("urn:x", ""), ("urn:x y", ENDPOINT), ("urn:x", "https://a\n")] {
            let result = federation_metadata(&MetadataInput {
                issuer,
                passive_endpoint: endpoint,
                active_certificate: active.certificate(),
                next_certificate: None,
            });
            assert!(result.is_err(), "{issuer:?} {endpoint:?}");
        }
    }
}
