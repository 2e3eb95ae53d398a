use std::io;
use stamina::{Throttle, Throttled};

#[derive(Debug)]
enum Error {
    Io(io::Error),
    Throttled(Throttled),
}

impl From<Throttled> for Error {
    fn from(t: Throttled) -> Self {
        Error::Throttled(t)
    }
}

// A `const`, not a `static`: each use would be a throttle of its own, counting nothing.
const COPIED: Throttle = Throttle::adaptive();

#[stamina::retry(on = |e| matches!(e, Error::Io(_)), throttle = COPIED)]
fn create() -> Result<(), Error> {
    Ok(())
}

// A throttle made on each call counts nothing.
#[stamina::retry(on = |e| matches!(e, Error::Io(_)), throttle = Throttle::adaptive().k(1.5))]
fn write() -> Result<(), Error> {
    Ok(())
}

fn main() {}
