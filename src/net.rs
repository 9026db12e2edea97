//! Where cxsync may send bytes: `https://` (TLS always verified), or plain `http://` only to a
//! loopback host, where nothing leaves the machine (mock servers, tests, a local S3).
//!
//! One answer for every caller: the loader (E402/E409), lint (CX022), the HTTP driver and
//! `--target`, the Event Hub client, the DLQ object store and replay. URLs are read with the
//! `url` crate (WHATWG parsing, the same reading reqwest gives them), so a host is what the
//! client would connect to: `http://127.1/` is 127.0.0.1, `http://[0:0:0:0:0:0:0:1]/` is `::1`
//! and both are loopback; `http://127.example.com/` is a name and is not. Loopback hosts are
//! `localhost`, `127.0.0.0/8`, `::1` and `::ffff:127.0.0.0/104` (IPv4-mapped loopback).

use url::{Host, Url};

/// Why a URL may not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not an absolute URL.
    #[error("`{url}` is not a URL ({reason})")]
    NotAUrl { url: String, reason: String },
    /// An `http`/`https` URL without a host.
    #[error("`{url}` has no host")]
    NoHost { url: String },
    /// Plain `http://` to a host that is not loopback.
    #[error("`{url}` is plain http:// to `{host}`, which is not loopback; use https://")]
    PlainHttp { url: String, host: String },
    /// A scheme other than `https` or `http`.
    #[error("`{url}` has scheme `{scheme}`; expected https://")]
    Scheme { url: String, scheme: String },
}

/// Parses `url` and accepts it when it is `https://`, or `http://` to a loopback host.
pub fn require_https_or_loopback(url: &str) -> Result<Url, UrlError> {
    let u = Url::parse(url.trim()).map_err(|e| match e {
        url::ParseError::EmptyHost => UrlError::NoHost {
            url: url.to_string(),
        },
        e => UrlError::NotAUrl {
            url: url.to_string(),
            reason: e.to_string(),
        },
    })?;
    match u.scheme() {
        "https" | "http" if u.host().is_none() => Err(UrlError::NoHost {
            url: url.to_string(),
        }),
        "https" => Ok(u),
        "http" if is_loopback(&u) => Ok(u),
        "http" => Err(UrlError::PlainHttp {
            url: url.to_string(),
            host: u.host_str().unwrap_or("").to_string(),
        }),
        other => Err(UrlError::Scheme {
            url: url.to_string(),
            scheme: other.to_string(),
        }),
    }
}

/// The same check for a URL in a spec that may still hold `${…}` references (a missing
/// `${env:…}` is the loader's own error, a `${VAULT_SECRET:…}` is resolved by the Event Hub):
/// each reference is read as a plain name, so `https://${env:HOST}/x` passes and
/// `http://${env:HOST}/x` is plain http to a host that is not known to be loopback.
pub fn require_https_or_loopback_template(url: &str) -> Result<(), UrlError> {
    if !url.contains("${") {
        return require_https_or_loopback(url).map(|_| ());
    }
    // Each reference becomes a name the URL parser accepts, mapped back in messages.
    let mut plain = String::with_capacity(url.len());
    let mut refs: Vec<&str> = Vec::new();
    let mut rest = url;
    while let Some(i) = rest.find("${") {
        let Some(j) = rest[i..].find('}') else {
            break;
        };
        plain.push_str(&rest[..i]);
        plain.push_str(&format!("cxsync-ref-{}", refs.len()));
        refs.push(&rest[i..i + j + 1]);
        rest = &rest[i + j + 1..];
    }
    plain.push_str(rest);
    require_https_or_loopback(&plain)
        .map(|_| ())
        .map_err(|e| match e {
            UrlError::PlainHttp { mut host, .. } => {
                for (n, r) in refs.iter().enumerate().rev() {
                    host = host.replace(&format!("cxsync-ref-{n}"), r);
                }
                UrlError::PlainHttp {
                    url: url.to_string(),
                    host,
                }
            }
            other => other,
        })
}

/// Whether the URL's host is loopback.
pub fn is_loopback(u: &Url) -> bool {
    match u.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(a)) => a.is_loopback(),
        Some(Host::Ipv6(a)) => {
            a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        None => false,
    }
}

/// Percent-encodes every byte of `s` except ASCII letters, digits and the bytes in `keep`
/// (RFC 3986 §2.1, upper-case hex): a URL path segment keeps `-._~`.
pub fn percent_encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(u: &str) -> bool {
        require_https_or_loopback(u).is_ok()
    }

    #[test]
    fn https_anywhere_and_plain_http_only_to_loopback() {
        for u in [
            "https://crm.example.com/x",
            "http://127.0.0.1:8080/x",
            "http://127.9.9.9/x",
            "http://localhost/x",
            "http://LOCALHOST:1/x",
            "http://[::1]:9000/x",
            "http://user:pw@127.0.0.1/x",
        ] {
            assert!(ok(u), "{u}");
        }
        for u in [
            "http://crm.example.com/x",
            "http://127.example.com/x",
            "http://10.0.0.1/x",
            "http://localhost.example.com/x",
            "http://127.0.0.1@crm.example.com/x",
            "ftp://127.0.0.1/x",
            "crm.example.com/x",
            "not a url",
        ] {
            assert!(!ok(u), "{u}");
        }
    }

    /// The copies this helper replaced disagreed: the loader refused these spellings of
    /// loopback that the HTTP driver accepted. They are the addresses the client connects to.
    #[test]
    fn every_spelling_of_a_loopback_address_is_loopback() {
        for u in [
            "http://[0:0:0:0:0:0:0:1]/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://127.1/x",
            "http://0x7f.0.0.1/x",
        ] {
            assert!(ok(u), "{u}");
        }
    }

    #[test]
    fn references_in_a_spec_url_are_read_as_names() {
        assert!(require_https_or_loopback_template("https://${env:HOST}/x").is_ok());
        assert!(require_https_or_loopback_template("https://crm.example.com/${env:PATH}").is_ok());
        assert_eq!(
            require_https_or_loopback_template("http://${env:HOST}/x"),
            Err(UrlError::PlainHttp {
                url: "http://${env:HOST}/x".into(),
                host: "${env:HOST}".into()
            })
        );
        assert!(require_https_or_loopback_template("http://localhost/${env:P}").is_ok());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert!(matches!(
            require_https_or_loopback("http://crm.example.com/a"),
            Err(UrlError::PlainHttp { host, .. }) if host == "crm.example.com"
        ));
        assert!(matches!(
            require_https_or_loopback("ftp://x/"),
            Err(UrlError::Scheme { scheme, .. }) if scheme == "ftp"
        ));
        assert!(matches!(
            require_https_or_loopback("http://"),
            Err(UrlError::NoHost { .. })
        ));
        assert!(matches!(
            require_https_or_loopback("x/y"),
            Err(UrlError::NotAUrl { .. })
        ));
    }
}
