// Any async fn without arguments, with any return type and other attributes.
#[runtime::main(flavor = "current_thread")]
#[inline(never)]
async fn answer() -> u64 {
    #![allow(clippy::identity_op)]
    runtime::spawn(async { 6 * 7 }).await.unwrap() + 0
}

fn main() {
    assert_eq!(answer(), 42);
}
