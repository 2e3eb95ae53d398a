use std::io;

struct Client {
    calls: u32,
}

impl Client {
    // Each try of a hedged call gets its own copy of every argument: `&mut self` cannot be
    // copied.
    #[stamina::retry(on = io::Error, hedge = 50ms)]
    async fn get(&mut self) -> io::Result<u32> {
        self.calls += 1;
        Ok(self.calls)
    }
}

// Nor can a `String`.
#[stamina::retry(on = io::Error, hedge = 50ms)]
async fn lookup(key: String) -> io::Result<usize> {
    Ok(key.len())
}

fn main() {}
