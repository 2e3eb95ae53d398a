use std::io;

#[stamina::retry(attempts = 3)]
fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {
    let _ = read("config.toml");
}
