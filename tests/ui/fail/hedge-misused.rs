use std::io;

// A sync fn has one attempt in flight at a time: it cannot hedge.
#[stamina::retry(on = io::Error, hedge = 50ms)]
fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

// `hedges` alone would do nothing.
#[stamina::retry(on = io::Error, hedges = 2)]
async fn fetch() -> io::Result<()> {
    Ok(())
}

// Several tries run at once: none of them is "the attempt under way".
#[stamina::retry(on = io::Error, hedge = 50ms, attempt = attempt)]
async fn timed() -> io::Result<()> {
    let _ = attempt;
    Ok(())
}

// A stream's items come one at a time.
#[stamina::retry(on = io::Error, hedge = 50ms)]
fn lines() -> impl Iterator<Item = io::Result<String>> {
    std::iter::empty()
}

fn main() {}
