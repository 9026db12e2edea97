//! Integration tests for the sim area.
