//! The page that carries the token to the relying party: an HTML form that posts itself.
//!
//! WS-Federation's passive profile returns the token as form fields `wa`, `wresult` and `wctx`
//! POSTed to `wreply` (WS-Federation 1.2, 13.2.3). A script submits the form when the page loads;
//! without script, the user sees a button. Every value is HTML-escaped (the RSTR is XML full of
//! `<` and `"`), and the target is a [`ReplyUrl`], which only the allow-list can produce.
//!
//! The HTTP layer should send this with `Content-Type: text/html; charset=utf-8`,
//! `Cache-Control: no-store` (the page holds a bearer token) and, if it sets a
//! Content-Security-Policy with script nonces, pass the nonce here.

use super::error::WsFedError;
use super::reply::ReplyUrl;
use super::request::WA_SIGNIN;

/// Escapes text for HTML content and double- or single-quoted attribute values.
pub fn html_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + value.len() / 8);
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The sign-in response page posting `wresult` (and `wctx`, when the request had one) to `reply`.
///
/// `script_nonce` is the CSP nonce for the inline script, if the page is served with one; it must
/// be base64 or base64url text.
pub fn sign_in_response_page(
    reply: &ReplyUrl,
    wresult: &str,
    wctx: Option<&str>,
    script_nonce: Option<&str>,
) -> Result<String, WsFedError> {
    if let Some(nonce) = script_nonce {
        let ok = !nonce.is_empty()
            && nonce.len() <= 256
            && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'));
        if !ok {
            return Err(WsFedError::InvalidIssuerInput { field: "script_nonce", reason: "not base64 text" });
        }
    }
    let nonce_attr = script_nonce.map(|n| format!(" nonce=\"{n}\"")).unwrap_or_default();
    let wctx_field = wctx.map(|ctx| format!("<input type=\"hidden\" name=\"wctx\" value=\"{}\">\n", html_escape(ctx))).unwrap_or_default();

    Ok(format!(
        "<!DOCTYPE html>\n\
<html lang=\"en\">\n\
<head>\n\
<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"robots\" content=\"noindex\">\n\
<title>Signing in</title>\n\
</head>\n\
<body>\n\
<form id=\"wsfed-response\" method=\"post\" action=\"{action}\">\n\
<input type=\"hidden\" name=\"wa\" value=\"{wa}\">\n\
<input type=\"hidden\" name=\"wresult\" value=\"{wresult}\">\n\
{wctx_field}\
<noscript>\n\
<p>Your browser does not run scripts. Select Continue to finish signing in.</p>\n\
<button type=\"submit\">Continue</button>\n\
</noscript>\n\
</form>\n\
<script{nonce_attr}>window.addEventListener(\"load\", function () {{ document.getElementById(\"wsfed-response\").submit(); }});</script>\n\
</body>\n\
</html>\n",
        action = html_escape(reply.as_str()),
        wa = WA_SIGNIN,
        wresult = html_escape(wresult),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wsfed::reply::MicrosoftCloud;
    use crate::wsfed::testutil::{assert_golden, fixed_input, test_credential};
    use crate::wsfed::token::issue_rstr;

    #[test]
    fn golden_form() {
        let rstr = issue_rstr(&fixed_input(true), &test_credential()).unwrap();
        let page = sign_in_response_page(
            &MicrosoftCloud::Global.reply_url(),
            &rstr,
            Some("LoginOptions=3&estsredirect=2&estsrequest=rQIIAb\"'<>"),
            None,
        )
        .unwrap();
        assert_golden("form.html", &page);
    }

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(html_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn page_escapes_values_and_posts_to_the_reply() {
        let reply = MicrosoftCloud::Global.reply_url();
        let page = sign_in_response_page(&reply, "<t:R a=\"1\">x&amp;y</t:R>", Some("ctx=<script>\"'&"), None).unwrap();
        assert!(page.contains("action=\"https://login.microsoftonline.com/login.srf\""));
        assert!(page.contains("value=\"&lt;t:R a=&quot;1&quot;&gt;x&amp;amp;y&lt;/t:R&gt;\""));
        assert!(page.contains("name=\"wctx\" value=\"ctx=&lt;script&gt;&quot;&#39;&amp;\""));
        assert!(!page.contains("<script>\""));
        assert!(page.contains("<html lang=\"en\">"));
        assert!(page.contains("<meta charset=\"utf-8\">"));
        assert!(page.contains("<noscript>"));
        assert!(page.contains("<script>window.addEventListener"));
    }

    #[test]
    fn no_wctx_field_without_context_and_nonce_is_checked() {
        let reply = MicrosoftCloud::Global.reply_url();
        let page = sign_in_response_page(&reply, "r", None, Some("abc+/=")).unwrap();
        assert!(!page.contains("wctx"));
        assert!(page.contains("<script nonce=\"abc+/=\">"));
        assert!(sign_in_response_page(&reply, "r", None, Some("a\"><script>")).is_err());
        assert!(sign_in_response_page(&reply, "r", None, Some("")).is_err());
    }
}
