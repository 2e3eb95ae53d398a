//! The random numbers behind the jitter.
//!
//! Jitter needs numbers that differ between calls, threads and processes, not secrets: a
//! `wyrand` generator (fastrand's algorithm: 64 bits of state, one multiply per draw, passes
//! `PractRand` and `BigCrush`) per thread, seeded once from the OS through the standard library's
//! `RandomState` (whose keys come from the OS's random source for each thread). The state is a
//! `Cell<u64>` in a thread-local without a destructor, so a retry made while the thread's other
//! thread-locals are being destroyed still draws.
//!
//! Why not a crate. Measured on the 2-core VM of `BENCHMARKS.md` (2026-12-07), a clean release
//! build: `rand` 0.10 with `default-features = false` and `sys_rng` (its `SmallRng`, seeded by
//! `SysRng`, without the `ChaCha` `std_rng`) brings `rand_core`, `getrandom` 0.4, `libc` and
//! `cfg-if`, 2.9 s of compile units (`libc` alone 1.7 s), none of which stamina's default build
//! has; the bar was 0.3 s. `fastrand` 2 is the same algorithm, one more crate for these 30
//! lines. The seeded [`TestClock`](crate::testing::TestClock) draws from the same generator,
//! seeded by the test.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher, RandomState};

thread_local! {
    /// This thread's generator; 0 until its first draw seeds it.
    static STATE: Cell<u64> = const { Cell::new(0) };
}

const INCREMENT: u64 = 0xa076_1d64_78bd_642f;

/// The next 64 random bits of the generator whose state is `state`.
pub(crate) fn wyrand(state: &mut u64) -> u64 {
    *state = state.wrapping_add(INCREMENT);
    let t = u128::from(*state) * u128::from(*state ^ 0xe703_7ed1_a0b4_28db);
    (t as u64) ^ ((t >> 64) as u64)
}

/// A seed from the OS: `RandomState`'s keys come from the OS's random source, once per thread
/// (and are then advanced by one for each `RandomState`, so no two seeds of a thread repeat).
fn os_seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0x0053_7461_6d69_6e61); // "Stamina"
    // 0 means "not seeded yet".
    hasher.finish() | 1
}

/// 64 random bits from this thread's generator.
pub(crate) fn next_u64() -> u64 {
    STATE.with(|cell| {
        let mut state = cell.get();
        if state == 0 {
            state = os_seed();
        }
        let bits = wyrand(&mut state);
        cell.set(state);
        bits
    })
}

/// A uniform draw from `[0, 1)` of 64 random bits: the top 53, the precision of an `f64`.
pub(crate) fn unit_from(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_in_range_and_spread() {
        assert_eq!(unit_from(0).to_bits(), 0.0_f64.to_bits());
        assert!(unit_from(u64::MAX) < 1.0);
        let draws: std::collections::HashSet<u64> =
            (0..1000).map(|_| unit_from(next_u64()).to_bits()).collect();
        assert_eq!(draws.len(), 1000);
    }

    #[test]
    fn threads_draw_different_sequences() {
        let here: Vec<u64> = (0..4).map(|_| next_u64()).collect();
        let there = std::thread::spawn(|| (0..4).map(|_| next_u64()).collect::<Vec<u64>>())
            .join()
            .unwrap();
        assert_ne!(here, there);
    }

    #[test]
    fn a_known_seed_gives_a_known_sequence() {
        // The generator itself is deterministic: only the seed is random.
        let mut a = 42;
        let mut b = 42;
        let first: Vec<u64> = (0..3).map(|_| wyrand(&mut a)).collect();
        let second: Vec<u64> = (0..3).map(|_| wyrand(&mut b)).collect();
        assert_eq!(first, second);
        assert_ne!(first[0], first[1]);
    }
}
