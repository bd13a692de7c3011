// Built without `--test`, so the tests themselves are compiled out; this
// checks that every form is accepted. tests/expand.rs runs them.
#[runtime::test]
async fn current_thread_by_default() {
    assert_eq!(runtime::spawn(async { 1 }).await.unwrap(), 1);
}

#[runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread() {
    assert_eq!(runtime::spawn(async { 2 }).await.unwrap(), 2);
}

#[runtime::test(flavor = "current_thread", crate = "::runtime")]
#[should_panic(expected = "boom")]
async fn should_panic() {
    panic!("boom");
}

#[runtime::test]
async fn returns_result() -> Result<(), runtime::task::JoinError> {
    runtime::spawn(async {}).await
}

fn main() {}
