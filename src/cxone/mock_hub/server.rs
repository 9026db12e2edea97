//! The mock hub on a socket: hyper 1 over tokio, one task per connection, and [`spawn`] for tests
//! (a background thread with its own runtime, stopped when the [`Handle`] drops).

use std::net::SocketAddr;

use super::{error, Config, Hub};

/// The service error that makes hyper close a connection without answering (an injected drop,
/// or a response that cannot be built).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped")
    }
}

impl std::error::Error for Dropped {}

/// Largest request body accepted.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Serves `hub` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    hub: Hub,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use http_body_util::{BodyExt, Full, Limited};
    use hyper::body::Bytes;

    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(_) => continue,
            },
        };
        let hub = hub.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let hub = hub.clone();
                    async move {
                        let method = req.method().as_str().to_string();
                        let path = req.uri().path().to_string();
                        let query = req.uri().query().unwrap_or("").to_string();
                        let auth = req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string);
                        let r = match Limited::new(req.into_body(), MAX_BODY).collect().await {
                            Ok(b) => {
                                hub.handle(&method, &path, &query, auth.as_deref(), &b.to_bytes())
                            }
                            Err(_) => error(413, "request body too large"),
                        };
                        if r.drop {
                            // A service error makes hyper close the connection unanswered.
                            return Err(Dropped);
                        }
                        let mut resp = hyper::Response::builder().status(r.status);
                        for (k, v) in &r.headers {
                            resp = resp.header(*k, v.as_str());
                        }
                        let bytes = if r.body.is_null() {
                            Bytes::new()
                        } else {
                            resp = resp.header("content-type", "application/json");
                            Bytes::from(serde_json::to_vec(&r.body).unwrap_or_default())
                        };
                        resp.body(Full::new(bytes)).map_err(|_| Dropped)
                    }
                });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, svc)
                .await;
        });
    }
}

/// A mock hub running on its own thread; stops when dropped.
pub struct Handle {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The hub, for inspecting state and adding faults in tests.
    pub hub: Hub,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Handle {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a mock hub on `127.0.0.1:port` (0 for any) on a background thread.
pub fn spawn(config: Config, port: u16) -> std::io::Result<Handle> {
    let std_listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let hub = Hub::new(config, &format!("http://{addr}"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let h = hub.clone();
    let thread = std::thread::Builder::new()
        .name("mock-hub".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(_) => return,
            };
            rt.block_on(async move {
                if let Ok(l) = tokio::net::TcpListener::from_std(std_listener) {
                    serve(l, h, async {
                        let _ = rx.await;
                    })
                    .await;
                }
            });
        })?;
    Ok(Handle {
        addr,
        hub,
        stop: Some(tx),
        thread: Some(thread),
    })
}
