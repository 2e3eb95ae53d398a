use std::io;

// Durations are read by the runtime's one grammar, as a configuration file's are: the units are
// `ns`, `us`/`µs`, `ms`, `s`, `min` and `h`. `m` could be minutes or milliseconds.
#[stamina::retry(on = io::Error, timeout = 5m)]
fn unknown_unit(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

#[stamina::retry(on = io::Error, timeout = 3fortnights)]
fn unlisted_unit(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

#[stamina::retry(on = io::Error, wait_max = 1e400s)]
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
