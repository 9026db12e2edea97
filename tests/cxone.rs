//! Integration tests for the cxone area.
