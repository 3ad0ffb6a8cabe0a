//! The rpcudp datagram format the Python `kademlia` package speaks.
//!
//! A datagram is one type byte (0x00 request, 0x01 response), a 20-byte message id, then a
//! msgpack payload: `[name, [args...]]` for a request, the bare result for a response.
//! Encoding matches u-msgpack-python byte for byte (smallest integer and string forms,
//! `bin` for ids and keys, `str` for names and IP addresses); `tests.rs` checks this against
//! datagrams captured from the Python package.

use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};

use rmpv::Value;
use thiserror::Error;

use crate::node_id::{Contact, NodeId};

/// Type byte, then the 20-byte message id.
pub(crate) const HEADER_LEN: usize = 21;
/// rpcudp refuses to send a request payload over 8 KiB; we take the same bound both ways.
pub(crate) const MAX_PAYLOAD: usize = 8192;
/// Largest datagram sent or accepted.
pub(crate) const MAX_DATAGRAM: usize = HEADER_LEN + MAX_PAYLOAD;
/// rmpv's depth budget: our deepest message (`[[id, ip, port], ...]`) spends 6 of it
/// (every value and every container or string body counts).
const MAX_DEPTH: usize = 12;

/// A request's message id: rpcudp uses the SHA-1 of random bytes; any 20 bytes will do.
pub(crate) type MsgId = [u8; 20];

/// Why a datagram or payload was refused.
#[derive(Debug, Error)]
pub enum WireError {
    /// Shorter than the type byte, message id and one payload byte.
    #[error("datagram of {len} bytes is shorter than the 22-byte minimum")]
    TooShort {
        /// Bytes received.
        len: usize,
    },
    /// Over [`MAX_DATAGRAM`] bytes.
    #[error("datagram of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// Bytes received or about to be sent.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The first byte is neither 0x00 (request) nor 0x01 (response).
    #[error("unknown datagram type byte {0:#04x} (expected 0x00 or 0x01)")]
    UnknownType(u8),
    /// The payload is not one well-formed msgpack value.
    #[error("payload is not valid msgpack: {0}")]
    Msgpack(#[from] rmpv::decode::Error),
    /// Bytes follow the msgpack value.
    #[error("{0} stray bytes follow the msgpack payload")]
    Trailing(usize),
    /// A request that is not `[name, [args...]]`.
    #[error("request payload is not a [name, args] pair")]
    NotAPair,
    /// A request for a procedure outside the fixed list.
    #[error("request names {0:?}, which is not one of ping, stun, find_node, find_value, store")]
    UnknownRpc(String),
    /// A request with the wrong number of arguments.
    #[error("`{rpc}` takes {expected} arguments, got {got}")]
    ArgCount {
        /// Procedure name.
        rpc: &'static str,
        /// Arguments it takes.
        expected: usize,
        /// Arguments sent.
        got: usize,
    },
    /// A request argument of the wrong type or size.
    #[error("`{rpc}` argument {index} should be {expected}")]
    BadArgument {
        /// Procedure name.
        rpc: &'static str,
        /// Zero-based argument position (after the implicit sender address).
        index: usize,
        /// What was expected there.
        expected: &'static str,
    },
    /// A response that does not have the shape its request calls for.
    #[error("answer to `{rpc}` should be {expected}")]
    BadResponse {
        /// Procedure that was called.
        rpc: &'static str,
        /// What its answer looks like.
        expected: &'static str,
    },
}

/// Whether a datagram asks or answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Request,
    Response,
}

/// A datagram split into header and still-encoded payload, so a response to nothing we
/// asked can be dropped before its msgpack is parsed.
#[derive(Debug)]
pub(crate) struct Frame<'a> {
    pub(crate) kind: Kind,
    pub(crate) id: MsgId,
    pub(crate) payload: &'a [u8],
}

/// The fixed list of callable procedures; any other name is refused (the Python package
/// dispatches to any `rpc_*` attribute).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rpc {
    Ping,
    Stun,
    FindNode,
    FindValue,
    Store,
}

impl Rpc {
    const ALL: [Rpc; 5] = [
        Rpc::Ping,
        Rpc::Stun,
        Rpc::FindNode,
        Rpc::FindValue,
        Rpc::Store,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Rpc::Ping => "ping",
            Rpc::Stun => "stun",
            Rpc::FindNode => "find_node",
            Rpc::FindValue => "find_value",
            Rpc::Store => "store",
        }
    }

    /// Arguments after the sender address rpcudp passes implicitly.
    fn arity(self) -> usize {
        match self {
            Rpc::Stun => 0,
            Rpc::Ping => 1,
            Rpc::FindNode | Rpc::FindValue => 2,
            Rpc::Store => 3,
        }
    }
}

/// A value the DHT stores: the Python package accepts int, float, bool, str and bytes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StoredValue(Value);

impl StoredValue {
    pub(crate) fn new(value: Value) -> Option<Self> {
        let scalar = match &value {
            Value::Integer(_) | Value::F32(_) | Value::F64(_) | Value::Boolean(_) => true,
            Value::Binary(_) => true,
            Value::String(s) => s.is_str(),
            _ => false,
        };
        scalar.then_some(StoredValue(value))
    }

    /// Bytes of content the value holds (numbers count as 8).
    pub(crate) fn size(&self) -> usize {
        match &self.0 {
            Value::Binary(b) => b.len(),
            Value::String(s) => s.as_bytes().len(),
            _ => 8,
        }
    }
}

/// A decoded request. `sender` is the caller's claimed node id.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Request {
    Ping {
        sender: NodeId,
    },
    Stun,
    FindNode {
        sender: NodeId,
        key: NodeId,
    },
    FindValue {
        sender: NodeId,
        key: NodeId,
    },
    Store {
        sender: NodeId,
        key: NodeId,
        value: StoredValue,
    },
}

/// An answer, typed by the request it answers.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Response {
    /// `ping`: the responder's id.
    Id(NodeId),
    /// `stun`: the address the request came from.
    Address(SocketAddr),
    /// `find_node`, or `find_value` without the value: up to k (id, ip, port) triples.
    Contacts(Vec<Contact>),
    /// `find_value` with the value: `{"value": v}`.
    Value(StoredValue),
    /// `store`: whether it was kept (the Python package always answers `True`).
    Stored(bool),
}

/// Splits a received datagram; checks only size and type byte.
pub(crate) fn split(datagram: &[u8]) -> Result<Frame<'_>, WireError> {
    let len = datagram.len();
    if len < HEADER_LEN + 1 {
        return Err(WireError::TooShort { len });
    }
    if len > MAX_DATAGRAM {
        return Err(WireError::TooLarge {
            len,
            max: MAX_DATAGRAM,
        });
    }
    let kind = match datagram[0] {
        0 => Kind::Request,
        1 => Kind::Response,
        other => return Err(WireError::UnknownType(other)),
    };
    let mut id = [0u8; 20];
    id.copy_from_slice(&datagram[1..HEADER_LEN]);
    Ok(Frame {
        kind,
        id,
        payload: &datagram[HEADER_LEN..],
    })
}

/// Parses one msgpack value that must fill `payload` exactly.
pub(crate) fn decode_payload(payload: &[u8]) -> Result<Value, WireError> {
    let mut cursor = Cursor::new(payload);
    let value = rmpv::decode::read_value_with_max_depth(&mut cursor, MAX_DEPTH)?;
    let used = usize::try_from(cursor.position()).unwrap_or(usize::MAX);
    match payload.len().checked_sub(used) {
        Some(0) => Ok(value),
        Some(rest) => Err(WireError::Trailing(rest)),
        None => Err(WireError::Trailing(0)),
    }
}

/// Builds a datagram, refusing one over [`MAX_DATAGRAM`].
pub(crate) fn encode(kind: Kind, id: &MsgId, payload: &Value) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(64);
    out.push(match kind {
        Kind::Request => 0,
        Kind::Response => 1,
    });
    out.extend_from_slice(id);
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, payload);
    if out.len() > MAX_DATAGRAM {
        return Err(WireError::TooLarge {
            len: out.len(),
            max: MAX_DATAGRAM,
        });
    }
    Ok(out)
}

/// Ids and keys are `bin` in the Python package; a `str` of 20 bytes is refused, as Python's
/// `bytes.hex()` would fail on it.
fn binary_id(value: &Value) -> Option<NodeId> {
    match value {
        Value::Binary(bytes) => NodeId::from_slice(bytes),
        _ => None,
    }
}

fn id_value(id: &NodeId) -> Value {
    Value::Binary(id.0.to_vec())
}

fn addr_values(addr: &SocketAddr) -> [Value; 2] {
    [
        Value::from(addr.ip().to_canonical().to_string()),
        Value::from(addr.port()),
    ]
}

impl Request {
    pub(crate) fn rpc(&self) -> Rpc {
        match self {
            Request::Ping { .. } => Rpc::Ping,
            Request::Stun => Rpc::Stun,
            Request::FindNode { .. } => Rpc::FindNode,
            Request::FindValue { .. } => Rpc::FindValue,
            Request::Store { .. } => Rpc::Store,
        }
    }

    /// `[name, [args...]]`, as rpcudp packs `[name, args_tuple]`.
    pub(crate) fn to_value(&self) -> Value {
        let args = match self {
            Request::Ping { sender } => vec![id_value(sender)],
            Request::Stun => vec![],
            Request::FindNode { sender, key } | Request::FindValue { sender, key } => {
                vec![id_value(sender), id_value(key)]
            }
            Request::Store { sender, key, value } => {
                vec![id_value(sender), id_value(key), value.0.clone()]
            }
        };
        Value::Array(vec![Value::from(self.rpc().name()), Value::Array(args)])
    }

    pub(crate) fn from_value(value: Value) -> Result<Self, WireError> {
        let Value::Array(mut pair) = value else {
            return Err(WireError::NotAPair);
        };
        if pair.len() != 2 {
            return Err(WireError::NotAPair);
        }
        let (Some(Value::Array(args)), Some(Value::String(name))) = (pair.pop(), pair.pop()) else {
            return Err(WireError::NotAPair);
        };
        let name = name.into_str().unwrap_or_default();
        let Some(rpc) = Rpc::ALL.into_iter().find(|r| r.name() == name) else {
            return Err(WireError::UnknownRpc(name.chars().take(32).collect()));
        };
        if args.len() != rpc.arity() {
            return Err(WireError::ArgCount {
                rpc: rpc.name(),
                expected: rpc.arity(),
                got: args.len(),
            });
        }
        let id_at = |index: usize| {
            binary_id(&args[index]).ok_or(WireError::BadArgument {
                rpc: rpc.name(),
                index,
                expected: "a 20-byte binary id",
            })
        };
        Ok(match rpc {
            Rpc::Ping => Request::Ping { sender: id_at(0)? },
            Rpc::Stun => Request::Stun,
            Rpc::FindNode => Request::FindNode {
                sender: id_at(0)?,
                key: id_at(1)?,
            },
            Rpc::FindValue => Request::FindValue {
                sender: id_at(0)?,
                key: id_at(1)?,
            },
            Rpc::Store => {
                let (sender, key) = (id_at(0)?, id_at(1)?);
                let value = StoredValue::new(args[2].clone()).ok_or(WireError::BadArgument {
                    rpc: rpc.name(),
                    index: 2,
                    expected: "an int, float, bool, str or bytes",
                })?;
                Request::Store { sender, key, value }
            }
        })
    }
}

impl Response {
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Response::Id(id) => id_value(id),
            Response::Address(addr) => Value::Array(addr_values(addr).to_vec()),
            Response::Contacts(contacts) => Value::Array(
                contacts
                    .iter()
                    .map(|c| {
                        let [ip, port] = addr_values(&c.addr);
                        Value::Array(vec![id_value(&c.id), ip, port])
                    })
                    .collect(),
            ),
            Response::Value(value) => Value::Map(vec![(Value::from("value"), value.0.clone())]),
            Response::Stored(kept) => Value::Boolean(*kept),
        }
    }

    /// Reads the answer to `rpc`. Contact lists keep at most `max_contacts` well-formed
    /// entries; malformed entries are skipped rather than failing the whole answer.
    pub(crate) fn parse(rpc: Rpc, body: Value, max_contacts: usize) -> Result<Self, WireError> {
        let bad = |expected| WireError::BadResponse {
            rpc: rpc.name(),
            expected,
        };
        match rpc {
            Rpc::Ping => binary_id(&body)
                .map(Response::Id)
                .ok_or(bad("a 20-byte binary id")),
            Rpc::Stun => match body {
                Value::Array(parts) => parse_addr(&parts).map(Response::Address),
                _ => None,
            }
            .ok_or(bad("an [ip, port] pair")),
            Rpc::FindNode => parse_contacts(body, max_contacts).ok_or(bad("a list of contacts")),
            Rpc::FindValue => match body {
                Value::Map(entries) => entries
                    .into_iter()
                    .find(|(k, _)| k.as_str() == Some("value"))
                    .and_then(|(_, v)| StoredValue::new(v))
                    .map(Response::Value)
                    .ok_or(bad("{\"value\": scalar} or a list of contacts")),
                other => parse_contacts(other, max_contacts)
                    .ok_or(bad("{\"value\": scalar} or a list of contacts")),
            },
            Rpc::Store => body.as_bool().map(Response::Stored).ok_or(bad("a boolean")),
        }
    }
}

fn parse_contacts(body: Value, max: usize) -> Option<Response> {
    let Value::Array(entries) = body else {
        return None;
    };
    let contacts = entries
        .iter()
        .filter_map(|entry| {
            let parts = entry.as_array()?;
            let [id, ip, port] = parts.as_slice() else {
                return None;
            };
            let id = binary_id(id)?;
            let addr = parse_addr(&[ip.clone(), port.clone()])?;
            Some(Contact { id, addr })
        })
        .take(max)
        .collect();
    Some(Response::Contacts(contacts))
}

fn parse_addr(parts: &[Value]) -> Option<SocketAddr> {
    let [ip, port] = parts else { return None };
    let ip: IpAddr = ip.as_str()?.parse().ok()?;
    let port = u16::try_from(port.as_u64()?).ok()?;
    Some(SocketAddr::new(ip.to_canonical(), port))
}

#[cfg(test)]
mod tests;
