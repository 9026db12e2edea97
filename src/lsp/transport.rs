//! The stdio transport of `cxsync lsp`: the base protocol's framing (`Content-Length` headers,
//! then the JSON-RPC message), read with limits.
//!
//! `lsp-server`'s own stdio reader allocates whatever `Content-Length` says before reading a
//! byte of the body, and reads a header line of any length: `Content-Length: 99999999999` made
//! the server ask for 100 GB and abort (tester #167). This reader refuses a message over
//! [`MAX_MESSAGE_BYTES`] from its header alone, and a header over [`MAX_HEADER_BYTES`], and
//! allocates a body only once its length is known to be within the limit. The messages are
//! `lsp-server`'s, so the server loop is the same over this transport and `Connection::memory`.

use std::io::{self, BufRead, Read, Write};
use std::sync::{Arc, Mutex};
use std::thread;

use crossbeam_channel::bounded;
use lsp_server::{Connection, Message};

/// The largest message read, in bytes (64 MiB): a spec, transform or fixture is at most 8 MiB
/// (the loader's limit), and a message carries one document's text, JSON-escaped.
pub const MAX_MESSAGE_BYTES: u64 = 64 * 1024 * 1024;

/// The largest header part of one message (all its header lines), in bytes.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// Why the reader stopped reading the client.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A `Content-Length` over the limit: the message is not read.
    #[error(
        "a message of {declared} bytes (its Content-Length) is over the limit of \
         {MAX_MESSAGE_BYTES} bytes (64 MiB); the message was not read"
    )]
    TooLarge { declared: String },
    /// Headers longer than [`MAX_HEADER_BYTES`].
    #[error("a message's headers are longer than the limit of {MAX_HEADER_BYTES} bytes; they were not read")]
    HeadersTooLong,
    /// A header that is not `Name: value` ended by `\r\n`, or a `Content-Length` that is no
    /// number.
    #[error("malformed header: {0}")]
    Malformed(String),
    /// Headers without `Content-Length`.
    #[error("a message without a Content-Length header")]
    NoLength,
    /// A body that is not a JSON-RPC message.
    #[error("a message that is not JSON-RPC: {0}")]
    NotJson(serde_json::Error),
    /// The input ended inside a message, or could not be read.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl ReadError {
    /// Whether the client sent more than cxsync takes (a tool error, exit 2), rather than bytes
    /// that are not LSP.
    pub fn is_limit(&self) -> bool {
        matches!(self, ReadError::TooLarge { .. } | ReadError::HeadersTooLong)
    }
}

/// Reads one message; `None` at the end of the input between messages.
pub fn read_message(r: &mut impl BufRead) -> Result<Option<Message>, ReadError> {
    let mut length: Option<u64> = None;
    let mut header_bytes = 0usize;
    let mut first = true;
    loop {
        let mut line = Vec::new();
        let budget = MAX_HEADER_BYTES.saturating_sub(header_bytes);
        let n = r
            .by_ref()
            .take(budget as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            if first {
                return Ok(None);
            }
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
        }
        first = false;
        header_bytes += n;
        if header_bytes > MAX_HEADER_BYTES {
            return Err(ReadError::HeadersTooLong);
        }
        let Some(text) = line.strip_suffix(b"\r\n") else {
            return Err(ReadError::Malformed(shown(&line)));
        };
        if text.is_empty() {
            break;
        }
        let text = std::str::from_utf8(text).map_err(|_| ReadError::Malformed(shown(&line)))?;
        let (name, value) = text
            .split_once(": ")
            .ok_or_else(|| ReadError::Malformed(shown(&line)))?;
        if name.eq_ignore_ascii_case("Content-Length") {
            let value = value.trim();
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ReadError::Malformed(shown(&line)));
            }
            // Digits past u64 are a length past the limit too.
            match value.parse::<u64>() {
                Ok(n) if n <= MAX_MESSAGE_BYTES => length = Some(n),
                _ => {
                    return Err(ReadError::TooLarge {
                        declared: value.to_string(),
                    })
                }
            }
        }
    }
    let length = length.ok_or(ReadError::NoLength)?;
    // Grown as bytes arrive (a length the client never sends costs nothing), and `take` stops
    // at the declared length, which is within the limit.
    let mut body = Vec::new();
    r.by_ref().take(length).read_to_end(&mut body)?;
    if (body.len() as u64) < length {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
    }
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(ReadError::NotJson)
}

/// A header line as printed: escaped, and cut after 80 characters.
fn shown(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let cut: String = text.chars().take(80).collect();
    let more = if text.chars().count() > 80 { "…" } else { "" };
    format!("{:?}{more}", cut)
}

/// The transport's threads: the reader of stdin and the writer of stdout.
pub struct IoThreads {
    reader: thread::JoinHandle<Result<(), ReadError>>,
    writer: thread::JoinHandle<io::Result<()>>,
    /// Why the reader stopped (and whether on a limit), once it has: readable without waiting
    /// for it.
    stopped: Arc<Mutex<Option<(bool, String)>>>,
}

impl IoThreads {
    /// Why the reader stopped, if it has, without waiting for it: whether on a limit
    /// ([`ReadError::is_limit`]), and the reason.
    pub fn stopped(&self) -> Option<(bool, String)> {
        self.stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits for everything written to reach stdout, without waiting for the reader.
    pub fn finish_writing(self) -> io::Result<()> {
        self.writer.join().unwrap_or(Ok(()))
    }

    /// Waits for both threads; the reader's error first.
    pub fn join(self) -> Result<(), ReadError> {
        let read = self.reader.join().unwrap_or(Ok(()));
        let written = self.writer.join().unwrap_or(Ok(()));
        read?;
        written.map_err(ReadError::Io)
    }
}

/// A connection over stdin and stdout, read by [`read_message`].
pub fn stdio() -> (Connection, IoThreads) {
    let (writer_tx, writer_rx) = bounded::<Message>(0);
    let writer = thread::Builder::new()
        .name("LspServerWriter".to_owned())
        .spawn(move || {
            let stdout = io::stdout();
            let mut stdout = stdout.lock();
            for msg in writer_rx {
                msg.write(&mut stdout)?;
            }
            stdout.flush()
        })
        .expect("the writer thread starts");
    let (reader_tx, reader_rx) = bounded::<Message>(0);
    let stopped = Arc::new(Mutex::new(None));
    let reader = {
        let stopped = stopped.clone();
        thread::Builder::new()
            .name("LspServerReader".to_owned())
            .spawn(move || {
                let stdin = io::stdin();
                let mut stdin = stdin.lock();
                let result = (|| -> Result<(), ReadError> {
                    loop {
                        let Some(msg) = read_message(&mut stdin)? else {
                            return Ok(());
                        };
                        let is_exit =
                            matches!(&msg, Message::Notification(n) if n.method == "exit");
                        if reader_tx.send(msg).is_err() || is_exit {
                            return Ok(());
                        }
                    }
                })();
                if let Err(e) = &result {
                    // Recorded before the sender is dropped, so the server loop, which sees the
                    // channel close, finds why.
                    *stopped.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some((e.is_limit(), e.to_string()));
                }
                drop(reader_tx);
                result
            })
            .expect("the reader thread starts")
    };
    let conn = Connection {
        sender: writer_tx,
        receiver: reader_rx,
    };
    (
        conn,
        IoThreads {
            reader,
            writer,
            stopped,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Option<Message>, ReadError> {
        read_message(&mut io::BufReader::new(bytes))
    }

    #[test]
    fn a_message_reads_and_the_end_between_messages_is_none() {
        let body = br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#;
        let mut framed = format!(
            "Content-Length: {}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n",
            body.len()
        )
        .into_bytes();
        framed.extend_from_slice(body);
        let mut r = io::BufReader::new(&framed[..]);
        assert!(matches!(
            read_message(&mut r).unwrap(),
            Some(Message::Notification(n)) if n.method == "initialized"
        ));
        assert!(read_message(&mut r).unwrap().is_none());
    }

    #[test]
    fn a_length_over_the_limit_is_refused_before_anything_is_allocated() {
        for declared in ["99999999999", "67108865", "184467440737095516160000"] {
            let e = read(format!("Content-Length: {declared}\r\n\r\n{{}}").as_bytes()).unwrap_err();
            assert!(e.is_limit(), "{declared}: {e}");
            assert!(e.to_string().contains(declared), "{e}");
        }
        let at_limit = format!("Content-Length: {MAX_MESSAGE_BYTES}\r\n\r\n{{}}");
        assert!(matches!(read(at_limit.as_bytes()), Err(ReadError::Io(_))));
    }

    #[test]
    fn long_or_malformed_headers_end_the_session_with_why() {
        let long = format!("X-Junk: {}\r\n", "a".repeat(MAX_HEADER_BYTES));
        assert!(matches!(
            read(long.as_bytes()),
            Err(ReadError::HeadersTooLong)
        ));
        let many = "X: y\r\n".repeat(MAX_HEADER_BYTES / 6 + 1);
        assert!(matches!(
            read(many.as_bytes()),
            Err(ReadError::HeadersTooLong)
        ));
        for bad in [
            "Content-Length: -1\r\n\r\n",
            "Content-Length: 1e3\r\n\r\n",
            "Content-Length 10\r\n\r\n",
            "Content-Length: 10\n\n",
        ] {
            assert!(
                matches!(read(bad.as_bytes()), Err(ReadError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(read(b"X: y\r\n\r\n"), Err(ReadError::NoLength)));
        assert!(matches!(
            read(b"Content-Length: 10\r\n\r\nnot json!!"),
            Err(ReadError::NotJson(_))
        ));
        assert!(matches!(
            read(b"Content-Length: 10\r\n\r\n{}"),
            Err(ReadError::Io(_))
        ));
    }
}
