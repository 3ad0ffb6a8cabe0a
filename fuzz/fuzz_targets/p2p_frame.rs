//! The P2P frame decoder (`MessageCodec`) and the message decoder behind it, fed a byte
//! stream as a peer would send it.
//!
//! Input: one control byte, then the stream. Bit 0 of the control byte rewrites each
//! frame's checksum to the right one before decoding (a fuzzer cannot find sha256d
//! checksums, and without them no payload would reach `Message::decode`); the other
//! seven bits pick how the stream is cut into reads (0: all at once, otherwise chunks of
//! pseudo-random sizes up to 8 times that number).
//!
//! Checked: no panic; the buffer never holds much more than one largest frame (and the
//! script runs this target with a malloc limit, so one allocation beyond it is a crash);
//! a frame never exceeds the payload limit; every message decoded encodes to a frame that
//! decodes to the same message; routing and inventory accounting accept it.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use node_chain::sha256d;
use node_p2p::{encode_frame, route, Message, MessageCodec, Received, HEADER_LEN, MAX_USER_AGENT};
use tokio_util::codec::Decoder;

/// Regtest's magic.
const MAGIC: [u8; 4] = [0xd9, 0xb4, 0xbe, 0xf1];
/// The peers module's default `max_message_bytes`.
const MAX_PAYLOAD: usize = 4_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let mut stream = stream.to_vec();
    if control & 1 == 1 {
        fix_checksums(&mut stream);
    }
    decode_stream(&stream, control >> 1);
});

/// Walks the stream frame by frame by the declared lengths and writes the right checksum
/// into each header that is followed by its whole payload.
fn fix_checksums(stream: &mut [u8]) {
    let mut at = 0;
    while stream.len() - at >= HEADER_LEN {
        let length = u32::from_le_bytes(stream[at + 16..at + 20].try_into().unwrap()) as usize;
        let Some(end) = (at + HEADER_LEN).checked_add(length) else {
            return;
        };
        if end > stream.len() {
            return;
        }
        let checksum = sha256d(&stream[at + HEADER_LEN..end]).0;
        stream[at + 20..at + 24].copy_from_slice(&checksum[..4]);
        at = end;
    }
}

/// Cuts `stream` into reads as `seed` says.
fn chunks(stream: &[u8], seed: u8) -> Vec<&[u8]> {
    if seed == 0 {
        return vec![stream];
    }
    let max = usize::from(seed) * 8;
    let mut state = u32::from(seed) | 0x9e37_7900;
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        // xorshift32: any cheap sequence will do, it only has to vary the cuts.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let size = (1 + state as usize % max).min(rest.len());
        let (chunk, tail) = rest.split_at(size);
        out.push(chunk);
        rest = tail;
    }
    out
}

fn decode_stream(stream: &[u8], seed: u8) {
    let mut codec = MessageCodec::new(MAGIC, MAX_PAYLOAD);
    let mut buf = BytesMut::new();
    // What the buffer may hold: a largest frame, doubled by the buffer's growth, and the
    // read that brought it.
    let bound = 2 * (HEADER_LEN + MAX_PAYLOAD) + stream.len();
    for chunk in chunks(stream, seed) {
        buf.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(received)) => check(received),
                Ok(None) => break,
                // A fatal error ends the connection: nothing more is read.
                Err(_) => return,
            }
        }
        assert!(
            buf.capacity() <= bound,
            "buffer of {} bytes for a {}-byte stream",
            buf.capacity(),
            stream.len()
        );
    }
    // The peer closed: what is left is a partial frame or an error, never a panic.
    while let Ok(Some(received)) = codec.decode_eof(&mut buf) {
        check(received);
    }
}

fn check(received: Received) {
    assert!(received.bytes >= HEADER_LEN);
    assert!(received.bytes <= HEADER_LEN + MAX_PAYLOAD);
    let Ok(message) = received.message else {
        return;
    };
    round_trip(&message);
    let _ = message.inventory_hashes();
    let _ = route(message, |_| true);
}

/// A decoded message encodes to a frame that decodes to it again.
fn round_trip(message: &Message) {
    // A user agent is decoded lossily, and each invalid byte becomes a three-byte U+FFFD:
    // re-encoded, it may pass the length limit it was checked against.
    if let Message::Version(v) = message {
        if v.user_agent.len() > MAX_USER_AGENT {
            return;
        }
    }
    let frame = encode_frame(MAGIC, message);
    let mut buf = BytesMut::from(&frame[..]);
    let again = MessageCodec::new(MAGIC, MAX_PAYLOAD)
        .decode(&mut buf)
        .expect("our own frame is well formed")
        .expect("our own frame is complete");
    assert!(buf.is_empty(), "{} bytes left after our frame", buf.len());
    assert_eq!(again.bytes, frame.len());
    assert_eq!(again.message.as_ref(), Ok(message));
}
