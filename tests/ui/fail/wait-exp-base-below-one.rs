use std::io;

#[stamina::retry(on = io::Error, wait_exp_base = 0.5)]
fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {
    let _ = read("config.toml");
}
