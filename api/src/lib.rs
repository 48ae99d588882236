//! The marketlog service (see ARCHITECTURE.md).
