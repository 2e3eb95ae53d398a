use std::io;

// Healing is for streams and iterators: a fn's call has no healthy period to heal after.
#[stamina::retry(on = io::Error, heal_after = 60s, heal_after_items = 100)]
fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

// A zero `heal_after` would heal a stream that fails at once before every error.
#[stamina::retry(on = io::Error, heal_after = 0)]
fn lines() -> impl Iterator<Item = io::Result<String>> {
    std::iter::empty()
}

fn main() {}
