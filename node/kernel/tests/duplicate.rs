//! Two crates registering one module name: the binary that links both refuses every
//! profile, naming both registrations. A test binary of its own, because the duplicate
//! would break every other kernel test.

use node_kernel::{inventory, plan, ModuleFactory, Profile, ProfileSource};

inventory::submit! {
    ModuleFactory { name: "twin", description: "the first twin", registered_by: "acme-one",
        provides: &[], needs: &[], uses: &[], build: |_| Err(node_kernel::ConfigError::Deserialize("never built".into())) }
}
inventory::submit! {
    ModuleFactory { name: "twin", description: "the second twin", registered_by: "acme-two",
        provides: &[], needs: &[], uses: &[], build: |_| Err(node_kernel::ConfigError::Deserialize("never built".into())) }
}

#[test]
fn a_name_registered_twice_is_refused_naming_both_registrations() {
    let profile = Profile::load(
        &ProfileSource::Embedded {
            name: "t.toml",
            text: "[node]\nmodules = []\n",
        },
        [],
        &[],
        Some("/tmp/unused".into()),
    )
    .unwrap();
    let error = match plan(profile) {
        Ok(_) => panic!("a binary with two modules named twin was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("twin"), "{error}");
    assert!(
        error.contains("acme-one") && error.contains("acme-two"),
        "{error}"
    );
}
