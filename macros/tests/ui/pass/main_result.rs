use std::error::Error;

#[runtime::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let n: u32 = runtime::spawn(async { "41" }).await?.parse()?;
    assert_eq!(n + 1, 42);
    Ok(())
}
