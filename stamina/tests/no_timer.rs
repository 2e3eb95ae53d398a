//! The compile error of an `async fn` under `#[retry]` when no timer feature is enabled.
//!
//! `cargo test --workspace` unifies features (the tokio timer is on there), so this case only
//! runs in a build of stamina of its own: `cargo test -p stamina --no-default-features --features
//! macros --test no_timer` (in `.ci/run`).

#[cfg(not(feature = "tokio"))]
#[test]
fn an_async_fn_needs_a_timer() {
    trybuild::TestCases::new().compile_fail("tests/ui-no-timer/*.rs");
}
