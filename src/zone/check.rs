//! Zone checks (placeholder, being written).
