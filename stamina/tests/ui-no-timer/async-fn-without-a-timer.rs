use std::io;

#[stamina::retry(on = io::Error)]
async fn fetch() -> io::Result<String> {
    Ok("ok".to_owned())
}

// Sync fns need no timer.
#[stamina::retry(on = io::Error)]
fn read() -> io::Result<String> {
    Ok("ok".to_owned())
}

fn main() {
    let _ = fetch();
    let _ = read();
}
