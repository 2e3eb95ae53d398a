#[derive(Debug)]
struct Timeout;

// A type that is not a `Result`: the error names it.
#[stamina::retry(on = Timeout)]
fn fetch() -> Option<String> {
    Some("body".to_owned())
}

// No return type at all.
#[stamina::retry(on = Timeout)]
fn ping() {}

fn main() {
    let _ = fetch();
    ping();
}
