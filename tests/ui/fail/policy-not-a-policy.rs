use std::io;

const ATTEMPTS: u32 = 3;

#[stamina::retry(on = io::Error, policy = ATTEMPTS)]
fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {}
