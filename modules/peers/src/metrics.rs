//! The peers' metrics. Every handle is resolved when the module starts, so counting a
//! frame on the read and write loops is two relaxed atomic adds. Commands are labelled
//! from a fixed list; anything else a peer sends counts as `other`, so a peer cannot
//! create series.

use node_api::metrics::{counter, describe_counter, describe_gauge, gauge, Counter, Gauge, Unit};
use node_api::p2p::{ConnectionType, KNOWN_COMMANDS};

/// The label of commands outside the protocol's list, so a peer cannot create series.
const OTHER: &str = "other";

/// Per direction, per command: messages and bytes (frame header included).
struct Traffic {
    messages: Vec<Counter>,
    bytes: Vec<Counter>,
}

impl Traffic {
    fn new(direction: &'static str) -> Traffic {
        let each = |name: &'static str| {
            KNOWN_COMMANDS
                .iter()
                .chain([&OTHER])
                .map(|command| counter!(name, "direction" => direction, "command" => *command))
                .collect()
        };
        Traffic {
            messages: each("node_p2p_messages_total"),
            bytes: each("node_p2p_bytes_total"),
        }
    }

    fn record(&self, command: &str, bytes: usize) {
        let i = command_index(command);
        self.messages[i].increment(1);
        self.bytes[i].increment(bytes as u64);
    }
}

/// Where `command` is counted: its own index in [`KNOWN_COMMANDS`], or `other`'s after
/// them.
fn command_index(command: &str) -> usize {
    KNOWN_COMMANDS
        .iter()
        .position(|known| *known == command)
        .unwrap_or(KNOWN_COMMANDS.len())
}

/// Handles of the peers' series.
pub(crate) struct PeerMetrics {
    sent: Traffic,
    received: Traffic,
    inbound: Gauge,
    outbound: Gauge,
    banned: Counter,
}

impl PeerMetrics {
    pub(crate) fn new() -> PeerMetrics {
        describe_gauge!(
            "node_peers_connected",
            "peers past the handshake, by direction (inbound, outbound)"
        );
        describe_counter!(
            "node_p2p_messages_total",
            "P2P messages by direction (sent, received) and command (unknown ones as other)"
        );
        describe_counter!(
            "node_p2p_bytes_total",
            Unit::Bytes,
            "P2P bytes, frame headers included, by direction and command"
        );
        describe_counter!(
            "node_peers_banned_total",
            "bans added (misbehaviour or setban)"
        );
        PeerMetrics {
            sent: Traffic::new("sent"),
            received: Traffic::new("received"),
            inbound: gauge!("node_peers_connected", "direction" => "inbound"),
            outbound: gauge!("node_peers_connected", "direction" => "outbound"),
            banned: counter!("node_peers_banned_total"),
        }
    }

    pub(crate) fn sent(&self, command: &str, bytes: usize) {
        self.sent.record(command, bytes);
    }

    pub(crate) fn received(&self, command: &str, bytes: usize) {
        self.received.record(command, bytes);
    }

    fn connected(&self, kind: ConnectionType) -> &Gauge {
        match kind {
            ConnectionType::Inbound => &self.inbound,
            ConnectionType::Outbound | ConnectionType::Manual => &self.outbound,
        }
    }

    /// A peer completed the handshake.
    pub(crate) fn peer_ready(&self, kind: ConnectionType) {
        self.connected(kind).increment(1.0);
    }

    /// A peer that had completed the handshake is gone.
    pub(crate) fn peer_gone(&self, kind: ConnectionType) {
        self.connected(kind).decrement(1.0);
    }

    pub(crate) fn banned(&self) {
        self.banned.increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_commands_count_as_other() {
        assert_eq!(KNOWN_COMMANDS[command_index("block")], "block");
        assert_eq!(KNOWN_COMMANDS[command_index("sendheaders")], "sendheaders");
        for made_up in ["wtxidrelay", "other", "", "BLOCK", "x".repeat(12).as_str()] {
            assert_eq!(command_index(made_up), KNOWN_COMMANDS.len(), "{made_up}");
        }
    }
}
