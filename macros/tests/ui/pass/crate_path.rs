// `crate` names the runtime crate by another path.
mod facade {
    pub use runtime::*;
}

#[runtime::main(crate = "runtime")]
async fn by_name() -> i32 {
    runtime::spawn(async { 1 }).await.unwrap()
}

#[runtime::main(crate = "crate::facade", flavor = "current_thread")]
async fn through_facade() -> i32 {
    facade::spawn(async { 2 }).await.unwrap()
}

fn main() {
    assert_eq!(by_name() + through_facade(), 3);
}
