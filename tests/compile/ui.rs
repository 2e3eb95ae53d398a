//! Compile errors of `#[stamina::retry]`: one case per mistake in `ui/fail`, each with its
//! expected output; the tricky forms that must compile in `ui/pass`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/fail/*.rs");
    t.pass("ui/pass/*.rs");
}
