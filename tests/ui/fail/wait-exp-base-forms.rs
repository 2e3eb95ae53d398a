use std::io;

#[stamina::retry(on = io::Error, wait_exp_base = None)]
fn none(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

#[stamina::retry(on = io::Error, wait_exp_base = 2s)]
fn suffixed(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {}
