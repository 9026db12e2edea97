//! Integration tests for the compile area.
