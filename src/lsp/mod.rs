//! `cxsync lsp`: a Language Server Protocol server over stdio for spec YAML files and `.jsonata`
//! transform files. It runs the same loader and lint as the CLI over the editor's unsaved
//! buffers ([`overlay`]), so the editor shows exactly what `validate` and `lint` report
//! ([`check`]), and adds hover, completion, code actions and go-to-definition from the schema,
//! the rule docs and the fixtures.
//!
//! The messages are rust-analyzer's synchronous `lsp-server`'s, over cxsync's own stdio reader
//! ([`transport`], which bounds a message's size); one thread owns every document
//! and re-checks a spec when its text (or a file it references) changes, debounced so that only
//! the latest version is checked.

pub mod actions;
pub mod check;
pub mod complete;
pub mod cursor;
pub mod events;
pub mod functions;
pub mod hover;
pub mod overlay;
pub mod place;
pub mod schema;
pub mod server;
pub mod text;
pub mod transport;
pub mod world;

pub use server::{run, serve};
