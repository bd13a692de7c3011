#[runtime::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let tasks: Vec<_> = (0..8)
        .map(|i| runtime::spawn(async move { i * 2 }))
        .collect();
    let mut sum = 0;
    for t in tasks {
        sum += t.await.unwrap();
    }
    assert_eq!(sum, 56);
}
