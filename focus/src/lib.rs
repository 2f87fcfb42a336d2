//! ponte-focus
