use std::io;

// Every call has no throttle unless it names one.
#[stamina::retry(on = io::Error, throttle = None)]
fn none() -> io::Result<()> {
    Ok(())
}

#[stamina::retry(on = io::Error, throttle = adaptive(ratio = 2))]
fn unknown_setting() -> io::Result<()> {
    Ok(())
}

#[stamina::retry(on = io::Error, throttle = adaptive(k = 2, k = 3))]
fn duplicate_setting() -> io::Result<()> {
    Ok(())
}

#[stamina::retry(on = io::Error, throttle = adaptive(rejections = Sometimes))]
fn unknown_rejections() -> io::Result<()> {
    Ok(())
}

// The AWS SDKs' constants: nothing to set.
#[stamina::retry(on = io::Error, throttle = rate_limiter(k = 2))]
fn rate_limiter_settings() -> io::Result<()> {
    Ok(())
}

// A stream's items come from one call: a throttle there would do nothing.
#[stamina::retry(on = io::Error, throttle = adaptive)]
fn lines() -> impl Iterator<Item = io::Result<String>> {
    std::iter::empty()
}

fn main() {}
