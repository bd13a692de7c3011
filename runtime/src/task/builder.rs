//! [`Builder`]: spawn a task with a name, a nice level and a slice.

use std::future::Future;
use std::io;
use std::time::Duration;

use super::JoinHandle;
use crate::Handle;
use crate::sched::{MAX_SLICE, MIN_SLICE, Params, Weight};

/// Spawns a task with scheduling parameters: a **nice** level (its CPU share
/// relative to others, `-20..=19`, default 0) and a **slice** (its latency
/// request: shorter means it is served sooner after waking, without a larger
/// share; `0.1 ms..=100 ms`, default the runtime's base slice).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runtime::task;
///
/// let rt = runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let ui = task::Builder::new()
///         .name("ui")
///         .nice(-5)
///         .slice(Duration::from_micros(200))
///         .spawn(async { "drawn" })?;
///     assert_eq!(ui.await?, "drawn");
///
///     let err = task::Builder::new().nice(25).spawn(async {}).unwrap_err();
///     assert_eq!(err.to_string(), "task::Builder::nice: nice 25 is out of range: expected -20..=19");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Builder<'a> {
    name: Option<&'a str>,
    nice: Option<i8>,
    slice: Option<Duration>,
}

impl<'a> Builder<'a> {
    /// Nice 0, the runtime's base slice, no name.
    ///
    /// ```
    /// let b = runtime::task::Builder::new();
    /// # let _ = b;
    /// ```
    pub fn new() -> Builder<'a> {
        Builder::default()
    }

    /// A name, shown in the task's handles' `Debug` output.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let h = runtime::task::Builder::new().name("fetch").spawn_on(async {}, rt.handle())?;
    /// assert!(format!("{h:?}").contains("fetch"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(self, name: &'a str) -> Builder<'a> {
        Builder {
            name: Some(name),
            ..self
        }
    }

    /// The nice level, `-20..=19` (checked at spawn).
    ///
    /// ```
    /// let b = runtime::task::Builder::new().nice(10);
    /// # let _ = b;
    /// ```
    pub fn nice(self, nice: i8) -> Builder<'a> {
        Builder {
            nice: Some(nice),
            ..self
        }
    }

    /// The slice, `0.1 ms..=100 ms` (checked at spawn).
    ///
    /// ```
    /// let b = runtime::task::Builder::new().slice(std::time::Duration::from_millis(1));
    /// # let _ = b;
    /// ```
    pub fn slice(self, slice: Duration) -> Builder<'a> {
        Builder {
            slice: Some(slice),
            ..self
        }
    }

    /// Spawns onto the current runtime.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the value and the range for a bad nice level or
    /// slice; `Other` outside a runtime.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let n = rt.block_on(async { runtime::task::Builder::new().spawn(async { 1 })?.await.map_err(std::io::Error::from) })?;
    /// assert_eq!(n, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn<F>(self, future: F) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handle = Handle::try_current()
            .map_err(|e| io::Error::other(format!("task::Builder::spawn {e}")))?;
        self.spawn_on(future, &handle)
    }

    /// Spawns onto the runtime behind `handle`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the value and the range for a bad nice level or
    /// slice.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let h = runtime::task::Builder::new().nice(3).spawn_on(async { 2 }, rt.handle())?;
    /// assert_eq!(rt.block_on(h)?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn_on<F>(self, future: F, handle: &Handle) -> io::Result<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let invalid = |what: &str, msg: String| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("task::Builder::{what}: {msg}"),
            )
        };
        let mut params = Params::new();
        if let Some(nice) = self.nice {
            let weight =
                Weight::from_nice(i32::from(nice)).map_err(|e| invalid("nice", e.to_string()))?;
            params = params.weight(weight);
        }
        if let Some(slice) = self.slice {
            if !(MIN_SLICE..=MAX_SLICE).contains(&slice) {
                return Err(invalid(
                    "slice",
                    format!("slice {slice:?} is out of range: expected 100µs..=100ms"),
                ));
            }
            params = params.slice(slice);
        }
        Ok(handle.spawn_with(future, params, self.name.map(std::sync::Arc::from)))
    }
}
