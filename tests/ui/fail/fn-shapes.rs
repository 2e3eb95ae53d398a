trait Fetch {
    // A declaration has no body to retry.
    #[stamina::retry(on = std::io::Error)]
    fn fetch(&self) -> std::io::Result<String>;
}

// A sync fn that returns a future is not retried on the future's errors.
#[stamina::retry(on = std::io::Error)]
fn later() -> impl std::future::Future<Output = std::io::Result<()>> {
    async { Ok(()) }
}

fn main() {}
