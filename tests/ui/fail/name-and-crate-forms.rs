use std::io;

#[stamina::retry(on = io::Error, name = fetch)]
fn not_a_string(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

#[stamina::retry(on = io::Error, crate = "stamina")]
fn not_a_path(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {}
