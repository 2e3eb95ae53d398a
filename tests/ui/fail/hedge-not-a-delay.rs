use std::io;

// Not a delay, a `Hedging` or an estimator.
#[stamina::retry(on = io::Error, hedge = "fast")]
async fn unclear() -> io::Result<()> {
    Ok(())
}

// A value of another type.
#[stamina::retry(on = io::Error, hedge = LIMIT)]
async fn wrong() -> io::Result<()> {
    Ok(())
}

const LIMIT: u32 = 3;

fn main() {}
