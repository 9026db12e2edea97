//! (module under construction; see docs/architecture.md)
