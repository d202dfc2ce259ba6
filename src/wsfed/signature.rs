//! Enveloped XML signatures (XML-DSig 1.0) over elements we wrote in canonical form.
//!
//! What a verifier does with our `ds:Signature`, and why our shortcut gives the same bytes:
//!
//! 1. It dereferences `URI="#ID"` to the signed element (for SAML 1.1, the `saml:Assertion` whose
//!    `AssertionID` is `ID`; it must know that attribute is an ID, hence xmlsec1's `--id-attr`).
//! 2. The enveloped-signature transform removes the `ds:Signature` element from that subtree.
//! 3. Exclusive canonicalization serializes what is left. We wrote the element with the module's
//!    canonical writer (`xml.rs`) in exactly that form, with no whitespace around the signature,
//!    so "the element minus its signature" *is* the string we digested. Ancestors cannot change it:
//!    exclusive c14n only pulls in namespace declarations the subtree visibly uses, and the
//!    subtree declares its one prefix itself; no `xml:` attributes are inherited in exclusive
//!    c14n. So the assertion verifies alone and embedded in the RSTR alike.
//! 4. It digests that with SHA-256 and compares with `ds:DigestValue`, then canonicalizes
//!    `ds:SignedInfo` the same way and checks `ds:SignatureValue` with the certificate's key.
//!    We emit `ds:SignedInfo` in the document byte for byte as we signed it (it carries its own
//!    `xmlns:ds`, redundant but legal, because canonical form of a subtree starts with it).
//!
//! Limits: this holds only for markup produced by our writer, never for XML received from
//! elsewhere (we do not canonicalize foreign input); signed elements must use unqualified
//! attributes and declare their namespaces themselves; and nothing may reformat the document
//! between signing and posting (the form only HTML-escapes it, which the browser undoes).
//! The golden-file and xmlsec1 tests guard these assumptions.

use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::sign::Signer;
use sha2::{Digest as _, Sha256};

use super::error::WsFedError;
use super::keys::SigningCredential;
use super::xml::XmlWriter;

/// XML-DSig namespace.
pub const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Exclusive XML Canonicalization 1.0, without comments.
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// The enveloped-signature transform.
pub const ENVELOPED_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// RSA PKCS#1 v1.5 with SHA-256.
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// SHA-256 digest.
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// Signs a canonical element and returns it with a `ds:Signature` appended as its last child.
///
/// `canonical` must be the element exactly as [`XmlWriter`] wrote it, ending with `end_tag`
/// (e.g. `</saml:Assertion>`), and `id` the value of its ID attribute.
pub(crate) fn sign_enveloped_last(canonical: &str, end_tag: &str, id: &str, credential: &SigningCredential) -> Result<String, WsFedError> {
    let body = canonical
        .strip_suffix(end_tag)
        .ok_or(WsFedError::InvalidIssuerInput { field: "signed element", reason: "does not end with its end tag" })?;
    let signature = signature_element(canonical, id, credential)?;
    let mut out = String::with_capacity(canonical.len() + signature.len());
    out.push_str(body);
    out.push_str(&signature);
    out.push_str(end_tag);
    Ok(out)
}

/// Builds the `ds:Signature` element for a canonical element.
fn signature_element(canonical: &str, id: &str, credential: &SigningCredential) -> Result<String, WsFedError> {
    let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(canonical.as_bytes()));
    let signed_info = signed_info(id, &digest)?;
    let mut signer = Signer::new(MessageDigest::sha256(), credential.private_key())?;
    signer.update(signed_info.as_bytes())?;
    let signature_value = base64::engine::general_purpose::STANDARD.encode(signer.sign_to_vec()?);

    let mut w = XmlWriter::new();
    w.start("ds:Signature", &[("ds", DS_NS)], &[]);
    w.raw(&signed_info);
    w.text_element("ds:SignatureValue", &[], &[], &signature_value);
    w.start("ds:KeyInfo", &[], &[]);
    w.start("ds:X509Data", &[], &[]);
    w.text_element("ds:X509Certificate", &[], &[], &credential.certificate().base64_der());
    w.end("ds:X509Data");
    w.end("ds:KeyInfo");
    w.end("ds:Signature");
    w.finish()
}

/// `ds:SignedInfo` in exclusive canonical form, as a standalone subtree (so it declares `ds`).
fn signed_info(id: &str, digest_b64: &str) -> Result<String, WsFedError> {
    let reference = format!("#{id}");
    let mut w = XmlWriter::new();
    w.start("ds:SignedInfo", &[("ds", DS_NS)], &[]);
    w.empty_element("ds:CanonicalizationMethod", &[], &[("Algorithm", EXC_C14N)]);
    w.empty_element("ds:SignatureMethod", &[], &[("Algorithm", RSA_SHA256)]);
    w.start("ds:Reference", &[], &[("URI", &reference)]);
    w.start("ds:Transforms", &[], &[]);
    w.empty_element("ds:Transform", &[], &[("Algorithm", ENVELOPED_SIGNATURE)]);
    w.empty_element("ds:Transform", &[], &[("Algorithm", EXC_C14N)]);
    w.end("ds:Transforms");
    w.empty_element("ds:DigestMethod", &[], &[("Algorithm", SHA256)]);
    w.text_element("ds:DigestValue", &[], &[], digest_b64);
    w.end("ds:Reference");
    w.end("ds:SignedInfo");
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_info_is_canonical() {
        let si = signed_info("_abc", "AAAA").unwrap();
        assert_eq!(
            si,
            "<ds:SignedInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\
             <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:CanonicalizationMethod>\
             <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"></ds:SignatureMethod>\
             <ds:Reference URI=\"#_abc\"><ds:Transforms>\
             <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"></ds:Transform>\
             <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:Transform>\
             </ds:Transforms>\
             <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"></ds:DigestMethod>\
             <ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>"
        );
    }
}
