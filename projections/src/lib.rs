//! Read models (see ARCHITECTURE.md).
