use std::io;

// `nested` takes `Retry` or `Once`.
#[stamina::retry(on = io::Error, nested = Never)]
fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path)
}

// A budget is a `RetryBudget` (a `static`), not a number.
#[stamina::retry(on = io::Error, budget = 0.2)]
fn write(path: &str) -> io::Result<()> {
    std::fs::write(path, "")
}

static NOT_A_BUDGET: u32 = 0;

#[stamina::retry(on = io::Error, budget = NOT_A_BUDGET)]
fn remove(path: &str) -> io::Result<()> {
    std::fs::remove_file(path)
}

fn main() {}
