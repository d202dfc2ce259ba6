//! The sign-in pages: plain server-rendered HTML, every value escaped, every field labelled,
//! usable without JavaScript. Each form carries the CSRF token, the step, and the original
//! WS-Fed request (re-checked by the server on every post).

use super::form::html_escape;

/// What every sign-in form posts besides its own fields.
#[derive(Debug, Clone, Copy)]
pub struct FormContext<'a> {
    /// Where the form posts (the tenant's `…/signin`).
    pub action: &'a str,
    pub csrf: &'a str,
    /// The original WS-Fed request, urlencoded.
    pub request: &'a str,
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;line-height:1.5}\
label{display:block;margin-top:1rem;font-weight:600}input{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box}\
button{margin-top:1rem;font-size:1rem;padding:.5rem 1.2rem}.error{color:#a00;font-weight:600}code{word-break:break-all}";

/// A whole page around `body`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"robots\" content=\"noindex\">\n\
<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n{body}</main>\n</body>\n</html>\n",
        title = html_escape(title),
    )
}

fn error_html(error: Option<&str>) -> String {
    error.map(|e| format!("<p class=\"error\" id=\"error\" role=\"alert\">{}</p>\n", html_escape(e))).unwrap_or_default()
}

fn described(error: Option<&str>) -> &'static str {
    if error.is_some() { " aria-describedby=\"error\" aria-invalid=\"true\"" } else { "" }
}

fn form(ctx: &FormContext<'_>, step: &str, fields: &str, button: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{action}\">\n<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
<input type=\"hidden\" name=\"request\" value=\"{request}\">\n<input type=\"hidden\" name=\"step\" value=\"{step}\">\n\
{fields}<button type=\"submit\" id=\"submit\">{button}</button>\n</form>\n",
        action = html_escape(ctx.action),
        csrf = html_escape(ctx.csrf),
        request = html_escape(ctx.request),
    )
}

pub fn upn_page(ctx: &FormContext<'_>, login_hint: Option<&str>, error: Option<&str>) -> String {
    let value = login_hint.map(|h| format!(" value=\"{}\"", html_escape(h))).unwrap_or_default();
    let fields = format!(
        "{err}<label for=\"upn\">User name</label>\n<input id=\"upn\" name=\"upn\" type=\"email\" autocomplete=\"username\" required autofocus{value}{desc}>\n",
        err = error_html(error),
        desc = described(error),
    );
    page("Sign in", &form(ctx, "upn", &fields, "Next"))
}

pub fn password_page(ctx: &FormContext<'_>, upn: &str, error: Option<&str>) -> String {
    let fields = format!(
        "{err}<p>Signing in as <strong>{upn}</strong></p>\n<input type=\"hidden\" name=\"upn\" value=\"{upn}\">\n\
<label for=\"password\">Password</label>\n<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required autofocus{desc}>\n",
        err = error_html(error),
        upn = html_escape(upn),
        desc = described(error),
    );
    page("Enter your password", &form(ctx, "password", &fields, "Sign in"))
}

pub fn code_page(ctx: &FormContext<'_>, upn: &str, error: Option<&str>) -> String {
    let fields = format!(
        "{err}<p>Signing in as <strong>{upn}</strong></p>\n<label for=\"code\">Code from your authenticator app, or a recovery code</label>\n\
<input id=\"code\" name=\"code\" type=\"text\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required autofocus{desc}>\n",
        err = error_html(error),
        upn = html_escape(upn),
        desc = described(error),
    );
    page("Enter your code", &form(ctx, "code", &fields, "Verify"))
}

pub fn enroll_page(ctx: &FormContext<'_>, upn: &str, qr_svg: &str, otpauth_uri: &str, secret: &str, error: Option<&str>) -> String {
    // The SVG comes from the QR encoder, not from input; it is embedded as an image for
    // screen readers with a text alternative (the key below).
    let fields = format!(
        "{err}<p>Your organization requires a second sign-in step for <strong>{upn}</strong>. Scan this code with an \
authenticator app, or enter the key by hand, then type the 6-digit code the app shows.</p>\n\
<figure role=\"img\" aria-label=\"QR code for your authenticator app\">{qr_svg}</figure>\n\
<p>Key: <code id=\"secret\">{secret}</code></p>\n<p><a href=\"{uri}\">Open in an authenticator app on this device</a></p>\n\
<label for=\"code\">6-digit code</label>\n<input id=\"code\" name=\"code\" type=\"text\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required autofocus{desc}>\n",
        err = error_html(error),
        upn = html_escape(upn),
        secret = html_escape(secret),
        uri = html_escape(otpauth_uri),
        desc = described(error),
    );
    page("Set up your authenticator app", &form(ctx, "enroll", &fields, "Verify and continue"))
}

pub fn recovery_codes_page(ctx: &FormContext<'_>, codes: &[String]) -> String {
    let items: String = codes.iter().map(|c| format!("<li><code>{}</code></li>\n", html_escape(c))).collect();
    let fields = format!(
        "<p>Keep these one-time recovery codes somewhere safe. Each one signs you in once if you lose your \
authenticator app. They are not shown again.</p>\n<ul id=\"recovery-codes\">\n{items}</ul>\n"
    );
    page("Your recovery codes", &form(ctx, "finish", &fields, "Continue"))
}

/// A message without a form: a refusal, a bad request, a signed-out notice.
pub fn message_page(title: &str, message: &str, correlation_id: &str) -> String {
    let reference = if correlation_id.is_empty() {
        String::new()
    } else {
        format!("<p><small>Reference: <code>{}</code></small></p>\n", html_escape(correlation_id))
    };
    page(title, &format!("<p role=\"alert\">{}</p>\n{reference}", html_escape(message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_fields_labelled() {
        let ctx = FormContext { action: "/wsfed/t/signin", csrf: "c\"sr<f", request: "wa=wsignin1.0&wctx=<x>" };
        let html = upn_page(&ctx, Some("\"><script>"), Some("<b>bad</b>"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;b&gt;bad&lt;/b&gt;"));
        assert!(html.contains("value=\"c&quot;sr&lt;f\""));
        assert!(html.contains("<label for=\"upn\">"));
        assert!(html.contains("aria-describedby=\"error\""));
    }
}
