//! docs/modules.md is generated from the module definitions; this keeps it current.

#[test]
fn module_reference_is_up_to_date() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tbuddy-deploy"))
        .args(["doc", "--markdown"])
        .output()
        .expect("binary runs");
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/modules.md");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        generated == on_disk,
        "docs/modules.md is stale: run `cargo run -- doc --markdown > docs/modules.md`"
    );
}
