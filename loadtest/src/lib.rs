//! ponte-loadtest
