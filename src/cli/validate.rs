//! `cxsync validate PATH...`: load, schema and semantic checks, and the transforms' syntax, for
//! spec files, folders and quoted globs; scenario files among them are validated as scenarios.

use super::load::status_of;
use super::ExitStatus;
use crate::diag::{self, Format, Sources};
use crate::spec;

pub use super::load::CheckedPaths as Args;

pub fn exec(args: Args) -> anyhow::Result<ExitStatus> {
    let format = args.format.format;
    let (inputs, opts) = match args.paths.expand() {
        Ok(expanded) => expanded,
        Err(status) => return Ok(status),
    };
    let mut diags = Vec::new();
    let mut sources = Sources::new();
    super::load::check_scenarios(&inputs.scenarios, &mut diags, &mut sources);
    for path in &inputs.specs {
        let loaded = spec::load(path, &opts);
        diags.extend(loaded.diags);
        // JSONata syntax, the guide's dialect and path typos, at their exact positions.
        if let Some(spec) = &loaded.spec {
            diags.extend(crate::transform::checks::check_spec(spec));
        }
        sources.extend(loaded.sources);
    }
    diag::sort(&mut diags);
    let text = diag::render(&diags, &sources, format, super::color::stdout());
    super::print_stdout(&text)?;
    if format != Format::Json {
        // A one-line summary on stderr, so a clean run says so without polluting stdout.
        let errors = super::load::error_count(&diags);
        let warnings = diags.len() - errors;
        let what = super::load::counted(inputs.specs.len(), inputs.scenarios.len());
        if diags.is_empty() {
            crate::errln!("{what} valid");
        } else {
            crate::errln!("{what} checked: {errors} error(s), {warnings} warning(s)");
        }
    }
    Ok(status_of(&diags))
}
