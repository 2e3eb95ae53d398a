use std::io;

// A predicate returns a `bool`, a `Duration`, an `Option<Duration>` or a `Decision`.
#[stamina::retry(on = |e: &io::Error| e.kind().to_string())]
fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {}
