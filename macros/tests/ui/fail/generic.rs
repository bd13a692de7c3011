#[runtime::main(flavor = "current_thread")]
async fn run<T: Default>() -> T {
    T::default()
}

fn main() {}
