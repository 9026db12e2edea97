//! Integration tests for the dlq area.
