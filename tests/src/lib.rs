//! ponte-tests
