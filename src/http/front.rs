//! The fault front: a plain tokio TCP proxy in front of wiremock that adds the faults an HTTP
//! server library cannot produce.
//!
//! wiremock always answers with a whole response. Real networks also reset connections, cut
//! responses off mid-body and go silent. The mock's responder decides such a fault from the CRM
//! model and marks its (otherwise ordinary) response with the [`FAULT_HEADER`] header; this proxy
//! forwards every byte unchanged except marked responses, which it turns into the fault:
//!
//! - `reset`: the client's socket is closed with `SO_LINGER` 0, so the kernel sends a TCP RST;
//!   the client sees "connection reset" with no response at all.
//! - `close`: the status line, the headers (without the marker) and half of the body are written,
//!   then the connection is closed; the client sees a response that ends early.
//! - `silence`: the response is discarded and the connection left open until the client gives
//!   up (its timeout).
//!
//! The proxy frames HTTP/1.1 responses by `Content-Length` (wiremock always sends one), so
//! keep-alive connections carrying many requests work.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The response header through which the mock asks the front for a fault.
pub const FAULT_HEADER: &str = "x-cxsync-fault";

/// A fault the front applies to one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Reset,
    Close,
    Silence,
}

impl Fault {
    /// The marker header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Reset => "reset",
            Fault::Close => "close",
            Fault::Silence => "silence",
        }
    }

    fn parse(s: &str) -> Option<Fault> {
        match s.trim() {
            "reset" => Some(Fault::Reset),
            "close" => Some(Fault::Close),
            "silence" => Some(Fault::Silence),
            _ => None,
        }
    }
}

/// Serves `listener`, proxying every connection to `upstream`. Abort the handle to stop.
pub fn spawn(listener: TcpListener, upstream: SocketAddr) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                // EMFILE and friends: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            tokio::spawn(async move {
                let _ = client.set_nodelay(true);
                if let Ok(server) = TcpStream::connect(upstream).await {
                    let _ = server.set_nodelay(true);
                    proxy(client, server).await;
                }
            });
        }
    })
}

async fn proxy(client: TcpStream, server: TcpStream) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let mut upload = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut cr, &mut sw).await;
        let _ = sw.shutdown().await;
        cr
    });
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        // Forward every complete response in the buffer, faulting marked ones.
        while let Some(resp) = take_response(&mut buf) {
            match resp.fault {
                None => {
                    if cw.write_all(&resp.bytes).await.is_err() {
                        upload.abort();
                        return;
                    }
                }
                Some(Fault::Reset) => {
                    upload.abort();
                    if let Ok(cr) = (&mut upload).await {
                        reset(cr, cw);
                    }
                    return;
                }
                Some(Fault::Close) => {
                    let body = &resp.bytes[resp.raw_head_len..];
                    let mut partial = resp.head.clone();
                    partial.extend_from_slice(&body[..resp.body_len / 2]);
                    let _ = cw.write_all(&partial).await;
                    let _ = cw.flush().await;
                    upload.abort();
                    // Closing without linger after a partial write: the client reads EOF in the
                    // middle of the body.
                    drop(cw);
                    return;
                }
                Some(Fault::Silence) => {
                    // Hold the connection until the client gives up and closes it.
                    let _ = (&mut upload).await;
                    return;
                }
            }
        }
        match sr.read(&mut chunk).await {
            Ok(0) | Err(_) => {
                let _ = cw.write_all(&buf).await;
                upload.abort();
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Closes the client connection with a TCP RST.
fn reset(cr: tokio::net::tcp::OwnedReadHalf, cw: tokio::net::tcp::OwnedWriteHalf) {
    if let Ok(stream) = cr.reunite(cw) {
        // Deprecated because a non-zero linger blocks the thread on drop; a zero linger does not
        // block: the kernel discards the socket at once and sends RST, which is the point.
        #[allow(deprecated)]
        let _ = stream.set_linger(Some(Duration::ZERO));
        drop(stream);
    }
}

struct Framed {
    /// The whole response as received.
    bytes: Vec<u8>,
    /// The head as it should be sent (marker removed).
    head: Vec<u8>,
    raw_head_len: usize,
    body_len: usize,
    fault: Option<Fault>,
}

/// Removes one complete HTTP/1.1 response from the front of `buf`, if there is one.
fn take_response(buf: &mut Vec<u8>) -> Option<Framed> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head_text = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut body_len = 0usize;
    let mut fault = None;
    let mut head = String::with_capacity(head_text.len());
    for (i, line) in head_text.split("\r\n").enumerate() {
        if line.is_empty() {
            continue;
        }
        if i > 0 {
            if let Some((name, value)) = line.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    body_len = value.trim().parse().unwrap_or(0);
                }
                if name.trim().eq_ignore_ascii_case(FAULT_HEADER) {
                    fault = Fault::parse(value);
                    continue;
                }
            }
        }
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    if buf.len() < end + body_len {
        return None;
    }
    let bytes: Vec<u8> = buf.drain(..end + body_len).collect();
    Some(Framed {
        bytes,
        head: head.into_bytes(),
        raw_head_len: end,
        body_len,
        fault,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_keep_alive_responses_by_content_length_and_strips_the_marker() {
        let mut buf = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 503 Service Unavailable\r\nx-cxsync-fault: close\r\ncontent-length: 4\r\n\r\nab".to_vec();
        let first = take_response(&mut buf).unwrap();
        assert_eq!(first.fault, None);
        assert_eq!(
            first.bytes,
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
        );
        assert!(
            take_response(&mut buf).is_none(),
            "the second body is incomplete"
        );
        buf.extend_from_slice(b"cd");
        let second = take_response(&mut buf).unwrap();
        assert_eq!(second.fault, Some(Fault::Close));
        assert!(!String::from_utf8_lossy(&second.head).contains("x-cxsync"));
        assert_eq!(second.body_len, 4);
        assert!(buf.is_empty());
    }
}
