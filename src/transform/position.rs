//! Maps character offsets in a transform's text back to `file:line:col`, whether the transform is
//! a `.jsonata` file, a YAML block scalar (`|`, `>`) or a quoted YAML string with escapes.
//!
//! (Interface defined up front; the implementation replaces this placeholder.)

use std::path::PathBuf;

use crate::diag::Span;
use crate::spec::{Spec, TransformOrigin};

/// The file and span of expression offsets `[start, end)`.
pub fn locate(spec: &Spec, origin: &TransformOrigin, start: usize, end: usize) -> (PathBuf, Span) {
    let _ = (start, end);
    match origin {
        TransformOrigin::Inline { pointer } => {
            (spec.path.clone(), spec.span(pointer).unwrap_or_default())
        }
        TransformOrigin::File { path } => (path.clone(), Span::default()),
    }
}
