//! Bitcoin's P2P framing as a `tokio_util` codec: 4-byte magic, 12-byte NUL-padded
//! command, payload length (u32 LE), first 4 bytes of the payload's sha256d, payload.
//!
//! The decoder trusts nothing before it has checked it: the magic is compared as soon as
//! its first byte arrives (a peer of another chain fails at its first message), and the
//! declared length is checked against `max_payload` before any room is made for the
//! payload, so a header claiming 4 GiB costs nothing. A partial frame is a normal state:
//! the decoder answers `None` and waits for more bytes. Fatal problems (magic, length) are
//! decoder errors that end the connection; a bad checksum, a bad command or a malformed
//! payload only spoils that message, reported in [`Received::message`].

use bytes::{BufMut, Bytes, BytesMut};
use node_chain::sha256d;
use tokio_util::codec::{Decoder, Encoder};

use crate::error::{CodecError, PayloadError};
use crate::message::{Command, Message};

/// Bytes of a frame header: magic, command, length, checksum.
pub const HEADER_LEN: usize = 24;

/// One decoded frame.
#[derive(Debug)]
pub struct Received {
    /// The command as sent (lossily decoded, for accounting and logs).
    pub command: String,
    /// Bytes of the whole frame, header included.
    pub bytes: usize,
    /// The message, or why it was dropped.
    pub message: Result<Message, PayloadError>,
}

/// The frame codec of one chain.
#[derive(Debug, Clone)]
pub struct MessageCodec {
    magic: [u8; 4],
    max_payload: usize,
    /// Tighter limits for some commands (a `block` larger than the chain allows), checked
    /// on the header like `max_payload`.
    command_limits: Vec<([u8; 12], usize)>,
}

impl MessageCodec {
    /// A codec for `magic` that refuses payloads over `max_payload` bytes.
    pub fn new(magic: [u8; 4], max_payload: usize) -> Self {
        MessageCodec {
            magic,
            max_payload,
            command_limits: Vec::new(),
        }
    }

    /// Refuses `command` payloads over `max` bytes (at most `max_payload`), before any of
    /// the payload is read: a `block` over the chain's block size limit could never be
    /// valid, so it is not buffered nor decoded.
    pub fn limit_command(mut self, command: Command, max: usize) -> Self {
        self.command_limits
            .push((command.raw(), max.min(self.max_payload)));
        self
    }

    fn limit_of(&self, raw: &[u8; 12]) -> usize {
        self.command_limits
            .iter()
            .find(|(c, _)| c == raw)
            .map_or(self.max_payload, |(_, max)| *max)
    }
}

impl Decoder for MessageCodec {
    type Item = Received;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Received>, CodecError> {
        let have = src.len().min(4);
        if src[..have] != self.magic[..have] {
            return Err(CodecError::BadMagic {
                expected: self.magic,
                found: src[..have].to_vec(),
            });
        }
        if src.len() < HEADER_LEN {
            return Ok(None);
        }
        let mut raw = [0u8; 12];
        raw.copy_from_slice(&src[4..16]);
        let length = u32::from_le_bytes([src[16], src[17], src[18], src[19]]);
        let limit = self.limit_of(&raw);
        if length as usize > limit {
            return Err(CodecError::Oversized {
                command: lossy(&raw),
                length,
                limit,
            });
        }
        let total = HEADER_LEN + length as usize;
        if src.len() < total {
            // The length passed the check above, so this reservation is bounded.
            src.reserve(total - src.len());
            return Ok(None);
        }
        let frame = src.split_to(total);
        let payload = &frame[HEADER_LEN..];
        let message = match Command::from_raw(raw) {
            None => Err(PayloadError::BadCommand { raw }),
            Some(command) if sha256d(payload).0[..4] != frame[20..24] => {
                Err(PayloadError::BadChecksum {
                    command: command.to_string(),
                })
            }
            Some(command) => Message::decode(command, payload),
        };
        Ok(Some(Received {
            command: lossy(&raw),
            bytes: total,
            message,
        }))
    }
}

impl Encoder<&Message> for MessageCodec {
    type Error = CodecError;

    fn encode(&mut self, message: &Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        let payload = message.payload();
        write_frame(self.magic, message.wire_command(), &payload, dst);
        Ok(())
    }
}

/// The whole frame of `message`, ready to write (and cheap to share between peers).
pub fn encode_frame(magic: [u8; 4], message: &Message) -> Bytes {
    let payload = message.payload();
    raw_frame(magic, message.wire_command(), &payload)
}

/// A frame around an already encoded payload (a stored block served as it is).
pub fn raw_frame(magic: [u8; 4], command: Command, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(HEADER_LEN + payload.len());
    write_frame(magic, command, payload, &mut out);
    out.freeze()
}

fn write_frame(magic: [u8; 4], command: Command, payload: &[u8], dst: &mut BytesMut) {
    dst.reserve(HEADER_LEN + payload.len());
    dst.put_slice(&magic);
    dst.put_slice(&command.raw());
    // Payloads are bounded by what we build (a block at most), far below 4 GiB.
    dst.put_u32_le(payload.len() as u32);
    dst.put_slice(&sha256d(payload).0[..4]);
    dst.put_slice(payload);
}

fn lossy(raw: &[u8; 12]) -> String {
    let len = raw.iter().position(|b| *b == 0).unwrap_or(12);
    String::from_utf8_lossy(&raw[..len]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::tests::every_message;
    use crate::message::{Inventory, MSG_BLOCK};
    use node_chain::Hash256;

    const MAGIC: [u8; 4] = [0xd9, 0xb4, 0xbe, 0xf1];
    const MAX: usize = 4_000_000;

    fn codec() -> MessageCodec {
        MessageCodec::new(MAGIC, MAX)
    }

    fn frame(message: &Message) -> Vec<u8> {
        let mut out = BytesMut::new();
        codec().encode(message, &mut out).unwrap();
        out.to_vec()
    }

    fn decode_all(bytes: &[u8]) -> Vec<Received> {
        let mut codec = codec();
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(received) = codec.decode(&mut buf).unwrap() {
            out.push(received);
        }
        assert!(buf.is_empty(), "{} bytes left over", buf.len());
        out
    }

    #[test]
    fn every_message_round_trips_through_frames() {
        for message in every_message() {
            let bytes = frame(&message);
            assert_eq!(&bytes[..], &encode_frame(MAGIC, &message)[..]);
            let received = decode_all(&bytes);
            assert_eq!(received.len(), 1);
            assert_eq!(received[0].bytes, bytes.len());
            assert_eq!(received[0].command, message.command());
            assert_eq!(received[0].message.as_ref().unwrap(), &message);
        }
    }

    #[test]
    fn partial_frames_wait_for_more_bytes() {
        let message = Message::Inv(vec![Inventory::block(Hash256([9; 32]))]);
        let bytes = frame(&message);
        let mut codec = codec();
        let mut buf = BytesMut::new();
        for (i, byte) in bytes.iter().enumerate() {
            buf.put_u8(*byte);
            let decoded = codec.decode(&mut buf).unwrap();
            if i + 1 < bytes.len() {
                assert!(decoded.is_none(), "decoded after {} bytes", i + 1);
            } else {
                assert_eq!(decoded.unwrap().message.unwrap(), message);
            }
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn oversized_length_is_refused_before_buffering() {
        let mut header = Vec::new();
        header.extend_from_slice(&MAGIC);
        header.extend_from_slice(b"block\0\0\0\0\0\0\0");
        header.extend_from_slice(&(MAX as u32 + 1).to_le_bytes());
        header.extend_from_slice(&[0; 4]);
        let mut buf = BytesMut::from(&header[..]);
        let err = codec().decode(&mut buf).unwrap_err();
        assert!(
            matches!(err, CodecError::Oversized { length, .. } if length == MAX as u32 + 1),
            "{err}"
        );
        assert!(buf.capacity() < 1024, "reserved {} bytes", buf.capacity());
        // At the limit exactly, the frame is accepted and room is made for it.
        header[16..20].copy_from_slice(&(MAX as u32).to_le_bytes());
        let mut buf = BytesMut::from(&header[..]);
        assert!(codec().decode(&mut buf).unwrap().is_none());
    }

    #[test]
    fn a_block_over_its_own_limit_is_refused_on_the_header() {
        let header = |command: &[u8; 12], length: u32| {
            let mut h = Vec::new();
            h.extend_from_slice(&MAGIC);
            h.extend_from_slice(command);
            h.extend_from_slice(&length.to_le_bytes());
            h.extend_from_slice(&[0; 4]);
            BytesMut::from(&h[..])
        };
        let mut codec = codec().limit_command(crate::BLOCK_COMMAND, 1000);
        let mut buf = header(b"block\0\0\0\0\0\0\0", 1001);
        let err = codec.decode(&mut buf).unwrap_err();
        assert!(
            matches!(err, CodecError::Oversized { limit: 1000, .. }),
            "{err}"
        );
        assert!(buf.capacity() < 1024, "reserved {} bytes", buf.capacity());
        let mut buf = header(b"block\0\0\0\0\0\0\0", 1000);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        // Other commands keep the general limit.
        let mut buf = header(b"inv\0\0\0\0\0\0\0\0\0", 1001);
        assert!(codec.decode(&mut buf).unwrap().is_none());
    }

    #[test]
    fn wrong_magic_fails_at_the_first_byte() {
        let mut bytes = frame(&Message::Verack);
        bytes[0] = 0xf9;
        let mut buf = BytesMut::from(&bytes[..1]);
        assert!(matches!(
            codec().decode(&mut buf),
            Err(CodecError::BadMagic { .. })
        ));
        // Another chain's magic that shares three bytes fails at the fourth.
        let mut other = frame(&Message::Verack);
        other[3] = 0xf2;
        let mut buf = BytesMut::from(&other[..3]);
        assert!(codec().decode(&mut buf).unwrap().is_none());
        buf.put_u8(other[3]);
        assert!(matches!(
            codec().decode(&mut buf),
            Err(CodecError::BadMagic { .. })
        ));
    }

    #[test]
    fn bad_checksum_drops_only_that_message() {
        let mut bytes = frame(&Message::Ping(1));
        bytes[20] ^= 0xff;
        bytes.extend_from_slice(&frame(&Message::Ping(2)));
        let received = decode_all(&bytes);
        assert_eq!(received.len(), 2);
        assert_eq!(
            received[0].message,
            Err(PayloadError::BadChecksum {
                command: "ping".into()
            })
        );
        assert_eq!(received[1].message, Ok(Message::Ping(2)));
    }

    #[test]
    fn bad_command_and_malformed_payload_drop_only_that_message() {
        let mut bytes = frame(&Message::Verack);
        bytes[4] = 0x01;
        let mut truncated = frame(&Message::Ping(1));
        truncated[16] = 4;
        truncated.truncate(HEADER_LEN + 4);
        let checksum = sha256d(&truncated[HEADER_LEN..]).0;
        truncated[20..24].copy_from_slice(&checksum[..4]);
        bytes.extend_from_slice(&truncated);
        bytes.extend_from_slice(&frame(&Message::Verack));
        let received = decode_all(&bytes);
        assert!(matches!(
            received[0].message,
            Err(PayloadError::BadCommand { .. })
        ));
        assert!(matches!(
            received[1].message,
            Err(PayloadError::Malformed {
                command: "ping",
                ..
            })
        ));
        assert_eq!(received[2].message, Ok(Message::Verack));
    }

    #[test]
    fn unknown_commands_decode_as_unknown() {
        let unknown = Message::Unknown {
            command: Command::new("feefilter").unwrap(),
            payload: 1000u64.to_le_bytes().to_vec(),
        };
        let received = decode_all(&frame(&unknown));
        assert_eq!(received[0].message.as_ref().unwrap(), &unknown);
        assert_eq!(received[0].command, "feefilter");
    }

    #[test]
    fn bitcoin_reencodes_our_frames_byte_for_byte() {
        use bitcoin::p2p::message::RawNetworkMessage;
        for message in every_message() {
            let bytes = frame(&message);
            let raw: RawNetworkMessage = bitcoin::consensus::deserialize(&bytes)
                .unwrap_or_else(|e| panic!("bitcoin cannot read our {}: {e}", message.command()));
            assert_eq!(raw.command().as_ref(), message.command());
            assert_eq!(bitcoin::consensus::serialize(&raw), bytes);
        }
    }

    #[test]
    fn we_read_bitcoin_frames() {
        use bitcoin::hashes::Hash;
        use bitcoin::p2p::message::{NetworkMessage, RawNetworkMessage};
        use bitcoin::p2p::message_blockdata::Inventory as BtcInventory;
        use bitcoin::p2p::message_network::VersionMessage as BtcVersion;
        use bitcoin::p2p::{Address, Magic, ServiceFlags};

        let magic = Magic::from_bytes(MAGIC);
        let receiver: std::net::SocketAddr = "127.0.0.1:18444".parse().unwrap();
        let version = BtcVersion::new(
            ServiceFlags::NETWORK,
            1_767_225_600,
            Address::new(&receiver, ServiceFlags::NONE),
            Address::new(&"0.0.0.0:0".parse().unwrap(), ServiceFlags::NETWORK),
            99,
            "/Satoshi:27.0.0/".into(),
            7,
        );
        let raw = RawNetworkMessage::new(magic, NetworkMessage::Version(version));
        let received = decode_all(&bitcoin::consensus::serialize(&raw));
        let Ok(Message::Version(v)) = &received[0].message else {
            panic!("{:?}", received[0].message)
        };
        assert_eq!(v.receiver.addr, receiver);
        assert_eq!(
            (v.nonce, v.start_height, v.relay, v.services),
            (99, 7, false, 1)
        );
        assert_eq!(v.user_agent, "/Satoshi:27.0.0/");

        let hash = bitcoin::BlockHash::from_byte_array([5; 32]);
        let raw = RawNetworkMessage::new(
            magic,
            NetworkMessage::GetData(vec![BtcInventory::Block(hash)]),
        );
        let received = decode_all(&bitcoin::consensus::serialize(&raw));
        let Ok(Message::GetData(items)) = &received[0].message else {
            panic!("{:?}", received[0].message)
        };
        assert_eq!(items[0].kind.code(), MSG_BLOCK);
        assert_eq!(items[0].hash, Hash256([5; 32]));
    }
}
