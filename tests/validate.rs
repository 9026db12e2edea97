use crate::common::cxsync;

#[test]
fn the_example_spec_is_valid() {
    let out = cxsync()
        .args(["validate", "specs/crm_sync.yaml"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
