//! Seeded graphs of outbound connections: the same seed gives the same network, so
//! behaviours compared on it meet the same links.

use rand::seq::SliceRandom;
use rand::Rng;

use crate::scenario::Topology;

/// Outbound dials: `(from, to)` with `from` dialling `to`, no self-loops, no pair twice
/// in either direction.
pub(crate) fn edges(topology: &Topology, nodes: usize, rng: &mut impl Rng) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let add = |out: &mut Vec<(usize, usize)>, a: usize, b: usize| {
        if a != b
            && !out
                .iter()
                .any(|&(x, y)| (x, y) == (a, b) || (x, y) == (b, a))
        {
            out.push((a, b));
        }
    };
    match topology.kind.as_str() {
        "line" => (1..nodes).for_each(|i| add(&mut out, i, i - 1)),
        "ring" => (0..nodes).for_each(|i| add(&mut out, i, (i + 1) % nodes)),
        "star" => (1..nodes).for_each(|i| add(&mut out, i, 0)),
        "edges" => topology
            .edges
            .iter()
            .for_each(|&[a, b]| add(&mut out, a, b)),
        "small-world" => {
            // Watts-Strogatz: a ring where each node links to its `neighbours` next
            // nodes, each link rewired to a random node with probability `rewire`.
            for i in 0..nodes {
                for k in 1..=topology.neighbours.max(1) {
                    let mut to = (i + k) % nodes;
                    if rng.gen_bool(topology.rewire.clamp(0.0, 1.0)) {
                        to = rng.gen_range(0..nodes);
                    }
                    add(&mut out, i, to);
                }
            }
        }
        _ => {
            // Random: each node dials min_out..=max_out others. A ring through every
            // node first keeps the graph connected whatever the draws.
            let mut order: Vec<usize> = (0..nodes).collect();
            order.shuffle(rng);
            for w in 0..nodes {
                add(&mut out, order[w], order[(w + 1) % nodes]);
            }
            for i in 0..nodes {
                let want = rng
                    .gen_range(topology.min_out..=topology.max_out)
                    .min(nodes - 1);
                let mut others: Vec<usize> = (0..nodes).filter(|&j| j != i).collect();
                others.shuffle(rng);
                for j in others {
                    if out.iter().filter(|&&(a, _)| a == i).count() >= want {
                        break;
                    }
                    add(&mut out, i, j);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// Whether every node reaches every other over the edges (either direction).
    fn connected(nodes: usize, edges: &[(usize, usize)]) -> bool {
        let mut seen = vec![false; nodes];
        let mut stack = vec![0];
        seen[0] = true;
        while let Some(n) = stack.pop() {
            for &(a, b) in edges {
                let next = if a == n {
                    b
                } else if b == n {
                    a
                } else {
                    continue;
                };
                if !seen[next] {
                    seen[next] = true;
                    stack.push(next);
                }
            }
        }
        seen.into_iter().all(|s| s)
    }

    fn topology(kind: &str) -> Topology {
        Topology {
            kind: kind.to_string(),
            ..Topology::default()
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_network() {
        let a = edges(&topology("random"), 50, &mut StdRng::seed_from_u64(3));
        let b = edges(&topology("random"), 50, &mut StdRng::seed_from_u64(3));
        let c = edges(&topology("random"), 50, &mut StdRng::seed_from_u64(4));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn every_topology_is_connected_without_loops_or_twins() {
        for kind in ["random", "line", "ring", "star", "small-world"] {
            for seed in 0..20 {
                let e = edges(&topology(kind), 30, &mut StdRng::seed_from_u64(seed));
                assert!(connected(30, &e), "{kind} seed {seed}");
                assert!(e.iter().all(|(a, b)| a != b));
                for (i, x) in e.iter().enumerate() {
                    assert!(
                        !e[i + 1..].iter().any(|y| y == x || (y.1, y.0) == *x),
                        "{kind}"
                    );
                }
            }
        }
    }

    #[test]
    fn random_dials_stay_within_the_range() {
        let e = edges(&topology("random"), 40, &mut StdRng::seed_from_u64(9));
        for node in 0..40 {
            // The connecting ring may add one dial above max_out.
            let out = e.iter().filter(|(a, _)| *a == node).count();
            assert!(out <= 9, "node {node} dials {out}");
        }
        assert_eq!(
            edges(&topology("line"), 5, &mut StdRng::seed_from_u64(0)).len(),
            4
        );
        assert_eq!(
            edges(&topology("ring"), 5, &mut StdRng::seed_from_u64(0)).len(),
            5
        );
    }
}
