use std::io;

// `attempt` (one) binds the attempt for the body; `attempts` (many) is the limit.
#[stamina::retry(on = io::Error, attempt = 3)]
fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {}
