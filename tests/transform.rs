//! Integration tests for the transform area.
