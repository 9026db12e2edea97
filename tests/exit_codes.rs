//! The exit-code contract, checked over every subcommand in one table: **0** clean, **1**
//! findings, failures or pending changes, **2** the tool could not do its job (a missing file
//! included). `plan --detailed-exitcode` follows terraform (2 means changes, 1 an error), as
//! documented. The table must name every subcommand clap knows, so a new one cannot skip it.

use std::collections::BTreeSet;
use std::process::Command;

use crate::common::cxsync;
use crate::cxone::{cmd_at, env};

/// One row: a command line and the exit code it must give.
struct Case {
    /// The subcommand path, as clap names it (`dlq replay`).
    sub: &'static str,
    args: Vec<String>,
    want: i32,
}

fn case(sub: &'static str, args: &[&str], want: i32) -> Case {
    Case {
        sub,
        args: args.iter().map(|s| s.to_string()).collect(),
        want,
    }
}

/// `dlq replay fixtures/dlq/store --spec SPEC --dry-run EXTRA…`, which must exit `want`.
fn dry_replay(spec: &str, extra: &[&str], want: i32) -> Case {
    let mut args = vec![
        "dlq",
        "replay",
        "fixtures/dlq/store",
        "--spec",
        spec,
        "--dry-run",
    ];
    args.extend_from_slice(extra);
    case("dlq replay", &args, want)
}

/// Rows that run offline from the repository root.
fn offline(dir: &std::path::Path) -> Vec<Case> {
    let bad = "fixtures/bad/three_mistakes.yaml";
    let spec = "specs/crm_sync.yaml";
    let event = "fixtures/events/voice_resolved.json";
    let out = dir.join("out");
    let out = out.to_str().unwrap();
    let proj = dir.join("proj");
    let proj = proj.to_str().unwrap();
    let broken_dlq = dir.join("dlq");
    let broken_dlq = broken_dlq.to_str().unwrap();
    vec![
        case("init", &["init", proj], 0),
        case("init", &["init", proj], 2), // refuses to overwrite
        case("init", &["init", "--crm", "nope", proj], 2),
        case("validate", &["validate", spec], 0),
        case("validate", &["validate", bad], 1),
        case("validate", &["validate", "missing.yaml"], 2),
        case("validate", &["validate", spec, "--env", "nope"], 2),
        case("compile", &["compile", spec, "--out", out], 0),
        case("compile", &["compile", bad], 1),
        case("compile", &["compile", "missing.yaml"], 2),
        case("schema", &["schema"], 0),
        case("schema", &["schema", "extra"], 2),
        case("test", &["test", spec], 0),
        case("test", &["test", bad], 1),
        case("test", &["test", "missing.yaml"], 2),
        case(
            "eval",
            &["eval", "--expr", "interaction.id", "--event", event],
            0,
        ),
        case(
            "eval",
            &["eval", "--expr", "$error(\"x\")", "--event", event],
            1,
        ),
        case(
            "eval",
            &["eval", "--expr", "a", "--event", "missing.json"],
            2,
        ),
        case(
            "eval",
            &[
                "eval",
                "--spec",
                "missing.yaml",
                "--rule",
                "r",
                "--event",
                event,
            ],
            2,
        ),
        case("fix", &["fix", "--check", spec], 0),
        case(
            "fix",
            &["fix", "--check", "fixtures/dialect/guide_file.yaml"],
            1,
        ),
        case("fix", &["fix", "missing.yaml"], 2),
        case("lint", &["lint", spec], 0),
        case("lint", &["lint", "fixtures/lint/CX005.yaml"], 1),
        case("lint", &["lint", "missing.yaml"], 2),
        case("lint", &["lint", spec, "--select", "CX999"], 2),
        case("rules", &["rules"], 0),
        case("rules", &["rules", "--format", "nope"], 2),
        case("explain", &["explain", "CX005"], 0),
        case("explain", &["explain", "CX999"], 2),
        case("sim", &["sim", spec], 0),
        case(
            "sim",
            &[
                "sim",
                "fixtures/sim/guide-copy.yaml",
                "--scenario",
                "salesforce-throttle",
            ],
            1,
        ),
        case("sim", &["sim", "missing.yaml"], 2),
        case("sim", &["sim", spec, "--scenario", "missing.yaml"], 2),
        case(
            "mock-crm",
            &["mock-crm", "--port", "0", "--exit-after", "0"],
            0,
        ),
        case(
            "mock-crm",
            &["mock-crm", "--spec", "missing.yaml", "--exit-after", "0"],
            2,
        ),
        case("mock-hub", &["mock-hub", "--fail", "nonsense"], 2),
        case("dlq", &["dlq"], 2),
        case("dlq list", &["dlq", "list", "fixtures/dlq/store"], 0),
        case("dlq list", &["dlq", "list", broken_dlq], 1), // an unreadable record is a finding
        case("dlq list", &["dlq", "list", "missing"], 2),
        case("dlq stats", &["dlq", "stats", "fixtures/dlq/store"], 0),
        case("dlq stats", &["dlq", "stats", broken_dlq], 1),
        case("dlq stats", &["dlq", "stats", "missing"], 2),
        case(
            "dlq show",
            &["dlq", "show", "fixtures/dlq/store", "evt-2001"],
            0,
        ),
        case("dlq show", &["dlq", "show", broken_dlq, "evt-ok"], 1),
        case(
            "dlq show",
            &["dlq", "show", "fixtures/dlq/store", "evt-9999"],
            2,
        ),
        dry_replay(
            "fixtures/dlq/fixed.yaml",
            &["--reason", "PAYLOAD_TOO_LARGE"],
            0,
        ),
        dry_replay("fixtures/dlq/fixed.yaml", &[], 1),
        dry_replay("missing.yaml", &[], 2),
        case("dlq schema", &["dlq", "schema", "record"], 0),
        case("dlq schema", &["dlq", "schema", "nope"], 2),
        case("lsp", &["lsp"], 2), // no client on stdin; the protocol's 0/1 are in tests/lsp.rs
        case("completions", &["completions", "zsh"], 0),
        case("completions", &["completions", "tcsh"], 2),
        case("man", &["man"], 0),
        case(
            "man",
            &["man", "--out", "/proc/cxsync-cannot-write-here"],
            2,
        ),
        case("import", &["import", "--channel", "X", "--out", out], 2), // no hub configured
        case("plan", &["plan", "missing.yaml"], 2),
        case("apply", &["apply", "missing.yaml"], 2),
        case("metrics", &["metrics", "missing.yaml"], 2),
    ]
}

/// Every subcommand path clap knows (`dlq replay`, not `help`).
fn subcommands() -> BTreeSet<String> {
    fn walk(cmd: &clap::Command, prefix: &str, out: &mut BTreeSet<String>) {
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let name = format!("{prefix}{}", sub.get_name());
            walk(sub, &format!("{name} "), out);
            out.insert(name);
        }
    }
    let mut out = BTreeSet::new();
    walk(
        &<cxsync::cli::Cli as clap::CommandFactory>::command(),
        "",
        &mut out,
    );
    out
}

fn check(c: &Case, mut cmd: Command) -> Option<String> {
    let out = cmd
        .args(&c.args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let got = out.status.code();
    (got != Some(c.want)).then(|| {
        format!(
            "`cxsync {}`: want {}, got {got:?}\n{}{}",
            c.args.join(" "),
            c.want,
            String::from_utf8_lossy(&out.stdout)
                .chars()
                .take(400)
                .collect::<String>(),
            String::from_utf8_lossy(&out.stderr)
                .chars()
                .take(600)
                .collect::<String>()
        )
    })
}

/// A scratch folder for [`offline`]: `dlq/` holds one good record and one that is not a record.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let good = crate::common::root().join("fixtures/dlq/store");
    let (first, _) = crate::common::files_under(&good)
        .into_iter()
        .next()
        .unwrap();
    let copy = dir.path().join("dlq").join(&first);
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(good.join(&first)).unwrap()).unwrap();
    record["eventId"] = "evt-ok".into();
    std::fs::write(&copy, serde_json::to_vec(&record).unwrap()).unwrap();
    std::fs::write(copy.with_file_name("garbage.json"), "{ not json").unwrap();
    dir
}

/// Runs `check` on every row of [`offline`] (the client secret `secret` in the environment)
/// and, against a mock Event Hub, on the rows `hub_rows(spec, import_folder)` and then
/// `unreachable_rows(spec)` (against a hub that does not answer; these count for no
/// subcommand); then asserts that every subcommand clap knows had a row and that no row failed.
fn check_every_subcommand(
    secret: &str,
    hub_rows: impl Fn(&str, &str) -> Vec<Case>,
    unreachable_rows: impl Fn(&str) -> Vec<Case>,
    check: impl Fn(&Case, Command) -> Option<String>,
) {
    let dir = scratch();
    let mut failures = Vec::new();
    let mut covered = BTreeSet::new();
    for c in offline(dir.path()) {
        covered.insert(c.sub.to_string());
        let mut cmd = cxsync();
        // dlq replay's fixed spec reads its client secret from the environment.
        cmd.env("CRM_CLIENT_SECRET", secret);
        failures.extend(check(&c, cmd));
    }
    let e = env();
    let spec = e.spec.to_str().unwrap().to_string();
    let out = dir.path().join("imported");
    for c in hub_rows(&spec, out.to_str().unwrap()) {
        covered.insert(c.sub.to_string());
        failures.extend(check(&c, cmd_at(&e.hub.url())));
    }
    for c in unreachable_rows(&spec) {
        failures.extend(check(&c, cmd_at("http://127.0.0.1:9")));
    }
    let missing: Vec<String> = subcommands()
        .into_iter()
        .filter(|s| !covered.contains(s))
        .collect();
    assert!(missing.is_empty(), "subcommands without a row: {missing:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `import --channel CHANNEL --out OUT` against the mock Event Hub: exit 0.
fn import_row(out: &str) -> Case {
    case(
        "import",
        &["import", "--channel", crate::cxone::CHANNEL, "--out", out],
        0,
    )
}

#[test]
fn every_subcommand_exits_0_clean_1_findings_2_tool_error() {
    check_every_subcommand(
        "exit-code-table",
        // Against a mock Event Hub: plan and apply with and without changes, metrics, import.
        |spec, out| {
            vec![
                case("plan", &["plan", spec], 1), // changes pending
                case("plan", &["plan", spec, "--detailed-exitcode"], 2), // terraform: changes
                case("apply", &["apply", spec], 2), // no terminal and no --auto-approve: refused
                case("apply", &["apply", spec, "--auto-approve"], 0),
                case("plan", &["plan", spec, "--detailed-exitcode"], 0), // converged
                case("plan", &["plan", spec], 0),
                case("metrics", &["metrics", spec], 0),
                case("metrics", &["metrics", spec, "--interval", "1h"], 2),
                import_row(out),
            ]
        },
        // An unreachable hub: a tool error, and 1 under --detailed-exitcode (terraform's error
        // code).
        |spec| {
            vec![
                case("plan", &["plan", spec, "--retries", "0"], 2),
                case(
                    "plan",
                    &["plan", spec, "--retries", "0", "--detailed-exitcode"],
                    1,
                ),
            ]
        },
        check,
    );
}

/// `cxsync CMD | head -1`: a command whose stdout is a pipe nobody reads exits quietly, every
/// subcommand of the table above: no panic, no "Broken pipe" error, and exit 0 (its output was
/// refused) or the code it would give anyway (it wrote nothing to stdout, or finished first).
fn check_closed(c: &Case, mut cmd: Command) -> Option<String> {
    cmd.args(&c.args);
    let out = crate::common::output_into_closed_pipe(cmd);
    let err = String::from_utf8_lossy(&out.stderr);
    let got = out.status.code();
    let loud = ["panicked", "Broken pipe", "os error 32", "RUST_BACKTRACE"]
        .iter()
        .any(|w| err.contains(w));
    (loud || !(got == Some(0) || got == Some(c.want))).then(|| {
        format!(
            "`cxsync {} | head -1`: want 0 or {}, got {got:?}\n{}",
            c.args.join(" "),
            c.want,
            err.chars().take(600).collect::<String>()
        )
    })
}

#[test]
fn every_subcommand_into_a_closed_pipe_exits_quietly() {
    check_every_subcommand(
        "closed-pipe",
        |spec, out| {
            vec![
                case("plan", &["plan", spec], 1),
                case("plan", &["plan", spec, "--json"], 1),
                case("apply", &["apply", spec, "--auto-approve"], 0),
                case("metrics", &["metrics", spec], 0),
                import_row(out),
            ]
        },
        |_| Vec::new(),
        check_closed,
    );
}

/// Runs `cmd` with stdout and stderr both into one pipe whose reader has gone
/// (`cxsync CMD 2>&1 | head -0`).
fn output_into_closed_pipes(mut cmd: Command) -> std::process::ExitStatus {
    let (out, err) = {
        use std::os::fd::FromRawFd;
        let mut fds = [0; 2];
        // SAFETY: pipe writes two fresh descriptors into `fds`; the read end is closed at once,
        // the write end is duplicated and each descriptor is owned by one File alone.
        unsafe {
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            libc::close(fds[0]);
            let dup = libc::dup(fds[1]);
            assert!(dup >= 0);
            (
                std::fs::File::from_raw_fd(fds[1]),
                std::fs::File::from_raw_fd(dup),
            )
        }
    };
    cmd.stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .unwrap()
}

/// #237: `cxsync CMD 2>&1 | head -1` exits with the code the command gives anyway, every row of
/// the table (errors and findings included, which are written to stderr): never 101, Rust's
/// panic on a write to a closed stderr, and not 0 for a command that had findings.
#[test]
fn every_subcommand_with_stdout_and_stderr_into_a_closed_pipe_exits_with_its_own_code() {
    check_every_subcommand(
        "closed-pipes",
        |spec, out| {
            vec![
                case("plan", &["plan", spec], 1),
                case("plan", &["plan", spec, "--json"], 1),
                case("apply", &["apply", spec, "--auto-approve"], 0),
                case("metrics", &["metrics", spec], 0),
                import_row(out),
            ]
        },
        // The retry lines of an unreachable hub go to stderr, then the error.
        |spec| vec![case("plan", &["plan", spec, "--retries", "1"], 2)],
        |c, mut cmd| {
            cmd.args(&c.args);
            let got = output_into_closed_pipes(cmd).code();
            (got != Some(c.want)).then(|| {
                format!(
                    "`cxsync {} 2>&1 | head -0`: want {}, got {got:?}",
                    c.args.join(" "),
                    c.want
                )
            })
        },
    );
}

/// #246: an unknown `--env` is a tool error (2) for every command that loads a spec, `lint`
/// (and `lint --budget`) included, and each names the environment it did not find.
#[test]
fn an_unknown_env_is_a_tool_error_for_every_command_that_loads_a_spec() {
    let spec = "specs/crm_sync.yaml";
    let event = "fixtures/events/voice_resolved.json";
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let rows: Vec<Vec<&str>> = vec![
        vec!["validate", spec],
        vec!["lint", spec],
        vec!["lint", "--budget", spec],
        vec!["lint", "--format", "json", spec],
        vec!["test", spec],
        vec!["compile", spec, "--out", out.to_str().unwrap()],
        vec!["sim", spec],
        vec!["fix", "--check", spec],
        vec![
            "eval",
            "--spec",
            spec,
            "--rule",
            "CRM_SYNC_RULE_ID",
            "--event",
            event,
        ],
        vec!["mock-crm", "--spec", spec, "--exit-after", "0"],
        vec!["plan", spec],
        vec!["apply", spec],
        vec!["metrics", spec],
        vec![
            "dlq",
            "replay",
            "fixtures/dlq/store",
            "--spec",
            "fixtures/dlq/fixed.yaml",
            "--dry-run",
        ],
    ];
    let mut failures = Vec::new();
    for args in rows {
        let o = cxsync()
            .args(&args)
            .args(["--env", "stagin"])
            .env("CRM_CLIENT_SECRET", "s")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        if o.status.code() != Some(2) || !text.contains("stagin") {
            failures.push(format!(
                "`cxsync {} --env stagin`: exit {:?}\n{}",
                args.join(" "),
                o.status.code(),
                text.chars().take(400).collect::<String>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
