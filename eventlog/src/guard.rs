//! sled 0.34 panics on some damaged files instead of answering an error (e.g. "tried to
//! serialize Uninitialized" while recovering a flipped page). Code that touches a store that
//! may be damaged runs under [`guarded`], which turns such a panic into [`LogError::Store`]
//! and keeps its message and backtrace off stderr: the caller reports it in words.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

use crate::error::LogError;
use crate::sled::SledLog;

thread_local! {
    /// Set while this thread runs store code whose panics [`guarded`] reports itself.
    static IN_STORE: Cell<bool> = const { Cell::new(false) };
}

/// Runs store code, turning a panic into [`LogError::Store`].
pub fn guarded<T>(f: impl FnOnce() -> Result<T, LogError>) -> Result<T, LogError> {
    install_quiet_panic_hook();
    let was = IN_STORE.with(|flag| flag.replace(true));
    let outcome = panic::catch_unwind(AssertUnwindSafe(f));
    IN_STORE.with(|flag| flag.set(was));
    outcome.unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(LogError::Store(format!(
            "the store failed on damaged data: {what}"
        )))
    })
}

/// [`SledLog::open`] under [`guarded`].
pub fn open_guarded(data_dir: &Path) -> Result<SledLog, LogError> {
    guarded(|| SledLog::open(data_dir))
}

/// Keeps the default panic message for real bugs but silences panics that [`guarded`]
/// catches and reports.
fn install_quiet_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_STORE.with(Cell::get) {
                default(info);
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_the_store_becomes_a_store_error() {
        let r: Result<(), LogError> = guarded(|| panic!("page table torn"));
        match r {
            Err(LogError::Store(m)) => assert!(m.contains("page table torn"), "{m}"),
            other => panic!("expected a store error, got {other:?}"),
        }
        assert_eq!(guarded(|| Ok(7)).unwrap(), 7);
        assert!(!IN_STORE.with(Cell::get), "the flag is restored");
    }
}
