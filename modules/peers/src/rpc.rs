//! Network RPC methods, with Bitcoin Core's names, parameters, result fields and error
//! codes: getpeerinfo, getnetworkinfo, getconnectioncount, addnode, disconnectnode,
//! setban, listbanned, clearbanned, ping.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use node_api::rpc::{codes, Param, RpcError, RpcParams};
use node_api::PeerAdmin;
use node_api::{BoxError, MethodEntry, RunOn, StartContext};
use node_p2p::{
    ConnectionType, PeerId, NODE_COMPACT_FILTERS, NODE_NETWORK, NODE_NETWORK_LIMITED,
    PROTOCOL_VERSION,
};
use serde_json::{json, Map, Value};

use crate::bans::Subnet;
use crate::error::PeersError;
use crate::peers::Peers;
use crate::rpc_help;
use crate::util::unix_now;

const NONE: &[Param] = &[];
const ADDNODE: &[Param] = &[
    Param::required("node")
        .string("The address of the peer to connect to")
        .example("\"192.168.0.6:8333\""),
    Param::required("command")
        .string("'add' to add a node to the list, 'remove' to remove a node from the list, 'onetry' to try a connection to the node once")
        .example("\"onetry\""),
];
const DISCONNECT: &[Param] = &[
    Param::optional("address")
        .string("The IP address/port of the node")
        .default("fallback to nodeid"),
    Param::optional("nodeid")
        .numeric("The node ID (see getpeerinfo for node IDs)")
        .default("fallback to address"),
];
const SETBAN: &[Param] = &[
    Param::required("subnet")
        .string("The IP/Subnet (see getpeerinfo for nodes IP) with an optional netmask (default is /32 = single IP)")
        .example("\"192.168.0.6\""),
    Param::required("command")
        .string("'add' to add an IP/Subnet to the list, 'remove' to remove an IP/Subnet from the list")
        .example("\"add\""),
    Param::optional("bantime")
        .numeric("time in seconds how long (or until when if [absolute] is set) the IP is banned (0 or empty means using the default time of [peers] ban_secs)")
        .default("0"),
    Param::optional("absolute")
        .boolean("If set, the bantime must be an absolute timestamp expressed in UNIX epoch time")
        .default("false"),
];

/// Registered at start, and listed as they are in the factory's `methods`.
pub(crate) const METHODS: &[MethodEntry<Arc<Peers>>] = &[
    ("getpeerinfo", NONE, rpc_help::GETPEERINFO, getpeerinfo),
    (
        "getnetworkinfo",
        NONE,
        rpc_help::GETNETWORKINFO,
        getnetworkinfo,
    ),
    ("getnettotals", NONE, rpc_help::GETNETTOTALS, getnettotals),
    (
        "getconnectioncount",
        NONE,
        rpc_help::GETCONNECTIONCOUNT,
        |peers, _| Ok(json!(peers.connection_count())),
    ),
    ("addnode", ADDNODE, rpc_help::ADDNODE, addnode),
    (
        "disconnectnode",
        DISCONNECT,
        rpc_help::DISCONNECTNODE,
        disconnectnode,
    ),
    ("setban", SETBAN, rpc_help::SETBAN, setban),
    ("listbanned", NONE, rpc_help::LISTBANNED, listbanned),
    ("clearbanned", NONE, rpc_help::CLEARBANNED, |peers, _| {
        peers.clear_bans();
        Ok(Value::Null)
    }),
    ("ping", NONE, rpc_help::PING, |peers, _| {
        peers.ping_all();
        Ok(Value::Null)
    }),
];

/// Registers the methods against the running peers service. They only read memory, so
/// they run inline. The state is the `Arc` itself because `addnode onetry` spawns a dial
/// that outlives the call.
pub(crate) fn register(ctx: &StartContext, peers: &Arc<Peers>) -> Result<(), BoxError> {
    ctx.register_methods(&Arc::new(Arc::clone(peers)), RunOn::Inline, METHODS)
}

fn services_hex(services: u64) -> String {
    format!("{services:016x}")
}

fn services_names(services: u64) -> Vec<&'static str> {
    [
        (NODE_NETWORK, "NETWORK"),
        (NODE_COMPACT_FILTERS, "COMPACT_FILTERS"),
        (NODE_NETWORK_LIMITED, "NETWORK_LIMITED"),
    ]
    .into_iter()
    .filter(|(bit, _)| services & bit != 0)
    .map(|(_, name)| name)
    .collect()
}

fn network(ip: IpAddr) -> &'static str {
    let public = match ip {
        IpAddr::V4(v4) => {
            !(v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified())
        }
        IpAddr::V6(v6) => !(v6.is_loopback() || v6.is_unspecified()),
    };
    match (public, ip) {
        (false, _) => "not_publicly_routable",
        (true, IpAddr::V4(_)) => "ipv4",
        (true, IpAddr::V6(_)) => "ipv6",
    }
}

fn getpeerinfo(peers: &Arc<Peers>, _: RpcParams) -> Result<Value, RpcError> {
    let mut out = Vec::new();
    for peer in peers.all_peers() {
        let Some(info) = peer.info() else { continue };
        let per_command = peer.per_command();
        let mut row = json!({
            "id": info.id.0,
            "addr": info.addr.to_string(),
            "addrbind": info.local_addr.to_string(),
            "network": network(info.addr.ip()),
            "services": services_hex(info.services),
            "servicesnames": services_names(info.services),
            "relaytxes": info.relay,
            "lastsend": info.last_send,
            "lastrecv": info.last_recv,
            "bytessent": info.bytes_sent,
            "bytesrecv": info.bytes_received,
            "conntime": info.connected_at,
            "timeoffset": info.time_offset,
            "version": info.version,
            "subver": info.user_agent,
            "inbound": info.inbound,
            "startingheight": info.start_height,
            "sendheaders": info.sendheaders,
            "connection_type": info.connection_type.as_str(),
            "permissions": [],
            "transport_protocol_type": "v1",
            "bytessent_per_msg": per_command.sent,
            "bytesrecv_per_msg": per_command.received,
        });
        if let Some(obj) = row.as_object_mut() {
            for (key, value) in [
                ("pingtime", info.ping_time),
                ("minping", info.min_ping),
                ("pingwait", info.ping_wait),
            ] {
                if let Some(d) = value {
                    obj.insert(key.to_string(), json!(d.as_secs_f64()));
                }
            }
        }
        out.push(row);
    }
    Ok(Value::Array(out))
}

fn getnetworkinfo(peers: &Arc<Peers>, _: RpcParams) -> Result<Value, RpcError> {
    let all = peers.all_peers();
    let inbound = all
        .iter()
        .filter(|p| p.kind == ConnectionType::Inbound)
        .count();
    let local = peers.local_addr();
    let networks: Vec<Value> = ["ipv4", "ipv6"]
        .iter()
        .map(|name| {
            json!({
                "name": name,
                "limited": false,
                "reachable": true,
                "proxy": "",
                "proxy_randomize_credentials": false,
            })
        })
        .collect();
    let mut localaddresses = Vec::new();
    if !local.ip().is_unspecified() {
        localaddresses.push(json!({
            "address": local.ip().to_string(),
            "port": local.port(),
            "score": 1,
        }));
    }
    Ok(json!({
        "version": peers.settings.core_rpc_version,
        "subversion": peers.settings.user_agent,
        "protocolversion": PROTOCOL_VERSION,
        "localservices": services_hex(peers.local_services()),
        "localservicesnames": services_names(peers.local_services()),
        "localrelay": true,
        "timeoffset": 0,
        "networkactive": true,
        "connections": all.len(),
        "connections_in": inbound,
        "connections_out": all.len() - inbound,
        "networks": networks,
        "localaddresses": localaddresses,
        "warnings": "",
    }))
}

fn addnode(peers: &Arc<Peers>, p: RpcParams) -> Result<Value, RpcError> {
    let node: String = p.required(0)?;
    let command: String = p.required(1)?;
    match command.as_str() {
        "add" => peers.add_node(&node).map_err(|e| match e {
            PeersError::AlreadyAdded(_) => RpcError::new(
                codes::CLIENT_NODE_ALREADY_ADDED,
                "Error: Node already added",
            ),
            other => RpcError::invalid_parameter(other.to_string()),
        })?,
        "remove" => peers.remove_node(&node).map_err(|_| {
            RpcError::new(
                codes::CLIENT_NODE_NOT_ADDED,
                "Error: Node could not be removed. It has not been added previously.",
            )
        })?,
        "onetry" => {
            let target = crate::config::normalize_target(&node, peers.settings.default_port)
                .ok_or_else(|| {
                    RpcError::invalid_parameter(format!("{node:?} is not host:port or ip:port"))
                })?;
            peers.onetry(target);
        }
        other => {
            return Err(RpcError::misc(format!(
                "addnode command must be \"add\", \"remove\" or \"onetry\", not {other:?}"
            )))
        }
    }
    Ok(Value::Null)
}

fn disconnectnode(peers: &Arc<Peers>, p: RpcParams) -> Result<Value, RpcError> {
    let address: Option<String> = p.optional(0)?;
    let nodeid: Option<u64> = p.optional(1)?;
    let found = match (address.filter(|a| !a.is_empty()), nodeid) {
        (Some(address), None) => peers
            .all_peers()
            .into_iter()
            .filter(|peer| peer.addr.to_string() == address)
            .map(|peer| peers.disconnect(peer.id))
            .fold(false, |a, b| a | b),
        (None, Some(id)) => peers.disconnect(PeerId(id)),
        _ => {
            return Err(RpcError::new(
                codes::INVALID_PARAMS,
                "Only one of address and nodeid should be provided.",
            ))
        }
    };
    if found {
        Ok(Value::Null)
    } else {
        Err(RpcError::new(
            codes::CLIENT_NODE_NOT_CONNECTED,
            "Node not found in connected nodes",
        ))
    }
}

fn setban(peers: &Arc<Peers>, p: RpcParams) -> Result<Value, RpcError> {
    let text: String = p.required(0)?;
    let command: String = p.required(1)?;
    let bantime: Option<i64> = p.optional(2)?;
    let absolute: Option<bool> = p.optional(3)?;
    let subnet: Subnet = text.parse().map_err(|_| {
        RpcError::new(
            codes::CLIENT_INVALID_IP_OR_SUBNET,
            "Error: Invalid IP/Subnet",
        )
    })?;
    match command.as_str() {
        "add" => {
            if peers.list_bans().iter().any(|b| b.subnet == subnet) {
                return Err(RpcError::new(
                    codes::CLIENT_NODE_ALREADY_ADDED,
                    "Error: IP/Subnet already banned",
                ));
            }
            let secs = match (bantime.unwrap_or(0), absolute.unwrap_or(false)) {
                (t, _) if t <= 0 => peers.settings.ban.as_secs(),
                (t, true) => (t as u64).saturating_sub(unix_now()),
                (t, false) => t as u64,
            };
            peers.ban(subnet, Duration::from_secs(secs));
            Ok(Value::Null)
        }
        "remove" => {
            if peers.unban(&subnet) {
                Ok(Value::Null)
            } else {
                Err(RpcError::new(
                    codes::CLIENT_INVALID_IP_OR_SUBNET,
                    "Error: Unban failed. Requested address/subnet was not previously manually banned.",
                ))
            }
        }
        other => Err(RpcError::misc(format!(
            "setban command must be \"add\" or \"remove\", not {other:?}"
        ))),
    }
}

fn listbanned(peers: &Arc<Peers>, _: RpcParams) -> Result<Value, RpcError> {
    let now = unix_now();
    let rows = peers
        .list_bans()
        .into_iter()
        .map(|ban| {
            let mut row = Map::new();
            row.insert("address".into(), json!(ban.subnet.to_string()));
            row.insert("ban_created".into(), json!(ban.created));
            row.insert("banned_until".into(), json!(ban.until));
            row.insert(
                "ban_duration".into(),
                json!(ban.until.saturating_sub(ban.created)),
            );
            row.insert(
                "time_remaining".into(),
                json!(ban.until.saturating_sub(now)),
            );
            Value::Object(row)
        })
        .collect();
    Ok(Value::Array(rows))
}

fn getnettotals(peers: &Arc<Peers>, _: RpcParams) -> Result<Value, RpcError> {
    let (sent, received) = peers.net_totals();
    let timemillis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Ok(json!({
        "totalbytesrecv": received,
        "totalbytessent": sent,
        "timemillis": timemillis,
        // No upload target here (Core's -maxuploadtarget).
        "uploadtarget": {
            "timeframe": 86400,
            "target": 0,
            "target_reached": false,
            "serve_historical_blocks": true,
            "bytes_left_in_cycle": 0,
            "time_left_in_cycle": 0,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_services_read_as_in_bitcoin_core() {
        assert_eq!(
            network("127.0.0.1".parse().unwrap()),
            "not_publicly_routable"
        );
        assert_eq!(
            network("10.0.0.1".parse().unwrap()),
            "not_publicly_routable"
        );
        assert_eq!(network("8.8.8.8".parse().unwrap()), "ipv4");
        assert_eq!(network("2001:db8::1".parse().unwrap()), "ipv6");
        assert_eq!(services_hex(1), "0000000000000001");
        assert_eq!(services_names(1), ["NETWORK"]);
        assert!(services_names(0).is_empty());
        assert_eq!(
            services_names(NODE_NETWORK | NODE_COMPACT_FILTERS),
            ["NETWORK", "COMPACT_FILTERS"]
        );
    }
}
