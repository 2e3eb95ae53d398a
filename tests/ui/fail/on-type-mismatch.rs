use std::io;

#[derive(Debug)]
struct ApiError;

// `ApiError` can never be an `io::Error`.
#[stamina::retry(on = io::Error)]
fn call() -> Result<u32, ApiError> {
    Err(ApiError)
}

fn main() {
    let _ = call();
}
