// `worker_threads` alone is fine on `main`, whose default flavor is
// multi_thread; a suffixed literal is accepted too.
#[runtime::main(worker_threads = 1usize)]
async fn main() {
    let name = runtime::spawn(async { std::thread::current().name().map(String::from) });
    assert_eq!(name.await.unwrap().as_deref(), Some("runtime-worker"));
}
