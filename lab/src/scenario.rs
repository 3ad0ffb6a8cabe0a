//! A scenario file: the network (how many nodes, their profiles, the topology, the
//! links) and the steps played on it. Every field has a default, so a file says only
//! what differs; `node lab --nodes 50 --rate-mbit 20` overrides the file's values.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// A whole scenario.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Nodes started at the beginning (late joiners come on top).
    pub nodes: usize,
    /// Seeds the topology, the nodes' groups and every random choice of the steps.
    pub seed: u64,
    /// The profile every node runs unless its group names another. It must list the
    /// `events` module: arrival times come from each node's `/events` stream.
    pub profile: PathBuf,
    /// Who dials whom.
    pub topology: Topology,
    /// What every node's link does to its upload.
    pub link: Link,
    /// Groups of nodes with their own profile and `--set` overrides, by share.
    #[serde(rename = "group")]
    pub groups: Vec<Group>,
    /// What happens, in order.
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
    /// Seconds the whole run may take before it is stopped (and cleaned up).
    pub deadline_secs: u64,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            nodes: 20,
            seed: 1,
            profile: PathBuf::from("configs/lab/node.toml"),
            topology: Topology::default(),
            link: Link::default(),
            groups: Vec::new(),
            steps: vec![
                Step::Txs {
                    count: 20,
                    interval_ms: 200,
                },
                Step::Blocks {
                    count: 5,
                    interval_ms: 500,
                },
            ],
            // Ten minutes: long enough for 100 nodes and a 1 MB block on shaped links,
            // short enough that a stuck run does not hold a machine for long.
            deadline_secs: 600,
        }
    }
}

/// The graph of outbound connections.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Topology {
    /// `random`, `line`, `ring`, `star`, `small-world` or `edges`.
    pub kind: String,
    /// `random`: fewest outbound dials per node.
    pub min_out: usize,
    /// `random`: most outbound dials per node.
    pub max_out: usize,
    /// `small-world`: neighbours on each side in the ring before rewiring.
    pub neighbours: usize,
    /// `small-world`: chance that each ring edge is rewired to a random node.
    pub rewire: f64,
    /// `edges`: `[from, to]` pairs, `from` dials `to`.
    pub edges: Vec<[usize; 2]>,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            kind: "random".to_string(),
            // Bitcoin Core's eight outbound connections, at most; a few less is common.
            min_out: 4,
            max_out: 8,
            neighbours: 2,
            rewire: 0.1,
            edges: Vec::new(),
        }
    }
}

/// Each node's link to the bridge (namespaces only; loopback links are not shaped).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Link {
    /// Upload rate of every node in Mbit/s with a `tbf` queue; 0 leaves links unshaped.
    pub rate_mbit: f64,
    /// One-way delay added to every packet a node sends (`netem`; refused where the
    /// kernel has no `netem`).
    pub delay_ms: f64,
    /// Share of packets a node sends that are lost, in percent (`netem` as well).
    pub loss_percent: f64,
}

/// Nodes that run another profile or other settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Group {
    /// A name for the report.
    pub name: String,
    /// Share of the nodes, from 0 to 1; the groups' shares are scaled to cover all.
    pub share: f64,
    /// Another profile for these nodes.
    pub profile: Option<PathBuf>,
    /// `--set` overrides for these nodes, e.g. `relay.broadcast=compact`.
    pub sets: Vec<String>,
}

impl Default for Group {
    fn default() -> Self {
        Group {
            name: "group".to_string(),
            share: 1.0,
            profile: None,
            sets: Vec::new(),
        }
    }
}

/// One step of a scenario.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Transactions sent one by one to random nodes, each measured to every node.
    Txs {
        /// How many.
        count: usize,
        /// Milliseconds between two.
        #[serde(default = "default_tx_interval")]
        interval_ms: u64,
    },
    /// Blocks of the coinbase alone, each mined at a random node.
    Blocks {
        /// How many.
        count: usize,
        /// Milliseconds between two.
        #[serde(default = "default_block_interval")]
        interval_ms: u64,
    },
    /// A block whose transactions every mempool holds: `txs` transactions sent to random
    /// nodes and awaited in every mempool, then one block mined at a random node.
    WarmBlock {
        /// Transactions in the block (about 230 bytes each: 4,300 fill 1 MB).
        txs: usize,
    },
    /// `count` blocks mined back to back at one node.
    Burst {
        /// How many.
        count: usize,
    },
    /// Two nodes mine a block each at the same moment, `rounds` times.
    Race {
        /// How many races.
        rounds: usize,
    },
    /// The network cut in two halves, each mining `blocks`, then joined again; every
    /// node must end on one tip.
    PartitionHeal {
        /// Blocks mined on each side while apart.
        blocks: usize,
        /// Seconds the halves stay apart after mining.
        #[serde(default = "default_apart")]
        apart_secs: u64,
    },
    /// Nodes killed (SIGKILL) and started again on their data directories.
    Restart {
        /// How many random nodes.
        count: usize,
    },
    /// A new node joins, dialling random nodes, and syncs the chain.
    Join {
        /// Its outbound dials.
        #[serde(default = "default_join_out")]
        out: usize,
    },
    /// Nothing happens for a while: the idle CPU and memory of every node.
    Idle {
        /// Seconds.
        secs: u64,
    },
}

fn default_tx_interval() -> u64 {
    200
}

fn default_block_interval() -> u64 {
    500
}

fn default_apart() -> u64 {
    5
}

fn default_join_out() -> usize {
    4
}

impl Step {
    /// A short name for progress lines and the report.
    pub fn label(&self) -> String {
        match self {
            Step::Txs { count, .. } => format!("{count} transactions"),
            Step::Blocks { count, .. } => format!("{count} one-transaction blocks"),
            Step::WarmBlock { txs } => format!("mempool-warm block of {txs} transactions"),
            Step::Burst { count } => format!("burst of {count} blocks"),
            Step::Race { rounds } => format!("{rounds} races of two miners"),
            Step::PartitionHeal { blocks, .. } => {
                format!("partition, {blocks} blocks a side, heal")
            }
            Step::Restart { count } => format!("{count} nodes killed and restarted"),
            Step::Join { .. } => "a late joiner syncs".to_string(),
            Step::Idle { secs } => format!("{secs} s idle"),
        }
    }
}

impl Scenario {
    /// Reads a scenario file; an unknown key or a wrong type names the file.
    pub fn load(path: &Path) -> anyhow::Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read scenario {}", path.display()))?;
        let scenario: Scenario =
            toml::from_str(&text).with_context(|| format!("in scenario {}", path.display()))?;
        scenario
            .check()
            .with_context(|| format!("in scenario {}", path.display()))?;
        Ok(scenario)
    }

    /// Values that cannot work.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.nodes < 2 || self.nodes > crate::net::MAX_NODES {
            bail!("nodes must be from 2 to {}", crate::net::MAX_NODES);
        }
        match self.topology.kind.as_str() {
            "random" if self.topology.min_out == 0 || self.topology.min_out > self.topology.max_out => {
                bail!("topology.min_out must be at least 1 and at most topology.max_out")
            }
            "random" | "line" | "ring" | "star" | "small-world" => {}
            "edges" => {
                if let Some(edge) =
                    self.topology.edges.iter().find(|[a, b]| *a >= self.nodes || *b >= self.nodes || a == b)
                {
                    bail!("topology.edges: {edge:?} names a node outside 0..{} or itself", self.nodes);
                }
            }
            other => bail!(
                "topology.kind: unknown topology \"{other}\"; valid: random, line, ring, star, small-world, edges"
            ),
        }
        if self.link.rate_mbit < 0.0
            || self.link.delay_ms < 0.0
            || !(0.0..=100.0).contains(&self.link.loss_percent)
        {
            bail!("link: rate_mbit and delay_ms must be at least 0, loss_percent from 0 to 100");
        }
        if self
            .groups
            .iter()
            .any(|g| g.share.is_nan() || g.share <= 0.0)
        {
            bail!("group.share must be above 0");
        }
        if self.deadline_secs == 0 {
            bail!("deadline_secs must be at least 1");
        }
        Ok(())
    }

    /// The group of each node: groups take consecutive shares of a shuffled order, so a
    /// 70/30 split of 20 nodes is 14 and 6 nodes spread over the topology.
    pub fn assign_groups(&self, rng: &mut impl rand::Rng) -> Vec<Option<usize>> {
        if self.groups.is_empty() {
            return vec![None; self.nodes];
        }
        let total: f64 = self.groups.iter().map(|g| g.share).sum();
        let mut order: Vec<usize> = (0..self.nodes).collect();
        rand::seq::SliceRandom::shuffle(order.as_mut_slice(), rng);
        let mut assigned = vec![None; self.nodes];
        let mut start = 0usize;
        let mut cumulative = 0.0;
        for (index, group) in self.groups.iter().enumerate() {
            cumulative += group.share / total;
            let end = if index + 1 == self.groups.len() {
                self.nodes
            } else {
                ((cumulative * self.nodes as f64).round() as usize).min(self.nodes)
            };
            for &node in &order[start..end.max(start)] {
                assigned[node] = Some(index);
            }
            start = end.max(start);
        }
        assigned
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_file_says_only_what_differs_and_unknown_keys_are_refused() {
        let scenario: Scenario = toml::from_str(
            "nodes = 50\n[link]\nrate_mbit = 20\n[[step]]\nkind = \"warm_block\"\ntxs = 4300\n",
        )
        .unwrap();
        assert_eq!(scenario.nodes, 50);
        assert_eq!(scenario.topology.kind, "random");
        assert!(matches!(
            scenario.steps[..],
            [Step::WarmBlock { txs: 4300 }]
        ));
        let error = toml::from_str::<Scenario>("nodez = 5\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("nodez"), "{error}");
        let error = toml::from_str::<Scenario>("[[step]]\nkind = \"mine\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("warm_block"),
            "names the valid kinds: {error}"
        );
    }

    #[test]
    fn groups_cover_every_node_in_their_shares() {
        let scenario = Scenario {
            nodes: 20,
            groups: vec![
                Group {
                    share: 0.7,
                    ..Group::default()
                },
                Group {
                    share: 0.3,
                    ..Group::default()
                },
            ],
            ..Scenario::default()
        };
        let assigned = scenario.assign_groups(&mut rand::rngs::StdRng::seed_from_u64(7));
        assert_eq!(assigned.iter().filter(|g| **g == Some(0)).count(), 14);
        assert_eq!(assigned.iter().filter(|g| **g == Some(1)).count(), 6);
    }

    #[test]
    fn impossible_values_are_named() {
        let mut scenario = Scenario {
            nodes: 1,
            ..Scenario::default()
        };
        assert!(scenario.check().unwrap_err().to_string().contains("nodes"));
        scenario.nodes = 5;
        scenario.topology.kind = "mesh".to_string();
        let error = scenario.check().unwrap_err().to_string();
        assert!(error.contains("small-world"), "{error}");
    }
}
