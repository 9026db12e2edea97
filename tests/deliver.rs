//! Integration tests for the deliver area.
