//! Compile-time behaviour of the macros: `ui/pass` must build (and its
//! `main`s run), `ui/fail` must fail with exactly the errors in the `.stderr`
//! snapshot beside each file. Regenerate the snapshots with
//! `TRYBUILD=overwrite cargo test -p runtime-macros --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
