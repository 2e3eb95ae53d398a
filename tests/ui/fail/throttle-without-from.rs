use std::io;
use stamina::Throttle;

static BACKEND: Throttle = Throttle::adaptive();

// A rejected call returns `Err(Throttled.into())`: `io::Error` cannot carry a `Throttled`.
#[stamina::retry(on = io::Error, throttle = BACKEND)]
fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {}
