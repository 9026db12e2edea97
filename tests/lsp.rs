//! `cxsync lsp` as an editor uses it: the real binary, spoken to over stdio with the framing and
//! messages of the Language Server Protocol.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{cxsync, root};

/// How long a test waits for one answer before failing (a debug build on a loaded machine).
const WAIT: Duration = Duration::from_secs(60);

struct Client {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Value>,
    /// Notifications received and not yet looked at.
    notes: Vec<Value>,
    next_id: i64,
    /// The encoding the server chose.
    utf8: bool,
    utf32: bool,
}

fn frame(v: &Value) -> Vec<u8> {
    let body = serde_json::to_vec(v).unwrap();
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend(body);
    out
}

fn read_frames(out: impl Read, tx: mpsc::Sender<Value>) {
    let mut r = BufReader::new(out);
    loop {
        let mut len = None;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                len = n.parse::<usize>().ok();
            }
        }
        let mut body = vec![0; len.expect("a Content-Length header")];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        if tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
            return;
        }
    }
}

impl Client {
    /// Starts `cxsync lsp` in `dir` and initializes it, offering `encodings`.
    fn start(dir: &Path, encodings: &[&str]) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cxsync"))
            .arg("lsp")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || read_frames(stdout, tx));
        let mut c = Client {
            child,
            stdin,
            rx,
            notes: Vec::new(),
            next_id: 1,
            utf8: false,
            utf32: false,
        };
        let init = c.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": uri(dir),
                "capabilities": {"general": {"positionEncodings": encodings}},
            }),
        );
        let enc = init["capabilities"]["positionEncoding"]
            .as_str()
            .unwrap()
            .to_string();
        c.utf8 = enc == "utf-8";
        c.utf32 = enc == "utf-32";
        assert_eq!(init["serverInfo"]["name"], "cxsync");
        c.notify("initialized", json!({}));
        c
    }

    fn send(&mut self, v: Value) {
        self.stdin.write_all(&frame(&v)).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn recv(&mut self, until: Instant) -> Value {
        match self
            .rx
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            Ok(v) => v,
            Err(RecvTimeoutError::Timeout) => panic!("no message from the server in {WAIT:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the server closed its stdout"),
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let until = Instant::now() + WAIT;
        loop {
            let m = self.recv(until);
            if m.get("id") == Some(&json!(id)) && m.get("method").is_none() {
                assert!(m.get("error").is_none(), "{method}: {m}");
                return m["result"].clone();
            }
            self.notes.push(m);
        }
    }

    /// The next `publishDiagnostics` for `uri` that `accept` takes.
    fn diagnostics(&mut self, uri: &str, accept: impl Fn(&Value) -> bool) -> Vec<Value> {
        let until = Instant::now() + WAIT;
        loop {
            if let Some(i) = self.notes.iter().position(|n| {
                n["method"] == "textDocument/publishDiagnostics"
                    && n["params"]["uri"] == uri
                    && accept(&n["params"])
            }) {
                let n = self.notes.remove(i);
                return n["params"]["diagnostics"].as_array().unwrap().clone();
            }
            let m = self.recv(until);
            self.notes.push(m);
        }
    }

    fn open(&mut self, path: &Path, language: &str) -> String {
        let u = uri(path);
        let text = std::fs::read_to_string(path).unwrap();
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": u, "languageId": language, "version": 1, "text": text}}),
        );
        u
    }

    /// Column of character `col` (0-based) of `line` in the negotiated unit.
    fn units(&self, line: &str, col: usize) -> usize {
        let prefix: String = line.chars().take(col).collect();
        if self.utf8 {
            prefix.len()
        } else if self.utf32 {
            prefix.chars().count()
        } else {
            prefix.encode_utf16().count()
        }
    }

    /// The LSP position of the first `needle` in `text`.
    fn pos(&self, text: &str, needle: &str) -> Value {
        for (i, line) in text.split('\n').enumerate() {
            if let Some(b) = line.find(needle) {
                let col = line[..b].chars().count();
                return json!({"line": i, "character": self.units(line, col)});
            }
        }
        panic!("{needle:?} not in the text")
    }

    /// The code action whose title `pick` accepts, for diagnostic `d` of `uri`.
    fn action(&mut self, uri: &str, d: &Value, pick: impl Fn(&str) -> bool) -> Value {
        let actions = self.request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": d["range"], "context": {"diagnostics": [d]}}),
        );
        actions
            .as_array()
            .unwrap()
            .iter()
            .find(|a| pick(a["title"].as_str().unwrap()))
            .cloned()
            .unwrap_or_else(|| panic!("no such action in {actions:#}"))
    }

    /// The labels of the completions at `(line, character)` of `uri`.
    fn labels(&mut self, uri: &str, line: u64, character: usize) -> Vec<String> {
        let items = self.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}),
        );
        items
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["label"].as_str().unwrap().to_string())
            .collect()
    }

    /// Replaces the whole text of `uri` as version `version`.
    fn change(&mut self, uri: &str, version: i32, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        );
    }

    /// A request whose answer comes after every publish of the checks before it.
    fn barrier(&mut self, uri: &str) {
        self.request(
            "textDocument/hover",
            json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}),
        );
    }

    /// Shuts the server down as an editor does; the process must exit 0.
    fn shutdown(mut self) {
        let r = self.request("shutdown", Value::Null);
        assert_eq!(r, Value::Null);
        self.notify("exit", Value::Null);
        let until = Instant::now() + WAIT;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                assert!(s.success(), "cxsync lsp exited with {s}");
                return;
            }
            assert!(Instant::now() < until, "cxsync lsp did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn uri(p: &Path) -> String {
    format!("file://{}", p.display())
}

/// Applies LSP text edits (in the negotiated unit) to `text`.
fn apply(text: &str, edits: &[Value], utf8: bool) -> String {
    let offset = |t: &str, p: &Value| -> usize {
        let (line, ch) = (
            p["line"].as_u64().unwrap() as usize,
            p["character"].as_u64().unwrap() as usize,
        );
        let mut start = 0;
        for _ in 0..line {
            start += t[start..]
                .find('\n')
                .map(|i| i + 1)
                .unwrap_or(t.len() - start);
        }
        let l = &t[start..];
        let l = &l[..l.find('\n').unwrap_or(l.len())];
        let mut units = 0;
        for (i, c) in l.char_indices() {
            if units >= ch {
                return start + i;
            }
            units += if utf8 { c.len_utf8() } else { c.len_utf16() };
        }
        start + l.len()
    };
    let mut edits = edits.to_vec();
    edits.sort_by_key(|e| {
        let s = &e["range"]["start"];
        std::cmp::Reverse((s["line"].as_u64(), s["character"].as_u64()))
    });
    let mut t = text.to_string();
    for e in edits {
        let s = offset(&t, &e["range"]["start"]);
        let end = offset(&t, &e["range"]["end"]);
        t.replace_range(s..end, e["newText"].as_str().unwrap());
    }
    t
}

/// The repository's fixture events copied into `dir/events` (a spec names files inside its
/// project folder only, E311), and the glob naming them from `dir`.
fn copy_events(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("events")).unwrap();
    for e in std::fs::read_dir(root().join("fixtures/events")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join("events").join(p.file_name().unwrap())).unwrap();
    }
    PathBuf::from("events/*.json")
}

/// A copy of the guide's dialect spec in a temporary folder, with non-ASCII text before the
/// `$if` on its line and the repository's events copied beside it.
fn guide_spec(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(root().join("fixtures/dialect/guide_block.yaml")).unwrap();
    let events = copy_events(dir);
    let text = text
        .replace("../events/*.json", &events.display().to_string())
        .replace(
            "\"contactId\": $if(",
            "\"contactId\": /* Zürich 𝄞 — é */ $if(",
        );
    let path = dir.join("guide.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Removes `.` and `..` from an absolute path.
fn normal(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// One diagnostic as both sides can print it: file, 0-based start and end (characters),
/// severity, code, message with help.
type Row = (String, u64, u64, u64, u64, String, String, String);

/// What `cxsync validate` and `cxsync lint` print for a spec, in rows; validate's transform
/// findings that lint re-reports at the same place under its own code are the same finding.
fn cli_rows(spec: &str) -> Vec<Row> {
    let run = |cmd: &str| -> Vec<Value> {
        // The absolute path an editor names the file by: messages quote paths as given.
        let out = cxsync()
            .args([cmd, "--format", "json"])
            .arg(root().join(spec)) // `join` keeps an absolute `spec` as it is
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{cmd} {spec}: {e}: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    };
    let row = |d: &Value| -> Row {
        let n = |k: &str| d[k].as_u64().unwrap_or(1).saturating_sub(1);
        let message = match d["help"].as_str() {
            Some(h) => format!("{}\nhelp: {h}", d["message"].as_str().unwrap()),
            None => d["message"].as_str().unwrap().to_string(),
        };
        (
            normal(&root().join(d["file"].as_str().unwrap()))
                .display()
                .to_string(),
            n("line"),
            n("column"),
            n("endLine"),
            n("endColumn"),
            d["severity"].as_str().unwrap().to_string(),
            d["code"].as_str().unwrap().to_string(),
            message,
        )
    };
    let lint: Vec<Row> = run("lint").iter().map(row).collect();
    let mut out = lint.clone();
    for r in run("validate").iter().map(row) {
        let counterpart = match r.6.as_str() {
            "E500" => "CX025",
            "E501" | "E502" => "CX024",
            "E503" => "CX026",
            _ => "",
        };
        let same = lint
            .iter()
            .any(|l| l.6 == counterpart && (&l.0, l.1, l.2) == (&r.0, r.1, r.2));
        if !same && !out.contains(&r) {
            out.push(r);
        }
    }
    out.sort();
    out
}

fn lsp_rows(file: &str, diags: &[Value]) -> Vec<Row> {
    diags
        .iter()
        .map(|d| {
            let p = |k: &str, f: &str| d["range"][k][f].as_u64().unwrap();
            let sev = match d["severity"].as_u64() {
                Some(1) => "error",
                Some(2) => "warning",
                _ => "info",
            };
            (
                file.to_string(),
                p("start", "line"),
                p("start", "character"),
                p("end", "line"),
                p("end", "character"),
                sev.to_string(),
                d["code"].as_str().unwrap_or("").to_string(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn an_editor_session_on_the_guides_spec_gets_diagnostics_fixes_hover_and_completion() {
    for encodings in [&["utf-16"][..], &["utf-8", "utf-16"][..]] {
        let dir = tempfile::tempdir().unwrap();
        let spec = guide_spec(dir.path());
        let text = std::fs::read_to_string(&spec).unwrap();
        let mut c = Client::start(dir.path(), encodings);
        assert_eq!(c.utf8, encodings[0] == "utf-8");
        let u = c.open(&spec, "yaml");

        // The `$if` of the block transform is reported on its line, at its column in the
        // negotiated unit, after the non-ASCII comment.
        let diags = c.diagnostics(&u, |p| p["version"] == 1);
        let at_if = c.pos(&text, "$if(interaction.customer");
        let d = diags
            .iter()
            .find(|d| d["code"] == "CX024" && d["range"]["start"] == at_if)
            .unwrap_or_else(|| panic!("no CX024 at {at_if}: {diags:#?}"));
        assert_eq!(d["severity"], 1);
        assert_eq!(d["source"], "cxsync");
        assert!(d["message"].as_str().unwrap().contains("help: "), "{d}");
        assert!(
            d["codeDescription"]["href"]
                .as_str()
                .unwrap()
                .ends_with("rules.md#cx024-jsonata-dialect"),
            "{d}"
        );

        // The quick fix's edit is `cxsync fix`'s rewrite.
        let fix = c.action(&u, d, |t| t.contains("cxsync fix"));
        let edits = fix["edit"]["changes"][&u].as_array().unwrap();
        let fixed_by_editor = apply(&text, edits, c.utf8);
        let copy = dir.path().join("fixed.yaml");
        std::fs::write(&copy, &text).unwrap();
        let out = cxsync().arg("fix").arg(&copy).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(fixed_by_editor, std::fs::read_to_string(&copy).unwrap());
        let suppress = c.action(&u, d, |t| t == "Suppress CX024 on this line");
        // Inside the block transform the comment is JSONata's, not YAML's.
        let s_edit = &suppress["edit"]["changes"][&u][0];
        assert_eq!(s_edit["newText"], " /* cxsync: ignore[CX024] */");

        // Hover on `maxRetries` shows the schema's description.
        let h = c.request(
            "textDocument/hover",
            json!({"textDocument": {"uri": u}, "position": c.pos(&text, "maxRetries")}),
        );
        let md = h["contents"]["value"].as_str().unwrap();
        assert!(
            md.contains("retry.maxRetries") && md.contains("Retries after the first attempt"),
            "{md}"
        );

        // Hover on a JSONata function inside the transform, and on a template variable.
        let h = c.request(
            "textDocument/hover",
            json!({"textDocument": {"uri": u}, "position": c.pos(&text, "$round(")}),
        );
        assert!(
            h["contents"]["value"]
                .as_str()
                .unwrap()
                .contains("half to even"),
            "{h}"
        );
        let h = c.request(
            "textDocument/hover",
            json!({"textDocument": {"uri": u}, "position": c.pos(&text, "event.type}")}),
        );
        let md = h["contents"]["value"].as_str().unwrap();
        assert!(
            md.contains("in 5 of 5 fixture events") && md.contains("ivr_no_agent"),
            "{md}"
        );

        // A new line under `retry:`: completion offers the retry keys not written yet.
        let at = c.pos(&text, "  maxRetries: 5");
        let line = at["line"].as_u64().unwrap();
        c.notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": u, "version": 2},
                "contentChanges": [{"range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}, "text": "  ji\n"}],
            }),
        );
        let labels = c.labels(&u, line as u64, 4);
        assert!(labels.iter().any(|l| l == "jitter"), "{labels:?}");
        assert!(!labels.iter().any(|l| l == "maxRetries"), "{labels:?}");
        let labels = c.labels(&u, line as u64, 2);
        for k in ["jitter", "respectRetryAfterHeader", "circuitBreaker"] {
            assert!(labels.iter().any(|l| l == k), "{k} not in {labels:?}");
        }

        // Type a value that breaks the spec: a fresh diagnostic on that line, for version 3.
        c.notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": u, "version": 3},
                "contentChanges": [{"range": {"start": {"line": line, "character": 0}, "end": {"line": line + 2, "character": 0}}, "text": "  jitter: full\n  maxRetries: many\n"}],
            }),
        );
        let diags = c.diagnostics(&u, |p| p["version"] == 3);
        let bad = diags
            .iter()
            .find(|d| d["range"]["start"]["line"] == line + 1)
            .unwrap_or_else(|| panic!("nothing on line {}: {diags:#?}", line + 1));
        assert!(
            bad["message"].as_str().unwrap().contains("maxRetries"),
            "{bad}"
        );
        assert_eq!(bad["severity"], 1);
        c.shutdown();
    }
}

#[test]
fn the_editor_shows_exactly_what_validate_and_lint_report() {
    let mut specs: Vec<String> = Vec::new();
    for dir in [
        "fixtures/bad",
        "fixtures/lint",
        "fixtures/dialect",
        "specs",
        "fixtures/sim",
    ] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            // A non-UTF-8 file cannot be an editor buffer (the editor decodes it first).
            if name.ends_with(".yaml") && name != "non_utf8.yaml" {
                specs.push(format!("{dir}/{name}"));
            }
        }
    }
    specs.sort();
    assert!(specs.len() > 40, "{specs:?}");
    let mut c = Client::start(&root(), &["utf-32"]);
    assert!(c.utf32);
    // YAML that is no spec (no spec key at the top level, or another schema's modeline) gets no
    // diagnostics: an editor attaches the server to every YAML file.
    let not_specs = [
        "fixtures/bad/alias_bomb.yaml",
        "fixtures/bad/deep_block_nesting.yaml",
        "fixtures/bad/deep_nesting.yaml",
        "fixtures/sim/bad-scenario.yaml",
        "scenarios/default.yaml",
    ];
    for f in not_specs {
        let u = c.open(&root().join(f), "yaml");
        c.barrier(&u);
        assert!(
            !c.notes
                .iter()
                .any(|n| n["method"] == "textDocument/publishDiagnostics"),
            "{f}: {:?}",
            c.notes
        );
        c.notify("textDocument/didClose", json!({"textDocument": {"uri": u}}));
    }
    specs.retain(|s| !not_specs.contains(&s.as_str()));
    for spec in &specs {
        let path = root().join(spec);
        let u = c.open(&path, "yaml");
        // A request after the open: every publish of the check comes before its answer.
        c.barrier(&u);
        let mut got: Vec<Row> = Vec::new();
        let mut latest: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
        for n in c.notes.drain(..) {
            if n["method"] == "textDocument/publishDiagnostics" {
                let file = n["params"]["uri"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("file://")
                    .to_string();
                latest.insert(file, n["params"]["diagnostics"].as_array().unwrap().clone());
            }
        }
        assert!(
            latest.contains_key(&path.display().to_string()),
            "{spec}: nothing published"
        );
        for (file, diags) in &latest {
            got.extend(lsp_rows(file, diags));
        }
        got.sort();
        assert_eq!(got, cli_rows(spec), "{spec}");
        c.notify("textDocument/didClose", json!({"textDocument": {"uri": u}}));
        c.barrier(&u);
        c.notes.clear();
    }
    c.shutdown();
}

/// A Zendesk-style project unlike the repository's: string ids, ISO times, a `.jsonata` file
/// with the dialect and a path typo, two fixture folders matched by one glob, a payload schema,
/// and a `cxsync.toml`.
fn zendesk_project(dir: &Path) -> PathBuf {
    let w = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w(
        "events/chat/ticket-é1.json",
        r#"{"event": {"id": "e-1", "type": "interaction.ended"}, "interaction": {"id": "ZD-0042", "startedAt": "2024-03-01T09:00:00+01:00", "channel": {"type": "chat"}, "requester": {"email": "ana@example.org", "locale": "pt-BR"}}}"#,
    );
    w(
        "events/voice/ticket-2.json",
        r#"{"event": {"id": "e-2", "type": "interaction.ended"}, "interaction": {"id": "ZD-0043", "startedAt": "2024-03-01T10:00:00Z", "channel": {"type": "voice"}, "requester": {"email": "bo@example.org"}}}"#,
    );
    w(
        "transforms/ticket.jsonata",
        "/* Zendesk ticket — ünïcode before the findings */\n{\n  \"external_id\": interaction.id,\n  \"email\": interaction.requester?.email,\n  \"locale\": interaction.requestr.locale\n}\n",
    );
    w(
        "schemas/ticket.schema.json",
        r#"{"type": "object", "properties": {"external_id": {"type": "string"}}}"#,
    );
    w("cxsync.toml", "ignore = [\"CX014\"]\n");
    let spec = std::fs::read_to_string(root().join("fixtures/lint/clean.yaml"))
        .unwrap()
        .replace("name: clean", "name: zendesk-tickets")
        .replace("  alertEndpoint: https://monitoring.company.com/webhooks/dlq-alert\n", "")
        .replace("  allowPersonalData: [agentEmail]\n", "  allowPersonalData: [email]\n  payloadSchema: schemas/ticket.schema.json\n")
        .replace(
            "    transform: |\n      {\n        \"caseNumber\": $string(interaction.id),\n        \"channelType\": interaction.channel.type,\n        \"agentEmail\": interaction.agent.email\n      }\n",
            "    transformFile: transforms/ticket.jsonata\n",
        )
        .replace("      interaction.channel.type: [voice, webchat, email]", "      interaction.channel.type: [voice, chat]")
        .replace("../events/*.json", "events/**/*.json");
    assert!(spec.contains("transformFile"), "{spec}");
    w("zendesk.yaml", &spec);
    dir.join("zendesk.yaml")
}

#[test]
fn a_transform_file_is_checked_in_the_context_of_its_spec_from_its_unsaved_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let spec = zendesk_project(dir.path());
    let jsonata = dir.path().join("transforms/ticket.jsonata");
    let text = std::fs::read_to_string(&jsonata).unwrap();
    let mut c = Client::start(dir.path(), &["utf-16"]);
    // Only the transform is open: the server finds the spec that reads it.
    let u = c.open(&jsonata, "jsonata");
    let diags = c.diagnostics(&u, |p| p["version"] == 1);
    let at = |c: &Client, needle: &str| c.pos(&text, needle);
    let dialect = diags
        .iter()
        .find(|d| d["code"] == "CX024")
        .unwrap_or_else(|| panic!("{diags:#?}"));
    assert_eq!(dialect["range"]["start"], at(&c, "?.email"));
    let typo = diags
        .iter()
        .find(|d| d["code"] == "E503")
        .unwrap_or_else(|| panic!("{diags:#?}"));
    assert_eq!(typo["range"]["start"], at(&c, "interaction.requestr"));
    assert_eq!(typo["severity"], 2);
    assert!(typo["message"]
        .as_str()
        .unwrap()
        .contains("did you mean `interaction.requester.locale`?"));

    // The did-you-mean quick fix, applied to the buffer (never saved), clears the warning.
    let replace = c.action(&u, typo, |t| t.starts_with("Replace"));
    let edits = replace["edit"]["changes"][&u].as_array().unwrap();
    let fixed = apply(&text, edits, false);
    assert!(fixed.contains("interaction.requester.locale"), "{fixed}");
    c.change(&u, 2, &fixed);
    let diags = c.diagnostics(&u, |p| p["version"] == 2);
    assert!(!diags.iter().any(|d| d["code"] == "E503"), "{diags:#?}");
    assert!(diags.iter().any(|d| d["code"] == "CX024"), "{diags:#?}");
    assert_eq!(
        std::fs::read_to_string(&jsonata).unwrap(),
        text,
        "nothing written to disk"
    );

    // Suppressing CX024 on its line in the transform file: a JSONata comment, and then no CX024
    // and no unused-suppression finding.
    let dialect = diags.iter().find(|d| d["code"] == "CX024").unwrap().clone();
    let suppress = c.action(&u, &dialect, |t| t == "Suppress CX024 on this line");
    let suppressed = apply(
        &fixed,
        suppress["edit"]["changes"][&u].as_array().unwrap(),
        false,
    );
    assert!(
        suppressed.contains("?.email, /* cxsync: ignore[CX024] */")
            || suppressed.contains("/* cxsync: ignore[CX024] */\n"),
        "{suppressed}"
    );
    c.change(&u, 3, &suppressed);
    let diags = c.diagnostics(&u, |p| p["version"] == 3);
    assert!(
        !diags
            .iter()
            .any(|d| d["code"] == "CX024" || d["code"] == "CX100"),
        "{diags:#?}"
    );

    // Completion of event paths from the fixtures, and hover on a path.
    let line = suppressed
        .lines()
        .position(|l| l.contains("external_id"))
        .unwrap();
    let col = suppressed
        .lines()
        .nth(line)
        .unwrap()
        .find("interaction.id")
        .unwrap()
        + "interaction.".len();
    let labels = c.labels(&u, line as u64, col);
    for k in ["id", "requester", "channel", "startedAt"] {
        assert!(labels.iter().any(|l| l == k), "{k} not in {labels:?}");
    }
    let h = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": u}, "position": {"line": line, "character": col}}),
    );
    let md = h["contents"]["value"].as_str().unwrap();
    assert!(
        md.contains("in 2 of 2 fixture events") && md.contains("ZD-0042"),
        "{md}"
    );

    // The spec: its diagnostics equal the CLI's (cxsync.toml's `ignore` honoured), and go to
    // definition reaches the transform, both fixtures of the glob and the payload schema.
    let su = c.open(&spec, "yaml");
    c.barrier(&su);
    let spec_text = std::fs::read_to_string(&spec).unwrap();
    let mut defs = Vec::new();
    for needle in [
        "transforms/ticket.jsonata",
        "events/**/*.json",
        "schemas/ticket.schema.json",
    ] {
        let r = c.request(
            "textDocument/definition",
            json!({"textDocument": {"uri": su}, "position": c.pos(&spec_text, needle)}),
        );
        let mut files: Vec<String> = r
            .as_array()
            .unwrap_or_else(|| panic!("{needle}: {r}"))
            .iter()
            .map(|l| {
                l["uri"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        files.sort();
        defs.push(files);
    }
    assert_eq!(
        defs,
        [
            vec!["ticket.jsonata".to_string()],
            // URIs are percent-encoded: `é` is `%C3%A9`.
            vec!["ticket-%C3%A91.json".into(), "ticket-2.json".into()],
            vec!["ticket.schema.json".into()],
        ]
    );
    c.shutdown();
}

#[test]
fn a_project_config_and_an_unknown_key_get_what_the_cli_gives_and_a_did_you_mean_fix() {
    let dir = tempfile::tempdir().unwrap();
    let spec = zendesk_project(dir.path());
    let text = std::fs::read_to_string(&spec)
        .unwrap()
        .replace("  jitter: full\n", "  jiter: full\n");
    std::fs::write(&spec, &text).unwrap();
    let mut c = Client::start(dir.path(), &["utf-32"]);
    let u = c.open(&spec, "yaml");
    let diags = c.diagnostics(&u, |p| p["version"] == 1);
    let rows = lsp_rows(&spec.display().to_string(), &diags);
    let cli: Vec<Row> = cli_rows(spec.to_str().unwrap())
        .into_iter()
        .filter(|r| r.0 == spec.display().to_string())
        .collect();
    assert_eq!(rows, cli);
    let unknown = diags
        .iter()
        .find(|d| d["code"] == "E101")
        .unwrap_or_else(|| panic!("{diags:#?}"));
    let a = c.action(&u, unknown, |t| t == "Replace `jiter` with `jitter`");
    assert_eq!(
        apply(&text, a["edit"]["changes"][&u].as_array().unwrap(), false),
        text.replace("jiter:", "jitter:")
    );
    c.shutdown();
}

#[test]
fn exit_codes_follow_the_protocol_and_a_second_shutdown_is_refused_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    // `exit` without `shutdown`: 1.
    let mut c = Client::start(dir.path(), &[]);
    c.notify("exit", Value::Null);
    let status = c.child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    // `shutdown` twice (Neovim 0.7 does), then `exit`: the second is refused, the exit is 0.
    let mut c = Client::start(dir.path(), &[]);
    assert_eq!(c.request("shutdown", Value::Null), Value::Null);
    c.send(json!({"jsonrpc": "2.0", "id": 99, "method": "shutdown"}));
    let until = Instant::now() + WAIT;
    let refused = loop {
        let m = c.recv(until);
        if m["id"] == 99 {
            break m;
        }
    };
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    c.notify("exit", Value::Null);
    assert_eq!(c.child.wait().unwrap().code(), Some(0));
    // No client at all: a tool error naming what was expected.
    let out = cxsync().arg("lsp").stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected an LSP client"));
    // A client whose bytes stop being LSP after the handshake: exit 1 (no `shutdown`), and
    // stderr says why instead of nothing.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"processId": null, "rootUri": null, "capabilities": {}}});
    let mut input = frame(&init);
    input.extend(frame(
        &json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
    ));
    input.extend_from_slice(b"Content-Length: 10\r\n\r\nnot json!!");
    let mut lsp = cxsync();
    lsp.arg("lsp").current_dir(dir.path());
    let out = crate::common::output_with_stdin(lsp, &input);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("stopped reading from the client"), "{err}");
}

/// Tester #167: a `Content-Length` over the 64 MiB limit (here 99999999999, and one past u64) is
/// refused from its header: the server neither allocates it nor waits for its bytes, says why
/// on stderr and exits 2, while the client still holds stdin open; before or after the
/// handshake alike. A header line without end is refused too, and so is a Content-Length that is
/// no number (the header named, and `initialize`'s answer still written).
#[test]
fn a_message_over_the_size_limit_ends_the_session_with_exit_2_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"processId": null, "rootUri": null, "capabilities": {}}});
    let long_header = format!("X-Junk: {}", "a".repeat(100_000));
    for (handshake, header, says) in [
        (
            true,
            "Content-Length: 99999999999".to_string(),
            "99999999999 bytes",
        ),
        (
            false,
            "Content-Length: 99999999999".to_string(),
            "99999999999 bytes",
        ),
        (
            true,
            "Content-Length: 1844674407370955161600".to_string(),
            "1844674407370955161600 bytes",
        ),
        (true, long_header, "headers are longer than"),
        // Not a length at all (tester #186): the header is named, not "disconnected channel".
        (
            true,
            "Content-Length: -5".to_string(),
            "malformed header: \"Content-Length: -5\\r\\n\"",
        ),
        (
            true,
            "Content-Length: 1e9".to_string(),
            "malformed header: \"Content-Length: 1e9\\r\\n\"",
        ),
    ] {
        let mut child = cxsync()
            .arg("lsp")
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        if handshake {
            stdin.write_all(&frame(&init)).unwrap();
        }
        // Some bytes of the body follow; the pipe stays open, so only the header can end it.
        let _ = stdin.write_all(format!("{header}\r\n\r\n{{\"jsonrpc\":").as_bytes());
        let _ = stdin.flush();
        let started = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                started.elapsed() < WAIT,
                "{header:.40}: still running with stdin open"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        drop(stdin);
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(status.code(), Some(2), "{header:.40}: {err}");
        assert!(
            err.contains(says) && (err.contains("limit") || err.contains("malformed")),
            "{header:.40}: {err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("memory allocation"),
            "{err}"
        );
        if handshake {
            // The answer to `initialize` was written before the session ended.
            let mut out = Vec::new();
            child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
            assert!(String::from_utf8_lossy(&out).contains("\"capabilities\""));
        }
    }
}

/// Tester #204: a client that sends a request before `initialize`, or opens a document before
/// `initialized` (many race it), ended the session with an error that quoted the whole message,
/// the document's text included. Now a request before `initialize` is answered
/// `ServerNotInitialized` (-32002), a notification then is dropped, a document opened before
/// `initialized` is served, and nothing of a document reaches stderr.
#[test]
fn a_client_that_skips_initialized_is_served_and_no_document_reaches_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("s.yaml");
    let text = "version: 1\nname: SECRET-MARKER-TEXT\n";
    std::fs::write(&spec, text).unwrap();
    let uri = format!("file://{}", spec.display());
    let mut child = cxsync()
        .arg("lsp")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || read_frames(stdout, tx));
    let open = json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument":
        {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}});
    for m in [
        json!({"jsonrpc": "2.0", "id": 7, "method": "textDocument/hover", "params": {}}),
        open.clone(),
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"processId": null, "rootUri": null, "capabilities": {}}}),
        open,
        json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}),
    ] {
        stdin.write_all(&frame(&m)).unwrap();
    }
    let until = Instant::now() + WAIT;
    let mut answers = std::collections::BTreeMap::new();
    while answers.len() < 3 {
        let m = rx
            .recv_timeout(until.saturating_duration_since(Instant::now()))
            .expect("an answer");
        if let Some(id) = m["id"].as_i64() {
            answers.insert(id, m);
        }
    }
    assert_eq!(answers[&7]["error"]["code"], -32002, "{:?}", answers[&7]);
    assert!(
        answers[&1]["result"]["capabilities"].is_object(),
        "{:?}",
        answers[&1]
    );
    assert!(answers[&2]["error"].is_null(), "{:?}", answers[&2]);
    stdin
        .write_all(&frame(&json!({"jsonrpc": "2.0", "method": "exit"})))
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("SECRET-MARKER"), "{err}");
}

/// A spec opened with an error (an unknown key) has not loaded, so its fixtures are unknown: a
/// hover on an input path says so, rather than telling the user to add the `fixtures:` the rule
/// already has. Once the error is fixed the same hover reads the fixtures.
#[test]
fn hover_in_a_spec_that_has_not_loaded_says_why_it_has_no_fixture_values() {
    let dir = tempfile::tempdir().unwrap();
    let events = copy_events(dir.path());
    let good = std::fs::read_to_string(root().join("specs/crm_sync.yaml"))
        .unwrap()
        .replace("../fixtures/events/*.json", &events.display().to_string())
        .replace(
            "transformFile: transforms/interaction_ended.jsonata",
            "transform: '{\"id\": interaction.id}'",
        )
        .replace("payloadSchema: crm-case.schema.json", "");
    let bad = good.replace("  timeoutMilliseconds: 3000", "  timeoutMilisecond: 3000");
    let spec = dir.path().join("spec.yaml");
    std::fs::write(&spec, &bad).unwrap();
    let mut c = Client::start(dir.path(), &["utf-16"]);
    let u = c.open(&spec, "yaml");
    let diags = c.diagnostics(&u, |p| p["version"] == 1);
    assert!(diags.iter().any(|d| d["code"] == "E101"), "{diags:#?}");
    let needle = "\"id\": interaction.";
    let mut at = c.pos(&bad, needle);
    at["character"] = json!(at["character"].as_u64().unwrap() + needle.len() as u64);
    let hover = |c: &mut Client| {
        let h = c.request(
            "textDocument/hover",
            json!({"textDocument": {"uri": u}, "position": at}),
        );
        h["contents"]["value"].as_str().unwrap().to_string()
    };
    let md = hover(&mut c);
    assert!(md.contains("has not loaded"), "{md}");
    assert!(!md.contains("add `fixtures:`"), "{md}");

    c.change(&u, 2, &good);
    c.diagnostics(&u, |p| p["version"] == 2);
    let md = hover(&mut c);
    assert!(md.contains("fixture events"), "{md}");
    assert!(!md.contains("has not loaded"), "{md}");
    c.shutdown();
}

/// Tester #209: a rule's own `payloadSchema:` (which wins over `crm.payloadSchema` for that
/// rule) is a file reference like the spec-wide one: go to definition reaches the file, hover
/// shows the field's documentation, and a missing file is the loader's diagnostic at the value,
/// as the CLI reports it.
#[test]
fn a_rules_own_payload_schema_goes_to_its_file_hovers_and_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let spec = zendesk_project(dir.path());
    std::fs::write(
        dir.path().join("schemas/comment.schema.json"),
        r#"{"type": "object", "required": ["external_id"]}"#,
    )
    .unwrap();
    let text = std::fs::read_to_string(&spec).unwrap().replace(
        "    transformFile: transforms/ticket.jsonata\n",
        "    transformFile: transforms/ticket.jsonata\n    payloadSchema: schemas/comment.schema.json\n",
    );
    assert!(text.contains("schemas/comment.schema.json"), "{text}");
    std::fs::write(&spec, &text).unwrap();
    let mut c = Client::start(dir.path(), &["utf-16"]);
    let u = c.open(&spec, "yaml");
    let diags = c.diagnostics(&u, |p| p["version"] == 1);
    assert!(
        !diags
            .iter()
            .any(|d| d["code"].as_str().unwrap_or("").starts_with("E3")),
        "{diags:#?}"
    );
    let definition = |c: &mut Client, text: &str, needle: &str| -> Vec<String> {
        let r = c.request(
            "textDocument/definition",
            json!({"textDocument": {"uri": u}, "position": c.pos(text, needle)}),
        );
        // No file: `null` (no location).
        r.as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|l| {
                l["uri"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        definition(&mut c, &text, "schemas/comment.schema.json"),
        ["comment.schema.json"]
    );
    // The spec-wide one still goes to its own.
    assert_eq!(
        definition(&mut c, &text, "schemas/ticket.schema.json"),
        ["ticket.schema.json"]
    );
    let h = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": u}, "position": c.pos(&text, "schemas/comment.schema.json")}),
    );
    let md = h["contents"]["value"].as_str().unwrap_or_default();
    assert!(md.contains("payloadSchema"), "{h}");
    assert!(
        md.contains("crm.payloadSchema"),
        "the rule's hover names the default: {md}"
    );

    // A missing file: the loader's diagnostic at the rule's value, as the CLI gives it.
    let missing = text.replace("schemas/comment.schema.json", "schemas/coment.schema.json");
    std::fs::write(&spec, &missing).unwrap();
    c.change(&u, 2, &missing);
    let diags = c.diagnostics(&u, |p| p["version"] == 2);
    let line = missing
        .lines()
        .position(|l| l.contains("coment.schema.json"))
        .unwrap();
    assert!(
        diags.iter().any(|d| d["range"]["start"]["line"] == line
            && d["code"].as_str().unwrap_or("").starts_with("E3")),
        "{diags:#?}"
    );
    let rows = lsp_rows(&spec.display().to_string(), &diags);
    let cli: Vec<Row> = cli_rows(spec.to_str().unwrap())
        .into_iter()
        .filter(|r| r.0 == spec.display().to_string())
        .collect();
    assert_eq!(rows, cli);
    assert!(definition(&mut c, &missing, "schemas/coment.schema.json").is_empty());
    c.shutdown();
}
