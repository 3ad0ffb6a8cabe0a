//! The profile loader of the kernel (`Profile::load`): the TOML text, then `NODE_`
//! environment variables, then `--set` overrides, layered by the `config` crate, then the
//! `[node]` table; then the plan, as `node check` makes it: every built-in module and
//! plugin is linked (through the `node` library), so each listed module's table is read
//! and validated by its own config type and strategies. Planning builds modules without
//! starting them: nothing is bound, opened or spawned.
//!
//! Input: UTF-8 text split at NUL bytes: the profile, then overrides, each
//! `NODE_SECTION__KEY=value` (an environment variable) or anything else (a `--set`
//! argument). Checked: no panic, no allocation past the malloc limit the script sets.

#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use node_kernel::{plan, registered_modules, Profile, ProfileSource};
// Links the modules, whose registrations `plan` looks up.
use node as _;

/// A target that links no module would fuzz only the unknown-table error: check once.
fn modules_are_linked() {
    static CHECK: Once = Once::new();
    CHECK.call_once(|| {
        let modules = registered_modules().expect("the registry is consistent");
        for name in [
            "chain",
            "peers",
            "rpc",
            "discovery",
            "mempool",
            "wallet",
            "miner",
        ] {
            assert!(modules.contains_key(name), "module {name} is not linked");
        }
    });
}

fuzz_target!(|data: &[u8]| {
    modules_are_linked();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\0');
    let profile = parts.next().unwrap_or_default().to_string();
    let mut env = Vec::new();
    let mut sets = Vec::new();
    for part in parts {
        match part.split_once('=') {
            Some((name, value)) if name.starts_with("NODE_") => {
                env.push((name.to_string(), value.to_string()))
            }
            _ => sets.push(part.to_string()),
        }
    }
    let source = ProfileSource::Text {
        name: "fuzz".to_string(),
        text: profile,
    };
    if let Ok(profile) = Profile::load(&source, env, &sets, None) {
        let _ = serde_json::to_string(&profile.merged);
        let _ = plan(profile);
    }
});
