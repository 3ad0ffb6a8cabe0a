//! The chain spec file loader of node-chain: the text of a `[node] chain = "FILE"` file as
//! `resolve` / `load_spec_file` read it (`ChainSpec::from_toml`: the TOML shape, then every
//! value, then the genesis block against `max_block_size` and its nonce against
//! `pow_limit_bits`), then, for an accepted file, what `node chainspec` does with it.
//!
//! Input: the file's bytes, used when they are UTF-8 (`read_to_string` refuses the rest).
//! Checked beyond "no panic": an accepted spec printed as a file (`node chainspec NAME`'s
//! `ChainSpec::to_toml`) loads again as the same spec with the same genesis hash, and
//! prints to the same text; `node chainspec --from` (`check_spec_text`) accepts the file
//! as it is, finds no nonce to search for, and reports that genesis hash. Nothing is kept:
//! the spec owns its strings.

#![no_main]

use libfuzzer_sys::fuzz_target;
use node_chain::spec_file::check_spec_text;
use node_chain::ChainSpec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(spec) = ChainSpec::from_toml(text, "fuzz.toml") else {
        return;
    };
    let genesis_hash = spec.genesis_hash();
    let printed = spec.to_toml();
    let again = ChainSpec::from_toml(&printed, "printed.toml")
        .unwrap_or_else(|e| panic!("the printed file of an accepted spec fails: {e}\n{printed}"));
    assert_eq!(again, spec, "the printed file loads as another spec");
    assert_eq!(again.genesis_hash(), genesis_hash);
    assert_eq!(again.to_toml(), printed);
    // The nonce meets the bits (`from_toml` checked it): no search, same genesis.
    let checked = check_spec_text(text, "fuzz.toml").expect("--from accepts what loads");
    assert!(!checked.nonce_found);
    assert_eq!(checked.genesis_hash, genesis_hash);
});
