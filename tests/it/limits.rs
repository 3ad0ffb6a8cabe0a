//! What hostile peers can make a real `node` process hold, each attack played from raw
//! sockets on 127.0.0.1 and each bound checked from outside: the node's resident memory
//! from /proc (VmHWM, the peak), its data directory's size, and who stays connected.
//! The figures are printed (`--nocapture`) beside the bound each test asserts.

use std::io::Write;
use std::time::{Duration, Instant};

use node_chain::{
    check_proof_of_work, Block, BlockHeader, Hash256, OutPoint, Transaction, TxIn, TxOut,
};
use node_p2p::{encode_frame, Inventory, Message, MAX_INV};

use crate::common::{dir_size, regtest, wait_for, TestNode};
use crate::peers::RawPeer;

const MIB: u64 = 1 << 20;
const DEADLINE: Duration = Duration::from_secs(30);

/// A block of `bytes` bytes on the wire (one transaction with a large output script) on
/// an unknown parent: it decodes, reaches the sync module and can never be stored.
fn fat_block(bytes: usize, tag: u8) -> Block {
    let mut block = Block {
        header: BlockHeader {
            version: 1,
            prev_block: Hash256([tag; 32]),
            merkle_root: Hash256([tag; 32]),
            time: 1,
            bits: regtest().pow_limit_bits,
            nonce: 0,
        },
        txs: vec![Transaction {
            version: 1,
            inputs: vec![TxIn {
                prevout: OutPoint::null(),
                script_sig: vec![tag; 4],
                sequence: 0,
            }],
            outputs: vec![TxOut {
                value: 0,
                script_pubkey: Vec::new(),
            }],
            lock_time: 0,
        }],
    };
    let overhead = encode_frame(regtest().magic, &Message::Block(block.clone().into())).len() - 24;
    // The script's length prefix grows from 1 to 5 bytes.
    block.txs[0].outputs[0].script_pubkey = vec![tag; bytes - overhead - 4];
    block
}

fn rss_line(node: &TestNode) -> String {
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.process.pid()))
        .expect("read /proc/PID/status");
    status
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Has each of `attackers` send `blocks` blocks of the chain's largest size at once, as
/// fast as the node reads, waits until the node read them all, and returns how much its
/// peak RSS grew meanwhile.
fn send_max_size_blocks(node: &TestNode, attackers: &mut [RawPeer], blocks: usize) -> u64 {
    let max_block = regtest().max_block_size;
    let before = node.process.peak_rss();
    let senders: Vec<_> = attackers
        .iter_mut()
        .enumerate()
        .map(|(i, attacker)| {
            let frames: Vec<Vec<u8>> = (0..blocks)
                .map(|b| {
                    let block = fat_block(max_block, (i * blocks + b) as u8);
                    encode_frame(regtest().magic, &Message::Block(block.into())).to_vec()
                })
                .collect();
            assert_eq!(frames[0].len(), 24 + max_block);
            let mut writer = attacker.writer();
            std::thread::spawn(move || {
                for frame in &frames {
                    writer.write_all(frame).expect("the node reads every block");
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().expect("sender");
    }
    // Every block was read (the last one reached the node's counters).
    let sent = (blocks as u64) * (24 + max_block as u64);
    wait_for("the node to read every peer's blocks", DEADLINE, || {
        let read = node
            .peer_info()
            .iter()
            .filter(|p| p["subver"] == "/raw-test-peer/")
            .filter_map(|p| p["bytesrecv_per_msg"]["block"].as_u64())
            .filter(|bytes| *bytes >= sent)
            .count();
        (read == attackers.len()).then_some(())
    });
    node.process.peak_rss().saturating_sub(before)
}

#[test]
fn one_peer_sending_max_size_blocks_holds_a_bounded_amount() {
    let node = TestNode::start(&[]);
    let max_block = regtest().max_block_size;
    let mut attacker = RawPeer::connect(node.p2p_port);
    attacker.handshake();
    // 80 blocks of the chain's largest size, written as fast as the node reads.
    let blocks = 80;
    let grown = send_max_size_blocks(&node, std::slice::from_mut(&mut attacker), blocks);
    println!(
        "{blocks} blocks of {max_block} bytes from one peer: peak RSS grew {:.1} MiB ({})",
        grown as f64 / MIB as f64,
        rss_line(&node)
    );
    // The peers module's bound for one peer: 5 MB held by subscribers, one message over
    // it and one being read; decoded blocks take about twice their wire size, and the
    // allocator keeps some slack.
    assert!(grown < 48 * MIB, "peak RSS grew {grown} bytes");

    // One byte over the chain's limit: refused on the frame's header.
    let mut header = regtest().magic.to_vec();
    header.extend_from_slice(b"block\0\0\0\0\0\0\0");
    header.extend_from_slice(&(max_block as u32 + 1).to_le_bytes());
    header.extend_from_slice(&[0; 4]);
    attacker.send_raw(&header);
    assert!(
        attacker.closed_by_node(),
        "an oversized block frame was read"
    );
}

#[test]
fn many_peers_sending_max_size_blocks_at_once_hold_a_bounded_amount() {
    // Past six peers the sync's accepting budget (32 MiB of blocks handed to the chain at
    // once, `MAX_ACCEPTING_KIB`) binds before the peers' own 5 MB hold bounds do.
    let node = TestNode::start(&[]);
    let max_block = regtest().max_block_size;
    let (peers, blocks) = (8, 20);
    let mut attackers: Vec<RawPeer> = (0..peers)
        .map(|_| {
            let mut peer = RawPeer::connect(node.p2p_port);
            peer.handshake();
            peer
        })
        .collect();
    let grown = send_max_size_blocks(&node, &mut attackers, blocks);
    println!(
        "{peers} peers sending {blocks} blocks of {max_block} bytes each at once: peak RSS grew {:.1} MiB ({})",
        grown as f64 / MIB as f64,
        rss_line(&node)
    );
    // 160 MB were sent, about 320 MiB once decoded. What may be held at once: each peer's
    // 5 MB hold bound, one message over it and one being read (about 14 MiB decoded), and
    // the chain's copies of the blocks being accepted (at most 32 MiB on the wire).
    assert!(grown < 160 * MIB, "peak RSS grew {grown} bytes");
}

/// A line of /proc/PID/status in bytes (`RssAnon`, `VmHWM`).
fn status_bytes(node: &TestNode, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.process.pid()))
        .expect("read /proc/PID/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or_else(|| panic!("no {key} line in:\n{status}"))
}

#[test]
fn peers_that_request_blocks_and_never_read_hold_a_bounded_amount() {
    const PEERS: usize = 8;
    // The allocator is told to give freed pages back at once and not to ask for
    // transparent huge pages, so the resident set counts the pages in use: with its
    // defaults it returns pages after a delay and in 2 MiB units, and the same run
    // measured anywhere from 2.3 to 5 MiB a peer.
    let node = TestNode::start_env(
        &[],
        &[("MIMALLOC_PURGE_DELAY", "0"), ("MIMALLOC_ALLOW_THP", "0")],
    );
    // 20 blocks of 50 kB: every request below names them over and over, so what each
    // peer asks for (2.5 GB) is far more than the kernel's socket buffers hold.
    let chain = crate::fat_blocks::submit_chain(&node, 20, 50_000);
    assert_eq!(node.height(), 20);
    let request: Vec<Inventory> = (0..MAX_INV)
        .map(|i| Inventory::block(chain[i % chain.len()]))
        .collect();
    let mut readers: Vec<RawPeer> = (0..PEERS)
        .map(|_| {
            let mut peer = RawPeer::connect(node.p2p_port);
            peer.handshake();
            peer
        })
        .collect();
    // Anonymous memory only: the chain's blocks, once read, are file pages of the store.
    let (anon_before, peak_before) = (status_bytes(&node, "RssAnon"), node.process.peak_rss());
    // Each sends three requests of 50,000 blocks and reads none of the answers: the
    // node serves the first until the peer's socket and send queue are full, and does
    // not read the next two meanwhile.
    for peer in &mut readers {
        for _ in 0..3 {
            peer.send(&Message::GetData(request.clone()));
        }
    }
    // The node writes until the sockets are full, then waits: bytes sent stop growing.
    let sent = || -> Vec<u64> {
        node.peer_info()
            .iter()
            .map(|p| p["bytessent"].as_u64().unwrap_or(0))
            .collect()
    };
    let mut last = sent();
    let mut still_since = Instant::now();
    wait_for("the node to stop writing to the peers", DEADLINE, || {
        std::thread::sleep(Duration::from_millis(250));
        let now = sent();
        if now != last {
            last = now;
            still_since = Instant::now();
        }
        (last.len() == PEERS
            && last.iter().all(|b| *b > MIB)
            && still_since.elapsed() > Duration::from_secs(2))
        .then_some(())
    });
    let held = status_bytes(&node, "RssAnon").saturating_sub(anon_before);
    let peak = node.process.peak_rss().saturating_sub(peak_before);
    let per_peer = held as f64 / PEERS as f64 / MIB as f64;
    println!(
        "{PEERS} peers asking for 50,000 blocks of 50 kB and never reading: {:.1} MiB written \
         to their sockets; anonymous RSS grew {:.1} MiB ({per_peer:.2} MiB a peer), peak RSS \
         {:.1} MiB ({})",
        last.iter().sum::<u64>() as f64 / MIB as f64,
        held as f64 / MIB as f64,
        peak as f64 / MIB as f64,
        rss_line(&node)
    );
    // Per peer: the request being served, as 50,000 block hashes (1.6 MB), and at most
    // `getdata_pause_bytes` (1 MB) of answers plus one block queued; the next requests
    // stay in the kernel, unread. Bitcoin Core holds the same: one request and its 1 MB
    // send buffer. Before the request was held compactly and the read buffer gave back
    // the room of a large frame, it was 4.7-4.8 MiB a peer.
    assert!(
        held <= PEERS as u64 * 3 * MIB,
        "anonymous RSS grew {held} bytes: {per_peer:.2} MiB a peer"
    );
    // The peak adds what a request takes while it is decoded (its frame and its items).
    assert!(peak <= PEERS as u64 * 4 * MIB, "peak RSS grew {peak} bytes");
    // The node still serves a peer that reads.
    let mut good = RawPeer::connect(node.p2p_port);
    good.handshake();
    good.send(&Message::GetData(vec![Inventory::block(chain[19])]));
    good.recv_until("the last block", |m| matches!(m, Message::Block(_)));
}

#[test]
fn full_inbound_slots_evict_an_idle_peer_for_a_newcomer() {
    let node = TestNode::start(&["peers.max_inbound=8".to_string()]);
    let mut idle: Vec<RawPeer> = (0..8)
        .map(|_| {
            let mut peer = RawPeer::connect(node.p2p_port);
            peer.handshake();
            peer
        })
        .collect();
    wait_for("eight idle peers", DEADLINE, || {
        (node.peer_info().len() == 8).then_some(())
    });
    let before: Vec<serde_json::Value> = node.peer_info().iter().map(|p| p["id"].clone()).collect();
    // All on 127.0.0.1, one network group: the oldest is protected for its group, half
    // of the rest for how long they have been connected; the youngest idle one goes.
    let mut newcomer = RawPeer::connect(node.p2p_port);
    newcomer.handshake();
    newcomer.send(&Message::Ping(5));
    newcomer.recv_until("pong", |m| *m == Message::Pong(5));
    assert!(idle[7].closed_by_node(), "the youngest idle peer stayed");
    let after = wait_for("the evicted peer to be gone", DEADLINE, || {
        let peers = node.peer_info();
        (peers.len() == 8).then_some(peers)
    });
    let kept: Vec<&serde_json::Value> = after.iter().map(|p| &p["id"]).collect();
    assert!(!kept.contains(&&before[7]), "{after:?}");
    assert!(before[..7].iter().all(|id| kept.contains(&id)), "{after:?}");
    assert!(node.process.log().contains("evicting a peer for a new one"));
    // The older idle peers are still served.
    idle[0].send(&Message::Ping(6));
    idle[0].recv_until("pong", |m| *m == Message::Pong(6));
}

/// `count` headers on top of `parent` (at `parent_time`), each with valid proof of work
/// at regtest's difficulty; `salt` makes forks of the same parent differ.
fn headers_on(parent: Hash256, parent_time: u32, count: usize, salt: u32) -> Vec<BlockHeader> {
    let limit = regtest().pow_limit();
    let mut prev = parent;
    (0..count)
        .map(|i| {
            let mut header = BlockHeader {
                version: 1,
                prev_block: prev,
                merkle_root: Hash256([7; 32]),
                time: parent_time + 1 + i as u32,
                bits: regtest().pow_limit_bits,
                nonce: salt.wrapping_mul(1_000_003),
            };
            while check_proof_of_work(&header.hash(), header.bits, &limit).is_err() {
                header.nonce = header.nonce.wrapping_add(1);
            }
            prev = header.hash();
            header
        })
        .collect()
}

#[test]
fn low_work_and_unconnecting_headers_are_not_stored_and_their_sender_is_dropped() {
    let node = TestNode::start(&[]);
    let address = node.text("getnewaddress", &[]);
    // A tip 300 blocks up: forks off genesis shorter than 156 blocks are low work.
    node.generate(300, &address);
    let genesis = regtest().genesis_block().header;
    let before_disk = dir_size(node.datadir());
    let before_rss = node.process.peak_rss();

    // 200 forks of 100 headers each off genesis: 20,000 headers. The node drops the
    // peer after 10 such chains; none is stored.
    let mut attacker = RawPeer::connect(node.p2p_port);
    attacker.handshake();
    let mut writer = attacker.writer();
    let mut sent_headers = 0;
    let mut first_fork_tip = None;
    for salt in 0..200 {
        let fork = headers_on(genesis.hash(), genesis.time, 100, salt);
        first_fork_tip.get_or_insert(fork[99].hash());
        let frame = encode_frame(regtest().magic, &Message::Headers(fork));
        if writer.write_all(&frame).is_err() {
            break;
        }
        sent_headers += 100;
    }
    assert!(
        attacker.closed_by_node(),
        "a peer sending low-work forks stayed"
    );
    let grown_disk = dir_size(node.datadir()).saturating_sub(before_disk);
    let grown_rss = node.process.peak_rss().saturating_sub(before_rss);
    println!(
        "{sent_headers} of 20,000 low-work headers written before the node hung up: data directory grew {} KiB, peak RSS {:.1} MiB",
        grown_disk / 1024,
        grown_rss as f64 / MIB as f64
    );
    let tip = first_fork_tip.expect("a fork was sent").to_string();
    assert_eq!(node.fail("getblockheader", &[&tip]).code, -5);
    assert!(
        grown_disk < MIB,
        "the data directory grew {grown_disk} bytes"
    );
    assert!(grown_rss < 32 * MIB, "peak RSS grew {grown_rss} bytes");
    assert!(node.process.log().contains("low-work header chains"));

    // Headers that connect to nothing: dropped after 10 such messages in a row.
    let mut lost = RawPeer::connect(node.p2p_port);
    lost.handshake();
    let orphan = |salt: u32| headers_on(Hash256([salt as u8 + 1; 32]), genesis.time, 1, salt);
    // The first is answered (or the peer was asked on connecting) while it is connected:
    // waited for here, since what the node queued when it hangs up may never be sent.
    lost.send(&Message::Headers(orphan(0)));
    lost.recv_until("a getheaders", |m| matches!(m, Message::GetHeaders(_)));
    let mut getheaders = 1;
    for salt in 1..10 {
        lost.send(&Message::Headers(orphan(salt)));
    }
    while let Some(message) = lost.recv() {
        if matches!(message, Message::GetHeaders(_)) {
            getheaders += 1;
        }
    }
    // One when the peer connected (the sync strategy's), one for the unconnecting
    // headers, none for the nine after it.
    assert!(
        getheaders <= 2,
        "{getheaders} getheaders for 10 unconnecting headers messages"
    );

    // Headers that do not connect to each other within one message: dropped at once.
    let mut jumbled = RawPeer::connect(node.p2p_port);
    jumbled.handshake();
    let mut run = headers_on(genesis.hash(), genesis.time, 3, 9);
    run.swap(1, 2);
    jumbled.send(&Message::Headers(run));
    assert!(
        jumbled.closed_by_node(),
        "a non-continuous headers message was accepted"
    );

    // Blocks of low-work forks, pushed unasked: not stored either, and the same count.
    let mut pusher = RawPeer::connect(node.p2p_port);
    pusher.handshake();
    let mut writer = pusher.writer();
    let mut pushed = Vec::new();
    for salt in 0..20 {
        let mut block = fat_block(1000, 1);
        block.header = headers_on(genesis.hash(), genesis.time, 1, 1000 + salt)[0];
        pushed.push(block.hash());
        let frame = encode_frame(regtest().magic, &Message::Block(block.into()));
        if writer.write_all(&frame).is_err() {
            break;
        }
    }
    assert!(
        pusher.closed_by_node(),
        "a peer pushing low-work blocks stayed"
    );
    let first = pushed[0].to_string();
    assert_eq!(node.fail("getblockheader", &[&first]).code, -5);
    assert_eq!(node.height(), 300);
}
