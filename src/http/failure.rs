//! What a request that got no HTTP response means, read from reqwest's error chain: the one
//! classification for CRM requests, token requests and `dlq replay`. A certificate the client
//! rejects (TLS is always verified) is a TLS failure with its reason, not "connection refused"
//! (tester #114); a name that does not resolve is said as such.

use crate::delivery::inputs::TlsProblem;
use crate::delivery::Failure;

/// The failure of a request that got no response; `None` when it timed out (the machine's
/// own timeout decides what that means).
pub fn classify(e: &reqwest::Error) -> Option<Failure> {
    if e.is_timeout() {
        return None;
    }
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = src {
        // tokio-rustls hands the handshake's error over inside an io::Error (hyper-rustls wraps
        // that in another), whose `source` skips what it holds: look inside each.
        let mut inner: &(dyn std::error::Error + 'static) = err;
        loop {
            if let Some(t) = inner.downcast_ref::<rustls::Error>() {
                return Some(Failure::Tls(tls_problem(t)));
            }
            match inner
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
            {
                Some(held) => inner = held,
                None => break,
            }
        }
        // hyper-util's connector names a failed lookup so (its `ConnectError`).
        if err.to_string().starts_with("dns error") {
            return Some(Failure::Unresolved);
        }
        src = err.source();
    }
    Some(if e.is_connect() {
        Failure::Refused
    } else {
        Failure::Reset
    })
}

fn tls_problem(e: &rustls::Error) -> TlsProblem {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => TlsProblem::UnknownIssuer,
            C::NotValidForName | C::NotValidForNameContext { .. } => TlsProblem::WrongName,
            C::Expired | C::ExpiredContext { .. } => TlsProblem::Expired,
            C::NotValidYet | C::NotValidYetContext { .. } => TlsProblem::NotYetValid,
            C::Revoked => TlsProblem::Revoked,
            // webpki's reason, which rustls passes on as text only.
            C::Other(o) if o.to_string().contains("CaUsedAsEndEntity") => TlsProblem::CaAsServer,
            _ => TlsProblem::BadCertificate,
        },
        _ => TlsProblem::Handshake,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::Arc;

    /// A loopback server on a fresh port that serves each connection with `serve`, in a thread.
    fn server(serve: impl Fn(std::net::TcpStream) + Send + 'static) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                serve(s);
            }
        });
        port
    }

    /// TLS with the repository's self-signed certificate for 127.0.0.1 and `localhost`
    /// (`fixtures/tls/`, valid 2000–2100).
    fn self_signed_tls() -> u16 {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tls/");
        let cert = CertificateDer::from_pem_file(format!("{dir}self-signed.cert.pem")).unwrap();
        let key = PrivateKeyDer::from_pem_file(format!("{dir}self-signed.key.pem")).unwrap();
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap(),
        );
        server(move |tcp| {
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            // The client aborts the handshake; this read ends with its alert.
            let _ = tls.read(&mut [0u8; 64]);
        })
    }

    async fn failure_of(url: &str) -> Option<Failure> {
        let client = super::super::http_client(1).unwrap();
        let e = client
            .post(url)
            .timeout(std::time::Duration::from_secs(20))
            .body("{}")
            .send()
            .await
            .expect_err("no request may succeed");
        classify(&e)
    }

    #[tokio::test]
    async fn each_failure_is_named_for_what_went_wrong() {
        let tls = self_signed_tls();
        // A plain-HTTP server where https:// was asked for.
        let plain = server(|mut s| {
            let _ = s.read(&mut [0u8; 512]);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        });
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        for (url, want) in [
            (
                format!("https://127.0.0.1:{tls}/crm"),
                Failure::Tls(TlsProblem::UnknownIssuer),
            ),
            (
                format!("https://localhost:{tls}/crm"),
                Failure::Tls(TlsProblem::UnknownIssuer),
            ),
            (
                format!("https://127.0.0.1:{plain}/crm"),
                Failure::Tls(TlsProblem::Handshake),
            ),
            (format!("http://127.0.0.1:{closed}/crm"), Failure::Refused),
            (
                "https://cxsync-test.invalid/crm".to_string(),
                Failure::Unresolved,
            ),
        ] {
            assert_eq!(failure_of(&url).await, Some(want), "{url}");
        }
        let said = Failure::Tls(TlsProblem::UnknownIssuer).as_str();
        assert!(
            said.starts_with("the server's TLS certificate was rejected: "),
            "{said}"
        );
    }
}
