use std::io;

// `m` could be minutes or milli: only the listed units are accepted.
#[stamina::retry(on = io::Error, timeout = 5m)]
fn unknown_unit(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

#[stamina::retry(on = io::Error, wait_max = 1e20)]
fn too_large(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

#[stamina::retry(on = io::Error, timeout = "10s")]
fn a_string(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

#[stamina::retry(on = io::Error, wait_initial = None)]
fn no_wait_is_zero(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {}
