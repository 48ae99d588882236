//! Domain.
