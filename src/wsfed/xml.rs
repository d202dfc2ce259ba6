//! A tiny XML writer whose output is already in Exclusive XML Canonicalization form.
//!
//! Why write canonical XML directly instead of building a tree and canonicalizing it: we never
//! parse foreign XML here, we only emit documents whose shape we control, so the canonical form is
//! cheap to produce by construction. The rules of Exclusive XML Canonicalization 1.0
//! (<http://www.w3.org/2001/10/xml-exc-c14n#>, without comments) that matter for what we emit:
//!
//! * no XML declaration, no DOCTYPE, UTF-8 output;
//! * empty elements are written as a start tag and an end tag, never `<x/>`;
//! * namespace declarations come before attributes, sorted by prefix (the default namespace,
//!   which we never use, would sort first); a declaration is output on an element only where its
//!   prefix is *visibly used* (by the element's name or one of its attributes' names) and not
//!   already in force from an output ancestor;
//! * attributes are sorted by namespace URI then local name; unqualified attributes (no namespace)
//!   come first; values are double-quoted;
//! * in attribute values `&`, `<`, `"`, TAB, LF and CR are written as `&amp;`, `&lt;`, `&quot;`,
//!   `&#x9;`, `&#xA;`, `&#xD;`; in text `&`, `<`, `>` and CR as `&amp;`, `&lt;`, `&gt;`, `&#xD;`;
//! * whitespace between elements is significant, so we write none.
//!
//! Those escapes are also exactly what a parser needs to read the value back unchanged (a raw TAB
//! or LF in an attribute would be normalized to a space, a raw CR in text folded into LF), so the
//! same bytes serve as document text and as canonical form.
//!
//! Limits (kept on purpose, checked in debug builds or documented at the call sites):
//! * the caller declares each namespace on the element that first uses its prefix, and only
//!   there; the writer does not track namespace scope;
//! * attributes with a prefix are sorted after unqualified ones by their qualified name, which
//!   equals canonical order only for the single-prefix cases we have; signed subtrees
//!   (assertion, `ds:SignedInfo`) use unqualified attributes only;
//! * text containing characters outside the XML 1.0 `Char` production is refused, since it could
//!   not be represented at all.

use super::error::WsFedError;

/// Whether `c` is allowed in an XML 1.0 document (the `Char` production).
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\u{9}' | '\u{A}' | '\u{D}'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// Refuses text XML cannot carry, naming the field it came from.
pub(crate) fn check_xml_text(field: &'static str, value: &str) -> Result<(), WsFedError> {
    if value.chars().all(is_xml_char) { Ok(()) } else { Err(WsFedError::InvalidXmlCharacter(field)) }
}

fn escape_text_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(c),
        }
    }
}

fn escape_attr_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(c),
        }
    }
}

/// A namespace declaration: `(prefix, uri)`.
pub(crate) type Ns<'a> = (&'a str, &'a str);
/// An attribute: `(qualified name, value)`.
pub(crate) type Attr<'a> = (&'a str, &'a str);

/// Writes canonical XML into a string. Values that XML cannot carry are not written; the first
/// such problem is remembered and reported by [`XmlWriter::finish`], so building code stays linear.
#[derive(Debug, Default)]
pub(crate) struct XmlWriter {
    out: String,
    error: Option<WsFedError>,
    #[cfg(debug_assertions)]
    open: Vec<String>,
}

impl XmlWriter {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Writes a start tag with its namespace declarations and attributes, both put in canonical
    /// order here so call sites can list them in whatever order reads best.
    pub(crate) fn start(&mut self, name: &str, namespaces: &[Ns<'_>], attributes: &[Attr<'_>]) {
        let mut namespaces = namespaces.to_vec();
        namespaces.sort_by(|a, b| a.0.cmp(b.0));
        let mut attributes = attributes.to_vec();
        // Unqualified attributes have no namespace URI, and the empty URI sorts first.
        attributes.sort_by(|a, b| (a.0.contains(':'), a.0).cmp(&(b.0.contains(':'), b.0)));

        self.out.push('<');
        self.out.push_str(name);
        for (prefix, uri) in &namespaces {
            self.out.push_str(" xmlns:");
            self.out.push_str(prefix);
            self.out.push_str("=\"");
            self.push_attr_value(uri);
            self.out.push('"');
        }
        for (attr_name, value) in &attributes {
            self.out.push(' ');
            self.out.push_str(attr_name);
            self.out.push_str("=\"");
            self.push_attr_value(value);
            self.out.push('"');
        }
        self.out.push('>');
        #[cfg(debug_assertions)]
        self.open.push(name.to_owned());
    }

    /// Writes the end tag of the innermost open element.
    pub(crate) fn end(&mut self, name: &str) {
        #[cfg(debug_assertions)]
        {
            let top = self.open.pop();
            debug_assert_eq!(top.as_deref(), Some(name), "unbalanced XML writer");
        }
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// Writes escaped character data.
    pub(crate) fn text(&mut self, value: &str) {
        if value.chars().all(is_xml_char) {
            escape_text_into(&mut self.out, value);
        } else {
            self.fail();
        }
    }

    /// Writes an element holding only text.
    pub(crate) fn text_element(&mut self, name: &str, namespaces: &[Ns<'_>], attributes: &[Attr<'_>], value: &str) {
        self.start(name, namespaces, attributes);
        self.text(value);
        self.end(name);
    }

    /// Writes an element with no content, as canonical form requires: `<a></a>`.
    pub(crate) fn empty_element(&mut self, name: &str, namespaces: &[Ns<'_>], attributes: &[Attr<'_>]) {
        self.start(name, namespaces, attributes);
        self.end(name);
    }

    /// Appends markup produced elsewhere (a signed, already canonical subtree).
    pub(crate) fn raw(&mut self, markup: &str) {
        self.out.push_str(markup);
    }

    /// The document, or the first value that could not be written.
    pub(crate) fn finish(self) -> Result<String, WsFedError> {
        #[cfg(debug_assertions)]
        debug_assert!(self.open.is_empty(), "unclosed elements: {:?}", self.open);
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.out),
        }
    }

    fn push_attr_value(&mut self, value: &str) {
        if value.chars().all(is_xml_char) {
            escape_attr_into(&mut self.out, value);
        } else {
            self.fail();
        }
    }

    fn fail(&mut self) {
        if self.error.is_none() {
            self.error = Some(WsFedError::InvalidXmlCharacter("xml text"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_as_exclusive_c14n_requires() {
        let mut w = XmlWriter::new();
        w.text_element("a", &[], &[], "<&>\"'\r\n\t");
        assert_eq!(w.finish().unwrap(), "<a>&lt;&amp;&gt;\"'&#xD;\n\t</a>");
    }

    #[test]
    fn attributes_escape_as_exclusive_c14n_requires() {
        let mut w = XmlWriter::new();
        w.empty_element("a", &[], &[("v", "<&>\"'\r\n\t")]);
        assert_eq!(w.finish().unwrap(), "<a v=\"&lt;&amp;>&quot;'&#xD;&#xA;&#x9;\"></a>");
    }

    #[test]
    fn namespaces_then_attributes_in_canonical_order() {
        let mut w = XmlWriter::new();
        w.empty_element("p:a", &[("z", "urn:z"), ("p", "urn:p")], &[("b", "2"), ("x:y", "3"), ("A", "1"), ("a", "0")]);
        assert_eq!(w.finish().unwrap(), "<p:a xmlns:p=\"urn:p\" xmlns:z=\"urn:z\" A=\"1\" a=\"0\" b=\"2\" x:y=\"3\"></p:a>");
    }

    #[test]
    fn characters_xml_cannot_carry_are_refused() {
        for bad in ["\u{0}", "a\u{1}b", "\u{B}", "\u{FFFE}", "\u{FFFF}"] {
            let mut w = XmlWriter::new();
            w.text_element("a", &[], &[], bad);
            assert!(matches!(w.finish(), Err(WsFedError::InvalidXmlCharacter(_))), "{bad:?}");
            let mut w = XmlWriter::new();
            w.empty_element("a", &[], &[("v", bad)]);
            assert!(w.finish().is_err(), "{bad:?}");
            assert!(check_xml_text("f", bad).is_err());
        }
        assert!(check_xml_text("f", "ok \u{10FFFF} \u{E000} é").is_ok());
    }
}
