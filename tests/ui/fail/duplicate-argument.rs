use std::io;

#[stamina::retry(on = io::Error, attempts = 2, attempts = 3)]
fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {
    let _ = read("config.toml");
}
