use std::io;

fn is_interrupted(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
}

#[stamina::retry(on = (io::Error, is_interrupted))]
fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {
    let _ = read("config.toml");
}
