//! ponte-bridge
