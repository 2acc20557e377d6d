//! Containment of panics inside third-party parsers.
//!
//! A panic in feed-rs or quick-xml on one hostile document must cost that document, not
//! the daemon, and must not print a panic report: operators and tooling read such a report
//! on stderr as a crash. The panic hook is process-global and the daemon is
//! multi-threaded, so one hook is installed once; it stays silent only on a thread that is
//! currently inside [`quietly`] and hands every other panic to the hook that was installed
//! before it.

use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

static INSTALL: Once = Once::new();

fn install_hook() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                return;
            }
            previous(info);
        }));
    });
}

/// Runs `f`, turning a panic into `Err(message)` without printing a panic report.
///
/// Whatever `f` was mutating when it panicked is discarded by the caller, which is why
/// unwind safety is asserted.
pub fn quietly<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    install_hook();
    let was_quiet = QUIET.with(|q| q.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was_quiet));
    result.map_err(|payload| message(payload.as_ref()))
}

fn message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_becomes_error() {
        let result: Result<(), String> = quietly(|| panic!("boom {}", 1));
        assert_eq!(result, Err("boom 1".to_string()));
        assert_eq!(quietly(|| 7), Ok(7));
        assert!(!QUIET.with(Cell::get));
    }
}
