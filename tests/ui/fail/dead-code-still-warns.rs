#![deny(dead_code)]

// An uncalled `#[retry]` fn is dead code, as a plain fn beside it is.
#[stamina::retry(on = std::io::Error, attempts = 3)]
fn never_called(path: &str) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

#[stamina::retry(on = std::io::Error, attempts = 3)]
async fn never_awaited() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
