// The default flavor of `main` is multi_thread: tasks run on worker threads.
#[runtime::main]
async fn main() {
    let on_worker =
        runtime::spawn(async { std::thread::current().name() == Some("runtime-worker") });
    assert!(on_worker.await.unwrap());
}
