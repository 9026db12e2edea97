//! The CLI habits people expect: colour that follows `--color`, `NO_COLOR` and `CLICOLOR_FORCE`
//! in every subcommand, shell completions and manual pages from the clap definition.

use std::process::Command;

use crate::common::cxsync;

/// A `cxsync` command with no colour variables inherited from the test's environment.
fn plain_env() -> Command {
    let mut c = cxsync();
    for v in ["NO_COLOR", "CLICOLOR_FORCE", "CLICOLOR"] {
        c.env_remove(v);
    }
    c.env("TERM", "xterm-256color");
    c
}

const ESC: &str = "\u{1b}[";

/// Commands that print diagnostics, one per way they get there: validate (stdout), lint
/// (stdout), compile, test, sim, eval (stderr).
fn coloured_commands() -> Vec<Vec<&'static str>> {
    vec![
        vec!["validate", "fixtures/bad/unclosed_bracket.yaml"],
        vec!["lint", "fixtures/bad/unclosed_bracket.yaml"],
        vec!["compile", "fixtures/bad/unclosed_bracket.yaml"],
        vec!["test", "fixtures/bad/unclosed_bracket.yaml"],
        vec!["sim", "fixtures/bad/unclosed_bracket.yaml"],
        vec![
            "eval",
            "--spec",
            "fixtures/bad/unclosed_bracket.yaml",
            "--rule",
            "x",
            "--event",
            "fixtures/events/voice_resolved.json",
        ],
    ]
}

#[cfg(unix)]
#[test]
fn on_a_terminal_diagnostics_are_coloured_unless_no_color_or_never() {
    use crate::common::on_terminal;
    for args in coloured_commands() {
        let mut c = plain_env();
        c.args(&args);
        let t = on_terminal(c);
        assert!(
            t.output.contains(ESC),
            "{args:?} on a terminal:\n{}",
            t.output
        );
        assert!(matches!(t.code, Some(1 | 2)), "{args:?}: exit {:?}", t.code);
        let mut c = plain_env();
        c.env("NO_COLOR", "1").args(&args);
        let t = on_terminal(c);
        assert!(
            !t.output.contains(ESC),
            "{args:?} NO_COLOR=1:\n{}",
            t.output
        );
        assert!(t.output.contains("unclosed"), "{args:?}: {}", t.output);
        let mut c = plain_env();
        c.arg("--color=never").args(&args);
        assert!(
            !on_terminal(c).output.contains(ESC),
            "{args:?} --color=never"
        );
    }
    // Help follows the same choice.
    let mut c = plain_env();
    c.env("NO_COLOR", "1").arg("--help");
    assert!(!on_terminal(c).output.contains(ESC));
}

#[test]
fn piped_output_is_plain_unless_forced() {
    for args in coloured_commands() {
        let out = plain_env().args(&args).output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(ESC), "{args:?} piped:\n{all}");
        for forced in [
            plain_env()
                .env("CLICOLOR_FORCE", "1")
                .args(&args)
                .output()
                .unwrap(),
            plain_env()
                .arg("--color")
                .arg("always")
                .args(&args)
                .output()
                .unwrap(),
        ] {
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&forced.stdout),
                String::from_utf8_lossy(&forced.stderr)
            );
            assert!(all.contains(ESC), "{args:?} forced:\n{all}");
        }
        // NO_COLOR wins over CLICOLOR_FORCE; the flag wins over both.
        let out = plain_env()
            .env("CLICOLOR_FORCE", "1")
            .env("NO_COLOR", "1")
            .args(&args)
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains(ESC),
            "{args:?}"
        );
    }
}

#[test]
fn completions_for_every_shell_come_from_the_clap_definition() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = cxsync().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        let (color, scenario) = if shell == "fish" {
            ("-l color", "-l scenario")
        } else {
            ("--color", "--scenario")
        };
        for word in ["init", "validate", "replay", color, scenario] {
            assert!(text.contains(word), "{shell} completion lacks {word}");
        }
        // Value lists (the CRM profiles of `init --crm`) where the shell completes values.
        if matches!(shell, "bash" | "zsh" | "fish") {
            assert!(
                text.contains("servicenow"),
                "{shell} lacks the --crm values"
            );
        }
    }
    // The bash script is valid bash.
    let script = cxsync()
        .args(["completions", "bash"])
        .output()
        .unwrap()
        .stdout;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cxsync.bash");
    std::fs::write(&path, script).unwrap();
    if let Ok(s) = Command::new("bash").arg("-n").arg(&path).status() {
        assert!(s.success(), "bash -n rejects the completion script");
    }
    let out = cxsync().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_pages_cover_every_subcommand() {
    let out = cxsync().arg("man").output().unwrap();
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH cxsync 1"), "{page}");
    assert!(
        page.contains("cxsync\\-init"),
        "the top page lists subcommands"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = cxsync()
        .arg("man")
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    for name in [
        "cxsync.1",
        "cxsync-init.1",
        "cxsync-lint.1",
        "cxsync-dlq.1",
        "cxsync-dlq-replay.1",
        "cxsync-completions.1",
    ] {
        let p = dir.path().join(name);
        let text = std::fs::read_to_string(&p).unwrap_or_else(|_| panic!("{name} missing"));
        assert!(text.contains(".SH NAME"), "{name}");
    }
}

/// A project whose transform hits its sequence limit (D2015) on every event: fast to hit, and a
/// limit like the time budget.
fn limit_project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let out = cxsync().current_dir(d.path()).arg("init").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    std::fs::write(
        d.path().join("specs/transforms/interaction_ended.jsonata"),
        "{ \"caseNumber\": $string(interaction.id), \"n\": $count([1..5000000]) }\n",
    )
    .unwrap();
    d
}

#[cfg(unix)]
#[test]
fn sim_and_test_show_progress_on_a_terminal_and_name_a_transform_limit_at_once() {
    use crate::common::on_terminal;
    let d = limit_project();
    let mut c = plain_env();
    c.current_dir(d.path())
        .args(["sim", "specs/crm_sync.yaml", "--events", "40"]);
    let t = on_terminal(c);
    assert!(t.output.contains(" events "), "no bar:\n{}", t.output);
    let warn = t
        .output
        .find("the transform hit its sequence limit")
        .unwrap_or_else(|| panic!("limit not named:\n{}", t.output));
    let verdict = t.output.find("of ").unwrap();
    assert!(
        warn < t
            .output
            .rfind("matched events delivered")
            .unwrap_or(verdict),
        "named only at the end:\n{}",
        t.output
    );
    // Once per rule and code, not once per event.
    assert_eq!(t.output.matches("hit its sequence limit").count(), 1);

    let mut c = plain_env();
    c.current_dir(d.path()).arg("test");
    let t = on_terminal(c);
    assert!(t.output.contains("/3 cases"), "no bar:\n{}", t.output);
    assert!(t.output.contains("warning: "), "{}", t.output);
}

#[test]
fn piped_runs_show_no_bar_but_still_name_the_limit() {
    let d = limit_project();
    for args in [
        vec!["sim", "specs/crm_sync.yaml", "--events", "40"],
        vec!["test"],
    ] {
        let out = plain_env()
            .current_dir(d.path())
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("events ="),
            "{args:?}: a bar in a pipe:\n{err}"
        );
        assert!(!err.contains('\r'), "{args:?}: terminal control in a pipe");
        assert!(
            err.contains("sequence limit") || err.contains("D2015"),
            "{args:?}: {err}"
        );
        if args[0] == "sim" {
            // Nothing was delivered: no latency, rather than "p50 0 ms".
            let out = String::from_utf8_lossy(&out.stdout);
            assert!(out.contains("latency    none"), "{out}");
            assert!(!out.contains("p50 0 ms"), "{out}");
        }
    }
}

#[test]
fn eval_names_the_event_file_it_cannot_read_and_a_limit_once() {
    let d = tempfile::tempdir().unwrap();
    let out = plain_env()
        .current_dir(d.path())
        .args(["eval", "--expr", "1", "--event", "no-such-event.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-event.json"), "{err}");

    std::fs::write(
        d.path().join("e.ndjson"),
        "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n",
    )
    .unwrap();
    let out = plain_env()
        .current_dir(d.path())
        .args([
            "eval",
            "--expr",
            "$count([1..5000000])",
            "--events",
            "e.ndjson",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("hit its sequence limit").count(), 1, "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
}

/// #237: `src/` prints through `cxsync::stdio` (its `errln!`), never through `println!`,
/// `print!`, `eprintln!` or `eprint!`, which panic (exit 101) on a closed pipe.
#[test]
fn no_source_file_prints_through_a_macro_that_panics_on_a_closed_pipe() {
    let mut found = Vec::new();
    for (rel, bytes) in crate::common::files_under(&crate::common::root().join("src")) {
        if !rel.to_string_lossy().ends_with(".rs") || rel.to_string_lossy() == "stdio.rs" {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for m in ["println!(", "print!(", "eprintln!(", "eprint!("] {
                let hit = code
                    .match_indices(m)
                    .any(|(i, _)| !code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'));
                if hit {
                    found.push(format!("src/{}:{}: {}", rel.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}
