use std::io;

#[stamina::retry(on = io::Error, timeout_mode = Hard)] // `AfterFailure` or `Deadline`
fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {}
