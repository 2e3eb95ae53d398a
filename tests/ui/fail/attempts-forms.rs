use std::io;

#[stamina::retry(on = io::Error, attempts = 2.5)]
fn fraction(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

#[stamina::retry(on = io::Error, attempts = -1)]
fn negative(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

// A suffix that is not an integer type is never silently dropped.
#[stamina::retry(on = io::Error, attempts = 5ms)]
fn suffixed(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

#[stamina::retry(on = io::Error, attempts = 5_000_000_000)]
fn too_many(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {}
