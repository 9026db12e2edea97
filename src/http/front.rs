//! The fault front: a plain tokio TCP proxy in front of wiremock that adds the faults an HTTP
//! server library cannot produce, and reads every request before wiremock does.
//!
//! wiremock always answers with a whole response. Real networks also reset connections, cut
//! responses off mid-body and go silent. The mock's responder decides such a fault from the CRM
//! model and marks its (otherwise ordinary) response with the [`FAULT_HEADER`] header; this proxy
//! forwards every response unchanged except marked ones, which it turns into the fault:
//!
//! - `reset`: the client's socket is closed with `SO_LINGER` 0, so the kernel sends a TCP RST;
//!   the client sees "connection reset" with no response at all.
//! - `close`: the status line, the headers (without the marker) and half of the body are written,
//!   then the connection is closed; the client sees a response that ends early.
//! - `silence`: the response is discarded and the connection left open until the client gives
//!   up (its timeout).
//!
//! wiremock reads a request's body whole into memory, whatever its length, and panics on a body
//! that ends before its `Content-Length` (tester #168). So the front frames each request itself
//! ([`read_request`]) and hands wiremock only whole requests of bounded size, re-framed with a
//! `Content-Length` (a chunked body is decoded):
//!
//! - a body longer than the [`Limits`] is not read whole. To the CRM path the front forwards its
//!   first `max_body + 1` bytes, so the CRM model answers exactly what it answers in virtual
//!   time for a body over its limit (413, or whatever it decides first: a throttle, a window),
//!   then closes the connection; other paths, and bodies over [`MAX_BODY_BYTES`], get the
//!   front's own 413 at once;
//! - a body that ends early, a body that stalls for [`BODY_IDLE`], a malformed head or a head
//!   over [`MAX_HEAD_BYTES`] get the front's own 400, 408 or 431, and the connection is closed.
//!
//! The front's own answers are counted in [`Refusals`]. It frames HTTP/1.1 responses by
//! `Content-Length` (wiremock always sends one), so keep-alive connections carrying many requests
//! work; requests on one connection are handled one at a time, in order.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The response header through which the mock asks the front for a fault.
pub const FAULT_HEADER: &str = "x-cxsync-fault";

/// The most body bytes the front holds for one request (128 MiB, the largest payload limit of
/// a CRM profile, Dynamics'): a scenario's `maxBodyBytes` above it is judged over HTTP only up
/// to here, and a larger body gets the front's 413.
pub const MAX_BODY_BYTES: u64 = 128 * 1024 * 1024;

/// The most bytes of a request's head (request line and headers).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How long a body may send nothing before the front gives up on it (408).
pub const BODY_IDLE: Duration = Duration::from_secs(30);

/// How long the front keeps reading (and discarding) what a client still sends after the front
/// answered a request it did not read whole, before it closes: closing at once would reset the
/// connection under the answer, and the client would see a reset instead of the 413.
const LINGER: Duration = Duration::from_secs(2);

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

/// How much of a request's body the front takes.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The path of CRM writes, whose oversized bodies the CRM model judges.
    pub crm_path: String,
    /// The CRM model's payload limit (its 413 threshold); also the limit of the other paths.
    pub max_body: u64,
}

/// Requests the front answered itself, unread or unfinished.
#[derive(Debug, Default)]
pub struct Refusals {
    /// A body over the limit (413 from the front, or cut before the CRM model's 413).
    pub too_large: AtomicU64,
    /// A body that ended before its length, or stalled (400, 408).
    pub incomplete: AtomicU64,
    /// A head that is not HTTP/1.1, or too long (400, 431, 501).
    pub malformed: AtomicU64,
}

impl Refusals {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.too_large.load(Ordering::Relaxed)
            + self.incomplete.load(Ordering::Relaxed)
            + self.malformed.load(Ordering::Relaxed)
    }
}

/// Serves `listener`, proxying every connection to `upstream`. Abort the handle to stop.
pub fn spawn(
    listener: TcpListener,
    upstream: SocketAddr,
    limits: Limits,
    refusals: Arc<Refusals>,
) -> JoinHandle<()> {
    let limits = Arc::new(limits);
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                // EMFILE and friends: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            let (limits, refusals) = (limits.clone(), refusals.clone());
            tokio::spawn(async move {
                let _ = client.set_nodelay(true);
                if let Ok(server) = TcpStream::connect(upstream).await {
                    let _ = server.set_nodelay(true);
                    proxy(client, server, &limits, &refusals).await;
                }
            });
        }
    })
}

async fn proxy(mut client: TcpStream, mut server: TcpStream, limits: &Limits, refusals: &Refusals) {
    let mut inbound: Vec<u8> = Vec::with_capacity(8192);
    let mut outbound: Vec<u8> = Vec::with_capacity(8192);
    loop {
        let req = match read_request(&mut client, &mut inbound, limits).await {
            Ok(Inbound::Forward(req)) => req,
            Ok(Inbound::End) | Err(_) => return,
            Ok(Inbound::Refuse(refusal)) => {
                refusal.count(refusals);
                let _ = client.write_all(&refusal.response()).await;
                linger_close(client).await;
                return;
            }
        };
        if req.cut {
            refusals.too_large.fetch_add(1, Ordering::Relaxed);
        }
        if server.write_all(&req.bytes).await.is_err() {
            return;
        }
        drop(req.bytes);
        let resp = loop {
            if let Some(resp) = take_response(&mut outbound, req.head_only) {
                break resp;
            }
            let mut chunk = [0u8; 16 * 1024];
            match server.read(&mut chunk).await {
                Ok(0) | Err(_) => {
                    let _ = client.write_all(&outbound).await;
                    return;
                }
                Ok(n) => outbound.extend_from_slice(&chunk[..n]),
            }
        };
        match resp.fault {
            None if req.cut => {
                // The rest of the body is unread: the connection cannot carry another request.
                let mut head = resp.head.clone();
                head.truncate(head.len() - 2);
                head.extend_from_slice(b"connection: close\r\n\r\n");
                head.extend_from_slice(&resp.bytes[resp.raw_head_len..]);
                let _ = client.write_all(&head).await;
                linger_close(client).await;
                return;
            }
            None => {
                if client.write_all(&resp.bytes).await.is_err() {
                    return;
                }
            }
            Some(Fault::Reset) => {
                reset(client);
                return;
            }
            Some(Fault::Close) => {
                let body = &resp.bytes[resp.raw_head_len..];
                let mut partial = resp.head.clone();
                partial.extend_from_slice(&body[..resp.body_len / 2]);
                let _ = client.write_all(&partial).await;
                let _ = client.flush().await;
                // Closing without linger after a partial write: the client reads EOF in the
                // middle of the body.
                drop(client);
                return;
            }
            Some(Fault::Silence) => {
                // Hold the connection until the client gives up and closes it.
                discard(&mut client, None).await;
                return;
            }
        }
        if req.close {
            return;
        }
    }
}

/// Reads and drops what the client sends until it closes (or `limit` passes).
async fn discard(client: &mut TcpStream, limit: Option<Duration>) {
    let drain = async {
        let mut sink = [0u8; 16 * 1024];
        while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
    };
    match limit {
        Some(d) => {
            let _ = tokio::time::timeout(d, drain).await;
        }
        None => drain.await,
    }
}

/// Ends the sending side, reads what the client still sends for a while, and closes.
async fn linger_close(mut client: TcpStream) {
    let _ = client.flush().await;
    let _ = client.shutdown().await;
    discard(&mut client, Some(LINGER)).await;
}

/// Closes the client connection with a TCP RST.
fn reset(stream: TcpStream) {
    // Deprecated because a non-zero linger blocks the thread on drop; a zero linger does not
    // block: the kernel discards the socket at once and sends RST, which is the point.
    #[allow(deprecated)]
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// One request as the front read it.
enum Inbound {
    /// A whole request to hand wiremock.
    Forward(Forward),
    /// A request the front answers itself, then closes the connection.
    Refuse(Refusal),
    /// The client closed the connection between requests.
    End,
}

struct Forward {
    /// The head (framing headers replaced by one `content-length`) and the body.
    bytes: Vec<u8>,
    /// A `HEAD` request: its response has no body whatever its `Content-Length`.
    head_only: bool,
    /// The body was cut at the CRM model's limit: close after the answer.
    cut: bool,
    /// The client asked to close after this request.
    close: bool,
}

#[derive(Debug, PartialEq, Eq)]
struct Refusal {
    status: u16,
    error: &'static str,
    message: String,
}

impl Refusal {
    fn inbound(status: u16, error: &'static str, message: impl Into<String>) -> Inbound {
        Inbound::Refuse(Refusal {
            status,
            error,
            message: message.into(),
        })
    }

    fn count(&self, r: &Refusals) {
        let counter = match self.status {
            413 => &r.too_large,
            400 if self.error == "incomplete_body" => &r.incomplete,
            408 => &r.incomplete,
            _ => &r.malformed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn response(&self) -> Vec<u8> {
        let reason = match self.status {
            400 => "Bad Request",
            408 => "Request Timeout",
            413 => "Content Too Large",
            431 => "Request Header Fields Too Large",
            _ => "Not Implemented",
        };
        let body = serde_json::json!({"error": self.error, "message": self.message}).to_string();
        format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            self.status,
            body.len()
        )
        .into_bytes()
    }
}

/// How a request's body is framed.
enum Framing {
    Length(u64),
    Chunked,
}

/// Reads more of the client's bytes into `buf`; `Ok(0)` at its end. Waits at most
/// [`BODY_IDLE`] when `idle` (inside a body).
async fn fill(client: &mut TcpStream, buf: &mut Vec<u8>, idle: bool) -> std::io::Result<usize> {
    let mut chunk = [0u8; 16 * 1024];
    let n = if idle {
        match tokio::time::timeout(BODY_IDLE, client.read(&mut chunk)).await {
            Ok(r) => r?,
            Err(_) => return Err(std::io::ErrorKind::TimedOut.into()),
        }
    } else {
        client.read(&mut chunk).await?
    };
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Reads one request from the client (`buf` holds bytes already read past the last one).
async fn read_request(
    client: &mut TcpStream,
    buf: &mut Vec<u8>,
    limits: &Limits,
) -> std::io::Result<Inbound> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Ok(Refusal::inbound(
                431,
                "request_header_fields_too_large",
                format!("the request line and headers are over {MAX_HEAD_BYTES} bytes"),
            ));
        }
        if fill(client, buf, false).await? == 0 {
            // Closed between requests, or inside a head: nothing to answer.
            return Ok(Inbound::End);
        }
    };
    if head_end > MAX_HEAD_BYTES {
        return Ok(Refusal::inbound(
            431,
            "request_header_fields_too_large",
            format!("the request line and headers are over {MAX_HEAD_BYTES} bytes"),
        ));
    }
    let head = match parse_head(&buf[..head_end]) {
        Ok(h) => h,
        Err(refusal) => return Ok(refusal),
    };
    buf.drain(..head_end);
    // Held whole: a body within the limit (and within the front's own).
    let hold = limits.max_body.min(MAX_BODY_BYTES);
    // For the CRM path, a longer body is held up to one byte past the model's limit, so the
    // model sees a body over its limit and answers as in virtual time.
    let crm = head.path == limits.crm_path;
    let cut_at = (crm && limits.max_body < MAX_BODY_BYTES).then_some(limits.max_body + 1);
    let too_large = |n: String| {
        Refusal::inbound(
            413,
            "request_entity_too_large",
            format!("the body is {n} bytes; at most {hold} are accepted"),
        )
    };
    if head.expect_continue {
        if let Framing::Length(n) = head.framing {
            if n > hold && cut_at.is_none() {
                return Ok(too_large(n.to_string()));
            }
        }
        client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    let (body, cut) = match head.framing {
        Framing::Length(n) => {
            if n > hold && cut_at.is_none() {
                return Ok(too_large(n.to_string()));
            }
            let want = cut_at.map_or(n, |c| n.min(c));
            while (buf.len() as u64) < want {
                match fill(client, buf, true).await {
                    Ok(0) => {
                        return Ok(Refusal::inbound(
                            400,
                            "incomplete_body",
                            format!(
                                "the body ended after {} of its {n} bytes (Content-Length)",
                                buf.len()
                            ),
                        ))
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                        return Ok(Refusal::inbound(
                            408,
                            "request_timeout",
                            format!(
                                "the body sent nothing for {} s after {} of its {n} bytes",
                                BODY_IDLE.as_secs(),
                                buf.len()
                            ),
                        ))
                    }
                    Err(e) => return Err(e),
                }
            }
            let body: Vec<u8> = buf.drain(..want as usize).collect();
            (body, want < n)
        }
        Framing::Chunked => match read_chunked(client, buf, cut_at.unwrap_or(hold + 1)).await? {
            Chunked::Whole(body) if body.len() as u64 > hold && cut_at.is_none() => {
                return Ok(too_large(format!("more than {hold}")))
            }
            Chunked::Whole(body) => (body, false),
            Chunked::Cut(_) if cut_at.is_none() => {
                return Ok(too_large(format!("more than {hold}")))
            }
            Chunked::Cut(body) => (body, true),
            Chunked::Refused(r) => return Ok(r),
        },
    };
    let mut bytes = head.forwarded;
    bytes.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    bytes.extend_from_slice(&body);
    Ok(Inbound::Forward(Forward {
        bytes,
        head_only: head.head_only,
        cut,
        close: head.close,
    }))
}

/// A chunked body as read.
enum Chunked {
    Whole(Vec<u8>),
    /// Its first `cap` bytes: there is more.
    Cut(Vec<u8>),
    Refused(Inbound),
}

/// Decodes a chunked body, holding at most `cap` bytes of it.
async fn read_chunked(
    client: &mut TcpStream,
    buf: &mut Vec<u8>,
    cap: u64,
) -> std::io::Result<Chunked> {
    let incomplete = |why: &str| {
        Chunked::Refused(Refusal::inbound(
            400,
            "incomplete_body",
            format!("the chunked body {why}"),
        ))
    };
    let mut body = Vec::new();
    loop {
        // The chunk-size line.
        let line_end = loop {
            if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            if buf.len() > 1024 {
                return Ok(Chunked::Refused(Refusal::inbound(
                    400,
                    "bad_chunk",
                    "a chunk-size line over 1024 bytes",
                )));
            }
            match fill(client, buf, true).await {
                Ok(0) => return Ok(incomplete("ended inside a chunk-size line")),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    return Ok(incomplete("stalled"))
                }
                Err(e) => return Err(e),
            }
        };
        let line = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size_text = line.split(';').next().unwrap_or("").trim();
        let Ok(size) = u64::from_str_radix(size_text, 16) else {
            return Ok(Chunked::Refused(Refusal::inbound(
                400,
                "bad_chunk",
                format!(
                    "chunk size {:?} is not hexadecimal",
                    size_text.chars().take(40).collect::<String>()
                ),
            )));
        };
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailers, up to the empty line; they are dropped.
            loop {
                if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                    buf.drain(..i + 2);
                    if i == 0 {
                        return Ok(Chunked::Whole(body));
                    }
                    continue;
                }
                if buf.len() > MAX_HEAD_BYTES {
                    return Ok(Chunked::Refused(Refusal::inbound(
                        431,
                        "request_header_fields_too_large",
                        "the trailers are too long",
                    )));
                }
                match fill(client, buf, true).await {
                    Ok(0) => return Ok(incomplete("ended inside its trailers")),
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                        return Ok(incomplete("stalled"))
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let room = cap.saturating_sub(body.len() as u64);
        let take = size.min(room);
        while (buf.len() as u64) < take {
            match fill(client, buf, true).await {
                Ok(0) => return Ok(incomplete("ended inside a chunk")),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    return Ok(incomplete("stalled"))
                }
                Err(e) => return Err(e),
            }
        }
        body.extend(buf.drain(..take as usize));
        if take < size {
            return Ok(Chunked::Cut(body));
        }
        while buf.len() < 2 {
            match fill(client, buf, true).await {
                Ok(0) => return Ok(incomplete("ended after a chunk")),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    return Ok(incomplete("stalled"))
                }
                Err(e) => return Err(e),
            }
        }
        if &buf[..2] != b"\r\n" {
            return Ok(Chunked::Refused(Refusal::inbound(
                400,
                "bad_chunk",
                "a chunk is longer than its size",
            )));
        }
        buf.drain(..2);
    }
}

/// A request head as the front forwards it.
struct Head {
    /// The request line and the headers but the framing ones, without the blank line.
    forwarded: Vec<u8>,
    path: String,
    framing: Framing,
    expect_continue: bool,
    head_only: bool,
    close: bool,
}

/// Reads a request head (up to and including its blank line).
fn parse_head(raw: &[u8]) -> Result<Head, Inbound> {
    let bad = |why: String| Refusal::inbound(400, "bad_request", why);
    let text = std::str::from_utf8(raw).map_err(|_| bad("the request head is not UTF-8".into()))?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(format!(
            "the request line {:?} is not `METHOD TARGET HTTP/1.1`",
            request_line.chars().take(80).collect::<String>()
        )));
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(bad(format!(
            "{:?} is not HTTP/1.1",
            version.chars().take(20).collect::<String>()
        )));
    }
    let path = target.split('?').next().unwrap_or("").to_string();
    let mut forwarded = format!("{request_line}\r\n");
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut expect_continue = false;
    let mut close = version == "HTTP/1.0";
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(format!(
                "the header line {:?} has no `:`",
                line.chars().take(80).collect::<String>()
            )));
        };
        let (name_lc, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name_lc.as_str() {
            "content-length" => {
                // Digits only; a repeat must agree (RFC 9110 §8.6). Digits past u64 are a
                // length past any limit.
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad(format!(
                        "Content-Length {:?} is not a number",
                        value.chars().take(40).collect::<String>()
                    )));
                }
                let n = value.parse::<u64>().unwrap_or(u64::MAX);
                if length.is_some_and(|l| l != n) {
                    return Err(bad("two Content-Length headers that disagree".into()));
                }
                length = Some(n);
                continue;
            }
            "transfer-encoding" => {
                let last = value.rsplit(',').next().unwrap_or("").trim();
                if !last.eq_ignore_ascii_case("chunked") {
                    return Err(Refusal::inbound(
                        501,
                        "not_implemented",
                        format!(
                            "Transfer-Encoding {:?}: only chunked is read",
                            value.chars().take(40).collect::<String>()
                        ),
                    ));
                }
                chunked = true;
                continue;
            }
            "expect" => {
                expect_continue = value.eq_ignore_ascii_case("100-continue");
                continue;
            }
            "connection" => {
                if value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("close"))
                {
                    close = true;
                } else if value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("keep-alive"))
                {
                    close = false;
                }
            }
            _ => {}
        }
        forwarded.push_str(line);
        forwarded.push_str("\r\n");
    }
    // Chunked wins over a Content-Length (RFC 9112 §6.3), which is then dropped.
    let framing = if chunked {
        Framing::Chunked
    } else {
        Framing::Length(length.unwrap_or(0))
    };
    Ok(Head {
        forwarded: forwarded.into_bytes(),
        path,
        framing,
        expect_continue,
        head_only: method == "HEAD",
        close,
    })
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

/// Removes one complete HTTP/1.1 response from the front of `buf`, if there is one (the answer
/// to a `HEAD` request, `head_only`, has no body).
fn take_response(buf: &mut Vec<u8>, head_only: bool) -> Option<Framed> {
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
                if name.trim().eq_ignore_ascii_case("content-length") && !head_only {
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
        let first = take_response(&mut buf, false).unwrap();
        assert_eq!(first.fault, None);
        assert_eq!(
            first.bytes,
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
        );
        assert!(
            take_response(&mut buf, false).is_none(),
            "the second body is incomplete"
        );
        buf.extend_from_slice(b"cd");
        let second = take_response(&mut buf, false).unwrap();
        assert_eq!(second.fault, Some(Fault::Close));
        assert!(!String::from_utf8_lossy(&second.head).contains("x-cxsync"));
        assert_eq!(second.body_len, 4);
        assert!(buf.is_empty());
    }

    fn refusal(raw: &str) -> Refusal {
        match parse_head(raw.as_bytes()) {
            Err(Inbound::Refuse(r)) => r,
            Err(_) => unreachable!(),
            Ok(_) => panic!("{raw:?} was taken"),
        }
    }

    #[test]
    fn heads_are_reframed_and_bad_framing_is_refused() {
        let h = parse_head(b"POST /crm?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n").ok().unwrap();
        assert_eq!(h.path, "/crm");
        assert!(matches!(h.framing, Framing::Length(5)));
        assert!(h.expect_continue && !h.close && !h.head_only);
        assert_eq!(h.forwarded, b"POST /crm?x=1 HTTP/1.1\r\nHost: a\r\n");
        let h = parse_head(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n").ok().unwrap();
        assert!(matches!(h.framing, Framing::Chunked) && h.close);
        let h = parse_head(b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n")
            .ok()
            .unwrap();
        assert!(matches!(h.framing, Framing::Length(u64::MAX)));
        for (raw, status) in [
            ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
            (
                "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                400,
            ),
            ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
            ("POST / HTTP/2\r\n\r\n", 400),
            ("GET\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nno colon\r\n\r\n", 400),
        ] {
            assert_eq!(refusal(raw).status, status, "{raw:?}");
        }
        assert!(matches!(
            parse_head(b"POST /\xff HTTP/1.1\r\n\r\n"),
            Err(Inbound::Refuse(Refusal { status: 400, .. }))
        ));
    }
}
