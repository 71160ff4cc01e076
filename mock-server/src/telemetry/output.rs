//! Standard output of the log lines, buffered on the runtime's worker
//! threads.
//!
//! One `write` system call per request line cost as much as formatting it.
//! A worker thread of the runtime appends its lines to a shared buffer
//! instead, which goes out in one `write` when the worker runs out of work
//! and parks, or when it reaches [`FLUSH_BYTES`]. So an idle server writes
//! each line at once, and a busy one writes many lines per call. Any other
//! thread writes the buffer and its own line straight away, in order.

use std::cell::Cell;
use std::io::{self, Write};
use std::sync::{Mutex, MutexGuard};

use tracing_subscriber::fmt::MakeWriter;

/// Size of the buffer at which a worker thread writes it out.
const FLUSH_BYTES: usize = 32 * 1024;

/// Lines that worker threads logged and that are not written yet.
static PENDING: Mutex<Vec<u8>> = Mutex::new(Vec::new());

thread_local! {
    /// Whether this thread's lines go to [`PENDING`].
    static BUFFERED: Cell<bool> = const { Cell::new(false) };
}

/// Makes the lines logged on this thread wait in the buffer. Call it on a
/// thread that calls [`flush`] whenever it goes idle, such as in the
/// runtime's `on_thread_unpark` hook, with `flush` in `on_thread_park`.
pub fn buffer_this_thread() {
    BUFFERED.set(true);
}

/// Writes the buffered lines to standard output.
pub fn flush() {
    let mut pending = lock_pending();
    let _ = write_out(&mut pending);
}

fn lock_pending() -> MutexGuard<'static, Vec<u8>> {
    PENDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes `pending` to standard output and empties it, even when the write
/// fails, so that a closed output does not grow the buffer.
fn write_out(pending: &mut Vec<u8>) -> io::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let result = io::stdout().lock().write_all(pending);
    pending.clear();
    result
}

/// The `MakeWriter` of the log subscriber: standard output through the
/// buffer.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOutput;

impl<'a> MakeWriter<'a> for LogOutput {
    type Writer = LogOutput;

    fn make_writer(&'a self) -> LogOutput {
        LogOutput
    }
}

impl Write for LogOutput {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut pending = lock_pending();
        if BUFFERED.get() {
            pending.extend_from_slice(bytes);
            if pending.len() >= FLUSH_BYTES {
                write_out(&mut pending)?;
            }
        } else {
            write_out(&mut pending)?;
            io::stdout().lock().write_all(bytes)?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
