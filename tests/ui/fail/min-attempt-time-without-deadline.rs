use std::io;

// `min_attempt_time` applies in deadline mode only; without it, it would do nothing.
#[stamina::retry(on = io::Error, timeout = 10s, min_attempt_time = 50ms)]
fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

// In deadline mode it does.
#[stamina::retry(on = io::Error, timeout = 10s, timeout_mode = Deadline, min_attempt_time = 50ms)]
fn write(path: &str) -> io::Result<()> {
    std::fs::write(path, "")
}

fn main() {}
