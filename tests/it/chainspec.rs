//! Chain spec files: nodes on a custom chain (another magic, 2 MB blocks) exchange a block
//! larger than 1,000,000 bytes; a node on the default regtest spec cannot connect to them;
//! a node whose spec differs only in a smaller `max_block_size` refuses that block with
//! Core's reason and stays on its chain; the data directory refuses another spec.

use std::path::Path;
use std::time::Duration;

use node_chain::spec_file::{check_spec_text, load_spec_file};
use node_chain::{Block, ChainSpec};
use node_chain_state::testing::{Builder, Wallet};
use node_chain_state::{write_block_file, ChainOptions, ChainState};

use crate::common::{node_output, wait_for, write_profile, TestNode};

/// Generous: a debug build on a loaded machine validates 5,500 signatures.
const SYNC: Duration = Duration::from_secs(180);
/// Spends in the big block: about 192 bytes each, so the block passes 1,000,000 bytes.
const SPENDS: usize = 5_500;

/// A spec file like regtest's (minimum difficulty, so test builders can mine it) with
/// its own name, magic and genesis, and `max_block_size`; the genesis nonce is found.
fn write_spec(dir: &Path, file: &str, name: &str, max_block_size: usize) {
    let mut spec = ChainSpec::clone(&ChainSpec::by_name("regtest").unwrap());
    spec.name = name.to_string();
    spec.magic = [0x0b, 0x11, 0x09, 0x07];
    spec.max_block_size = max_block_size;
    spec.genesis.message = "a chain of big blocks".to_string();
    let checked = check_spec_text(&spec.to_toml(), file).expect("a valid spec");
    std::fs::write(dir.join(file), checked.spec.to_toml()).unwrap();
}

/// Blocks 1..=102 of the chain in `spec_path`: a coinbase split into `SPENDS` coins, 100
/// blocks to mature it, then one block spending every coin.
fn build_chain(spec_path: &Path, dir: &Path) -> Vec<Block> {
    let spec = load_spec_file(spec_path).expect("spec");
    let state = ChainState::open(&dir.join("build"), spec, ChainOptions::default(), |_| {})
        .expect("open build state");
    let wallet = Wallet::new(7);
    let mut builder = Builder::new(&state);
    let mut blocks = vec![builder.next_block_split(&wallet, SPENDS, vec![])];
    for _ in 0..100 {
        blocks.push(builder.next_block(&wallet, vec![]));
    }
    let coinbase = blocks[0].txs[0].clone();
    let spends = (0..SPENDS as u32)
        .map(|vout| {
            let value = coinbase.outputs[vout as usize].value;
            wallet.pay(&coinbase, vout, &wallet, value - 1_000, 1_000)
        })
        .collect();
    blocks.push(builder.next_block(&wallet, spends));
    blocks
}

fn profile(dir: &Path, file: &str, spec_file: &str) -> std::path::PathBuf {
    write_profile(
        dir,
        file,
        &format!(
            "[node]\nmodules = [\"chain\", \"mempool\", \"peers\", \"sync\", \"relay\", \"rpc\"]\n\
             chain = \"{spec_file}\"\n\n[sync]\nstrategy = \"headers-first\"\n"
        ),
    )
}

#[test]
fn a_custom_chain_carries_big_blocks_and_keeps_other_chains_out() {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), "big.toml", "big", 2_000_000);
    write_spec(dir.path(), "small.toml", "small", 1_000_000);
    let big = profile(dir.path(), "big-node.toml", "big.toml");
    let small = profile(dir.path(), "small-node.toml", "small.toml");

    let blocks = build_chain(&dir.path().join("big.toml"), dir.path());
    let big_block = blocks.last().unwrap();
    assert!(big_block.size() > 1_000_000, "{} bytes", big_block.size());
    let file = dir.path().join("blocks.dat");
    write_block_file(&file, blocks.iter().cloned().map(Ok)).unwrap();

    // Node A imports the chain, big block included.
    let a_data = dir.path().join("a");
    let import = node_output(
        &[
            "import",
            "--profile",
            big.to_str().unwrap(),
            "--datadir",
            a_data.to_str().unwrap(),
            "--file",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        import.status.success(),
        "import: {}",
        String::from_utf8_lossy(&import.stderr)
    );
    let mut a = TestNode::start_on_chain(&big, &a_data, &[]);
    assert_eq!(a.rpc("getblockcount", &[]), 102);
    assert_eq!(a.rpc("getblockchaininfo", &[])["chain"], "big");
    let info = a.rpc("getchaininfo", &[]);
    assert_eq!(info["max_block_size"], 2_000_000);
    assert_eq!(info["magic"], "0b110907");
    let tip = a.text("getbestblockhash", &[]);
    let parent = a.text("getblockhash", &["101"]);

    // Node B, same spec, fetches it over P2P.
    let connect = format!("peers.connect=[\"{}\"]", a.p2p_addr());
    let b = TestNode::start_on_chain(&big, &dir.path().join("b"), std::slice::from_ref(&connect));
    wait_for("B to sync the big block", SYNC, || {
        (b.try_text("getbestblockhash", &[]).ok()? == tip).then_some(())
    });
    let block = b.rpc("getblock", &[&tip]);
    assert!(block["size"].as_u64().unwrap() > 1_000_000, "{block}");

    // Node C differs only in max_block_size: it takes the chain up to the big block, and
    // refuses that one with Core's reason.
    let mut c = TestNode::start_on_chain(
        &small,
        &dir.path().join("c"),
        std::slice::from_ref(&connect),
    );
    c.process.wait_log("bad-blk-length", SYNC);
    wait_for("C at block 101", SYNC, || {
        (c.try_text("getbestblockhash", &[]).ok()? == parent).then_some(())
    });
    assert_eq!(c.rpc("getblockcount", &[]), 101);

    // Node D on the default regtest spec: another magic, so no connection, and both
    // sides say why.
    let mut d = TestNode::start(std::slice::from_ref(&connect));
    d.process
        .wait_log("closed the connection during the handshake", SYNC);
    a.process.wait_log("is on another chain", SYNC);
    assert_eq!(d.rpc("getconnectioncount", &[]), 0);
    assert_eq!(d.rpc("getblockcount", &[]), 0);
    drop(d);

    // A's data directory holds chain "big": the small spec is refused, naming both.
    drop(c);
    drop(b);
    let a_flags_datadir = a.datadir().to_path_buf();
    drop(a);
    let out = node_output(
        &[
            "--profile",
            small.to_str().unwrap(),
            "--datadir",
            a_flags_datadir.to_str().unwrap(),
            "--set",
            "peers.listen=127.0.0.1:0",
            "--set",
            "rpc.listen=127.0.0.1:0",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("holds chain \"big\"") && stderr.contains("asks for chain \"small\""),
        "{stderr}"
    );
}

#[test]
fn chainspec_prints_a_builtin_spec_and_completes_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = node_output(&["chainspec", "dev"], &[]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).replace("name = \"dev\"", "name = \"mine\"");
    let text = text.replace("message = \"node dev genesis\"", "message = \"mine\"");
    let path = dir.path().join("mine.toml");
    std::fs::write(&path, &text).unwrap();
    // The nonce no longer meets the bits: found, and the completed file printed.
    let out = node_output(&["chainspec", "--from", path.to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("found nonce"), "{stderr}");
    std::fs::write(&path, &out.stdout).unwrap();
    let out = node_output(&["chainspec", "--from", path.to_str().unwrap()], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(": ok; chain mine, genesis 0000"),
        "{stdout}"
    );

    // Nonsense values and unknown keys name the file and the key.
    std::fs::write(
        &path,
        text.replace("target_spacing = 10", "target_spacing = 0"),
    )
    .unwrap();
    let out = node_output(&["chainspec", "--from", path.to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("mine.toml") && stderr.contains("target_spacing"),
        "{stderr}"
    );
    std::fs::write(&path, format!("{text}\nblock_size = 5\n")).unwrap();
    let profile = write_profile(
        dir.path(),
        "p.toml",
        "[node]\nmodules = [\"chain\"]\nchain = \"mine.toml\"\n",
    );
    let out = node_output(&["check", "--profile", profile.to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("[node]") && stderr.contains("mine.toml") && stderr.contains("block_size"),
        "{stderr}"
    );
}
