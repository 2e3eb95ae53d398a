use std::{io, time::Duration};

fn budget() -> Duration {
    Duration::from_secs(10)
}

#[stamina::retry(on = io::Error, timeout = budget())]
fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {}
