use std::io;

#[stamina::retry(on = ())]
fn no_type(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

#[stamina::retry(on = +)]
fn not_a_value(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {}
