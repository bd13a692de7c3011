// A body whose value does not match the declared return type: the error
// points into the function, not at the attribute.
#[runtime::main]
async fn main() -> Result<(), std::io::Error> {
    "not a result"
}
