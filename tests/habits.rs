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
