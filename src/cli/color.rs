//! The one place that decides whether output is coloured: `--color auto|always|never` (a flag of
//! every subcommand), then `NO_COLOR`, `CLICOLOR_FORCE`, `CLICOLOR=0`, `TERM=dumb`, and whether the
//! stream is a terminal — in that order, the order `anstream` (clap's own colouring) uses. Commands
//! ask [`stdout`] or [`stderr`]; nothing else looks at these variables.

use std::io::IsTerminal;
use std::sync::OnceLock;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal, unless `NO_COLOR` is set (or forced by `CLICOLOR_FORCE`).
    #[default]
    Auto,
    /// Always colour, even into a pipe or file.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// The same choice for clap's own help and error output.
    pub fn for_clap(self) -> clap::ColorChoice {
        match self {
            ColorChoice::Auto => clap::ColorChoice::Auto,
            ColorChoice::Always => clap::ColorChoice::Always,
            ColorChoice::Never => clap::ColorChoice::Never,
        }
    }
}

static CHOICE: OnceLock<ColorChoice> = OnceLock::new();

/// Records the run's `--color` (called once, by `cli::main`, before any command runs).
pub fn init(choice: ColorChoice) {
    let _ = CHOICE.set(choice);
}

/// Whether to colour what goes to stdout.
pub fn stdout() -> bool {
    enabled(std::io::stdout().is_terminal())
}

/// Whether to colour what goes to stderr.
pub fn stderr() -> bool {
    enabled(std::io::stderr().is_terminal())
}

fn enabled(is_terminal: bool) -> bool {
    let choice = CHOICE.get().copied().unwrap_or_default();
    decide(choice, is_terminal, &|name| std::env::var_os(name))
}

/// The decision, with the environment handed in so it can be tested.
pub fn decide(
    choice: ColorChoice,
    is_terminal: bool,
    var: &dyn Fn(&str) -> Option<std::ffi::OsString>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            // no-color.org: set and not empty.
            let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
            let not_zero = |name: &str| var(name).is_some_and(|v| !v.is_empty() && v != "0");
            if set("NO_COLOR") {
                false
            } else if not_zero("CLICOLOR_FORCE") {
                true
            } else if var("CLICOLOR").is_some_and(|v| v == "0") {
                false
            } else {
                is_terminal && var("TERM").is_none_or(|t| t != "dumb")
            }
        }
    }
}

/// `--color VALUE` (or `--color=VALUE`) as written on the command line, read before clap parses
/// it so clap's own help and errors follow the same choice. The last one wins, like clap's.
pub fn from_args(args: &[std::ffi::OsString]) -> ColorChoice {
    let mut choice = ColorChoice::Auto;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let Some(a) = a.to_str() else { continue };
        if a == "--" {
            break;
        }
        let value = match a.strip_prefix("--color") {
            Some("") => it.next().and_then(|v| v.to_str()),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        match value {
            Some("always") => choice = ColorChoice::Always,
            Some("never") => choice = ColorChoice::Never,
            Some("auto") => choice = ColorChoice::Auto,
            _ => {}
        }
    }
    choice
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn the_flag_then_no_color_then_clicolor_then_the_terminal_decide() {
        use ColorChoice::{Always, Auto, Never};
        // (flag, stream is a terminal, environment `K=V …`, colour?, why)
        let table = [
            (Auto, true, "", true, "auto colours a terminal"),
            (Auto, false, "", false, "auto leaves a pipe plain"),
            (Auto, true, "TERM=dumb", false, "a dumb terminal"),
            (Auto, true, "NO_COLOR=1", false, "NO_COLOR beats a terminal"),
            (
                Auto,
                true,
                "NO_COLOR=1 CLICOLOR_FORCE=1",
                false,
                "… and CLICOLOR_FORCE",
            ),
            (
                Auto,
                true,
                "NO_COLOR=",
                true,
                "an empty NO_COLOR is not set (no-color.org)",
            ),
            (
                Auto,
                false,
                "CLICOLOR_FORCE=1",
                true,
                "CLICOLOR_FORCE colours a pipe",
            ),
            (
                Auto,
                false,
                "CLICOLOR_FORCE=0",
                false,
                "CLICOLOR_FORCE=0 is off",
            ),
            (
                Auto,
                true,
                "CLICOLOR=0",
                false,
                "CLICOLOR=0 turns a terminal off",
            ),
            (Always, false, "NO_COLOR=1", true, "the flag beats NO_COLOR"),
            (
                Never,
                true,
                "CLICOLOR_FORCE=1",
                false,
                "the flag beats CLICOLOR_FORCE",
            ),
        ];
        for (choice, terminal, vars, want, why) in table {
            let pairs: Vec<(&str, &str)> = vars
                .split_whitespace()
                .map(|kv| kv.split_once('=').unwrap())
                .collect();
            assert_eq!(decide(choice, terminal, &env(&pairs)), want, "{why}");
        }
    }

    #[test]
    fn the_flag_is_read_in_both_spellings_and_the_last_wins() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            from_args(&args(&["cxsync", "lint", "--color", "never", "x"])),
            ColorChoice::Never
        );
        assert_eq!(
            from_args(&args(&[
                "cxsync",
                "--color=always",
                "lint",
                "--color=never"
            ])),
            ColorChoice::Never
        );
        assert_eq!(
            from_args(&args(&["cxsync", "eval", "--", "--color=always"])),
            ColorChoice::Auto
        );
    }
}
