//! ponte-signaling
