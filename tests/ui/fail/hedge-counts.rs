use std::io;

// 0 hedges is no hedging; gRPC caps a call at 5 tries in all.
#[stamina::retry(on = io::Error, hedge = 50ms, hedges = 0)]
async fn none() -> io::Result<()> {
    Ok(())
}

#[stamina::retry(on = io::Error, hedge = 50ms, hedges = 5)]
async fn too_many() -> io::Result<()> {
    Ok(())
}

fn main() {}
