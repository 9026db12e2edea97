//! Integration tests for the lint area.
