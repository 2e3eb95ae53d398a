use std::io;

#[stamina::retry(on = io::Error, attempts = 0)]
fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {
    let _ = read("config.toml");
    let _ = read_again("config.toml");
}

// A constant is checked too, when the compiler evaluates it.
const ATTEMPTS: u32 = 0;

#[stamina::retry(on = io::Error, attempts = ATTEMPTS)]
fn read_again(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}
