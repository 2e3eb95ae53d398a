#[stamina::retry(on = std::io::Error)]
struct Client;

fn main() {}
