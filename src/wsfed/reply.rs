//! Where a token may be posted: the `wreply` allow-list.
//!
//! A token is a bearer credential for the user's whole Microsoft 365 account, so posting it to a
//! URL chosen by whoever crafted the sign-in link would hand the account over. `wreply` is
//! therefore accepted only when it is *exactly* one of:
//!
//! * Microsoft Entra ID's WS-Federation sign-in endpoint (`login.srf`) of the public cloud or of
//!   a national cloud ([`MicrosoftCloud`]);
//! * a URL the tenant configured explicitly ([`ReplyPolicy::allow_url`]).
//!
//! The comparison is on scheme, host, port, path and query after a strict parse, with no
//! normalization beyond the case of scheme and host (which DNS and browsers ignore) and the
//! default port. Everything a browser might read differently from us is refused before the
//! comparison: backslashes, whitespace and control characters, raw Unicode, user information,
//! fragments, percent-escapes in the host, trailing dots. When a URL is accepted, the string we
//! hand back ([`ReplyUrl`]) is our own allow-list entry, never the caller's bytes.

use super::error::{ReplyRejection, WsFedError};

/// A Microsoft cloud instance that relies on federated sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MicrosoftCloud {
    /// The global (public) cloud, `login.microsoftonline.com`.
    Global,
    /// Microsoft Entra ID for US Government (GCC High, DoD), `login.microsoftonline.us`.
    UsGovernment,
    /// Microsoft Entra ID operated by 21Vianet (China), `login.partner.microsoftonline.cn`.
    China,
}

impl MicrosoftCloud {
    /// Every cloud instance we know of. Azure Germany is absent on purpose: it closed in 2021.
    pub const ALL: [MicrosoftCloud; 3] = [Self::Global, Self::UsGovernment, Self::China];

    /// The WS-Federation passive sign-in endpoint tokens are posted to.
    pub fn sign_in_endpoint(self) -> &'static str {
        match self {
            Self::Global => "https://login.microsoftonline.com/login.srf",
            Self::UsGovernment => "https://login.microsoftonline.us/login.srf",
            Self::China => "https://login.partner.microsoftonline.cn/login.srf",
        }
    }

    /// The endpoint as an accepted reply URL, for requests that carry no `wreply` (Entra usually
    /// sends none and expects the token at its own endpoint).
    pub fn reply_url(self) -> ReplyUrl {
        ReplyUrl(self.sign_in_endpoint().to_owned())
    }
}

/// A reply URL that passed the allow-list. Only [`ReplyPolicy::check`] and
/// [`MicrosoftCloud::reply_url`] make one, so code that posts a token can demand this type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyUrl(String);

impl ReplyUrl {
    /// The URL to post to.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ReplyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The parts of a URL that we compare.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UrlKey {
    https: bool,
    host: String,
    port: u16,
    path: String,
    query: Option<String>,
}

/// An allow-list entry: its comparison key and the exact string we will post to.
#[derive(Debug, Clone)]
struct Allowed {
    key: UrlKey,
    url: String,
}

/// The reply addresses a tenant's tokens may be posted to.
#[derive(Debug, Clone)]
pub struct ReplyPolicy {
    allowed: Vec<Allowed>,
    allow_loopback_http: bool,
}

impl ReplyPolicy {
    /// Microsoft's sign-in endpoints of every cloud, and nothing else.
    pub fn microsoft() -> Self {
        let allowed = MicrosoftCloud::ALL
            .iter()
            .filter_map(|cloud| {
                let url = cloud.sign_in_endpoint();
                parse(url, false).ok().map(|key| Allowed { key, url: url.to_owned() })
            })
            .collect();
        Self { allowed, allow_loopback_http: false }
    }

    /// Lets `http://` URLs to a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`) through,
    /// when they are on the allow-list. Meant for tests and local demos with a relying party on
    /// this machine; set it before adding such URLs.
    pub fn allowing_loopback_http(mut self, allow: bool) -> Self {
        self.allow_loopback_http = allow;
        self
    }

    /// Adds one exact URL configured by the tenant. It must itself pass the same strict parse.
    pub fn allow_url(mut self, url: &str) -> Result<Self, WsFedError> {
        let key = parse(url, self.allow_loopback_http).map_err(WsFedError::ReplyRejected)?;
        self.allowed.push(Allowed { key, url: url.to_owned() });
        Ok(self)
    }

    /// Checks a `wreply` value and returns the allow-listed URL it matches.
    pub fn check(&self, candidate: &str) -> Result<ReplyUrl, WsFedError> {
        let key = parse(candidate, self.allow_loopback_http).map_err(WsFedError::ReplyRejected)?;
        self.allowed
            .iter()
            .find(|allowed| allowed.key == key)
            .map(|allowed| ReplyUrl(allowed.url.clone()))
            .ok_or(WsFedError::ReplyRejected(ReplyRejection::NotAllowed))
    }
}

/// Parses `scheme://host[:port][/path][?query]` strictly. Anything unusual is refused rather than
/// interpreted, because every interpretation gap between us and a browser is an open redirect.
fn parse(url: &str, allow_loopback_http: bool) -> Result<UrlKey, ReplyRejection> {
    if url.is_empty() {
        return Err(ReplyRejection::Malformed);
    }
    // Printable ASCII only. This also refuses backslashes (browsers read `\` as `/` in http(s)
    // URLs, so `https://good\@evil` would go to evil) and raw Unicode hosts (look-alikes must come
    // as punycode, and then they simply don't match).
    if !url.bytes().all(|b| (0x21..=0x7e).contains(&b)) || url.contains('\\') {
        return Err(ReplyRejection::ForbiddenCharacter);
    }
    let (scheme, rest) = url.split_once("://").ok_or(ReplyRejection::Malformed)?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        _ => return Err(ReplyRejection::SchemeNotAllowed),
    };
    if rest.contains('#') {
        return Err(ReplyRejection::Fragment);
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err(ReplyRejection::UserInfo);
    }
    let (host, port) = split_host_port(authority)?;
    let loopback_http_ok = allow_loopback_http && is_loopback(&host);
    if !(https || loopback_http_ok) {
        return Err(ReplyRejection::SchemeNotAllowed);
    }
    let port = match port {
        Some(port) => port,
        None if https => 443,
        None => 80,
    };
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query.to_owned())),
        None => (path_and_query, None),
    };
    // An empty path and `/` name the same resource (RFC 3986, 6.2.3).
    let path = if path.is_empty() { "/" } else { path };
    Ok(UrlKey { https, host, port, path: path.to_owned(), query })
}

fn split_host_port(authority: &str) -> Result<(String, Option<u16>), ReplyRejection> {
    // IPv6 literals are only of use for a loopback relying party.
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']').ok_or(ReplyRejection::BadHost)?;
        let (host, after) = authority.split_at(close + 1);
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or(ReplyRejection::BadPort)?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let host = host.to_ascii_lowercase();
    if !(host == "[::1]" || is_dns_name(&host)) {
        return Err(ReplyRejection::BadHost);
    }
    let port = match port {
        None => None,
        Some(port) => {
            // No sign, no leading `+`, no empty port: `u16::from_str` accepts `+443`.
            if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ReplyRejection::BadPort);
            }
            match port.parse::<u16>() {
                Ok(0) | Err(_) => return Err(ReplyRejection::BadPort),
                Ok(p) => Some(p),
            }
        }
    };
    Ok((host, port))
}

/// A lower-case DNS name (or dotted IPv4 address): labels of letters, digits and inner hyphens,
/// no empty label, so no trailing dot (`login.microsoftonline.com.` is a different origin).
fn is_dns_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

fn is_loopback(host: &str) -> bool {
    if host == "localhost" || host == "[::1]" {
        return true;
    }
    host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLOBAL: &str = "https://login.microsoftonline.com/login.srf";

    fn outcome(policy: &ReplyPolicy, url: &str) -> Result<String, ReplyRejection> {
        match policy.check(url) {
            Ok(reply) => Ok(reply.as_str().to_owned()),
            Err(WsFedError::ReplyRejected(reason)) => Err(reason),
            Err(other) => panic!("{url}: unexpected error {other}"),
        }
    }

    #[test]
    fn microsoft_endpoints_and_tricks() {
        use ReplyRejection::*;
        let policy = ReplyPolicy::microsoft();
        let cases: &[(&str, Result<&str, ReplyRejection>)] = &[
            (GLOBAL, Ok(GLOBAL)),
            ("https://login.microsoftonline.us/login.srf", Ok("https://login.microsoftonline.us/login.srf")),
            ("https://login.partner.microsoftonline.cn/login.srf", Ok("https://login.partner.microsoftonline.cn/login.srf")),
            // Case of scheme and host does not matter to DNS or browsers; the default port is the
            // same origin. We answer with our own spelling.
            ("https://LOGIN.MicrosoftOnline.COM/login.srf", Ok(GLOBAL)),
            ("HTTPS://login.microsoftonline.com/login.srf", Ok(GLOBAL)),
            ("https://login.microsoftonline.com:443/login.srf", Ok(GLOBAL)),
            // Paths are case-sensitive and compared exactly.
            ("https://login.microsoftonline.com/LOGIN.SRF", Err(NotAllowed)),
            ("https://login.microsoftonline.com/login.srf/", Err(NotAllowed)),
            ("https://login.microsoftonline.com/x/../login.srf", Err(NotAllowed)),
            ("https://login.microsoftonline.com/login%2Esrf", Err(NotAllowed)),
            ("https://login.microsoftonline.com/", Err(NotAllowed)),
            ("https://login.microsoftonline.com", Err(NotAllowed)),
            ("https://login.microsoftonline.com/login.srf?x=1", Err(NotAllowed)),
            ("https://login.microsoftonline.com:8443/login.srf", Err(NotAllowed)),
            // Look-alike hosts.
            ("https://login.microsoftonline.com.evil.com/login.srf", Err(NotAllowed)),
            ("https://login.microsoftonline.com.evil.com/", Err(NotAllowed)),
            ("https://evil.com/?https://login.microsoftonline.com/login.srf", Err(NotAllowed)),
            ("https://evil.com/login.srf", Err(NotAllowed)),
            ("https://evillogin.microsoftonline.com/login.srf", Err(NotAllowed)),
            ("https://login.microsoftonline.de/login.srf", Err(NotAllowed)),
            ("https://login.microsoftonline.com./login.srf", Err(BadHost)),
            ("https://login.microsoftonline.com../login.srf", Err(BadHost)),
            ("https://login.micr%6Fsoftonline.com/login.srf", Err(BadHost)),
            ("https://xn--login-microsoftonline-com/login.srf", Err(NotAllowed)),
            // User information.
            ("https://login.microsoftonline.com@evil.com/", Err(UserInfo)),
            ("https://login.microsoftonline.com@evil.com/login.srf", Err(UserInfo)),
            ("https://user:pw@login.microsoftonline.com/login.srf", Err(UserInfo)),
            ("https://login.microsoftonline.com%40evil.com/login.srf", Err(BadHost)),
            // Backslashes, whitespace, control characters and raw Unicode.
            ("https://login.microsoftonline.com\\@evil.com/login.srf", Err(ForbiddenCharacter)),
            ("https://evil.com\\login.microsoftonline.com/login.srf", Err(ForbiddenCharacter)),
            ("https:\\\\login.microsoftonline.com/login.srf", Err(ForbiddenCharacter)),
            ("https://login.microsoftonline.com/login.srf ", Err(ForbiddenCharacter)),
            (" https://login.microsoftonline.com/login.srf", Err(ForbiddenCharacter)),
            ("https://login.microsoftonline.com/login.srf\t", Err(ForbiddenCharacter)),
            ("https://login.microsoftonline.com/login.srf\r\nX: y", Err(ForbiddenCharacter)),
            ("https://login.microsoftonline.com\0.evil.com/login.srf", Err(ForbiddenCharacter)),
            ("https://login.microsoftonlіne.com/login.srf", Err(ForbiddenCharacter)),
            // Schemes and shapes.
            ("http://login.microsoftonline.com/login.srf", Err(SchemeNotAllowed)),
            ("javascript:alert(1)//login.microsoftonline.com/login.srf", Err(Malformed)),
            ("javascript://login.microsoftonline.com/%0Aalert(1)", Err(SchemeNotAllowed)),
            ("data://login.microsoftonline.com/login.srf", Err(SchemeNotAllowed)),
            ("//login.microsoftonline.com/login.srf", Err(Malformed)),
            ("/login.srf", Err(Malformed)),
            ("", Err(Malformed)),
            ("https:///login.srf", Err(BadHost)),
            ("https://login.microsoftonline.com/login.srf#x", Err(Fragment)),
            ("https://login.microsoftonline.com:/login.srf", Err(BadPort)),
            ("https://login.microsoftonline.com:+443/login.srf", Err(BadPort)),
            ("https://login.microsoftonline.com:0/login.srf", Err(BadPort)),
            ("https://login.microsoftonline.com:99999/login.srf", Err(BadPort)),
            ("https://login.microsoftonline.com:443:443/login.srf", Err(BadPort)),
            ("https://-evil.com/login.srf", Err(BadHost)),
            // Loopback is refused unless explicitly allowed.
            ("http://127.0.0.1:8080/rp", Err(SchemeNotAllowed)),
            ("https://127.0.0.1:8080/rp", Err(NotAllowed)),
        ];
        for (url, expected) in cases {
            let expected = expected.map(str::to_owned);
            assert_eq!(outcome(&policy, url), expected, "{url:?}");
        }
    }

    #[test]
    fn tenant_urls_are_exact() {
        use ReplyRejection::*;
        let policy = ReplyPolicy::microsoft()
            .allow_url("https://rp.contoso.com/signin-wsfed?tenant=a")
            .unwrap()
            .allow_url("https://rp.contoso.com:8443/")
            .unwrap();
        let cases: &[(&str, Result<&str, ReplyRejection>)] = &[
            ("https://rp.contoso.com/signin-wsfed?tenant=a", Ok("https://rp.contoso.com/signin-wsfed?tenant=a")),
            ("https://RP.contoso.com/signin-wsfed?tenant=a", Ok("https://rp.contoso.com/signin-wsfed?tenant=a")),
            ("https://rp.contoso.com/signin-wsfed?tenant=b", Err(NotAllowed)),
            ("https://rp.contoso.com/signin-wsfed", Err(NotAllowed)),
            ("https://rp.contoso.com/signin-wsfed?tenant=a&x", Err(NotAllowed)),
            ("https://rp.contoso.com:8443/", Ok("https://rp.contoso.com:8443/")),
            ("https://rp.contoso.com:8443", Ok("https://rp.contoso.com:8443/")),
            ("https://rp.contoso.com/", Err(NotAllowed)),
            ("http://rp.contoso.com:8443/", Err(SchemeNotAllowed)),
            (GLOBAL, Ok(GLOBAL)),
        ];
        for (url, expected) in cases {
            let expected = expected.map(str::to_owned);
            assert_eq!(outcome(&policy, url), expected, "{url:?}");
        }
    }

    #[test]
    fn loopback_http_only_when_allowed_and_listed() {
        use ReplyRejection::*;
        assert!(matches!(ReplyPolicy::microsoft().allow_url("http://127.0.0.1:8080/rp"), Err(WsFedError::ReplyRejected(SchemeNotAllowed))));
        let policy = ReplyPolicy::microsoft()
            .allowing_loopback_http(true)
            .allow_url("http://127.0.0.1:8080/rp")
            .unwrap()
            .allow_url("http://[::1]:9000/rp")
            .unwrap();
        let cases: &[(&str, Result<&str, ReplyRejection>)] = &[
            ("http://127.0.0.1:8080/rp", Ok("http://127.0.0.1:8080/rp")),
            ("http://[::1]:9000/rp", Ok("http://[::1]:9000/rp")),
            ("http://127.0.0.1:8081/rp", Err(NotAllowed)),
            ("http://localhost:8080/rp", Err(NotAllowed)),
            ("http://10.0.0.1:8080/rp", Err(SchemeNotAllowed)),
            ("http://evil.com:8080/rp", Err(SchemeNotAllowed)),
            ("http://127.0.0.1.evil.com:8080/rp", Err(SchemeNotAllowed)),
            ("http://[::2]:9000/rp", Err(BadHost)),
            ("http://[::1]9000/rp", Err(BadPort)),
        ];
        for (url, expected) in cases {
            let expected = expected.map(str::to_owned);
            assert_eq!(outcome(&policy, url), expected, "{url:?}");
        }
    }

    #[test]
    fn bad_tenant_urls_are_refused() {
        for url in [
            "https://user@rp.contoso.com/",
            "https://rp.contoso.com/#frag",
            "ftp://rp.contoso.com/",
            "https://rp.contoso.com./",
            "rp.contoso.com",
        ] {
            assert!(ReplyPolicy::microsoft().allow_url(url).is_err(), "{url}");
        }
    }

    #[test]
    fn cloud_reply_urls_pass_the_policy() {
        let policy = ReplyPolicy::microsoft();
        for cloud in MicrosoftCloud::ALL {
            assert_eq!(policy.check(cloud.sign_in_endpoint()).unwrap(), cloud.reply_url());
        }
    }
}
