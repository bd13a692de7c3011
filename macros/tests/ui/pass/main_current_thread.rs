#[runtime::main(flavor = "current_thread")]
async fn main() {
    let here = std::thread::current().id();
    let there = runtime::spawn(async { std::thread::current().id() })
        .await
        .unwrap();
    assert_eq!(here, there);
}
