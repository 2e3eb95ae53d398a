#[derive(Debug)]
struct Overflow;

#[stamina::retry(on = Overflow)]
const fn double(x: u32) -> Result<u32, Overflow> {
    match x.checked_mul(2) {
        Some(v) => Ok(v),
        None => Err(Overflow),
    }
}

fn main() {
    let _ = double(2);
}
