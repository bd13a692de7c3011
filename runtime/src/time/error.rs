//! Time errors.

use std::fmt;

/// A [`timeout`](super::timeout) elapsed before its future completed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = runtime::Builder::new_current_thread().build()?;
/// let err = rt
///     .block_on(async {
///         runtime::time::timeout(Duration::from_millis(1), std::future::pending::<()>()).await
///     })
///     .unwrap_err();
/// assert_eq!(err.to_string(), "deadline has elapsed");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl Elapsed {
    pub(crate) fn new() -> Elapsed {
        Elapsed(())
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}
