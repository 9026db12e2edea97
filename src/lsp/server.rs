//! The protocol loop: initialize (negotiating the position encoding), then one thread reads
//! messages, keeps the documents, and re-checks the specs they affect. A change is checked
//! [`DEBOUNCE`] after the last keystroke; any request first checks what is pending, so answers
//! and diagnostics always reflect the latest version. A panic inside a check or a request is
//! caught and reported to the client, and the server goes on.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use ls_types::{
    notification::{self as n, Notification as _},
    request::{self as r, Request as _},
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionProviderCapability, CodeDescription,
    CompletionOptions, DiagnosticSeverity, GotoDefinitionResponse, Hover, HoverContents,
    HoverProviderCapability, Location, MarkupContent, MarkupKind, NumberOrString, OneOf,
    PositionEncodingKind, PublishDiagnosticsParams, Range, ServerCapabilities, ServerInfo,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions,
    TextDocumentSyncSaveOptions, Uri, WorkspaceEdit,
};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};

use crate::diag::{Diagnostic, Severity};
use crate::lint::registry;

use super::check::looks_like_spec;
use super::overlay::normalize;
use super::place::is_jsonata;
use super::text::{apply_change, Encoding, Lines};
use super::world::World;
use super::{actions, complete, hover};

/// How long after the last change a document is checked.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// Folders a `.jsonata` file's specs are looked for in, at most this many YAML files.
const MAX_SCAN: usize = 2_000;

/// An open document.
#[derive(Debug)]
struct Doc {
    uri: Uri,
    version: i32,
}

struct Server {
    conn: Connection,
    world: World,
    docs: BTreeMap<PathBuf, Doc>,
    /// Specs to check, and when.
    due: BTreeMap<PathBuf, Instant>,
    /// Workspace folders, where the specs of an open `.jsonata` file are looked for.
    roots: Vec<PathBuf>,
    /// Files with diagnostics published, to clear them when they go.
    shown: BTreeSet<PathBuf>,
    /// Base of the rule docs `codeDescription` links to (a `docs/` folder URI).
    docs_base: Option<String>,
    /// Whether the client has sent `shutdown`.
    shut_down: bool,
    /// A message the client sent in place of `initialized`, handled first.
    early: Option<Message>,
}

/// Runs the server on stdin/stdout until the client says `exit` (or goes away). Returns whether
/// the client asked for a `shutdown` first: the protocol's exit code is 0 then, 1 otherwise.
pub fn run() -> anyhow::Result<bool> {
    let (conn, io) = super::transport::stdio();
    let served = serve(conn);
    // A message over the transport's limits ends the session as a tool error (exit 2) that says
    // so, whatever state the session was in (tester #167); so do bytes that stop being LSP
    // before the handshake is done (the reader's reason, not the handshake's "disconnected
    // channel"). What was answered before, `initialize`'s result, is written out first.
    if let Some((limit, why)) = io.stopped() {
        if limit || served.is_err() {
            let _ = io.finish_writing();
            anyhow::bail!("cxsync lsp stopped reading from the client: {why}");
        }
    }
    let clean = match served {
        Ok(clean) => clean,
        Err(e) => {
            let _ = io.finish_writing();
            return Err(e);
        }
    };
    // The client may close the pipes as soon as it has sent `exit`; that is no error of ours. A
    // session that ended without `shutdown` because the client's bytes were not LSP is worth a
    // line on stderr: the editor shows it in its log, where "exit code 1" alone says nothing.
    if let Err(e) = io.join() {
        if !clean {
            crate::errln!("cxsync lsp: stopped reading from the client: {e}");
        }
    }
    Ok(clean)
}

/// The server's capabilities for a negotiated encoding.
fn capabilities(enc: Encoding) -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(enc.kind()),
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                ..TextDocumentSyncOptions::default()
            },
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into(), "$".into(), "{".into(), ":".into()]),
            ..CompletionOptions::default()
        }),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    }
}

/// Serves one client over `conn`; returns whether it asked for a `shutdown` before leaving.
pub fn serve(conn: Connection) -> anyhow::Result<bool> {
    let Some((id, params)) = await_initialize(&conn)? else {
        // `exit` before `initialize`.
        return Ok(false);
    };
    // Read field by field: one malformed field (a URI with a raw space, say) must not cost the
    // session.
    let field = |pointer: &str| params.pointer(pointer).cloned().unwrap_or_default();
    let offered: Option<Vec<PositionEncodingKind>> =
        serde_json::from_value(field("/capabilities/general/positionEncodings")).ok();
    let enc = Encoding::negotiate(offered.as_deref());
    let result = serde_json::json!({
        "capabilities": capabilities(enc),
        "serverInfo": ServerInfo {
            name: "cxsync".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        },
    });
    conn.sender.send(Response::new_ok(id, result).into())?;
    // `initialized` ends the handshake. A client that races it (a document opened first) is
    // served as if it had sent it: lsp-server's `initialize_finish` ended the session there,
    // quoting the whole message, the document's text included, in the error (tester #204).
    let early = match conn.receiver.recv() {
        Ok(Message::Notification(not)) if not.method == n::Initialized::METHOD => None,
        Ok(other) => Some(other),
        Err(_) => anyhow::bail!("the client left before sending the `initialized` notification"),
    };
    let to_path = |v: &serde_json::Value| -> Option<PathBuf> {
        let u: Uri = v.as_str()?.parse().ok()?;
        file_path(&u)
    };
    let mut roots: Vec<PathBuf> = field("/workspaceFolders")
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| to_path(&f["uri"]))
        .collect();
    if roots.is_empty() {
        roots.extend(to_path(&field("/rootUri")));
    }
    let docs_base = field("/initializationOptions/docsUrl")
        .as_str()
        .map(|s| s.trim_end_matches('/').to_string())
        .or_else(default_docs_base);
    let mut server = Server {
        conn,
        world: World {
            enc,
            vars: std::env::vars().collect(),
            ..World::default()
        },
        docs: BTreeMap::new(),
        due: BTreeMap::new(),
        roots,
        shown: BTreeSet::new(),
        docs_base,
        shut_down: false,
        early,
    };
    server.main_loop()
}

/// Waits for the `initialize` request, as the protocol asks of a server: a request before it is
/// answered `ServerNotInitialized`, a notification dropped, `exit` ends the session (`None`).
/// An error names only a method, never a message's content.
fn await_initialize(
    conn: &Connection,
) -> anyhow::Result<Option<(lsp_server::RequestId, serde_json::Value)>> {
    loop {
        match conn.receiver.recv() {
            Ok(Message::Request(req)) if req.method == r::Initialize::METHOD => {
                return Ok(Some((req.id, req.params)))
            }
            Ok(Message::Request(req)) => {
                let message = format!(
                    "`{}` before `initialize`",
                    crate::diag::printable(&req.method)
                );
                let code = ErrorCode::ServerNotInitialized as i32;
                conn.sender
                    .send(Response::new_err(req.id, code, message).into())?;
            }
            Ok(Message::Notification(not)) if not.method == n::Exit::METHOD => return Ok(None),
            Ok(_) => {}
            Err(_) => anyhow::bail!(
                "expected an LSP client sending `initialize` on stdin (the input ended first); \
                 cxsync lsp is started by an editor, see docs/editor.md"
            ),
        }
    }
}

/// The `docs/` folder of the source tree cxsync was built from, when it is still there.
fn default_docs_base() -> Option<String> {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    docs.join("rules.md")
        .is_file()
        .then(|| Uri::from_file_path(&docs))
        .flatten()
        .map(|u| u.as_str().trim_end_matches('/').to_string())
}

impl Server {
    fn main_loop(&mut self) -> anyhow::Result<bool> {
        loop {
            let next = self.due.values().min().copied();
            let msg = match (self.early.take(), next) {
                (Some(m), _) => m,
                (None, None) => match self.conn.receiver.recv() {
                    Ok(m) => m,
                    Err(_) => return Ok(self.shut_down),
                },
                (None, Some(at)) => {
                    match self
                        .conn
                        .receiver
                        .recv_timeout(at.saturating_duration_since(Instant::now()))
                    {
                        Ok(m) => m,
                        Err(RecvTimeoutError::Timeout) => {
                            self.run_due(false);
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => return Ok(self.shut_down),
                    }
                }
            };
            match msg {
                Message::Request(req) => {
                    // After `shutdown` every request is refused until `exit` (a client may send
                    // `shutdown` twice: Neovim 0.7 does when it quits right after stopping).
                    if self.shut_down || req.method == r::Shutdown::METHOD {
                        let resp = if self.shut_down {
                            Response::new_err(
                                req.id,
                                ErrorCode::InvalidRequest as i32,
                                "the server is shutting down".into(),
                            )
                        } else {
                            Response::new_ok(req.id, ())
                        };
                        self.shut_down = true;
                        self.conn.sender.send(resp.into())?;
                        continue;
                    }
                    // Answers reflect the latest text.
                    self.run_due(true);
                    let id = req.id.clone();
                    let method = req.method.clone();
                    let resp = match catch_unwind(AssertUnwindSafe(|| self.request(req))) {
                        Ok(resp) => resp,
                        Err(_) => Response::new_err(
                            id,
                            ErrorCode::InternalError as i32,
                            format!("cxsync lsp: internal error answering {method}"),
                        ),
                    };
                    self.conn.sender.send(resp.into())?;
                }
                Message::Notification(not) => {
                    if not.method == n::Exit::METHOD {
                        return Ok(self.shut_down);
                    }
                    if catch_unwind(AssertUnwindSafe(|| self.notification(not))).is_err() {
                        self.log("cxsync lsp: internal error handling a notification");
                    }
                }
                Message::Response(_) => {}
            }
        }
    }

    fn log(&self, message: &str) {
        let params = ls_types::LogMessageParams {
            typ: ls_types::MessageType::ERROR,
            message: message.into(),
        };
        let _ = self
            .conn
            .sender
            .send(Notification::new(n::LogMessage::METHOD.into(), params).into());
    }

    /// Checks the specs whose time has come (all pending ones when `all`), then publishes.
    fn run_due(&mut self, all: bool) {
        let now = Instant::now();
        let ready: Vec<PathBuf> = self
            .due
            .iter()
            .filter(|(_, at)| all || **at <= now)
            .map(|(p, _)| p.clone())
            .collect();
        let mut touched = BTreeSet::new();
        for spec in ready {
            self.due.remove(&spec);
            match catch_unwind(AssertUnwindSafe(|| self.world.check(&spec))) {
                Ok(files) => touched.extend(files),
                Err(_) => self.log(&format!(
                    "cxsync lsp: internal error checking {}",
                    spec.display()
                )),
            }
        }
        self.publish(touched);
    }

    fn schedule(&mut self, spec: PathBuf, after: Duration) {
        let at = Instant::now() + after;
        self.due.insert(spec, at);
    }

    /// The specs to re-check when `file` changed: the file itself when it is a spec, every
    /// followed spec that reads it, and (for a `.jsonata` file nobody follows yet) the specs in
    /// the workspace that name it.
    fn affected(&mut self, file: &Path) -> Vec<PathBuf> {
        let mut out = self.world.specs_reading(file);
        let yaml = file.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if yaml
            && self.world.overlay.get(file).is_some_and(looks_like_spec)
            && !out.contains(&file.to_path_buf())
        {
            out.push(file.to_path_buf());
        }
        if is_jsonata(file) && out.is_empty() {
            out.extend(self.specs_naming(file));
        }
        out
    }

    /// YAML specs under the workspace folders (or the file's folder and its parent) whose text
    /// names `file`'s name.
    fn specs_naming(&self, file: &Path) -> Vec<PathBuf> {
        let Some(name) = file.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            return Vec::new();
        };
        let mut roots = self.roots.clone();
        if roots.is_empty() {
            roots.extend(file.parent().and_then(Path::parent).map(Path::to_path_buf));
        }
        let mut out = Vec::new();
        for path in crate::lint::spec_files(&roots).into_iter().take(MAX_SCAN) {
            let Some(text) = self.world.text(&path) else {
                continue;
            };
            if text.contains(&name) && looks_like_spec(&text) {
                let loaded =
                    crate::spec::load_from(&path, &Default::default(), &self.world.overlay);
                let reads = loaded
                    .sources
                    .iter()
                    .any(|(p, _)| normalize(p) == normalize(file));
                if reads {
                    out.push(normalize(&path));
                }
            }
        }
        out
    }

    fn notification(&mut self, not: Notification) {
        let params = not.params;
        match not.method.as_str() {
            n::DidOpenTextDocument::METHOD => self.on_file(params, Self::did_open),
            n::DidChangeTextDocument::METHOD => self.on_file(params, Self::did_change),
            n::DidSaveTextDocument::METHOD => {
                // A saved fixture, schema or `cxsync.toml` may change any followed spec.
                let specs: Vec<PathBuf> = self.world.results.keys().cloned().collect();
                for spec in specs {
                    self.schedule(spec, Duration::ZERO);
                }
            }
            n::DidCloseTextDocument::METHOD => self.on_file(params, Self::did_close),
            _ => {}
        }
    }

    /// Hands a notification about one document to `handle` with the document's path; one whose
    /// params do not parse, or whose document is not a file, is ignored.
    fn on_file<P: DocumentParams>(
        &mut self,
        params: serde_json::Value,
        handle: fn(&mut Self, P, PathBuf),
    ) {
        let Ok(p) = serde_json::from_value::<P>(params) else {
            return;
        };
        if let Some(path) = file_path(p.uri()) {
            handle(self, p, path);
        }
    }

    fn did_open(&mut self, p: ls_types::DidOpenTextDocumentParams, path: PathBuf) {
        self.world.overlay.set(&path, p.text_document.text);
        self.docs.insert(
            path.clone(),
            Doc {
                uri: p.text_document.uri,
                version: p.text_document.version,
            },
        );
        for spec in self.affected(&path) {
            self.schedule(spec, Duration::ZERO);
        }
    }

    fn did_change(&mut self, p: ls_types::DidChangeTextDocumentParams, path: PathBuf) {
        let Some(mut text) = self.world.overlay.get(&path).map(str::to_string) else {
            return;
        };
        for c in p.content_changes {
            apply_change(&mut text, c.range, &c.text, self.world.enc);
        }
        self.world.overlay.set(&path, text);
        if let Some(d) = self.docs.get_mut(&path) {
            d.version = p.text_document.version;
        }
        for spec in self.affected(&path) {
            self.schedule(spec, DEBOUNCE);
        }
    }

    fn did_close(&mut self, _: ls_types::DidCloseTextDocumentParams, path: PathBuf) {
        self.world.overlay.remove(&path);
        self.docs.remove(&path);
        self.due.remove(&path);
        // Specs are followed while they, or a transform file they read, are open.
        let followed: Vec<PathBuf> = self.world.results.keys().cloned().collect();
        let mut touched = BTreeSet::new();
        for spec in followed {
            let open = self.docs.contains_key(&spec)
                || self
                    .docs
                    .keys()
                    .any(|d| is_jsonata(d) && self.world.specs_reading(d).contains(&spec));
            if open {
                self.schedule(spec, Duration::ZERO);
            } else {
                self.due.remove(&spec);
                touched.extend(self.world.forget(&spec));
            }
        }
        touched.insert(path);
        self.publish(touched);
    }

    /// Publishes the diagnostics of every file in `files` (an empty list clears a file).
    fn publish(&mut self, files: BTreeSet<PathBuf>) {
        for file in files {
            let diags = self.world.diagnostics(&file);
            // An open document always hears its result, even a clean one.
            if diags.is_empty() && !self.shown.contains(&file) && !self.docs.contains_key(&file) {
                continue;
            }
            let text = self.world.checked_text(&file).unwrap_or_default();
            let lines = Lines::new(&text);
            let (uri, version) = match self.docs.get(&file) {
                Some(d) => (d.uri.clone(), Some(d.version)),
                None => match Uri::from_file_path(&file) {
                    Some(u) => (u, None),
                    None => continue,
                },
            };
            let params = PublishDiagnosticsParams {
                uri,
                diagnostics: diags
                    .iter()
                    .map(|d| to_lsp(d, &lines, self.world.enc, self.docs_base.as_deref()))
                    .collect(),
                version,
            };
            if diags.is_empty() {
                self.shown.remove(&file);
            } else {
                self.shown.insert(file);
            }
            let _ = self
                .conn
                .sender
                .send(Notification::new(n::PublishDiagnostics::METHOD.into(), params).into());
        }
    }

    fn request(&mut self, req: Request) -> Response {
        let id = req.id.clone();
        match req.method.as_str() {
            r::HoverRequest::METHOD => self.answer::<r::HoverRequest>(req, |s, p| {
                let pos = &p.text_document_position_params;
                let path = file_path(&pos.text_document.uri)?;
                let md = hover::hover(&s.world, &path, pos.position)?;
                Some(Hover {
                    contents: HoverContents::Markup(MarkupContent {
                        kind: MarkupKind::Markdown,
                        value: md,
                    }),
                    range: None,
                })
            }),
            r::Completion::METHOD => self.answer::<r::Completion>(req, |s, p| {
                let pos = &p.text_document_position;
                let path = file_path(&pos.text_document.uri)?;
                let items = complete::complete(&s.world, &path, pos.position);
                Some(ls_types::CompletionResponse::Array(items))
            }),
            r::CodeActionRequest::METHOD => self.answer::<r::CodeActionRequest>(req, |s, p| {
                let path = file_path(&p.text_document.uri)?;
                let text = s.world.checked_text(&path).unwrap_or_default();
                let lines = Lines::new(&text);
                let acts = actions::actions(&s.world, &path, p.range);
                Some(
                    acts.into_iter()
                        .map(|a| {
                            let mut changes = std::collections::HashMap::new();
                            changes.insert(p.text_document.uri.clone(), a.edits);
                            CodeActionOrCommand::CodeAction(CodeAction {
                                title: a.title,
                                kind: Some(CodeActionKind::QUICKFIX),
                                diagnostics: Some(vec![to_lsp(
                                    &a.diagnostic,
                                    &lines,
                                    s.world.enc,
                                    s.docs_base.as_deref(),
                                )]),
                                edit: Some(WorkspaceEdit {
                                    changes: Some(changes),
                                    ..WorkspaceEdit::default()
                                }),
                                is_preferred: Some(a.preferred),
                                ..CodeAction::default()
                            })
                        })
                        .collect::<Vec<_>>(),
                )
            }),
            r::GotoDefinition::METHOD => self.answer::<r::GotoDefinition>(req, |s, p| {
                let pos = &p.text_document_position_params;
                let path = file_path(&pos.text_document.uri)?;
                let locs: Vec<Location> = actions::definition(&s.world, &path, pos.position)
                    .into_iter()
                    .filter_map(|f| {
                        let uri = s
                            .docs
                            .get(&f)
                            .map(|d| d.uri.clone())
                            .or_else(|| Uri::from_file_path(&f))?;
                        Some(Location::new(uri, Range::default()))
                    })
                    .collect();
                (!locs.is_empty()).then_some(GotoDefinitionResponse::Array(locs))
            }),
            _ => Response::new_err(
                id,
                ErrorCode::MethodNotFound as i32,
                format!("cxsync lsp does not handle {}", req.method),
            ),
        }
    }

    /// Decodes a request's params, runs `f`, and encodes its answer (`null` for none).
    fn answer<R: r::Request>(
        &mut self,
        req: Request,
        f: impl FnOnce(&Self, R::Params) -> R::Result,
    ) -> Response {
        match serde_json::from_value::<R::Params>(req.params) {
            Ok(p) => Response::new_ok(req.id, f(self, p)),
            Err(e) => Response::new_err(
                req.id,
                ErrorCode::InvalidParams as i32,
                format!("invalid {} params: {e}", R::METHOD),
            ),
        }
    }
}

/// The params of a notification about one document.
trait DocumentParams: serde::de::DeserializeOwned {
    fn uri(&self) -> &Uri;
}

macro_rules! document_params {
    ($($t:ty),*) => {$(
        impl DocumentParams for $t {
            fn uri(&self) -> &Uri {
                &self.text_document.uri
            }
        }
    )*};
}
document_params!(
    ls_types::DidOpenTextDocumentParams,
    ls_types::DidChangeTextDocumentParams,
    ls_types::DidCloseTextDocumentParams
);

fn file_path(uri: &Uri) -> Option<PathBuf> {
    if uri.scheme().as_str() != "file" {
        return None;
    }
    uri.to_file_path().map(|p| normalize(&p))
}

/// Where a code's documentation is, under the docs folder.
fn doc_anchor(code: &str) -> Option<String> {
    if let Some(rule) = registry::find(code) {
        return Some(format!(
            "rules.md#{}-{}",
            rule.code.to_ascii_lowercase(),
            rule.name
        ));
    }
    match code.as_bytes() {
        [b'E', b'5', ..] => Some("jsonata-analysis.md".into()),
        [b'E', ..] => Some("spec.md#error-codes".into()),
        _ => None,
    }
}

/// A cxsync diagnostic in protocol terms: the help joins the message, since LSP has no field for
/// it; `codeDescription` links to the code's docs.
pub fn to_lsp(
    d: &Diagnostic,
    lines: &Lines,
    enc: Encoding,
    docs_base: Option<&str>,
) -> ls_types::Diagnostic {
    let range = d.span.map(|s| lines.range(s, enc)).unwrap_or_default();
    let message = match &d.help {
        Some(h) => format!("{}\nhelp: {h}", d.message),
        None => d.message.clone(),
    };
    let code_description = docs_base
        .zip(doc_anchor(&d.code))
        .and_then(|(base, anchor)| format!("{base}/{anchor}").parse::<Uri>().ok())
        .map(|href| CodeDescription { href });
    ls_types::Diagnostic {
        range,
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
            Severity::Info => DiagnosticSeverity::INFORMATION,
        }),
        code: (!d.code.is_empty()).then(|| NumberOrString::String(d.code.clone())),
        code_description,
        source: Some("cxsync".into()),
        message,
        ..ls_types::Diagnostic::default()
    }
}
