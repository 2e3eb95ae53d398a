use stamina::Throttled;

#[derive(Debug)]
enum Error {
    Busy,
    Throttled(Throttled),
}

impl From<Throttled> for Error {
    fn from(t: Throttled) -> Self {
        Error::Throttled(t)
    }
}

// K below 1 rejects requests that the dependency would accept.
#[stamina::retry(on = |e| matches!(e, Error::Busy), throttle = adaptive(k = 0.5))]
fn k_below_one() -> Result<(), Error> {
    Ok(())
}

#[stamina::retry(on = |e| matches!(e, Error::Busy), throttle = adaptive(window = 0s))]
fn zero_window() -> Result<(), Error> {
    Ok(())
}

// A cap of 1 may reject everything, and nothing then tells the throttle of a recovery.
#[stamina::retry(on = |e| matches!(e, Error::Busy), throttle = adaptive(max_rejection = 1.0))]
fn cap_of_one() -> Result<(), Error> {
    Ok(())
}

#[stamina::retry(on = |e| matches!(e, Error::Busy), throttle = adaptive(k = f64::NAN))]
fn nan() -> Result<(), Error> {
    Ok(())
}

fn main() {}
