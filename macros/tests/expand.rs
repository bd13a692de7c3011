//! Functions under `#[runtime::test]` and `#[runtime::main]`, run for real:
//! the runtime they get has the flavor and worker count asked for.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

#[runtime::test]
async fn current_thread_is_the_default_for_tests() {
    let test_thread = thread::current().id();
    let task_thread = runtime::spawn(async { thread::current().id() })
        .await
        .unwrap();
    assert_eq!(
        task_thread, test_thread,
        "a current-thread runtime runs its tasks on the caller"
    );
}

#[runtime::test(flavor = "current_thread")]
async fn current_thread_runs_many_tasks() {
    static DONE: AtomicUsize = AtomicUsize::new(0);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            runtime::spawn(async {
                runtime::task::yield_now().await;
                DONE.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(DONE.load(Ordering::Relaxed), 100);
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_runs_tasks_on_workers() {
    let test_thread = thread::current().id();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            runtime::spawn(async {
                let me = thread::current();
                (me.id(), me.name().map(String::from))
            })
        })
        .collect();
    let mut workers = Vec::new();
    for t in tasks {
        let (id, name) = t.await.unwrap();
        assert_ne!(
            id, test_thread,
            "a multi-thread runtime runs tasks on its workers"
        );
        assert_eq!(name.as_deref(), Some("runtime-worker"));
        if !workers.contains(&id) {
            workers.push(id);
        }
    }
    assert!(
        (1..=2).contains(&workers.len()),
        "worker_threads = 2, but tasks ran on {} threads",
        workers.len()
    );
}

#[runtime::test(flavor = "multi_thread", worker_threads = 1)]
async fn one_worker_thread() {
    let a = runtime::spawn(async { thread::current().id() });
    let b = runtime::spawn(async { thread::current().id() });
    assert_eq!(
        a.await.unwrap(),
        b.await.unwrap(),
        "one worker runs every task"
    );
}

#[runtime::test]
async fn tests_may_return_result() -> Result<(), runtime::task::JoinError> {
    let n = runtime::spawn(async { 21 }).await?;
    assert_eq!(n * 2, 42);
    Ok(())
}

#[runtime::test]
#[should_panic(expected = "inside the body")]
async fn other_test_attributes_still_apply() {
    panic!("inside the body");
}

#[runtime::test(crate = "runtime")]
async fn crate_option_names_the_runtime() {
    assert!(runtime::Handle::try_current().is_ok());
}

#[runtime::main(flavor = "current_thread")]
async fn helper_on_current_thread() -> thread::ThreadId {
    runtime::spawn(async { thread::current().id() })
        .await
        .unwrap()
}

#[runtime::main(worker_threads = 2)]
async fn helper_on_multi_thread() -> Option<String> {
    runtime::spawn(async { thread::current().name().map(String::from) })
        .await
        .unwrap()
}

#[test]
fn main_attribute_works_on_any_function() {
    assert_eq!(helper_on_current_thread(), thread::current().id());
    assert_eq!(helper_on_multi_thread().as_deref(), Some("runtime-worker"));
    // Each call builds a fresh runtime, and none is left entered afterwards.
    assert!(runtime::Handle::try_current().is_err());
}
