use std::io;
use stamina::RetryBudget;

// A `const`, not a `static`: each use would be a budget of its own, and nothing shared.
const COPIED: RetryBudget = RetryBudget::new();

#[stamina::retry(on = io::Error, budget = COPIED)]
fn create(path: &str) -> io::Result<std::fs::File> {
    std::fs::File::create(path)
}

// An argument lives only for the call.
#[stamina::retry(on = io::Error, budget = budget)]
fn read(path: &str, budget: &RetryBudget) -> io::Result<String> {
    std::fs::read_to_string(path)
}

// A budget made on each call counts nothing.
#[stamina::retry(on = io::Error, budget = RetryBudget::new())]
fn write(path: &str) -> io::Result<()> {
    std::fs::write(path, "")
}

// A `&'static` argument is shared: this compiles.
#[stamina::retry(on = io::Error, budget = budget)]
fn remove(path: &str, budget: &'static RetryBudget) -> io::Result<()> {
    std::fs::remove_file(path)
}

fn main() {}
