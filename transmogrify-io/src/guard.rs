//! Third-party decoders that may panic on malformed input instead of returning an
//! error: their panics become errors about the input.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

thread_local! {
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is running a decoder whose panic is caught and
/// reported as an error about its input (a corrupt Parquet file, for one).
///
/// A panic hook can check it to stay quiet about such a panic, as the command line
/// program does; Rust's default hook prints it.
///
/// ```
/// assert!(!transmogrify_io::panic_is_guarded());
/// ```
pub fn panic_is_guarded() -> bool {
    GUARDED.with(Cell::get)
}

/// Runs `f`; a panic in it comes back as its message.
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let outer = GUARDED.with(|g| g.replace(true));
    let out = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(outer));
    out.map_err(|payload| panic_message(payload.as_ref()).unwrap_or("the decoder failed".into()))
}

/// The message of a panic's payload (a `&str` or a `String`, as `panic!` makes it).
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("on fire {}", 1)).unwrap_err();
/// assert_eq!(transmogrify_io::panic_message(payload.as_ref()).as_deref(), Some("on fire 1"));
/// ```
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}

#[cfg(test)]
mod tests {
    use super::{guarded, panic_is_guarded};

    #[test]
    fn a_panic_becomes_its_message_and_the_guard_is_lifted() {
        assert_eq!(guarded(|| 1 + 1), Ok(2));
        let caught = guarded(|| {
            assert!(panic_is_guarded());
            let index = std::hint::black_box(7);
            [0u8; 4][index]
        });
        assert_eq!(
            caught,
            Err("index out of bounds: the len is 4 but the index is 7".into())
        );
        assert!(!panic_is_guarded());
        let nested = guarded(|| guarded(|| ()).map(|()| panic_is_guarded()));
        assert_eq!(nested, Ok(Ok(true)));
    }
}
