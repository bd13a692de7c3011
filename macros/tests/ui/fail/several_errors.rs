// Every mistake is reported in one build, not only the first.
#[runtime::main(flavour = "current_thread", worker_threads = 0)]
fn main() {}
