use std::io;

// A typo: the nearest argument is suggested.
#[stamina::retry(on = io::Error, atempts = 3)]
fn typo(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

// Nothing close: every argument is listed.
#[stamina::retry(on = io::Error, flavor = "multi_thread")]
fn unknown(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

// Not an argument at all.
#[stamina::retry(on = io::Error, = 3)]
fn stray(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {}
