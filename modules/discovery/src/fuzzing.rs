//! The datagram decoder as the fuzz targets in `fuzz/` drive it: compiled only with the
//! `fuzzing` feature, which no build of the node enables. Not an API.

use crate::config::K;
use crate::wire::{self, Kind, MsgId, Request, Response, Rpc};

/// Every procedure, to read a response as the answer to each.
const RPCS: [Rpc; 5] = [
    Rpc::Ping,
    Rpc::Stun,
    Rpc::FindNode,
    Rpc::FindValue,
    Rpc::Store,
];

/// Reads `datagram` as the service does on receipt (split, msgpack, then a request, or a
/// response to each procedure in turn), and checks that whatever is read encodes to a
/// datagram that reads back to the same bytes. Panics when it does not.
pub fn datagram(datagram: &[u8]) {
    let Ok(frame) = wire::split(datagram) else {
        return;
    };
    let Ok(body) = wire::decode_payload(frame.payload) else {
        return;
    };
    match frame.kind {
        Kind::Request => {
            if let Ok(request) = Request::from_value(body) {
                let bytes = encode(Kind::Request, &frame.id, &request.to_value());
                let again = read(&bytes).and_then(|v| Request::from_value(v).ok());
                let again = again.expect("our request reads back");
                assert_eq!(encode(Kind::Request, &frame.id, &again.to_value()), bytes);
            }
        }
        Kind::Response => {
            for rpc in RPCS {
                if let Ok(response) = Response::parse(rpc, body.clone(), K) {
                    let bytes = encode(Kind::Response, &frame.id, &response.to_value());
                    let again = read(&bytes).and_then(|v| Response::parse(rpc, v, K).ok());
                    let again = again.expect("our response reads back");
                    assert_eq!(encode(Kind::Response, &frame.id, &again.to_value()), bytes);
                }
            }
        }
    }
}

/// What was read came from at most one datagram, and encodes to no more.
fn encode(kind: Kind, id: &MsgId, payload: &rmpv::Value) -> Vec<u8> {
    wire::encode(kind, id, payload).expect("what was read fits in a datagram")
}

fn read(bytes: &[u8]) -> Option<rmpv::Value> {
    let frame = wire::split(bytes).ok()?;
    wire::decode_payload(frame.payload).ok()
}
