use std::io;

// A sync fn sleeps its thread: a sleeper is for `async fn`s.
#[stamina::retry(on = io::Error, sleeper = |wait| futures_timer::Delay::new(wait))]
fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

struct NotATimer;

#[stamina::retry(on = io::Error, sleeper = NotATimer)]
async fn fetch() -> io::Result<String> {
    Ok(String::new())
}

fn main() {}
