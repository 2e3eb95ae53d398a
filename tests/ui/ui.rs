//! Compile errors of `#[stamina::retry]`: one case per mistake in `fail/`, each with its
//! expected output; the tricky forms that must compile in `pass/`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("fail/*.rs");
    t.pass("pass/*.rs");
}
