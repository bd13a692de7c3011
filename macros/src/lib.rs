//! The attribute macros of the `runtime` crate: `#[runtime::main]` and
//! `#[runtime::test]`.
//!
//! Use them through `runtime`, which re-exports both; this crate is an
//! implementation detail. Each turns an `async fn` into a plain function that
//! builds a runtime and runs the body on it with `Runtime::block_on`.
//!
//! A mistake in the options or the function (a missing `async`, an unknown
//! option, `worker_threads` on a current-thread runtime, ...) is a compile
//! error on the token at fault, and the function is still generated so that
//! IDEs keep working on it.
//!
//! # Examples
//!
//! ```
//! #[runtime::main(flavor = "current_thread")]
//! async fn main() {
//!     let answer = runtime::spawn(async { 6 * 7 }).await.unwrap();
//!     assert_eq!(answer, 42);
//! }
//! ```

#![warn(missing_docs)]

use proc_macro::TokenStream;

mod entry;

/// Runs an `async fn` (usually `main`) on a new runtime.
///
/// The function becomes a plain `fn` with the same name, attributes and
/// return type, which builds a runtime, runs the body to completion with
/// `Runtime::block_on` and returns its output. The function must be `async`
/// and take no arguments.
///
/// # Options
///
/// Written `#[runtime::main(key = value, ...)]`, each key at most once:
///
/// | key | value | default |
/// | --- | --- | --- |
/// | `flavor` | `"multi_thread"` (worker threads run the tasks) or `"current_thread"` (the calling thread runs them inside `block_on`) | `"multi_thread"` |
/// | `worker_threads` | a positive integer literal; only with `"multi_thread"` | the available parallelism |
/// | `crate` | the path of the runtime crate as a string, for crates that re-export it | `"::runtime"` |
///
/// # What it expands to
///
/// ```
/// #[runtime::main(worker_threads = 2)]
/// async fn main() {
///     println!("hello");
/// }
/// ```
///
/// becomes, in substance (the macro writes absolute paths):
///
/// ```
/// fn main() {
///     let body = async {
///         println!("hello");
///     };
///     let rt = runtime::Builder::new_multi_thread()
///         .worker_threads(2)
///         .enable_all()
///         .build()
///         .expect("failed to build the runtime");
///     rt.block_on(body)
/// }
/// ```
///
/// # Panics
///
/// The generated function panics if the runtime cannot be built (a worker
/// thread cannot be started).
///
/// # Examples
///
/// Any return type works, including `Result` for `?`:
///
/// ```
/// #[runtime::main]
/// async fn main() -> Result<(), runtime::task::JoinError> {
///     let a = runtime::spawn(async { 20 });
///     let b = runtime::spawn(async { 22 });
///     assert_eq!(a.await? + b.await?, 42);
///     Ok(())
/// }
/// ```
///
/// One thread for everything, and a function other than `main`:
///
/// ```
/// #[runtime::main(flavor = "current_thread")]
/// async fn count() -> usize {
///     let tasks: Vec<_> = (0..10).map(|i| runtime::spawn(async move { i })).collect();
///     let mut sum = 0;
///     for t in tasks {
///         sum += t.await.unwrap();
///     }
///     sum
/// }
///
/// fn main() {
///     assert_eq!(count(), 45);
/// }
/// ```
///
/// A crate that re-exports the runtime names it with `crate`:
///
/// ```
/// mod facade {
///     pub use runtime::*;
/// }
///
/// #[runtime::main(crate = "facade", flavor = "current_thread")]
/// async fn main() {
///     assert_eq!(facade::spawn(async { 1 }).await.unwrap(), 1);
/// }
/// ```
///
/// Mistakes are compile errors:
///
/// ```compile_fail
/// #[runtime::main(flavor = "current_thread", worker_threads = 2)]
/// async fn main() {}
/// ```
// The expansion example shows a `fn main` on purpose.
#[allow(clippy::needless_doctest_main)]
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::entry(entry::Entry::Main, args.into(), item.into()).into()
}

/// Runs an `async fn` as a test, on a new runtime of its own.
///
/// Like [`macro@main`], and the function gets `#[test]`, so do not add
/// one yourself. Each test builds its own runtime, so tests do not share
/// tasks. The default flavor is `"current_thread"`: the test's thread runs
/// the body and every task it spawns. The options are the same as for
/// [`macro@main`]: `flavor`, `worker_threads` (only with
/// `flavor = "multi_thread"`) and `crate`.
///
/// Other attributes such as `#[should_panic]` or `#[ignore]` work as on any
/// test, and the function may return a `Result`.
///
/// # Panics
///
/// The generated test panics (and so fails) if the runtime cannot be built.
///
/// # Examples
///
/// ```
/// #[runtime::test]
/// async fn spawned_task_runs() {
///     let task = runtime::spawn(async { "done" });
///     assert_eq!(task.await.unwrap(), "done");
/// }
///
/// #[runtime::test(flavor = "multi_thread", worker_threads = 2)]
/// async fn on_two_workers() -> Result<(), runtime::task::JoinError> {
///     let on_worker = runtime::spawn(async {
///         std::thread::current().name() == Some("runtime-worker")
///     });
///     assert!(on_worker.await?);
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// A second `#[test]` is an error:
///
/// ```compile_fail
/// #[runtime::test]
/// #[test]
/// async fn twice() {}
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::entry(entry::Entry::Test, args.into(), item.into()).into()
}
