//! Integration tests for real HTTP delivery: `sim --http` against the loopback mock (agreement
//! with virtual time, wire faults), `mock-crm` poked with an HTTP client, and `--target`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::common::{cxsync, root};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = cxsync().args(args).output().expect("cxsync runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A built-in scenario with fixed latency (no random latency), as a file in `dir`.
fn fixed_latency(dir: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(root().join("scenarios").join(format!("{name}.yaml")))
        .expect("built-in scenario exists");
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!("{text}\ncrm:\n  latency: {{ p50Ms: 50, p99Ms: 50 }}\n"),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

/// Runs a scenario in virtual time and over HTTP; returns (outcomes, report) of each.
fn both(scenario: &str, extra: &[&str], dir: &Path) -> [(String, Value, String); 2] {
    let mut out = Vec::new();
    for (mode, flags) in [
        ("virtual", vec![]),
        ("http", vec!["--http", "--time-scale", "0.002"]),
    ] {
        let outcomes = dir.join(format!("{mode}.jsonl"));
        let report = dir.join(format!("{mode}.json"));
        let mut args = vec![
            "sim",
            "specs/crm_sync.yaml",
            "--scenario",
            scenario,
            "--no-jitter",
            "--outcomes",
            outcomes.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ];
        args.extend(extra);
        args.extend(flags);
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, 0, "{mode} run of {scenario}:\n{stdout}\n{stderr}");
        let mut rep: Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        rep.as_object_mut().unwrap().remove("notes");
        out.push((std::fs::read_to_string(&outcomes).unwrap(), rep, stdout));
    }
    let [a, b]: [(String, Value, String); 2] = out.try_into().ok().unwrap();
    [a, b]
}

#[test]
fn token_revoked_over_http_passes_its_invariants_and_agrees_with_virtual_time_event_by_event() {
    let dir = tempfile::tempdir().unwrap();
    let [virt, http] = both("token-revoked", &["--events", "150"], dir.path());
    assert!(http.2.contains("PASS"), "{}", http.2);
    for inv in http.1["invariants"].as_array().unwrap() {
        assert_eq!(inv["holds"], true, "{inv}");
    }
    assert!(
        http.1["crm"]["statuses"]["401"].as_u64().unwrap() >= 1,
        "the revocation was felt: {}",
        http.1["crm"]
    );
    assert!(virt.0.lines().count() > 100);
    assert_eq!(virt.0, http.0, "per-event outcomes differ");
    assert_eq!(virt.1, http.1, "reports differ");
}

#[test]
fn the_guides_three_edge_cases_give_identical_outcomes_in_virtual_time_and_over_http() {
    let dir = tempfile::tempdir().unwrap();
    for (name, events) in [
        ("retry-after-storm", "500"),
        ("token-revoked", "100"),
        ("payload-too-large", "100"),
    ] {
        let sc = fixed_latency(dir.path(), name);
        let [virt, http] = both(&sc, &["--events", events], dir.path());
        assert_eq!(virt.0, http.0, "{name}: per-event outcomes differ");
        // The whole report, not only the totals: peakRetryRatePerSecond, latencies, metrics.
        assert_eq!(virt.1, http.1, "{name}: reports differ");
        if name == "retry-after-storm" {
            assert!(
                http.1["crm"]["statuses"]["429"].as_u64().unwrap() > 0,
                "{name}: throttled on the wire"
            );
        }
    }
}

#[test]
fn connection_resets_and_cut_responses_end_as_retries_or_dlq_and_never_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let sc = dir.path().join("resets.yaml");
    std::fs::write(
        &sc,
        "version: 1\nname: resets\nduration: 2m\nevents: { count: 60 }\ncrm:\n  resetRate: 0.3\n  latency: { p50Ms: 40, p99Ms: 40 }\n",
    )
    .unwrap();
    let [virt, http] = both(sc.to_str().unwrap(), &[], dir.path());
    let note = http
        .2
        .lines()
        .find(|l| l.contains("connection(s) reset"))
        .expect("fault note");
    let count = |what: &str| -> u64 {
        let i = note.find(what).unwrap();
        note[..i]
            .split_whitespace()
            .last()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(count("connection(s) reset") > 0, "{note}");
    assert!(count("response(s) cut") > 0, "{note}");
    // A cut response lost the answer but not the write: the resend is deduplicated (200).
    assert!(
        http.1["crm"]["statuses"]["200"].as_u64().unwrap_or(0) > 0,
        "{}",
        http.1["crm"]
    );
    assert!(http.1["crm"]["resets"].as_u64().unwrap() > 0);
    assert_eq!(http.1["totals"]["duplicates"], 0);
    assert_eq!(http.1["totals"]["lost"], 0);
    assert_eq!(virt.0, http.0, "per-event outcomes differ");
    assert_eq!(virt.1, http.1);
}

/// `cxsync mock-crm` in the background; killed on drop.
struct MockProcess {
    child: Child,
    lines: Vec<String>,
}

impl MockProcess {
    fn start(args: &[&str]) -> MockProcess {
        let mut child = cxsync()
            .args(["mock-crm", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mock-crm starts");
        let mut lines = Vec::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        loop {
            let mut l = String::new();
            if out.read_line(&mut l).unwrap() == 0 {
                panic!("mock-crm exited early: {lines:?}");
            }
            let done = l.starts_with("Ctrl-C");
            lines.push(l.trim_end().to_string());
            if done {
                break;
            }
        }
        MockProcess { child, lines }
    }

    fn url(&self, label: &str) -> String {
        let l = self
            .lines
            .iter()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap();
        l.split_whitespace().last().unwrap().to_string()
    }

    /// Stops it as Ctrl-C would (SIGINT) and returns its stderr.
    fn stop(mut self) -> String {
        let interrupted = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if !interrupted {
            self.child.kill().ok();
        }
        self.child.wait_with_output_ref()
    }
}

trait WaitRef {
    fn wait_with_output_ref(&mut self) -> String;
}

impl WaitRef for Child {
    fn wait_with_output_ref(&mut self) -> String {
        let _ = self.wait();
        let mut s = String::new();
        if let Some(e) = self.stderr.as_mut() {
            use std::io::Read;
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn mock_crm_issues_tokens_and_answers_writes_as_the_scenario_says() {
    let dir = tempfile::tempdir().unwrap();
    let sc = dir.path().join("tight.yaml");
    std::fs::write(
        &sc,
        "version: 1\nname: tight\nduration: 1h\ncrm:\n  rateLimit: { requests: 2, per: 1h }\n  latency: { p50Ms: 1, p99Ms: 1 }\n",
    )
    .unwrap();
    let mock = MockProcess::start(&["--scenario", sc.to_str().unwrap()]);
    assert!(
        mock.lines
            .iter()
            .any(|l| l.contains("cxone_eventhub_client")),
        "{:?}",
        mock.lines
    );
    let (token_url, crm_url) = (mock.url("token endpoint"), mock.url("CRM writes"));
    rt().block_on(async {
        let c = reqwest::Client::new();
        let bad = c
            .post(&token_url)
            .form(&[("grant_type", "client_credentials"), ("client_id", "cxone_eventhub_client"), ("client_secret", "wrong")])
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 401);
        assert_eq!(bad.json::<Value>().await.unwrap()["error"], "invalid_client");
        let ok: Value = c
            .post(&token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "cxone_eventhub_client"),
                ("client_secret", "cxsync-mock-secret"),
                ("scope", "crm:write"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ok["token_type"], "Bearer");
        assert_eq!(ok["expires_in"], 3600);
        let token = ok["access_token"].as_str().unwrap().to_string();
        let case = serde_json::json!({"caseNumber": "C-1", "contactId": "55012", "channelType": "voice", "syncTimestamp": "2024-01-15T14:00:00Z"});
        let post = |key: &str, body: Value, bearer: bool| {
            let mut rb = c.post(&crm_url).header("X-Idempotency-Key", key).json(&body);
            if bearer {
                rb = rb.bearer_auth(&token);
            }
            rb.send()
        };
        assert_eq!(post("k1", case.clone(), false).await.unwrap().status(), 401, "no token");
        assert_eq!(post("k1", case.clone(), true).await.unwrap().status(), 201, "first write");
        assert_eq!(post("k1", case.clone(), true).await.unwrap().status(), 200, "replayed by key");
        let throttled = post("k2", case.clone(), true).await.unwrap();
        assert_eq!(throttled.status(), 429, "the rate limit of 2 per hour");
        let ra: u64 = throttled.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(ra > 60, "Retry-After says how long the bucket needs: {ra}");
    });
    let stderr = mock.stop();
    let last = stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("stopped; final tally"),
        "Ctrl-C stops cleanly: {stderr}"
    );
    assert!(
        last.contains("side effects 1 ") && last.contains("deduplicated 1 "),
        "{last}"
    );
}

/// Peak resident memory of a process, in kB (Linux).
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Sends `head` and then `body_len` bytes of body (or until the server closes), on a raw
/// connection, and returns what the server answered before it closed.
fn raw_request(addr: &str, head: &str, body_len: u64, close_write: bool) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let mut reader = s.try_clone().unwrap();
    let answer = std::thread::spawn(move || {
        let mut got = Vec::new();
        let _ = reader.read_to_end(&mut got);
        String::from_utf8_lossy(&got).into_owned()
    });
    s.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b' '; 1 << 20];
    let mut sent = 0u64;
    while sent < body_len {
        let n = chunk.len().min((body_len - sent) as usize);
        if s.write_all(&chunk[..n]).is_err() {
            break;
        }
        sent += n as u64;
    }
    if close_write {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    answer.join().unwrap()
}

/// #168: `mock-crm` reads each request through its front before wiremock sees it. A body that
/// ends before its Content-Length (then half-close) is answered 400 and a lying length of
/// 99999999999 too, never a panic; a 1 GiB body to the CRM is answered 413 by the CRM model
/// from its first 1 MiB + 1 bytes (the profile's limit), and the mock's peak memory stays far
/// below the body (wiremock held bodies whole: 1 GiB sent, 1 GiB resident); a chunked body is
/// read; and the mock still answers writes afterwards, its tally counting what it refused.
#[cfg(target_os = "linux")]
#[test]
fn mock_crm_refuses_truncated_and_oversized_bodies_without_panic_or_unbounded_memory() {
    let mock = MockProcess::start(&[]);
    let (token_url, crm_url) = (mock.url("token endpoint"), mock.url("CRM writes"));
    let url = reqwest::Url::parse(&crm_url).unwrap();
    let addr = format!("127.0.0.1:{}", url.port().unwrap());
    let path = url.path().to_string();
    let token = rt().block_on(async {
        let t: Value = reqwest::Client::new()
            .post(&token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "cxone_eventhub_client"),
                ("client_secret", "cxsync-mock-secret"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        t["access_token"].as_str().unwrap().to_string()
    });
    let head = |len: &str, key: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nX-Idempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
        )
    };
    let truncated = raw_request(&addr, &head("1000", "t1"), 10, true);
    assert!(truncated.starts_with("HTTP/1.1 400"), "{truncated}");
    assert!(
        truncated.contains("incomplete_body") && truncated.contains("10 of its 1000 bytes"),
        "{truncated}"
    );
    let lying = raw_request(&addr, &head("99999999999", "t2"), 64, true);
    assert!(lying.starts_with("HTTP/1.1 400"), "{lying}");
    let before = peak_rss_kb(mock.child.id());
    let huge = raw_request(
        &addr,
        &head(&(1u64 << 30).to_string(), "t3"),
        1 << 30,
        false,
    );
    assert!(huge.starts_with("HTTP/1.1 413"), "{huge}");
    assert!(huge.contains("request_entity_too_large"), "{huge}");
    let peak = peak_rss_kb(mock.child.id());
    assert!(
        peak < before + 200 * 1024,
        "a 1 GiB body raised the mock's peak memory from {before} kB to {peak} kB"
    );
    let case = r#"{"caseNumber": "C-9", "contactId": "55012", "channelType": "voice", "syncTimestamp": "2024-01-15T14:00:00Z"}"#;
    let chunked = raw_request(
        &addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nX-Idempotency-Key: c1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{case}\r\n0\r\n\r\n",
            case.len()
        ),
        0,
        false,
    );
    assert!(chunked.starts_with("HTTP/1.1 201"), "{chunked}");
    let stderr = mock.stop();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let last = stderr.lines().last().unwrap_or("");
    assert!(last.contains("side effects 1 "), "{last}");
    assert!(last.contains("refused unread 3"), "{last}");
}

#[test]
fn schema_violations_and_arrays_are_refused_with_422_and_400() {
    let mock = MockProcess::start(&[]);
    let (token_url, crm_url) = (mock.url("token endpoint"), mock.url("CRM writes"));
    rt().block_on(async {
        let c = reqwest::Client::new();
        let t: Value = c
            .post(&token_url)
            .basic_auth("cxone_eventhub_client", Some("cxsync-mock-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            t["error"], "invalid_client",
            "the spec says client auth in the body, not Basic"
        );
        let t: Value = c
            .post(&token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "cxone_eventhub_client"),
                ("client_secret", "cxsync-mock-secret"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = t["access_token"].as_str().unwrap();
        let r = c
            .post(&crm_url)
            .bearer_auth(token)
            .header("X-Idempotency-Key", "a")
            .json(&serde_json::json!({"caseNumber": 7}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        assert!(r.text().await.unwrap().contains("required property"));
        let r = c
            .post(&crm_url)
            .bearer_auth(token)
            .header("X-Idempotency-Key", "b")
            .json(&serde_json::json!([{}]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "acceptsArrays: false");
    });
    mock.stop();
}

#[test]
fn the_front_resets_connections_and_cuts_responses_for_real() {
    use cxsync::http::mock::{MockCrm, MockOptions, MOCK_CLIENT_SECRET};
    let dir = tempfile::tempdir().unwrap();
    let sc_path = dir.path().join("r.yaml");
    std::fs::write(&sc_path, "version: 1\nname: r\nduration: 1h\ncrm:\n  resetRate: 1.0\n  latency: { p50Ms: 1, p99Ms: 1 }\n").unwrap();
    let sc = cxsync::sim::scenario::parse(&std::fs::read_to_string(&sc_path).unwrap(), &sc_path)
        .unwrap();
    let loaded = cxsync::spec::load(&root().join("specs/crm_sync.yaml"), &Default::default());
    let spec = loaded.spec.unwrap();
    rt().block_on(async {
        let mock = MockCrm::start(
            &spec.raw,
            &sc,
            &Default::default(),
            cxsync::http::Clock::start(1.0),
            &MockOptions { port: 0, seed: 7 },
        )
        .await
        .unwrap();
        let c = reqwest::Client::new();
        let t: Value = c
            .post(mock.token_url())
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "cxone_eventhub_client"),
                ("client_secret", MOCK_CLIENT_SECRET),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = t["access_token"].as_str().unwrap().to_string();
        for i in 0..12 {
            let r = c
                .post(mock.crm_url())
                .bearer_auth(&token)
                .header("X-Idempotency-Key", format!("k{i}"))
                .json(&serde_json::json!({}))
                .send()
                .await;
            let failed = match r {
                Err(_) => true,
                Ok(resp) => resp.bytes().await.is_err(),
            };
            assert!(failed, "request {i} must fail on the wire");
        }
        let st = mock.state();
        assert!(
            st.tally.resets > 0 && st.tally.cut_responses > 0,
            "{:?}",
            st.tally
        );
        assert_eq!(st.tally.resets + st.tally.cut_responses, 12);
        // Cut responses happen after the write: the CRM applied them.
        assert_eq!(st.model().stats.side_effects, st.tally.cut_responses);
    });
}

#[test]
fn target_refuses_without_a_terminal_or_yes_and_names_a_missing_secret_variable() {
    let args = [
        "sim",
        "specs/crm_sync.yaml",
        "--http",
        "--target",
        "https://crm.staging.example.com/v1/interactions",
    ];
    let out = cxsync()
        .args(args)
        .env("CXONE_CRM_CLIENT_SECRET", "do-not-print-me")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("pass --yes"), "{stderr}");
    assert!(
        stderr.contains("https://crm.staging.example.com/v1/interactions"),
        "the plan is shown: {stderr}"
    );
    assert!(!stderr.contains("do-not-print-me"));

    let out = cxsync()
        .args(args)
        .arg("--yes")
        .env_remove("CXONE_CRM_CLIENT_SECRET")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("CXONE_CRM_CLIENT_SECRET"), "{stderr}");

    let (code, _, stderr) = run(&[
        "sim",
        "specs/crm_sync.yaml",
        "--http",
        "--yes",
        "--target",
        "http://crm.example.com/x",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not loopback"), "{stderr}");
}

#[test]
fn target_sends_the_fixtures_with_real_oauth_and_never_prints_the_secret() {
    let mock = MockProcess::start(&["--scenario", "default"]);
    let dir = tempfile::tempdir().unwrap();
    let path = staging_spec_on_mock(dir.path(), &mock);
    let out = cxsync()
        .args([
            "sim",
            path.to_str().unwrap(),
            "--http",
            "--yes",
            "--target",
            &mock.url("CRM writes"),
        ])
        .env("CXSYNC_TEST_SECRET", "cxsync-mock-secret")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        !stdout.contains("cxsync-mock-secret") && !stderr.contains("cxsync-mock-secret"),
        "the secret leaked"
    );
    assert!(stderr.contains("fixture event(s)"), "{stderr}");
    assert!(stdout.contains("delivered"), "{stdout}\n{stderr}");
    assert!(stdout.contains("token requests 1"), "{stdout}");
    let tally = mock.stop();
    assert!(tally.contains("tokens issued 1"), "{tally}");
}

#[test]
fn target_on_closed_ports_says_so_while_it_retries_not_only_at_the_end() {
    // Two ports nothing listens on (bound, then closed).
    let closed = || {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (token, crm) = (closed(), closed());
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_with_token_endpoint(dir.path(), &format!("http://127.0.0.1:{token}/token"));
    let path = dir.path().join("staging.yaml");
    std::fs::write(&path, spec).unwrap();
    let out = cxsync()
        .args(["sim", path.to_str().unwrap(), "--http", "--yes"])
        .args(["--target", &format!("http://127.0.0.1:{crm}/x")])
        .args(["--time-scale", "0.01"])
        .env("CXSYNC_TEST_SECRET", "s")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The first failed attempt is named at once, with what it means and that the hub retries;
    // the rest are summed (at most one line per 10 s), not one line per retry. (At time scale
    // 0.01 a refusal slower than 100 ms of a loaded machine counts as the channel's timeout:
    // the note then says so instead.)
    let notes: Vec<&str> = stderr.lines().filter(|l| l.starts_with("note: ")).collect();
    let first = notes.first().copied().unwrap_or_default();
    assert!(
        first.contains(&format!("127.0.0.1:{token}"))
            && first.contains("the hub retries with backoff (retry.maxRetries 5)")
            && (first.contains(
                "failed: connection refused (nothing accepts connections there: check the URL and port)"
            ) || first.contains("did not answer in time")),
        "{stderr}"
    );
    assert!(notes.len() < 3, "rate-limited: {stderr}");
    // The verdict is as before: every fixture dead-lettered, exit 1.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("TOKEN_REQUEST_FAILED"));
}

#[test]
fn a_partition_over_http_times_out_exactly_as_in_virtual_time() {
    let dir = tempfile::tempdir().unwrap();
    let [virt, http] = both("partition", &["--events", "80"], dir.path());
    assert!(
        http.1["crm"]["timeouts"].as_u64().unwrap() > 0,
        "{}",
        http.1["crm"]
    );
    assert_eq!(virt.0, http.0, "per-event outcomes differ");
    assert_eq!(virt.1, http.1);
    // The machine's alert bodies reached the mock's webhook, which refuses (400) any body that
    // is not the one alert type: a refused call would show as a failed webhook call.
    assert!(http.1["dlqAlerts"].as_u64().unwrap() > 0, "{}", http.1);
    assert!(
        !http.2.contains("alert webhook call(s) failed"),
        "{}",
        http.2
    );
}

/// The example spec for a copy in `dir`: its transforms, payload schema and fixture events are
/// copied beside it (a spec names files inside its project folder only, E311).
/// The example spec relocated into `dir` ([`relocated_spec`]), fetching its tokens from
/// `token_url` with the client secret in `CXSYNC_TEST_SECRET`.
fn spec_with_token_endpoint(dir: &Path, token_url: &str) -> String {
    relocated_spec(dir)
        .replace("https://auth.company.com/oauth2/token", token_url)
        .replace(
            "${VAULT_SECRET:CXONE_CRM_CLIENT_SECRET}",
            "${env:CXSYNC_TEST_SECRET}",
        )
}

/// [`spec_with_token_endpoint`] on `mock`'s token endpoint, alerting `mock`'s DLQ alert
/// endpoint, written to `dir/staging.yaml`, whose path it returns.
fn staging_spec_on_mock(dir: &Path, mock: &MockProcess) -> std::path::PathBuf {
    let spec = spec_with_token_endpoint(dir, &mock.url("token endpoint")).replace(
        "https://monitoring.company.com/webhooks/dlq-alert",
        &mock.url("DLQ alerts"),
    );
    let path = dir.join("staging.yaml");
    std::fs::write(&path, spec).unwrap();
    path
}

fn relocated_spec(dir: &Path) -> String {
    let specs = root().join("specs");
    std::fs::create_dir_all(dir.join("transforms")).unwrap();
    std::fs::create_dir_all(dir.join("fixtures/events")).unwrap();
    for (from, to) in [
        ("specs/transforms", "transforms"),
        ("fixtures/events", "fixtures/events"),
    ] {
        for e in std::fs::read_dir(root().join(from)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, dir.join(to).join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::copy(
        specs.join("crm-case.schema.json"),
        dir.join("crm-case.schema.json"),
    )
    .unwrap();
    std::fs::read_to_string(specs.join("crm_sync.yaml"))
        .unwrap()
        .replace("- ../fixtures/events/", "- fixtures/events/")
}

#[test]
fn http_basic_client_auth_is_what_the_token_endpoint_gets_when_the_spec_says_basic() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("basic.yaml");
    // An id with `:`, `%`, `+`, a space and non-ASCII: RFC 6749 §2.3.1 form-encodes it before
    // Basic joins it to the secret with `:`, and the mock decodes it as a token endpoint does
    // (tester #76: it was sent raw, and a server split the id at its `:`).
    let text = relocated_spec(dir.path())
        .replace(
            "    retryOnTokenExpiry: true",
            "    retryOnTokenExpiry: true\n    clientAuth: basic",
        )
        .replace(
            "clientId: cxone_eventhub_client",
            "clientId: \"id:with%sp ace+é\"",
        );
    assert!(text.contains("clientAuth: basic") && text.contains("id:with%sp"));
    std::fs::write(&spec, text).unwrap();
    let report = dir.path().join("r.json");
    let (code, stdout, stderr) = run(&[
        "sim",
        spec.to_str().unwrap(),
        "--http",
        "--events",
        "20",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let rep: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(
        rep["crm"]["tokenRefusals"], 0,
        "the mock accepted Basic credentials"
    );
    assert!(rep["crm"]["tokensIssued"].as_u64().unwrap() >= 1);
    assert_eq!(rep["totals"]["lost"], 0);
    assert_eq!(rep["totals"]["delivered"], rep["totals"]["matched"]);
}

/// Every place that decides whether cxsync may send to a URL gives the same answer: the loader
/// (E402), `sim --http --target`, DLQ replay, the Event Hub client and the DLQ object store. The
/// copies they replaced disagreed (`http://[0:0:0:0:0:0:0:1]` was refused by the loader and
/// accepted by the HTTP driver), so each spelling is asked of all of them.
#[test]
fn every_url_check_accepts_and_refuses_the_same_urls() {
    use cxsync::dlq::store::{Source, Store};
    use std::collections::BTreeMap;
    let cases = [
        ("https://crm.example.com/x", true),
        ("http://127.0.0.1:8080/x", true),
        ("http://127.1/x", true),
        ("http://localhost/x", true),
        ("http://[::1]:9000/x", true),
        ("http://[0:0:0:0:0:0:0:1]:9000/x", true),
        ("http://[::ffff:127.0.0.1]/x", true),
        ("http://crm.example.com/x", false),
        ("http://127.example.com/x", false),
        ("http://10.0.0.1/x", false),
        ("http://127.0.0.1@crm.example.com/x", false),
        ("ftp://crm.example.com/x", false),
        ("crm.example.com/x", false),
    ];
    for (url, ok) in cases {
        let text = format!("channel:\n  destinationUri: \"{url}\"\n");
        let doc = cxsync::spec::yaml::parse(&text).unwrap();
        let loader = cxsync::spec::checks::check_urls(&doc.value, &doc.map).is_empty();
        let http = cxsync::http::checked_url("--target", url).is_ok();
        let replay = cxsync::dlq::replay::check_url(url).is_ok();
        let hub = cxsync::cxone::client::check_url("hub", url).is_ok();
        let vars = BTreeMap::from([("AWS_ENDPOINT_URL".to_string(), url.to_string())]);
        let store = Store::open(&Source::parse("s3://bucket/dlq").unwrap(), &vars).is_ok();
        assert_eq!(
            [loader, http, replay, hub, store],
            [ok; 5],
            "{url}: [loader, http, replay, hub, store]"
        );
    }
    // A refusal says what to do instead, in the caller's words.
    let hub = cxsync::cxone::client::check_url("hub", "http://api.example.com").unwrap_err();
    assert!(hub.to_string().contains("use https://"), "{hub}");
    let http = cxsync::http::checked_url("channel.destinationUri", "http://crm.example.com/a");
    let e = http.unwrap_err().to_string();
    assert!(
        e.starts_with("channel.destinationUri: ") && e.contains("not loopback"),
        "{e}"
    );
}

/// One body rule (`crm::body::judge`) for both CRMs: a transform whose output is not a record
/// (an array to a CRM that takes none, a string, `null`), a batch of lists, and the records that
/// are accepted get the same per-event outcomes and exit code in virtual time and over HTTP.
#[test]
fn virtual_time_and_http_judge_a_body_that_is_not_a_record_alike() {
    let dir = tempfile::tempdir().unwrap();
    // Beside the specs: a spec names files inside its project folder only (E311).
    let fixture = Path::new("voice_resolved.json");
    std::fs::copy(
        root().join("fixtures/events/voice_resolved.json"),
        dir.path().join(fixture),
    )
    .unwrap();
    let scenario = dir.path().join("steady.yaml");
    std::fs::write(
        &scenario,
        "version: 1\nname: steady\nduration: 2m\nevents: { count: 12 }\ncrm:\n  latency: { p50Ms: 20, p99Ms: 20 }\n",
    )
    .unwrap();
    // A transform whose output is a list of one record.
    let list = "'[{\"id\": interaction.id}]'";
    let cases = [
        ("array", list, "1", "false", 1),
        ("array-accepted", list, "1", "true", 0),
        ("string", "'\"text\"'", "1", "false", 1),
        ("null", "'null'", "1", "false", 1),
        ("batch-of-lists", list, "3", "true", 1),
        ("object", "'{\"id\": interaction.id}'", "1", "false", 0),
    ];
    for (name, transform, batch, arrays, want) in cases {
        let spec = dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &spec,
            format!(
                "version: 1\nname: shape\nchannel: {{ name: Shape, destinationUri: \"https://crm.example.org/a\", auth: {{ type: none }}, timeoutMilliseconds: 1000, batchSize: {batch}, batchIntervalSeconds: 1 }}\nidempotency: {{ key: \"${{event.id}}\" }}\nretry: {{ maxRetries: 1, initialDelaySeconds: 1, maxDelaySeconds: 2, backoffMultiplier: 2.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400] }}\ndeadLetterQueue: {{ enabled: true, bucketName: b }}\ncrm: {{ acceptsArrays: {arrays} }}\nrules:\n  - {{ id: R, name: r, eventType: interaction.ended, transform: {transform}, fixtures: [{}] }}\n",
                fixture.display()
            ),
        )
        .unwrap();
        let mut seen = Vec::new();
        for flags in [vec![], vec!["--http", "--time-scale", "0.002"]] {
            let outcomes = dir.path().join(format!("{name}-{}.jsonl", flags.len()));
            let mut args = vec![
                "sim",
                spec.to_str().unwrap(),
                "--scenario",
                scenario.to_str().unwrap(),
                "--no-jitter",
                "--outcomes",
                outcomes.to_str().unwrap(),
            ];
            args.extend(flags);
            let (code, stdout, stderr) = run(&args);
            assert_eq!(code, want, "{name} {args:?}:\n{stdout}\n{stderr}");
            seen.push(std::fs::read_to_string(&outcomes).unwrap());
        }
        assert_eq!(seen[0], seen[1], "{name}: per-event outcomes differ");
        if want == 1 {
            assert!(
                seen[0].contains("NON_RETRYABLE_STATUS"),
                "{name}: {}",
                seen[0]
            );
        }
    }
}

/// A loopback server that grants `token` at `/token` and answers every other POST 400 with a body
/// that echoes the request's `Authorization` header and its body (as API gateways and debug
/// endpoints do). Its URL.
fn echo_server(token: &'static str) -> String {
    use std::io::{Read as _, Write as _};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { return };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let (mut first, mut auth, mut len) = (String::new(), String::new(), 0usize);
            if r.read_line(&mut first).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if lower.starts_with("authorization:") {
                    auth = line[14..].trim().to_string();
                }
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let (status, answer) = if first.contains("/token") {
                (
                    "200 OK",
                    format!(r#"{{"access_token":"{token}","expires_in":3600}}"#),
                )
            } else {
                (
                    "400 Bad Request",
                    serde_json::json!({"error": "bad", "echo": auth,
                        "got": String::from_utf8_lossy(&body)})
                    .to_string(),
                )
            };
            let _ = write!(
                c,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[test]
fn a_crm_answer_that_echoes_the_token_or_a_secret_is_scrubbed_where_it_is_captured() {
    // #135: the granted token, the `${env:}` bearer or header secret and the client secret never
    // reach a note, a per-event line or a dead letter's last response, whatever the CRM echoes.
    let token = "tok-GRANTED-9f8e7d6c";
    let url = echo_server(token);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_with_token_endpoint(dir.path(), &format!("{url}/token"))
        // No alert endpoint: the alert window would hold the summary for a minute (#116).
        .replace(
            "  alertEndpoint: https://monitoring.company.com/webhooks/dlq-alert\n",
            "",
        );
    let path = dir.path().join("staging.yaml");
    std::fs::write(&path, spec).unwrap();
    let out = cxsync()
        .args(["sim", path.to_str().unwrap(), "--http", "--yes"])
        .args(["--target", &format!("{url}/crm")])
        .env("CXSYNC_TEST_SECRET", "client-S3CRET-abc")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("last response 400"), "{all}");
    assert!(all.contains("Bearer (sensitive)"), "{all}");
    assert!(!all.contains(token), "the granted token leaked:\n{all}");
    assert!(
        !all.contains("client-S3CRET-abc"),
        "the client secret leaked:\n{all}"
    );
}

/// #126: `mock-crm`, sent writes without the simulator's event numbers (as a hub or curl sends
/// them), upserts as the spec says: a record is known by its upsert value alone, never by the
/// idempotency header (which an upserting CRM does not read), through the model's own reading
/// (`CrmModel::record_identity`) that virtual time dedups on.
#[test]
fn mock_crm_upserts_on_the_specs_field_not_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("upsert.yaml");
    std::fs::write(
        &spec,
        r#"version: 1
name: upsert
channel: { name: Up, destinationUri: "https://crm.example.org/v1/activities", auth: { type: none }, timeoutMilliseconds: 1000 }
idempotency: { key: "${event.id}" }
retry: { maxRetries: 1, initialDelaySeconds: 1, maxDelaySeconds: 2, backoffMultiplier: 2.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400] }
deadLetterQueue: { enabled: true, bucketName: b }
crm: { idempotency: { by: upsert, field: ref } }
rules:
  - { id: CALL, name: call, eventType: interaction.ended, transform: '{"ref": interaction.id}' }
"#,
    )
    .unwrap();
    let scenario = dir.path().join("quiet.yaml");
    std::fs::write(
        &scenario,
        "version: 1\nname: quiet\nduration: 1m\ncrm:\n  latency: { p50Ms: 1, p99Ms: 1 }\n",
    )
    .unwrap();
    let mock = MockProcess::start(&[
        "--spec",
        spec.to_str().unwrap(),
        "--scenario",
        scenario.to_str().unwrap(),
    ]);
    assert!(
        mock.lines
            .iter()
            .any(|l| l.contains("idempotency    upsert on `ref`")),
        "{:?}",
        mock.lines
    );
    let crm_url = mock.url("CRM writes");
    let answers: Vec<(u16, Value)> = rt().block_on(async {
        let c = reqwest::Client::new();
        let mut answers = Vec::new();
        for (key, body) in [
            // One record written under three keys, then resent under the first.
            ("k1", r#"{"ref":"I-7"}"#),
            ("k2", r#"{"ref":"I-7"}"#),
            ("k1", r#"{"ref":"I-7"}"#),
            // Two records under one key (two rules of one event).
            ("k3", r#"{"ref":"I-8"}"#),
            ("k3", r#"{"ref":"note-I-8"}"#),
        ] {
            let r = c
                .post(&crm_url)
                .header("X-Idempotency-Key", key)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            answers.push((status, r.json::<Value>().await.unwrap()));
        }
        answers
    });
    // #126/#178: a create is 201, an upsert of a record already there 200 with its id.
    let shown: Vec<(u16, &str)> = answers
        .iter()
        .map(|(s, b)| (*s, b["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        shown,
        [
            (201, "created"),
            (200, "updated"),
            (200, "updated"),
            (201, "created"),
            (201, "created")
        ],
        "{answers:?}"
    );
    let id = |i: usize| answers[i].1["id"].as_str().unwrap().to_string();
    assert_eq!((id(1), id(2)), (id(0), id(0)), "{answers:?}");
    assert!(id(3) != id(0) && id(4) != id(3), "{answers:?}");
    let stderr = mock.stop();
    let last = stderr.lines().last().unwrap_or("");
    assert!(
        last.contains("side effects 3 ")
            && last.contains("deduplicated 2 ")
            && last.contains("duplicates 0 "),
        "three records (I-7, I-8, note-I-8), the other two writes update I-7: {last}"
    );
}

/// #149: a key over a name field holding non-ASCII text ("Zoë Åström", CJK, an emoji) was sent
/// as raw bytes, which the mock could not read as a header (so it never deduplicated a resend:
/// 22 duplicates over HTTP, none in virtual time). Such a key is refused unsent in every driver;
/// the ASCII-named events are delivered, retried through resets and cut responses, alike.
#[test]
fn a_key_the_header_cannot_carry_is_dead_lettered_alike_in_virtual_time_and_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let names = [
        ("a", "Zoë Åström"),
        ("b", "李小龍"),
        ("c", "Ops 🐉 team"),
        ("d", "Plain Name"),
        ("e", "Ada Byron"),
    ];
    // In a folder of their own: the runs write their reports beside the spec.
    std::fs::create_dir(dir.path().join("events")).unwrap();
    for (i, (f, name)) in names.iter().enumerate() {
        std::fs::write(
            dir.path().join("events").join(format!("{f}.json")),
            serde_json::json!({
                "event": {"id": format!("ev-7f3a-000{i}"), "type": "contact.closed",
                          "occurredAt": "2025-03-09T22:14:05.250+05:30"},
                "interaction": {"id": format!("INT-ab1{i}")},
                "customer": {"ref": format!("cust-90{i}"), "name": name}
            })
            .to_string(),
        )
        .unwrap();
    }
    let spec = dir.path().join("notes.yaml");
    std::fs::write(
        &spec,
        "version: 1\nname: notes\nchannel: { name: Notes, destinationUri: \"https://helpdesk.example.org/api/v2/notes\", auth: { type: none }, timeoutMilliseconds: 2500 }\nidempotency: { header: Idempotency-Key, key: \"${event.id}/${customer.name}\" }\nretry: { maxRetries: 4, initialDelaySeconds: 1, maxDelaySeconds: 30, backoffMultiplier: 2.0, jitter: full, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400] }\ndeadLetterQueue: { enabled: true, bucketName: notes-dlq }\ncrm: { idempotency: { by: header }, allowPersonalData: [requester] }\nrules:\n  - { id: NOTE, name: note, eventType: contact.closed, transform: '{\"external_id\": interaction.id, \"requester\": customer.name}', fixtures: [\"events/*.json\"] }\n",
    )
    .unwrap();
    let scenario = dir.path().join("resets.yaml");
    std::fs::write(
        &scenario,
        "version: 1\nname: resets\nduration: 2m\nevents: { count: 150 }\ncrm:\n  resetRate: 0.2\n  latency: { p50Ms: 30, p99Ms: 300 }\n",
    )
    .unwrap();
    let mut seen = Vec::new();
    for (mode, flags) in [
        ("virtual", vec![]),
        ("http", vec!["--http", "--time-scale", "0.002"]),
    ] {
        let outcomes = dir.path().join(format!("{mode}.jsonl"));
        let report = dir.path().join(format!("{mode}.json"));
        let mut args = vec![
            "sim",
            spec.to_str().unwrap(),
            "--scenario",
            scenario.to_str().unwrap(),
            "--seed",
            "149",
            "--outcomes",
            outcomes.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ];
        args.extend(flags);
        let (code, stdout, stderr) = run(&args);
        // The spec's own dead letters fail the run, in both modes.
        assert_eq!(code, 1, "{mode}:\n{stdout}\n{stderr}");
        assert!(stdout.contains("U+00EB (`ë`)"), "{mode}: {stdout}");
        let mut rep: Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        rep.as_object_mut().unwrap().remove("notes");
        seen.push((std::fs::read_to_string(&outcomes).unwrap(), rep));
    }
    let (virt, http) = (&seen[0], &seen[1]);
    let totals = &http.1["totals"];
    assert_eq!(totals["duplicates"], 0, "{totals}");
    assert_eq!(totals["lost"], 0, "{totals}");
    // Three of five templates carry a non-ASCII name; each of their events is refused unsent.
    let unresolved = http
        .0
        .lines()
        .filter(|l| l.contains("IDEMPOTENCY_KEY_UNRESOLVED"))
        .count();
    let delivered = http
        .0
        .lines()
        .filter(|l| l.contains("\"delivered\""))
        .count();
    assert!(
        unresolved >= 60 && delivered >= 40,
        "{unresolved} {delivered}"
    );
    assert!(
        http.1["crm"]["statuses"]["200"].as_u64().unwrap_or(0) > 0,
        "a resend after a cut response was deduplicated by its key: {}",
        http.1["crm"]
    );
    assert_eq!(virt.0, http.0, "per-event outcomes differ");
    assert_eq!(virt.1, http.1, "reports differ");
}

/// #116: a token endpoint that refuses the client (401 `invalid_client`) dead-letters the waiting
/// fixtures at once, and the run ends there: it waited a whole alert window (60 s) for a timer
/// with nothing to alert. The last alert still reaches the webhook before the run ends.
#[test]
fn target_ends_at_once_after_the_token_endpoint_refuses_the_client() {
    let mock = MockProcess::start(&["--scenario", "default"]);
    let dir = tempfile::tempdir().unwrap();
    let path = staging_spec_on_mock(dir.path(), &mock);
    let started = std::time::Instant::now();
    let out = cxsync()
        .args(["sim", path.to_str().unwrap(), "--http", "--yes"])
        .args(["--target", &mock.url("CRM writes")])
        .env("CXSYNC_TEST_SECRET", "not-the-mock-secret")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let took = started.elapsed();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("TOKEN_REQUEST_FAILED"), "{stdout}");
    // One token request for the fixtures waiting together; under load the wall clock may
    // release a fixture after the refusal, which asks again: never more than one per event.
    let asked: u32 = stdout
        .split("token requests ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no token request count: {stdout}"));
    assert!((1..=4).contains(&asked), "{stdout}");
    assert!(!stdout.contains("delivered "), "{stdout}");
    // Said as final, not as "the hub retries with backoff … this can take minutes".
    assert!(
        stderr.contains("answered HTTP 401 invalid_client; refused credentials do not heal"),
        "{stderr}"
    );
    // The bug cost a 60 s window; a generous bound, so a loaded machine does not fail it.
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
    let tally = mock.stop();
    // Every token request the run made was a refused client; each refusal dead-letters the
    // fixtures waiting then, and each such batch may make one alert (under load a late fixture
    // is refused after the first alert went: failed CI at db40394 with 2 and 2).
    let count = |what: &str| -> u32 {
        tally
            .rsplit(what)
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no `{what}` in {tally}"))
    };
    assert_eq!(count("bad client "), asked, "{tally}");
    assert!((1..=asked).contains(&count("alerts ")), "{tally}");
    assert!(tally.contains("(not an alert body 0)"), "{tally}");
}

/// #116 (tester #196): a run whose last events are dead-lettered inside an alert window ended
/// only at the window's end (127 s of virtual time for events settled by 19 s; as long in real
/// time at `--time-scale 1`). With nothing left to arrive or do, the last alert goes at once and
/// the run ends with its last event, in virtual time and over HTTP alike.
#[test]
fn a_run_ends_with_its_last_event_not_with_its_alert_window() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("events")).unwrap();
    for (i, dir_) in ["inbound", "outbound"].iter().enumerate() {
        std::fs::write(
            dir.path().join("events").join(format!("{dir_}.json")),
            format!(
                r#"{{"event": {{"id": "evt-900{i}", "type": "call.completed", "occurredAt": "2026-11-30T08:01:0{i}.5+01:00"}}, "call": {{"id": "CALL-7{i}", "direction": "{dir_}"}}}}"#
            ),
        )
        .unwrap();
    }
    let spec = dir.path().join("calls.yaml");
    std::fs::write(
        &spec,
        "version: 1\nname: calls\nchannel:\n  name: Calls\n  destinationUri: https://crm.example.net/api/calls\n  auth: { type: oauth2_client_credentials, tokenEndpoint: https://crm.example.net/auth/token, clientId: hub-calls, clientSecret: \"${env:CALLS_SECRET}\", tokenCacheTtlSeconds: 900, retryOnTokenExpiry: true }\n  timeoutMilliseconds: 2000\nidempotency: { header: Idempotency-Key, key: \"${event.id}\" }\nretry: { maxRetries: 3, initialDelaySeconds: 1, maxDelaySeconds: 10, backoffMultiplier: 2.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400, 401] }\ndeadLetterQueue: { enabled: true, bucketName: calls-dlq, alertEndpoint: \"https://alerts.example.net/dlq\" }\nrules:\n  - { id: CALLS, name: calls, eventType: call.completed, transform: '{\"ref\": call.id, \"dir\": call.direction}', fixtures: [\"events/*.json\"] }\n",
    )
    .unwrap();
    // The secret is rotated for good at 5 s and every token revoked at 6 s: the token endpoint
    // answers invalid_grant from then on, and every later event is dead-lettered.
    let scenario = dir.path().join("final-401.yaml");
    std::fs::write(
        &scenario,
        "version: 1\nname: final-401\nduration: 20s\nevents: { count: 10 }\nfaults:\n  - rotateSecret: { at: 5s, vaultUpdatedAfter: 1h }\n  - revokeTokens: { at: 6s }\n",
    )
    .unwrap();
    let mut seen = Vec::new();
    for (mode, flags) in [
        ("virtual", vec![]),
        ("http", vec!["--http", "--time-scale", "0.01"]),
    ] {
        let outcomes = dir.path().join(format!("{mode}.jsonl"));
        let report = dir.path().join(format!("{mode}.json"));
        let out = cxsync()
            .args(["sim", spec.to_str().unwrap(), "--scenario"])
            .arg(&scenario)
            .arg("--outcomes")
            .arg(&outcomes)
            .arg("--report")
            .arg(&report)
            .args(&flags)
            .env("CALLS_SECRET", "s")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(stdout.contains("TOKEN_REQUEST_FAILED"), "{mode}: {stdout}");
        let mut rep: Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        rep.as_object_mut().unwrap().remove("notes");
        let outcomes = std::fs::read_to_string(&outcomes).unwrap();
        let last = outcomes
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["settledMs"]
                    .as_u64()
                    .unwrap()
            })
            .max()
            .unwrap();
        assert!(
            last < 60_000,
            "{mode}: the last event settles early ({last} ms)"
        );
        assert_eq!(
            rep["virtualDurationMs"].as_u64(),
            Some(last),
            "{mode}: the run ends with its last event"
        );
        // The first dead letters alert at once; the later ones, inside that window, at the end.
        assert_eq!(rep["dlqAlerts"], 2, "{mode}");
        seen.push((outcomes, rep));
    }
    assert_eq!(seen[0].0, seen[1].0, "per-event outcomes differ");
    assert_eq!(seen[0].1, seen[1].1, "reports differ");
}

/// #214: a rule with its own `payloadSchema` is judged by that schema everywhere. The same
/// records `sim` dead-letters (a scenario's 503s) and `dlq replay --dry-run` says would now be
/// delivered are delivered by a real replay into `cxsync mock-crm`, which checked every request
/// against the spec-wide `crm.payloadSchema` and refused the note rule's records 422. And the
/// same payloads over `sim --http` are judged alike.
#[test]
fn mock_crm_judges_a_replayed_record_by_its_rules_own_schema() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("fixtures")).unwrap();
    std::fs::write(p.join("cxsync.toml"), "").unwrap();
    std::fs::write(
        p.join("activity.schema.json"),
        r#"{"type": "object", "required": ["subject", "type"]}"#,
    )
    .unwrap();
    std::fs::write(
        p.join("note.schema.json"),
        r#"{"type": "object", "required": ["content"], "additionalProperties": false, "properties": {"content": {"type": "string"}}}"#,
    )
    .unwrap();
    for (name, ty) in [
        ("ended", "interaction.ended"),
        ("started", "interaction.started"),
    ] {
        std::fs::write(
            p.join(format!("fixtures/{name}.json")),
            format!(
                r#"{{"event": {{"id": "e-{name}", "type": "{ty}"}}, "interaction": {{"id": 71}}}}"#
            ),
        )
        .unwrap();
    }
    std::fs::write(
        p.join("spec.yaml"),
        r#"version: 1
name: two-schemas
channel: { name: Two, destinationUri: "https://crm.example.org/v1/activities", auth: { type: none }, timeoutMilliseconds: 1000 }
idempotency: { header: X-Idempotency-Key, key: "${interaction.id}_${event.type}" }
retry: { maxRetries: 1, initialDelaySeconds: 1, maxDelaySeconds: 2, backoffMultiplier: 2.0, retryableStatusCodes: [429, 503], nonRetryableStatusCodes: [400, 422] }
deadLetterQueue: { enabled: true, bucketName: b }
crm: { idempotency: { by: header }, payloadSchema: activity.schema.json }
rules:
  - { id: CALL, name: call, eventType: interaction.ended, transform: '{"subject": "call " & interaction.id, "type": "call"}', fixtures: [fixtures/*.json] }
  - { id: NOTE, name: note, eventType: interaction.started, payloadSchema: note.schema.json, transform: '{"content": "started " & interaction.id}', fixtures: [fixtures/*.json] }
"#,
    )
    .unwrap();
    std::fs::write(
        p.join("down.yaml"),
        "version: 1\nname: down\nduration: 1m\nevents: { count: 6 }\nfaults:\n  - respond: { from: 0s, to: 1m, status: 503 }\n",
    )
    .unwrap();
    std::fs::write(
        p.join("quiet.yaml"),
        "version: 1\nname: quiet\nduration: 10m\ncrm:\n  latency: { p50Ms: 1, p99Ms: 1 }\n  resetRate: 0\n",
    )
    .unwrap();
    let in_dir = |args: &[&str]| {
        let o = cxsync().current_dir(p).args(args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (o.status.code().unwrap_or(-1), text)
    };
    // The payloads of both rules pass their own schemas: sim and sim --http deliver them all.
    for extra in [&[][..], &["--http", "--time-scale", "0.002"][..]] {
        let mut args = vec![
            "sim",
            "spec.yaml",
            "--scenario",
            "quiet.yaml",
            "--events",
            "6",
        ];
        args.extend_from_slice(extra);
        let (code, out) = in_dir(&args);
        assert_eq!(code, 0, "{args:?}: {out}");
        assert!(out.contains("none dead-lettered"), "{args:?}: {out}");
    }
    let (_, out) = in_dir(&[
        "sim",
        "spec.yaml",
        "--scenario",
        "down.yaml",
        "--dlq-dir",
        "dlq",
    ]);
    assert!(out.contains("DLQ record(s) written"), "{out}");
    let mock = MockProcess::start(&[
        "--spec",
        p.join("spec.yaml").to_str().unwrap(),
        "--scenario",
        p.join("quiet.yaml").to_str().unwrap(),
    ]);
    let crm_url = mock.url("CRM writes");
    let (code, out) = in_dir(&[
        "dlq",
        "replay",
        "dlq",
        "--spec",
        "spec.yaml",
        "--target",
        &crm_url,
    ]);
    let stderr = mock.stop();
    assert_eq!(code, 0, "{out}\nmock: {stderr}");
    assert!(!out.contains("422"), "{out}");
    assert!(out.contains("0 failed"), "{out}");
    let delivered = out.matches("delivered").count();
    assert!(delivered >= 2, "{out}");
    assert!(stderr.contains("[201×"), "{stderr}");
    assert!(!stderr.contains("422×"), "{stderr}");
}
