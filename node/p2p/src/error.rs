//! Framing errors that end a connection, and payload errors that drop one message.

use std::io;

use node_chain::DecodeError;

/// A framing error: the byte stream cannot be trusted any more, so the connection ends.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The first bytes of a frame are not our chain's magic: a peer of another chain, or
    /// not a peer of ours at all.
    #[error(
        "wrong network magic {found:02x?} (expected {expected:02x?}): another chain or not a node"
    )]
    BadMagic {
        /// The magic of our chain spec.
        expected: [u8; 4],
        /// The bytes received (as many as had arrived, up to four).
        found: Vec<u8>,
    },
    /// A frame declares a payload larger than `max_message_bytes` (or, for `block` and
    /// `tx`, than the chain's maximum block size); nothing of it is read. A block or
    /// transaction says so with Bitcoin Core's reason, as if it had been checked.
    #[error(
        "{}message {command:?} declares {length} bytes, over the limit of {limit}",
        oversize_reason(command)
    )]
    Oversized {
        /// The command of the frame, lossily decoded.
        command: String,
        /// The declared payload length.
        length: u32,
        /// `max_message_bytes`.
        limit: usize,
    },
    /// Reading from or writing to the socket failed.
    #[error("connection failed: {0}")]
    Io(#[from] io::Error),
}

/// Why one received message was dropped. The connection stays up; the peer's garbage count
/// grows, except for [`PayloadError::TooMany`], which is misbehaviour at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The payload does not hash to the checksum in the frame header.
    #[error("message {command:?} has a bad checksum")]
    BadChecksum {
        /// The command, lossily decoded.
        command: String,
    },
    /// The command field is not printable ASCII followed by NUL padding.
    #[error("invalid command bytes {raw:02x?}")]
    BadCommand {
        /// The 12 command bytes.
        raw: [u8; 12],
    },
    /// A known command whose payload does not decode.
    #[error("malformed {command} message: {source}")]
    Malformed {
        /// The command.
        command: &'static str,
        /// What the decoder found.
        source: DecodeError,
    },
    /// A list longer than the protocol allows (headers over 2,000, inventory over 50,000,
    /// addresses over 1,000, a locator over 101): the sender misbehaved.
    #[error("{command} message carries {count} {what}, over the limit of {limit}")]
    TooMany {
        /// The command.
        command: &'static str,
        /// What is counted.
        what: &'static str,
        /// The claimed count.
        count: u64,
        /// The protocol's limit.
        limit: usize,
    },
}

impl PayloadError {
    /// Whether the sender broke a protocol rule (rather than sent bytes we cannot use).
    pub fn is_misbehaviour(&self) -> bool {
        matches!(self, PayloadError::TooMany { .. })
    }
}

/// Core's reason for a block or transaction over the size limit, as a prefix.
fn oversize_reason(command: &str) -> &'static str {
    match command {
        "block" => "bad-blk-length: ",
        "tx" => "bad-txns-oversize: ",
        _ => "",
    }
}
