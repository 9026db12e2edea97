//! `cxsync test [PATH...] [--update] [--review] [--junit FILE] [--now T]`: every fixture through
//! its rule's event type, conditions and transform, compared with the snapshots in `snapshots/`
//! at the spec's project root (`project::snapshots_dir`), whatever the current folder. Scenario
//! files among the paths are validated as scenarios.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{ExitStatus, SpecArgs};
use crate::diag::{self, Format, Sources};
use crate::spec;
use crate::transform::runner::{self, Case};
use crate::transform::snapshot::{self, Status};

#[derive(Debug, clap::Args)]
#[command(mut_arg("now", |a| a.help(
    "The instant `$now()` and `$millis()` return (RFC 3339). Default: the spec's `test.now`, else \
     2024-01-01T00:00:00Z",
)))]
pub struct Args {
    /// Spec files, folders or quoted globs. Default: `specs/*.yaml` of the project (the folder of
    /// the nearest `cxsync.toml`, else the current folder).
    #[arg(value_name = "PATH")]
    pub specs: Vec<PathBuf>,
    /// Accept every new and changed snapshot.
    #[arg(long, conflicts_with = "review")]
    pub update: bool,
    /// Show each new or changed snapshot and ask to accept, reject or skip it (needs a terminal).
    #[arg(long)]
    pub review: bool,
    /// Also write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    #[command(flatten)]
    pub now: super::load::Now,
    /// Folder of the snapshot files. Default: `snapshots/` at the spec's project root (the
    /// folder of the nearest `cxsync.toml`), else beside the spec.
    #[arg(long, value_name = "DIR")]
    pub snapshots: Option<PathBuf>,
    #[command(flatten)]
    pub spec: SpecArgs,
}

/// What happened to one case, for the summary and JUnit.
struct FixtureRun {
    spec: String,
    case: Case,
    failure: Option<String>,
}

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    if args.review && !(std::io::stdin().is_terminal() && super::stdout_is_terminal()) {
        anyhow::bail!("--review asks on a terminal; run it interactively, or use --update to accept everything");
    }
    let now = args.now.instant()?;
    let paths = if args.specs.is_empty() {
        let specs = default_specs()?;
        if specs.is_empty() {
            anyhow::bail!(
                "no specs given and none found in {}; name one (`cxsync test SPEC`) or start a \
                 project with `cxsync init`",
                default_dir().join("specs").join("*.yaml").display()
            );
        }
        specs
    } else {
        args.specs.clone()
    };
    let (inputs, opts) = match super::load::expand(&paths, &args.spec) {
        Ok(expanded) => expanded,
        Err(status) => return Ok(status),
    };
    let mut diags = Vec::new();
    let mut sources = Sources::new();
    let mut results: Vec<FixtureRun> = Vec::new();
    // Cases whose transform ran past the wall-clock guard (among `results`).
    let mut no_verdict = 0usize;
    let mut out = String::new();
    let mut review_state = Review::default();
    super::load::check_scenarios(&inputs.scenarios, &mut diags, &mut sources);
    // On a terminal, a bar over the cases (the total grows as specs load); none while --review
    // asks questions there.
    let progress = if args.review {
        super::progress::Progress::hidden()
    } else {
        super::progress::Progress::new(0, "cases")
    };
    let (mut cases_done, mut cases_total) = (0u64, 0u64);
    let shared = shared_snapshots(&inputs.specs, args.snapshots.as_deref());
    for clash in &shared {
        diags.push(clash.diagnostic());
    }
    for path in &inputs.specs {
        // Neither of two specs that would write one snapshot folder runs: each would overwrite
        // the other's snapshots (tester #58).
        if shared.iter().any(|c| c.involves(path)) {
            continue;
        }
        let loaded = spec::load(path, &opts);
        sources.extend(loaded.sources);
        let had_errors = super::load::has_errors(&loaded.diags);
        diags.extend(loaded.diags);
        let Some(spec) = loaded.spec else { continue };
        if had_errors {
            continue;
        }
        let now = match runner::snapshot_now(&spec, now) {
            Ok(t) => t,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let snapshots = snapshots_of(&spec.path, args.snapshots.as_deref());
        cases_total += spec
            .rules
            .iter()
            .map(|r| r.fixtures.len() as u64)
            .sum::<u64>();
        progress.set(cases_done, cases_total);
        progress.message(&spec.path.display().to_string());
        let max_body =
            crate::crm::max_body_bytes(&spec.raw, &crate::crm::profile(spec.raw.crm.profile), None);
        let crm = runner::CrmBody {
            max_body,
            refusal: crate::crm::body::refusal,
        };
        let run = runner::run_spec_observed(&spec, now, &snapshots, crm, &mut |case| {
            cases_done += 1;
            progress.set(cases_done, cases_total);
            if let Some(p) = case.problems.iter().find(|p| limit_named(p).is_some()) {
                progress.note(&format!("warning: {}/{}: {p}", case.rule, case.fixture));
            }
        });
        // Only a spec whose every rule ran can tell which snapshots nothing produces any more.
        let complete = run.diags.is_empty();
        diags.extend(run.diags);
        sources.extend(run.sources);
        if complete {
            let live: Vec<PathBuf> = run.cases.iter().map(|c| c.snapshot.clone()).collect();
            let folder = runner::spec_snapshots(&spec.path, spec.env.as_deref(), &snapshots);
            for stale in stale_snapshots(&folder, &live) {
                if args.update {
                    std::fs::remove_file(&stale)
                        .with_context(|| format!("removing {}", stale.display()))?;
                    out.push_str(&format!(
                        "removed  {} (stale)
",
                        stale.display()
                    ));
                } else {
                    out.push_str(&format!(
                        "stale    {} (no rule and fixture produce it; --update removes it)
",
                        stale.display()
                    ));
                }
            }
        }
        for case in run.cases {
            let label = format!(
                "{}/{}/{}",
                spec.path.file_stem().unwrap_or_default().to_string_lossy(),
                case.rule,
                case.fixture
            );
            // Past the wall-clock guard the outcome depends on the machine: no verdict, as in
            // `sim` (a tool error), rather than a failed case a faster machine would pass.
            if let Some(p) = case.problems.iter().find(|p| past_wall_clock_guard(p)) {
                out.push_str(&format!(
                    "NO VERDICT {label}\n    {p}\n    the transform ran past the {} ms wall-clock \
                     guard: how long it takes depends on the machine, so this case has no verdict \
                     (make the transform cheaper: a recursion or a nested map over a large array?)\n",
                    crate::transform::Limits::default()
                        .time_budget_ms
                        .unwrap_or_default()
                ));
                no_verdict += 1;
                results.push(FixtureRun {
                    spec: spec.path.display().to_string(),
                    failure: Some(p.clone()),
                    case,
                });
                continue;
            }
            let failure = check_case(&case, &args, &label, &mut out, &mut review_state)?;
            results.push(FixtureRun {
                spec: spec.path.display().to_string(),
                case,
                failure,
            });
        }
    }
    drop(progress);
    diag::sort(&mut diags);
    let failed = results.iter().filter(|r| r.failure.is_some()).count() - no_verdict;
    let errors = super::load::error_count(&diags);
    out.push_str(&format!(
        "\n{} passed, {} failed{}{} ({})\n",
        results.len() - failed - no_verdict,
        failed,
        if no_verdict > 0 {
            format!(", {no_verdict} without a verdict (wall-clock guard)")
        } else {
            String::new()
        },
        if errors > 0 {
            format!(", {errors} error(s) in specs or scenarios")
        } else {
            String::new()
        },
        super::load::counted(inputs.specs.len(), inputs.scenarios.len())
    ));
    // `--update` accepts snapshot changes and nothing else: a case with a problem of its own (its
    // transform failed, its output breaks the payload schema or the size limit) fails until the
    // transform or the schema is fixed, so only the others get the hint to accept.
    let (with_problems, snapshot_only) = results
        .iter()
        .filter(|r| {
            r.failure.is_some() && !r.case.problems.iter().any(|p| past_wall_clock_guard(p))
        })
        .fold((0, 0), |(p, s), r| {
            if r.case.problems.is_empty() {
                (p, s + 1)
            } else {
                (p + 1, s)
            }
        });
    if snapshot_only > 0 && !args.update {
        out.push_str(
            "review with `cxsync test --review`, or accept all with `cxsync test --update`\n",
        );
    }
    if with_problems > 0 {
        out.push_str(&format!(
            "{with_problems} case(s) fail on their own output, not on a snapshot: fix the transform, \
             `crm.payloadSchema` or `crm.maxPayloadBytes`; `--update` accepts snapshot changes only\n"
        ));
    }
    super::print_stdout(&out)?;
    let status = super::load::status_of(&diags);
    super::load::report(diags, &sources, Format::Full);
    if let Some(file) = &args.junit {
        crate::fsutil::write_atomic(file, junit(&results).as_bytes())
            .with_context(|| format!("writing {}", file.display()))?;
    }
    // A spec that cannot be read (or an unknown --env) is a tool error, like in `validate`.
    Ok(if status == ExitStatus::Error || no_verdict > 0 {
        ExitStatus::Error
    } else if failed > 0 || errors > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// The snapshot folder `spec`'s own folder goes in: `--snapshots DIR`, else the project's.
fn snapshots_of(spec: &Path, flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .unwrap_or_else(|| crate::project::snapshots_dir(spec))
}

/// Two specs of one run whose snapshots would be one folder.
#[derive(Debug, PartialEq)]
struct Shared {
    /// The spec that comes first on the command line (or in its folder).
    first: PathBuf,
    /// A later spec with the same folder.
    later: PathBuf,
    /// The folder both would write.
    folder: PathBuf,
    /// The two folders' names differ in case only: one folder where names ignore case.
    case_only: bool,
}

impl Shared {
    fn involves(&self, spec: &Path) -> bool {
        self.first == spec || self.later == spec
    }

    fn diagnostic(&self) -> diag::Diagnostic {
        diag::Diagnostic::error(
            "E310",
            format!(
                "`{}` and `{}` would write the same snapshots, `{}`{}: snapshot folders are \
                 named after the spec's file name, so each would overwrite the other's; neither \
                 was run",
                self.first.display(),
                self.later.display(),
                self.folder.display(),
                if self.case_only {
                    " (on a file system that ignores case, as macOS's and Windows's do)"
                } else {
                    ""
                }
            ),
        )
        .in_file(&self.later)
        .with_help(
            "rename one of the spec files, or give each folder its own project (a `cxsync.toml` \
             in it) so each has its own `snapshots/`, or test them in separate runs with their own \
             `--snapshots DIR`",
        )
    }
}

/// Pairs of different spec files among `specs` that [`runner::spec_snapshots`] puts in one folder:
/// one file name in two folders of a project (or under one `--snapshots DIR`), `a.yaml` beside
/// `a.yml`, or names that differ only in case (one folder on a case-insensitive file system).
/// Each later spec is paired with the first one it shares with.
fn shared_snapshots(specs: &[PathBuf], flag: Option<&Path>) -> Vec<Shared> {
    let identity =
        |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| crate::fsutil::normalize(p));
    // (case-folded folder, the folder, the spec file itself, the spec as given)
    let mut seen: Vec<(String, PathBuf, PathBuf, &PathBuf)> = Vec::new();
    let mut shared = Vec::new();
    for spec in specs {
        // One `--env` holds for every spec of the run, so it cannot part two folders.
        let folder = runner::spec_snapshots(spec, None, &snapshots_of(spec, flag));
        let key = crate::fsutil::normalize(&folder)
            .to_string_lossy()
            .to_lowercase();
        let file = identity(spec);
        match seen.iter().find(|(k, ..)| *k == key) {
            Some((_, _, first_file, _)) if *first_file == file => {}
            Some((_, first_folder, _, first)) => shared.push(Shared {
                first: first.to_path_buf(),
                later: spec.clone(),
                case_only: crate::fsutil::normalize(first_folder)
                    != crate::fsutil::normalize(&folder),
                folder,
            }),
            None => seen.push((key, folder, file, spec)),
        }
    }
    shared
}

/// The limit a case's problem says its transform hit (`transform failed: D1012: …`).
fn limit_named(problem: &str) -> Option<&'static str> {
    crate::transform::limits::limit_hit(problem_code(problem)?)
}

/// The error code of a case's `transform failed: CODE: …` problem.
fn problem_code(problem: &str) -> Option<&str> {
    problem
        .strip_prefix("transform failed: ")?
        .split(':')
        .next()
}

/// Whether a case's problem is the engine's wall-clock guard ([`crate::transform::limits::WALL_CLOCK_GUARD`]).
fn past_wall_clock_guard(problem: &str) -> bool {
    problem_code(problem) == Some(crate::transform::limits::WALL_CLOCK_GUARD)
}

/// The project root of the current folder, else the current folder.
fn default_dir() -> PathBuf {
    crate::project::root_at(Path::new("")).unwrap_or_default()
}

/// `specs/*.yaml` (and `.yml`) of [`default_dir`], sorted.
fn default_specs() -> anyhow::Result<Vec<PathBuf>> {
    let dir = default_dir().join("specs");
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    v.sort();
    Ok(v)
}

/// `.snap` files under `dir` (one level of rule folders) that no case produces.
fn stale_snapshots(dir: &Path, live: &[PathBuf]) -> Vec<PathBuf> {
    let mut stale = Vec::new();
    let Ok(rules) = std::fs::read_dir(dir) else {
        return stale;
    };
    for rule in rules.filter_map(Result::ok).map(|e| e.path()) {
        let Ok(files) = std::fs::read_dir(&rule) else {
            continue;
        };
        for f in files.filter_map(Result::ok).map(|e| e.path()) {
            if f.extension().is_some_and(|e| e == "snap") && !live.contains(&f) {
                stale.push(f);
            }
        }
    }
    stale.sort();
    stale
}

#[derive(Default)]
struct Review {
    /// Set by "accept all"/"quit" answers.
    rest: Option<char>,
}

/// Compares one case with its snapshot, updating or asking as the flags say. The failure text,
/// if the case fails.
fn check_case(
    case: &Case,
    args: &Args,
    label: &str,
    out: &mut String,
    review: &mut Review,
) -> anyhow::Result<Option<String>> {
    let mut failures: Vec<String> = case.problems.clone();
    if let Some(text) = &case.text {
        let status = snapshot::compare(&case.snapshot, text)
            .with_context(|| format!("reading {}", case.snapshot.display()))?;
        match status {
            Status::Matches => {
                snapshot::remove_pending(&case.snapshot)?;
            }
            _ if args.update => {
                snapshot::accept(&case.snapshot, text)?;
                out.push_str(&format!(
                    "updated  {label} -> {}\n",
                    case.snapshot.display()
                ));
            }
            status => {
                let diff = match &status {
                    Status::Changed(d) => d.clone(),
                    _ => format!("new snapshot {}:\n{text}", case.snapshot.display()),
                };
                let what = if matches!(status, Status::Missing) {
                    "no snapshot yet"
                } else {
                    "snapshot changed"
                };
                if args.review {
                    match ask(label, what, &diff, review)? {
                        'a' => {
                            snapshot::accept(&case.snapshot, text)?;
                            out.push_str(&format!("accepted {label}\n"));
                        }
                        'r' => {
                            snapshot::remove_pending(&case.snapshot)?;
                            failures.push(format!("{what} (rejected)"));
                        }
                        _ => {
                            snapshot::write_pending(&case.snapshot, text)?;
                            failures.push(format!("{what} (skipped)"));
                        }
                    }
                } else {
                    snapshot::write_pending(&case.snapshot, text)?;
                    failures.push(format!(
                        "{what}; wrote {}\n{diff}",
                        snapshot::new_path(&case.snapshot).display()
                    ));
                }
            }
        }
    }
    if failures.is_empty() {
        let filtered = case
            .text
            .as_deref()
            .is_some_and(|t| t.contains("\n# outcome: filtered\n"));
        out.push_str(&format!(
            "ok       {label}{}\n",
            if filtered { " (filtered)" } else { "" }
        ));
        Ok(None)
    } else {
        out.push_str(&format!("FAILED   {label}\n"));
        for f in &failures {
            for line in f.lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
        Ok(Some(failures.join("\n")))
    }
}

/// Shows a diff and reads `a`ccept, `r`eject, `s`kip (or `A`ccept all, `q`uit = skip the rest).
fn ask(label: &str, what: &str, diff: &str, review: &mut Review) -> anyhow::Result<char> {
    if let Some(c) = review.rest {
        return Ok(c);
    }
    let stdin = std::io::stdin();
    loop {
        super::print_stdout(&format!(
            "\n{label}: {what}\n{diff}\n[a]ccept  [r]eject  [s]kip  [A]ccept all  [q]uit (skip the rest)? "
        ))?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            review.rest = Some('s');
            return Ok('s');
        }
        match line.trim() {
            "a" => return Ok('a'),
            "r" => return Ok('r'),
            "s" => return Ok('s'),
            "A" => {
                review.rest = Some('a');
                return Ok('a');
            }
            "q" => {
                review.rest = Some('s');
                return Ok('s');
            }
            _ => continue,
        }
    }
}

/// JUnit XML ([`crate::diag::xml`]): one `<testsuite>` per spec, one `<testcase>` per (rule,
/// fixture).
fn junit(results: &[FixtureRun]) -> String {
    use crate::diag::xml::{Case, CaseResult, Junit, Suite};
    let mut specs: Vec<&str> = results.iter().map(|r| r.spec.as_str()).collect();
    specs.dedup();
    let suites = specs
        .into_iter()
        .map(|spec| Suite {
            name: spec.to_string(),
            cases: results
                .iter()
                .filter(|r| r.spec == spec)
                .map(|r| Case {
                    attrs: vec![
                        ("classname", r.case.rule.clone()),
                        ("name", r.case.fixture.clone()),
                        ("file", r.case.fixture_path.display().to_string()),
                    ],
                    result: match &r.failure {
                        None => CaseResult::Passed,
                        Some(f) => CaseResult::Failed {
                            message: f.lines().next().unwrap_or_default().to_string(),
                            kind: None,
                            text: f.clone(),
                        },
                    },
                })
                .collect(),
        })
        .collect();
    Junit {
        name: "cxsync test".into(),
        suites,
    }
    .to_xml()
}
