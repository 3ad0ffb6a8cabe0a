//! BIP157 compact block filter messages: `getcfilters`/`cfilter`,
//! `getcfheaders`/`cfheaders`, `getcfcheckpt`/`cfcheckpt`, the NODE_COMPACT_FILTERS
//! service bit and Bitcoin Core's limits on them.
//!
//! They travel as [`Message::Unknown`](crate::Message::Unknown) frames (a node that does
//! not serve filters ignores them, as Core does) and are read and written here from and
//! to those payloads ([`FilterRequest::decode`], [`FilterReply::message`]), so a module
//! serving them adds nothing to the core message set. Every list is checked against its
//! limit before an item is read.

use node_chain::encode::{write_compact_size, DecodeError, DecodeErrorKind};
use node_chain::{Decode, Encode, Hash256, Reader};

use crate::message::{Command, Message};

/// Service bit of a node that serves BIP157 filters of type basic (BIP157: bit 6).
pub const NODE_COMPACT_FILTERS: u64 = 1 << 6;
/// Most filters one `getcfilters` may ask for (Bitcoin Core's `MAX_GETCFILTERS_SIZE`).
pub const MAX_GETCFILTERS_SIZE: u32 = 1000;
/// Most filter hashes one `getcfheaders` may ask for (`MAX_GETCFHEADERS_SIZE`).
pub const MAX_GETCFHEADERS_SIZE: u32 = 2000;
/// Heights between two `cfcheckpt` headers (BIP157's 1,000).
pub const CFCHECKPT_INTERVAL: u32 = 1000;
/// Largest filter a `cfilter` may carry: a filter of a block under the 4 MB Bitcoin
/// allows is far smaller (20 bits per distinct script).
const MAX_FILTER_BYTES: usize = 4_000_000;
/// Most headers a `cfcheckpt` may carry: one per 1,000 heights of a 32-bit chain.
const MAX_CHECKPOINTS: usize = (u32::MAX / CFCHECKPT_INTERVAL) as usize + 1;

/// A BIP157 request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterRequest {
    /// `getcfilters`: the filters of `start_height..=height(stop_hash)`.
    GetCFilters {
        /// The filter type (0, basic).
        filter_type: u8,
        /// The first height wanted.
        start_height: u32,
        /// The last block wanted, which fixes the chain.
        stop_hash: Hash256,
    },
    /// `getcfheaders`: the filter hashes of `start_height..=height(stop_hash)` and the
    /// filter header before them.
    GetCFHeaders {
        /// The filter type (0, basic).
        filter_type: u8,
        /// The first height wanted.
        start_height: u32,
        /// The last block wanted.
        stop_hash: Hash256,
    },
    /// `getcfcheckpt`: the filter headers at every 1,000th height up to `stop_hash`.
    GetCFCheckpt {
        /// The filter type (0, basic).
        filter_type: u8,
        /// The last block of the chain meant.
        stop_hash: Hash256,
    },
}

impl FilterRequest {
    /// The request in a frame of `command` with `payload`; `None` when the command is no
    /// BIP157 request, an error when its payload is malformed.
    pub fn decode(command: &str, payload: &[u8]) -> Option<Result<FilterRequest, DecodeError>> {
        let mut r = Reader::new(payload);
        let request = match command {
            "getcfilters" | "getcfheaders" => (|| {
                let filter_type = r.read_u8("filter type")?;
                let start_height = r.read_u32("start height")?;
                let stop_hash = Hash256::decode(&mut r)?;
                r.finish(command_name(command))?;
                Ok(if command == "getcfilters" {
                    FilterRequest::GetCFilters {
                        filter_type,
                        start_height,
                        stop_hash,
                    }
                } else {
                    FilterRequest::GetCFHeaders {
                        filter_type,
                        start_height,
                        stop_hash,
                    }
                })
            })(),
            "getcfcheckpt" => (|| {
                let filter_type = r.read_u8("filter type")?;
                let stop_hash = Hash256::decode(&mut r)?;
                r.finish("getcfcheckpt")?;
                Ok(FilterRequest::GetCFCheckpt {
                    filter_type,
                    stop_hash,
                })
            })(),
            _ => return None,
        };
        Some(request)
    }

    /// The request as a message to send.
    pub fn message(&self) -> Message {
        let mut payload = Vec::with_capacity(37);
        let command = match self {
            FilterRequest::GetCFilters {
                filter_type,
                start_height,
                stop_hash,
            }
            | FilterRequest::GetCFHeaders {
                filter_type,
                start_height,
                stop_hash,
            } => {
                payload.push(*filter_type);
                start_height.encode(&mut payload);
                stop_hash.encode(&mut payload);
                if matches!(self, FilterRequest::GetCFilters { .. }) {
                    "getcfilters"
                } else {
                    "getcfheaders"
                }
            }
            FilterRequest::GetCFCheckpt {
                filter_type,
                stop_hash,
            } => {
                payload.push(*filter_type);
                stop_hash.encode(&mut payload);
                "getcfcheckpt"
            }
        };
        unknown(command, payload)
    }
}

fn command_name(command: &str) -> &'static str {
    match command {
        "getcfilters" => "getcfilters",
        _ => "getcfheaders",
    }
}

fn unknown(command: &str, payload: Vec<u8>) -> Message {
    Message::Unknown {
        command: Command::new(command).expect("a BIP157 command name is valid"),
        payload,
    }
}

/// A BIP157 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterReply {
    /// `cfilter`: one block's filter.
    CFilter {
        /// The filter type.
        filter_type: u8,
        /// The block.
        block_hash: Hash256,
        /// The encoded filter (BIP158: its element count, then the coded set).
        filter: Vec<u8>,
    },
    /// `cfheaders`: the filter hashes of a run of blocks and the header before them.
    CFHeaders {
        /// The filter type.
        filter_type: u8,
        /// The last block of the run.
        stop_hash: Hash256,
        /// The filter header of the block before the run (zeros before genesis).
        previous_filter_header: Hash256,
        /// The run's filter hashes, lowest height first.
        filter_hashes: Vec<Hash256>,
    },
    /// `cfcheckpt`: filter headers at every 1,000th height.
    CFCheckpt {
        /// The filter type.
        filter_type: u8,
        /// The block that fixes the chain.
        stop_hash: Hash256,
        /// Headers at heights 1000, 2000, ... up to the stop block's height.
        filter_headers: Vec<Hash256>,
    },
}

impl FilterReply {
    /// The answer as a message to send.
    pub fn message(&self) -> Message {
        let mut payload = Vec::new();
        let command = match self {
            FilterReply::CFilter {
                filter_type,
                block_hash,
                filter,
            } => {
                payload.push(*filter_type);
                block_hash.encode(&mut payload);
                write_compact_size(&mut payload, filter.len() as u64);
                payload.extend_from_slice(filter);
                "cfilter"
            }
            FilterReply::CFHeaders {
                filter_type,
                stop_hash,
                previous_filter_header,
                filter_hashes,
            } => {
                payload.push(*filter_type);
                stop_hash.encode(&mut payload);
                previous_filter_header.encode(&mut payload);
                write_compact_size(&mut payload, filter_hashes.len() as u64);
                for hash in filter_hashes {
                    hash.encode(&mut payload);
                }
                "cfheaders"
            }
            FilterReply::CFCheckpt {
                filter_type,
                stop_hash,
                filter_headers,
            } => {
                payload.push(*filter_type);
                stop_hash.encode(&mut payload);
                write_compact_size(&mut payload, filter_headers.len() as u64);
                for hash in filter_headers {
                    hash.encode(&mut payload);
                }
                "cfcheckpt"
            }
        };
        unknown(command, payload)
    }

    /// The answer in a frame of `command` with `payload` (what a client reads); `None`
    /// when the command is no BIP157 answer.
    pub fn decode(command: &str, payload: &[u8]) -> Option<Result<FilterReply, DecodeError>> {
        let mut r = Reader::new(payload);
        let hashes = |r: &mut Reader<'_>, what: &'static str, limit: usize| {
            let start = r.clone();
            let count = r.read_count(what, 32)?;
            if count > limit {
                return Err(start.error(
                    what,
                    DecodeErrorKind::TooLarge {
                        claimed: count as u64,
                        limit: limit as u64,
                    },
                ));
            }
            (0..count)
                .map(|_| Hash256::decode(r))
                .collect::<Result<Vec<_>, _>>()
        };
        let reply = match command {
            "cfilter" => (|| {
                let filter_type = r.read_u8("filter type")?;
                let block_hash = Hash256::decode(&mut r)?;
                let filter = r.read_var_bytes("filter")?;
                if filter.len() > MAX_FILTER_BYTES {
                    return Err(r.error(
                        "filter",
                        DecodeErrorKind::TooLarge {
                            claimed: filter.len() as u64,
                            limit: MAX_FILTER_BYTES as u64,
                        },
                    ));
                }
                r.finish("cfilter")?;
                Ok(FilterReply::CFilter {
                    filter_type,
                    block_hash,
                    filter,
                })
            })(),
            "cfheaders" => (|| {
                let filter_type = r.read_u8("filter type")?;
                let stop_hash = Hash256::decode(&mut r)?;
                let previous_filter_header = Hash256::decode(&mut r)?;
                let filter_hashes =
                    hashes(&mut r, "filter hashes", MAX_GETCFHEADERS_SIZE as usize)?;
                r.finish("cfheaders")?;
                Ok(FilterReply::CFHeaders {
                    filter_type,
                    stop_hash,
                    previous_filter_header,
                    filter_hashes,
                })
            })(),
            "cfcheckpt" => (|| {
                let filter_type = r.read_u8("filter type")?;
                let stop_hash = Hash256::decode(&mut r)?;
                let filter_headers = hashes(&mut r, "filter headers", MAX_CHECKPOINTS)?;
                r.finish("cfcheckpt")?;
                Ok(FilterReply::CFCheckpt {
                    filter_type,
                    stop_hash,
                    filter_headers,
                })
            })(),
            _ => return None,
        };
        Some(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip_request(request: FilterRequest) {
        let Message::Unknown { command, payload } = request.message() else {
            panic!("a BIP157 message travels as an unknown command");
        };
        let decoded = FilterRequest::decode(command.as_str(), &payload)
            .unwrap()
            .unwrap();
        assert_eq!(decoded, request);
    }

    fn roundtrip_reply(reply: FilterReply) {
        let Message::Unknown { command, payload } = reply.message() else {
            panic!("a BIP157 message travels as an unknown command");
        };
        let decoded = FilterReply::decode(command.as_str(), &payload)
            .unwrap()
            .unwrap();
        assert_eq!(decoded, reply);
    }

    #[test]
    fn messages_roundtrip_with_bip157_layouts() {
        let hash = Hash256([7; 32]);
        let request = FilterRequest::GetCFilters {
            filter_type: 0,
            start_height: 5,
            stop_hash: hash,
        };
        // filter type, start height (u32 LE), stop hash: 37 bytes.
        let Message::Unknown { payload, .. } = request.message() else {
            unreachable!()
        };
        assert_eq!(payload.len(), 37);
        assert_eq!(&payload[..5], &[0, 5, 0, 0, 0]);
        roundtrip_request(request);
        roundtrip_request(FilterRequest::GetCFHeaders {
            filter_type: 0,
            start_height: 1,
            stop_hash: hash,
        });
        roundtrip_request(FilterRequest::GetCFCheckpt {
            filter_type: 0,
            stop_hash: hash,
        });
        roundtrip_reply(FilterReply::CFilter {
            filter_type: 0,
            block_hash: hash,
            filter: vec![1, 2, 3],
        });
        roundtrip_reply(FilterReply::CFHeaders {
            filter_type: 0,
            stop_hash: hash,
            previous_filter_header: Hash256([1; 32]),
            filter_hashes: vec![Hash256([2; 32]), Hash256([3; 32])],
        });
        roundtrip_reply(FilterReply::CFCheckpt {
            filter_type: 0,
            stop_hash: hash,
            filter_headers: vec![Hash256([4; 32])],
        });
    }

    #[test]
    fn malformed_and_other_commands() {
        assert!(FilterRequest::decode("getcfilters", &[0; 36])
            .unwrap()
            .is_err());
        assert!(FilterRequest::decode("getcfcheckpt", &[0; 34])
            .unwrap()
            .is_err());
        assert!(FilterRequest::decode("ping", &[0; 8]).is_none());
        // A cfheaders claiming more hashes than 2,000.
        let mut payload = vec![0u8; 65];
        write_compact_size(&mut payload, 2001);
        payload.extend(std::iter::repeat_n(0u8, 2001 * 32));
        assert!(FilterReply::decode("cfheaders", &payload).unwrap().is_err());
    }
}
