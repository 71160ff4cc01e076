//! Runs a library call that may panic on a spec, without the panic's
//! message and backtrace on stderr, so that the user sees the located
//! error alone.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Whether this thread runs a call of [`catch_quietly`], whose panic
    /// the hook does not print.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `call`, returning the first line of its panic message as the
/// error. The panic hook stays silent for this thread during the call
/// only, so that a panic of another thread, such as a failing test,
/// still prints.
pub fn catch_quietly<T>(call: impl FnOnce() -> T) -> Result<T, String> {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });

    let was_quiet = QUIET.with(|quiet| quiet.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(call));
    QUIET.with(|quiet| quiet.set(was_quiet));
    result.map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("no message");
        message.lines().next().unwrap_or_default().to_string()
    })
}
