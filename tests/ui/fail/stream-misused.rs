use futures::Stream;

#[derive(Debug)]
struct Reset;

// An `async fn` that returns a stream: a plain fn makes the stream.
#[stamina::retry(on = Reset)]
async fn feed() -> impl Stream<Item = Result<u32, Reset>> {
    futures::stream::empty()
}

// A stream's `Ok` items pass through: no result predicate.
#[stamina::retry(on = Reset, on_ok = |n: &u32| *n == 0)]
fn counts() -> impl Stream<Item = Result<u32, Reset>> {
    futures::stream::empty()
}

// A policy copied per call cannot outlive the call.
#[stamina::retry(on = Reset, policy = stamina::RetryPolicy::new(), attempts = 3)]
fn rows() -> impl Iterator<Item = Result<u32, Reset>> {
    std::iter::empty()
}

// Items that are not results: nothing to retry on.
#[stamina::retry(on = Reset)]
fn numbers() -> impl Iterator<Item = u32> {
    std::iter::empty()
}

fn main() {}
