//! One run: start the network, fund the lab's coins, play every step, measure each.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::coins::{Coins, FAN_OUT};
use crate::net::{Mode, Network, Slot};
use crate::node::{Arrivals, Board, LabNode, Launch};
use crate::report::{Object, RunResult, StepResult};
use crate::scenario::{Scenario, Step};
use crate::topology;

/// Longest wait for one object to reach every node before the step reports it missing.
const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(60);

/// What one run needs.
pub(crate) struct Setup<'a> {
    /// The scenario.
    pub(crate) scenario: &'a Scenario,
    /// Namespaces or loopback.
    pub(crate) mode: Mode,
    /// The node binary.
    pub(crate) bin: PathBuf,
    /// `--set` overrides of every node, after its group's.
    pub(crate) sets: Vec<String>,
    /// The nodes' log filter.
    pub(crate) log: String,
    /// The nodes' data directories go under it.
    pub(crate) data: PathBuf,
    /// When the whole lab must end.
    pub(crate) deadline: Instant,
}

struct Lab<'a> {
    setup: &'a Setup<'a>,
    net: Network,
    nodes: Vec<LabNode>,
    /// Outbound dials of each node.
    dials: Vec<Vec<usize>>,
    board: Arc<Board>,
    coins: Coins,
    address: String,
    rng: StdRng,
}

/// Runs the scenario once and tears the network down.
pub(crate) fn run(setup: &Setup<'_>, slot: &mut Slot) -> anyhow::Result<RunResult> {
    let scenario = setup.scenario;
    let mut rng = StdRng::seed_from_u64(scenario.seed);
    let edges = topology::edges(&scenario.topology, scenario.nodes, &mut rng);
    let groups = scenario.assign_groups(&mut rng);
    let net = Network::new(setup.mode, slot)?;
    let mut dials = vec![Vec::new(); scenario.nodes];
    for &(a, b) in &edges {
        dials[a].push(b);
    }
    let mut lab = Lab {
        setup,
        net,
        nodes: Vec::new(),
        dials,
        board: Board::new(scenario.nodes),
        coins: Coins::new(),
        address: String::new(),
        rng,
    };
    let result = lab.play(slot, &edges, &groups);
    let pids: Vec<u32> = lab.nodes.iter().filter_map(LabNode::pid).collect();
    lab.nodes.clear();
    // The network of this run goes; the slot stays for the next run.
    let record = slot.snapshot();
    crate::net::remove(&crate::net::Record {
        pids,
        namespaces: record.namespaces.clone(),
        bridge: record.bridge.clone(),
        ..Default::default()
    });
    slot.record(|r| {
        r.pids.clear();
        r.namespaces.clear();
        r.bridge = None;
    })?;
    result
}

impl Lab<'_> {
    fn play(
        &mut self,
        slot: &mut Slot,
        edges: &[(usize, usize)],
        groups: &[Option<usize>],
    ) -> anyhow::Result<RunResult> {
        let scenario = self.setup.scenario;
        for index in 0..scenario.nodes {
            self.net.add_node(index, &scenario.link, slot)?;
        }
        for (index, group) in groups.iter().enumerate() {
            let launch = self.launch(*group);
            let connect = self.connect_list(index);
            let datadir = self.setup.data.join(format!("node{index}"));
            let node = LabNode::start(
                index,
                self.net.ip(index),
                self.net.namespace(index),
                launch,
                datadir,
                &connect,
            )?;
            if let Some(pid) = node.pid() {
                slot.record(|r| r.pids.push(pid))?;
            }
            self.nodes.push(node);
        }
        // Connections are timed from here: every process is started, none waits on the
        // lab's own set-up (namespaces, links) any more.
        let started = Instant::now();
        for node in &mut self.nodes {
            node.ready(Duration::from_secs(60))?;
            node.follow(&self.board);
        }
        let expected = 2 * edges.len();
        let connected = self.await_connections(expected, Duration::from_secs(60));
        let connect_secs = started.elapsed().as_secs_f64();
        progress(&format!(
            "{} nodes up, {}/{} connection ends in {:.1} s",
            self.nodes.len(),
            connected,
            expected,
            connect_secs
        ));

        let mut result = RunResult {
            label: String::new(),
            nodes: scenario.nodes,
            edges: edges.len(),
            groups: groups
                .iter()
                .map(|g| {
                    g.map(|i| scenario.groups[i].name.clone())
                        .unwrap_or_default()
                })
                .collect(),
            connect_secs,
            connections_made: connected,
            connections_expected: expected,
            steps: Vec::new(),
        };
        let funding = self.fund()?;
        result.steps.push(funding);
        for (number, step) in scenario.steps.iter().enumerate() {
            if Instant::now() > self.setup.deadline {
                bail!("the scenario's deadline passed before step {}", number + 1);
            }
            progress(&format!(
                "step {}/{}: {}",
                number + 1,
                scenario.steps.len(),
                step.label()
            ));
            let measured = self
                .step(step, slot)
                .with_context(|| format!("step {} ({})", number + 1, step.label()))?;
            progress(&measured.summary_line());
            result.steps.push(measured);
        }
        Ok(result)
    }

    fn launch(&self, group: Option<usize>) -> Launch {
        let scenario = self.setup.scenario;
        let group = group.map(|g| &scenario.groups[g]);
        let mut sets: Vec<String> = group.map(|g| g.sets.clone()).unwrap_or_default();
        sets.extend(self.setup.sets.iter().cloned());
        Launch {
            bin: self.setup.bin.clone(),
            profile: group
                .and_then(|g| g.profile.clone())
                .unwrap_or_else(|| scenario.profile.clone()),
            sets,
            log: self.setup.log.clone(),
        }
    }

    fn connect_list(&self, index: usize) -> Vec<SocketAddr> {
        self.dials[index]
            .iter()
            .map(|&to| SocketAddr::from((self.net.ip(to), 18444)))
            .collect()
    }

    /// Waits until the nodes report `expected` connection ends in all; returns how many.
    fn await_connections(&self, expected: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let count = self.connection_counts().iter().sum::<usize>();
            if count >= expected || Instant::now() > deadline {
                return count;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn connection_counts(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .map(|n| {
                n.rpc()
                    .and_then(|r| r.call("getconnectioncount", json!([])))
                    .ok()
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0) as usize
            })
            .collect()
    }

    fn bans(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| {
                n.rpc()
                    .and_then(|r| r.call("listbanned", json!([])))
                    .ok()
                    .and_then(|v| v.as_array().map(Vec::len))
                    .unwrap_or(0)
            })
            .sum()
    }

    /// Bytes each node has sent: the kernel's link counter, or `getnettotals` on loopback.
    fn sent_bytes(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .map(|n| match self.net.sent_bytes(n.index) {
                Some(bytes) => bytes,
                None => n
                    .rpc()
                    .and_then(|r| r.call("getnettotals", json!([])))
                    .ok()
                    .and_then(|v| v.get("totalbytessent").and_then(Value::as_u64))
                    .unwrap_or(0),
            })
            .collect()
    }

    fn cpu(&self) -> Vec<f64> {
        self.nodes
            .iter()
            .map(|n| n.cpu_secs().unwrap_or(0.0))
            .collect()
    }

    /// Mines `count` blocks at node `at` to the lab's address; returns their hashes.
    fn mine(&self, at: usize, count: usize) -> anyhow::Result<Vec<String>> {
        let hashes = self.nodes[at]
            .rpc()?
            .call("generatetoaddress", json!([count, self.address]))?;
        Ok(hashes
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|h| h.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Waits until every node has connected `hash`.
    fn await_block(&self, hash: &str, timeout: Duration) -> bool {
        self.board.wait(timeout, |nodes| {
            nodes.iter().all(|n| n.blocks.contains_key(hash))
        })
    }

    fn await_txs(&self, txids: &[String], timeout: Duration) -> bool {
        self.board.wait(timeout, |nodes| {
            nodes
                .iter()
                .all(|n| txids.iter().all(|t| n.txs.contains_key(t)))
        })
    }

    /// Waits until every node's tip is the same; returns whether it happened.
    fn await_one_tip(&self, timeout: Duration) -> bool {
        self.board.wait(timeout, |nodes| {
            let first = nodes.first().and_then(|n| n.tip.as_ref().map(|t| &t.0));
            first.is_some() && nodes.iter().all(|n| n.tip.as_ref().map(|t| &t.0) == first)
        })
    }

    /// Mines the lab's coins: enough mature coinbases, each fanned out into
    /// [`FAN_OUT`] coins, confirmed on every node.
    fn fund(&mut self) -> anyhow::Result<StepResult> {
        let needed: usize = self
            .setup
            .scenario
            .steps
            .iter()
            .map(|s| match s {
                Step::Txs { count, .. } => *count,
                Step::WarmBlock { txs } => *txs,
                _ => 0,
            })
            .sum();
        let info = self.nodes[0].rpc()?.call("getchaininfo", json!([]))?;
        let version = info
            .get("address_version")
            .and_then(Value::as_u64)
            .context("getchaininfo has no address_version")?;
        let maturity = info
            .get("coinbase_maturity")
            .and_then(Value::as_u64)
            .unwrap_or(100) as usize;
        self.address = self.coins.address(version as u8);
        let fan_outs = needed.div_ceil(FAN_OUT).max(1);
        progress(&format!(
            "funding: {} blocks, {fan_outs} fan-outs of {FAN_OUT} coins",
            maturity + fan_outs
        ));
        let before = Measure::take(self);
        let hashes = self.mine(0, fan_outs + maturity)?;
        let last = hashes
            .last()
            .context("generatetoaddress mined nothing")?
            .clone();
        if !self.await_block(&last, ARRIVAL_TIMEOUT) {
            bail!("the funding blocks did not reach every node within {ARRIVAL_TIMEOUT:?}");
        }
        let rpc = self.nodes[0].rpc()?.clone();
        let mut txids = Vec::new();
        for hash in &hashes[..fan_outs] {
            let hex_block = rpc.call("getblock", json!([hash, 0]))?;
            let bytes = hex::decode(hex_block.as_str().context("getblock 0 is not hex")?)?;
            let block: node_chain::Block = node_chain::deserialize(&bytes)?;
            let fan = self.coins.fan_out(&block.txs[0], 0)?;
            txids.push(fan.txid().to_string());
            rpc.call(
                "sendrawtransaction",
                json!([hex::encode(node_chain::serialize(&fan))]),
            )?;
        }
        if !self.await_txs(&txids, ARRIVAL_TIMEOUT) {
            bail!("the fan-out transactions did not reach every mempool");
        }
        let block = self.mine(0, 1)?;
        if !self.await_block(&block[0], ARRIVAL_TIMEOUT) {
            bail!("the block confirming the fan-outs did not reach every node");
        }
        let mut step = StepResult::new(
            "funding",
            format!(
                "{} blocks mined at one node, then a block of fan-outs",
                hashes.len() + 1
            ),
        );
        step.objects.push(self.object("block", &last, 0));
        before.finish(self, &mut step, 1);
        Ok(step)
    }

    /// Arrival delays of one object at every node, from its first arrival (the origin's).
    fn object(&self, kind: &str, id: &str, origin: usize) -> Object {
        let nodes = self.board.nodes.lock().unwrap_or_else(|e| e.into_inner());
        let table = |n: &Arrivals| match kind {
            "tx" => n.txs.get(id).copied(),
            _ => n.blocks.get(id).copied(),
        };
        let times: Vec<Option<u64>> = nodes.iter().map(table).collect();
        let start = times[origin].or_else(|| times.iter().flatten().min().copied());
        Object {
            kind: kind.to_string(),
            id: id.to_string(),
            origin,
            delays_ms: times
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != origin)
                .map(|(_, t)| match (t, start) {
                    (Some(t), Some(s)) => Some(t.saturating_sub(s) as f64 / 1000.0),
                    _ => None,
                })
                .collect(),
        }
    }

    fn random_node(&mut self) -> usize {
        self.rng.gen_range(0..self.nodes.len())
    }

    fn step(&mut self, step: &Step, slot: &mut Slot) -> anyhow::Result<StepResult> {
        let mut result = StepResult::new(step_kind(step), step.label());
        let before = Measure::take(self);
        let objects: usize;
        match *step {
            Step::Txs { count, interval_ms } => {
                for _ in 0..count {
                    let at = self.random_node();
                    let txid = self.send_payment(at)?;
                    self.await_txs(std::slice::from_ref(&txid), ARRIVAL_TIMEOUT);
                    result.objects.push(self.object("tx", &txid, at));
                    std::thread::sleep(Duration::from_millis(interval_ms));
                }
                objects = count;
            }
            Step::Blocks { count, interval_ms } => {
                for _ in 0..count {
                    let at = self.random_node();
                    let hash = self.mine(at, 1)?.remove(0);
                    self.await_block(&hash, ARRIVAL_TIMEOUT);
                    result.objects.push(self.object("block", &hash, at));
                    std::thread::sleep(Duration::from_millis(interval_ms));
                }
                objects = count;
            }
            Step::WarmBlock { txs } => {
                let sent = self.send_payments(txs)?;
                let txids: Vec<String> = sent.iter().map(|(t, _)| t.clone()).collect();
                let all = self.await_txs(&txids, Duration::from_secs(300));
                // From the first transaction's arrival anywhere to the last one's arrival
                // at the last node.
                let in_all_mempools = {
                    let nodes = self.board.nodes.lock().unwrap_or_else(|e| e.into_inner());
                    let times = txids
                        .iter()
                        .flat_map(|t| nodes.iter().filter_map(|n| n.txs.get(t).copied()));
                    let (first, last) = times.fold((u64::MAX, 0), |(a, b), t| (a.min(t), b.max(t)));
                    (last.saturating_sub(first)) as f64 / 1e6
                };
                result.extra.insert(
                    "txs_in_every_mempool_secs".into(),
                    json!(if all { Some(in_all_mempools) } else { None }),
                );
                for (txid, at) in &sent {
                    result.objects.push(self.object("tx", txid, *at));
                }
                let at = self.random_node();
                let tx_phase = Measure::take(self);
                let hash = self.mine(at, 1)?.remove(0);
                self.await_block(&hash, ARRIVAL_TIMEOUT);
                let block = self.nodes[at].rpc()?.call("getblock", json!([hash, 1]))?;
                result.extra.insert(
                    "block_bytes".into(),
                    block.get("size").cloned().unwrap_or(Value::Null),
                );
                result.extra.insert(
                    "block_txs".into(),
                    json!(block.get("tx").and_then(Value::as_array).map(Vec::len)),
                );
                result.objects.push(self.object("block", &hash, at));
                let mut block_only = StepResult::new("warm_block", String::new());
                tx_phase.finish(self, &mut block_only, 1);
                result.extra.insert(
                    "block_upload_bytes_per_node".into(),
                    json!(block_only.upload_bytes_per_node),
                );
                result.extra.insert(
                    "block_cpu_ms_per_node".into(),
                    json!(block_only.cpu_ms_per_node),
                );
                objects = txs;
            }
            Step::Burst { count } => {
                let at = self.random_node();
                let hashes = self.mine(at, count)?;
                let last = hashes.last().context("no block mined")?.clone();
                self.await_block(&last, ARRIVAL_TIMEOUT * 2);
                result.objects.push(self.object("block", &last, at));
                objects = count;
            }
            Step::Race { rounds } => {
                let mut times = Vec::new();
                for _ in 0..rounds {
                    let a = self.random_node();
                    let b =
                        (a + 1 + self.rng.gen_range(0..self.nodes.len() - 1)) % self.nodes.len();
                    let (ra, rb) = (self.nodes[a].rpc()?.clone(), self.nodes[b].rpc()?.clone());
                    let address = self.address.clone();
                    let started = Instant::now();
                    let other = std::thread::spawn({
                        let address = address.clone();
                        move || rb.call("generatetoaddress", json!([1, address]))
                    });
                    ra.call("generatetoaddress", json!([1, address]))?;
                    other
                        .join()
                        .map_err(|_| anyhow::anyhow!("a miner thread panicked"))??;
                    // Equal work on both sides: a third block settles the race, as it would.
                    let settle = self.random_node();
                    let hash = self.mine(settle, 1)?.remove(0);
                    self.await_block(&hash, ARRIVAL_TIMEOUT);
                    self.await_one_tip(ARRIVAL_TIMEOUT);
                    times.push(started.elapsed().as_secs_f64());
                    result.objects.push(self.object("block", &hash, settle));
                }
                result
                    .extra
                    .insert("race_settled_secs".into(), json!(times));
                objects = rounds;
            }
            Step::PartitionHeal { blocks, apart_secs } => {
                if self.net.mode != Mode::Namespaces {
                    bail!("a partition needs network namespaces (run as root, without --loopback)");
                }
                // Side B grows from one node along the topology's links, so it is one
                // connected network and its miner's blocks reach all of it.
                let side_b = self.connected_half();
                let miner_b = side_b[0];
                let miner_a = (0..self.nodes.len())
                    .find(|i| !side_b.contains(i))
                    .context("no side A")?;
                self.net.partition(&side_b)?;
                // Side A mines one block more, so the heal has one winner by work.
                let a_tip = self
                    .mine(miner_a, blocks + 1)?
                    .last()
                    .context("no block")?
                    .clone();
                let b_tip = self
                    .mine(miner_b, blocks)?
                    .last()
                    .context("no block")?
                    .clone();
                let b_apart = self.board.wait(ARRIVAL_TIMEOUT, |nodes| {
                    side_b.iter().all(|&i| nodes[i].blocks.contains_key(&b_tip))
                });
                result
                    .extra
                    .insert("side_b_on_its_tip".into(), json!(b_apart));
                result
                    .extra
                    .insert("side_b_nodes".into(), json!(side_b.len()));
                // Apart for a while, as a real split lasts: connections must survive it.
                std::thread::sleep(Duration::from_secs(apart_secs));
                let leaked = {
                    let nodes = self.board.nodes.lock().unwrap_or_else(|e| e.into_inner());
                    side_b
                        .iter()
                        .filter(|&&i| nodes[i].blocks.contains_key(&a_tip))
                        .count()
                };
                if leaked > 0 {
                    bail!("{leaked} nodes of side B got side A's blocks while apart: the partition leaks");
                }
                let healed_at = Instant::now();
                self.net.heal(&side_b)?;
                let healed = self.await_block(&a_tip, ARRIVAL_TIMEOUT)
                    && self.await_one_tip(ARRIVAL_TIMEOUT);
                result.extra.insert(
                    "heal_to_one_tip_secs".into(),
                    json!(healed.then(|| healed_at.elapsed().as_secs_f64())),
                );
                result.objects.push(self.object("block", &a_tip, miner_a));
                // The network goes on: the next block reaches every node.
                let next = self.mine(miner_b, 1)?.remove(0);
                self.await_block(&next, ARRIVAL_TIMEOUT);
                result.objects.push(self.object("block", &next, miner_b));
                objects = 2 * blocks + 2;
            }
            Step::Restart { count } => {
                let mut chosen: Vec<usize> = (0..self.nodes.len()).collect();
                rand::seq::SliceRandom::shuffle(chosen.as_mut_slice(), &mut self.rng);
                chosen.truncate(count.min(self.nodes.len() - 1));
                let started = Instant::now();
                for &i in &chosen {
                    let connect = self.connect_list(i);
                    self.board.nodes.lock().unwrap_or_else(|e| e.into_inner())[i] =
                        Arrivals::default();
                    self.nodes[i].restart(&connect)?;
                    if let Some(pid) = self.nodes[i].pid() {
                        slot.record(|r| r.pids.push(pid))?;
                    }
                }
                for &i in &chosen {
                    self.nodes[i].ready(Duration::from_secs(60))?;
                    self.nodes[i].follow(&self.board);
                }
                // A block mined after the restart reaches the restarted nodes too.
                let at = (0..self.nodes.len())
                    .find(|i| !chosen.contains(i))
                    .unwrap_or(0);
                let hash = self.mine(at, 1)?.remove(0);
                let all = self.await_block(&hash, ARRIVAL_TIMEOUT);
                result.extra.insert("restarted".into(), json!(chosen));
                result.extra.insert(
                    "restart_to_new_block_secs".into(),
                    json!(all.then(|| started.elapsed().as_secs_f64())),
                );
                result.objects.push(self.object("block", &hash, at));
                objects = count;
            }
            Step::Join { out } => {
                let index = self.nodes.len();
                self.net.add_node(index, &self.setup.scenario.link, slot)?;
                let mut targets: Vec<usize> = (0..index).collect();
                rand::seq::SliceRandom::shuffle(targets.as_mut_slice(), &mut self.rng);
                targets.truncate(out.max(1));
                self.dials.push(targets);
                let started = Instant::now();
                let connect = self.connect_list(index);
                let datadir = self.setup.data.join(format!("node{index}"));
                let mut node = LabNode::start(
                    index,
                    self.net.ip(index),
                    self.net.namespace(index),
                    self.launch(None),
                    datadir,
                    &connect,
                )?;
                if let Some(pid) = node.pid() {
                    slot.record(|r| r.pids.push(pid))?;
                }
                node.ready(Duration::from_secs(60))?;
                node.follow(&self.board);
                self.nodes.push(node);
                let tip = self.nodes[0].rpc()?.call("getbestblockhash", json!([]))?;
                let tip = tip.as_str().unwrap_or_default().to_string();
                let synced = self.board.wait(ARRIVAL_TIMEOUT * 2, |nodes| {
                    nodes[index].blocks.contains_key(&tip)
                        || nodes[index].tip.as_ref().is_some_and(|t| t.0 == tip)
                });
                result.extra.insert(
                    "join_synced_secs".into(),
                    json!(synced.then(|| started.elapsed().as_secs_f64())),
                );
                objects = 1;
            }
            Step::Idle { secs } => {
                std::thread::sleep(Duration::from_secs(secs));
                objects = 1;
            }
        }
        before.finish(self, &mut result, objects);
        Ok(result)
    }

    /// Half the nodes, grown breadth-first along the dials from a random node.
    fn connected_half(&mut self) -> Vec<usize> {
        let n = self.nodes.len();
        let start = self.random_node();
        let mut side = vec![start];
        let mut next = 0;
        while side.len() < n / 2 && next < side.len() {
            let at = side[next];
            next += 1;
            for other in 0..n {
                let linked = self.dials[at].contains(&other) || self.dials[other].contains(&at);
                if linked && !side.contains(&other) && side.len() < n / 2 {
                    side.push(other);
                }
            }
        }
        side
    }

    /// Signs `count` payments and sends each to a random node: one thread per node, in
    /// JSON-RPC batches, so the lab's own calls do not pace the network.
    fn send_payments(&mut self, count: usize) -> anyhow::Result<Vec<(String, usize)>> {
        let mut by_node: Vec<Vec<Value>> = vec![Vec::new(); self.nodes.len()];
        let mut sent = Vec::with_capacity(count);
        for _ in 0..count {
            let at = self.random_node();
            let (txid, hex_tx) = self.coins.payment()?;
            by_node[at].push(json!([hex_tx]));
            sent.push((txid, at));
        }
        progress(&format!("  {count} transactions signed; sending"));
        let mut threads = Vec::new();
        for (at, params) in by_node.into_iter().enumerate() {
            let rpc = self.nodes[at].rpc()?.clone();
            threads.push(std::thread::spawn(move || -> anyhow::Result<()> {
                for batch in params.chunks(100) {
                    rpc.call_batch("sendrawtransaction", batch)?;
                }
                Ok(())
            }));
        }
        for thread in threads {
            thread
                .join()
                .map_err(|_| anyhow::anyhow!("a sending thread panicked"))??;
        }
        Ok(sent)
    }

    fn send_payment(&mut self, at: usize) -> anyhow::Result<String> {
        let (txid, hex_tx) = self.coins.payment()?;
        self.nodes[at]
            .rpc()?
            .call("sendrawtransaction", json!([hex_tx]))?;
        Ok(txid)
    }
}

fn step_kind(step: &Step) -> &'static str {
    match step {
        Step::Txs { .. } => "txs",
        Step::Blocks { .. } => "blocks",
        Step::WarmBlock { .. } => "warm_block",
        Step::Burst { .. } => "burst",
        Step::Race { .. } => "race",
        Step::PartitionHeal { .. } => "partition_heal",
        Step::Restart { .. } => "restart",
        Step::Join { .. } => "join",
        Step::Idle { .. } => "idle",
    }
}

/// Counters at the start of a step, to take differences at its end.
struct Measure {
    at: Instant,
    sent: Vec<u64>,
    cpu: Vec<f64>,
    bans: usize,
}

impl Measure {
    fn take(lab: &Lab<'_>) -> Measure {
        Measure {
            at: Instant::now(),
            sent: lab.sent_bytes(),
            cpu: lab.cpu(),
            bans: lab.bans(),
        }
    }

    fn finish(self, lab: &Lab<'_>, step: &mut StepResult, objects: usize) {
        step.duration_secs = self.at.elapsed().as_secs_f64();
        let sent = lab.sent_bytes();
        let cpu = lab.cpu();
        let n = self.sent.len().min(sent.len()).max(1);
        let uploads: Vec<f64> = (0..n.min(sent.len()))
            .map(|i| sent[i].saturating_sub(self.sent[i]) as f64)
            .collect();
        let cpus: Vec<f64> = (0..n.min(cpu.len()))
            .map(|i| (cpu[i] - self.cpu[i]).max(0.0) * 1000.0)
            .collect();
        step.upload_bytes_per_node = mean(&uploads);
        step.upload_bytes_max = uploads.iter().copied().fold(0.0, f64::max);
        step.cpu_ms_per_node = mean(&cpus);
        step.cpu_ms_per_object_per_node = step.cpu_ms_per_node / objects.max(1) as f64;
        let rss: Vec<f64> = lab.nodes.iter().filter_map(LabNode::rss_mib).collect();
        step.rss_mib_median = median(&rss);
        step.rss_mib_max = rss.iter().copied().fold(0.0, f64::max);
        let bans = lab.bans();
        step.bans_added = bans.saturating_sub(self.bans);
        step.bans = bans;
        step.connections = lab.connection_counts().iter().sum();
        let lonely = lab.connection_counts().iter().filter(|c| **c == 0).count();
        if lonely > 0 {
            step.extra
                .insert("nodes_without_peers".into(), json!(lonely));
        }
    }
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// The median of `values` (0 for none).
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        0.0
    } else {
        sorted[sorted.len() / 2]
    }
}

fn progress(line: &str) {
    eprintln!("lab: {line}");
}
