//! ## What it does
//! Reports a `# cxsync: ignore[CODE]` comment that suppressed nothing, or names a code that does
//! not exist. "Nothing" means the code makes no finding on that line at all: a finding the
//! config hides (`ignore`, `per-file-ignores`) still uses the suppression.
//!
//! ## Why is this bad?
//! A stale suppression hides the next real finding on that line, and a misspelt code suppresses
//! nothing while looking as if it did.
//!
//! ## Example
//! ```yaml
//! retry:
//!   jitter: full  # cxsync: ignore[CX010]
//! ```
//!
//! Use instead:
//! ```yaml
//! retry:
//!   jitter: full
//! ```
//!
//! ## Fix safety
//! Safe: removing a suppression that matched nothing changes no result.

// No `check`: the suppression pass in `lint::suppress`, which knows which comments matched,
// reports this rule. This file is its documentation.
