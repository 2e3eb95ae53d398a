use std::io;

fn send(payload: String) -> io::Result<usize> {
    Ok(payload.len())
}

// Each attempt runs the body again, but the first one moved `payload` away.
#[stamina::retry(on = io::Error)]
fn upload(payload: String) -> io::Result<usize> {
    send(payload)
}

#[stamina::retry(on = io::Error)]
async fn upload_async(payload: String) -> io::Result<usize> {
    send(payload)
}

fn main() {
    let _ = upload(String::new());
    drop(upload_async(String::new()));
}
