//! The profile loader of the kernel (`Profile::load`): the TOML text, then `NODE_`
//! environment variables, then `--set` overrides, layered by the `config` crate, then the
//! `[node]` table and the plan (with no module linked in, every table is unknown).
//!
//! Input: UTF-8 text split at NUL bytes: the profile, then overrides, each
//! `NODE_SECTION__KEY=value` (an environment variable) or anything else (a `--set`
//! argument). Checked: no panic, no allocation past the malloc limit the script sets.

#![no_main]

use libfuzzer_sys::fuzz_target;
use node_kernel::{plan, Profile, ProfileSource};

fuzz_target!(|data: &[u8]| {
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
