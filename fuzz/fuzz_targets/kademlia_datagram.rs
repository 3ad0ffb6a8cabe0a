//! The Kademlia datagram decoder of the discovery module, on whatever a UDP socket may
//! receive: the rpcudp frame (type byte, message id), the msgpack payload, and the request
//! or the answer to each procedure.
//!
//! Input: one datagram. Checked (in `node_discovery::fuzzing::datagram`): no panic, no
//! allocation past the malloc limit the script sets, and whatever decodes encodes to a
//! datagram that decodes to the same bytes again.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    node_discovery::fuzzing::datagram(data);
});
