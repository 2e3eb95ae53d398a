use std::{io, time::Duration};

// `timeout` is evaluated once, at compile time: the fn's arguments do not exist yet.
#[stamina::retry(on = io::Error, timeout = budget)]
fn read(path: &str, budget: Duration) -> io::Result<String> {
    std::fs::read_to_string(path)
}

struct Client {
    attempts: u32,
}

impl Client {
    #[stamina::retry(on = io::Error, attempts = self.attempts)]
    fn read(&self, path: &str) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
}

fn main() {}
