//! BIP157 serving: `getcfilters`, `getcfheaders` and `getcfcheckpt` answered from the
//! chain's block filter index, with NODE_COMPACT_FILTERS advertised while the index is on
//! and `[peers] block_filters` allows it.
//!
//! Limits and answers follow Bitcoin Core's `PrepareBlockFilterRequest`: a filter type
//! other than basic (or any request while we do not serve filters: the index is off or
//! `[peers] block_filters = false`), a stop hash not on our
//! main chain, a start height above the stop block's, or more than 1,000 filters
//! (`getcfilters`) or 2,000 hashes (`getcfheaders`) disconnects the peer, without a ban.
//! A request the index cannot answer yet (it is still being built over a stored chain,
//! or a block's filter bytes were pruned) gets no answer, as Core gives none; Core, too,
//! advertises the service while its index is building.

use node_api::chain::Hash256;
use node_p2p::{
    FilterReply, FilterRequest, CFCHECKPT_INTERVAL, MAX_GETCFHEADERS_SIZE, MAX_GETCFILTERS_SIZE,
    NODE_COMPACT_FILTERS,
};

use crate::peer::Peer;
use crate::peers::Peers;

/// BIP157's basic filter type.
const BASIC: u8 = 0;

impl Peers {
    /// Whether this node serves BIP157 filters (and so advertises NODE_COMPACT_FILTERS).
    pub(crate) fn serves_filters(&self) -> bool {
        self.settings.block_filters && self.chain.filter_index_info().is_some()
    }

    /// The NODE_COMPACT_FILTERS bit when we serve filters.
    pub(crate) fn filter_services(&self) -> u64 {
        if self.serves_filters() {
            NODE_COMPACT_FILTERS
        } else {
            0
        }
    }

    /// Answers one BIP157 request (see the module doc for what disconnects).
    pub(crate) async fn serve_filter_request(&self, peer: &Peer, request: FilterRequest) {
        match request {
            FilterRequest::GetCFilters {
                filter_type,
                start_height,
                stop_hash,
            } => {
                let Some(stop_height) = self.prepare_filter_request(
                    peer,
                    filter_type,
                    start_height,
                    &stop_hash,
                    MAX_GETCFILTERS_SIZE,
                ) else {
                    return;
                };
                // Streamed, one filter read and queued at a time (the send buffer
                // paces it), so a request holds one filter in memory, not a thousand.
                // The index covers a contiguous run of heights from genesis, and pruning
                // drops the filters of a contiguous run from height 1 (genesis keeps
                // its): when the first, the first above genesis and the last are there,
                // so is every one between, and a request the index cannot answer whole
                // gets no answer at all, as in Core.
                let first_above_genesis = start_height.max(1).min(stop_height);
                for height in [start_height, first_above_genesis, stop_height] {
                    let readable = self
                        .stored_filter_at(height)
                        .is_some_and(|(_, stored)| stored.filter.is_some());
                    if !readable {
                        return self.cannot_answer(peer, "getcfilters", height);
                    }
                }
                for height in start_height..=stop_height {
                    let Some((hash, stored)) = self.stored_filter_at(height) else {
                        return self.cannot_answer(peer, "getcfilters", height);
                    };
                    let Some(filter) = stored.filter else {
                        return self.cannot_answer(peer, "getcfilters", height);
                    };
                    // A reorganisation meanwhile ends the answer rather than mix chains.
                    if !self.still_main(&stop_hash, stop_height) {
                        return self.cannot_answer(peer, "getcfilters", height);
                    }
                    let reply = FilterReply::CFilter {
                        filter_type,
                        block_hash: hash,
                        filter: filter.bytes,
                    };
                    if !self.queue_wait(peer, &reply.message()).await {
                        return;
                    }
                }
            }
            FilterRequest::GetCFHeaders {
                filter_type,
                start_height,
                stop_hash,
            } => {
                let Some(stop_height) = self.prepare_filter_request(
                    peer,
                    filter_type,
                    start_height,
                    &stop_hash,
                    MAX_GETCFHEADERS_SIZE,
                ) else {
                    return;
                };
                let previous_filter_header = match start_height.checked_sub(1) {
                    None => Hash256::ZERO,
                    Some(height) => match self.stored_filter_at(height) {
                        Some((_, stored)) => stored.header,
                        None => return self.cannot_answer(peer, "getcfheaders", height),
                    },
                };
                let mut filter_hashes = Vec::new();
                for height in start_height..=stop_height {
                    match self.stored_filter_at(height) {
                        Some((_, stored)) => filter_hashes.push(stored.filter_hash),
                        None => return self.cannot_answer(peer, "getcfheaders", height),
                    }
                }
                if !self.still_main(&stop_hash, stop_height) {
                    return self.cannot_answer(peer, "getcfheaders", stop_height);
                }
                let reply = FilterReply::CFHeaders {
                    filter_type,
                    stop_hash,
                    previous_filter_header,
                    filter_hashes,
                };
                self.queue_wait(peer, &reply.message()).await;
            }
            FilterRequest::GetCFCheckpt {
                filter_type,
                stop_hash,
            } => {
                let Some(stop_height) =
                    self.prepare_filter_request(peer, filter_type, 0, &stop_hash, u32::MAX)
                else {
                    return;
                };
                let mut filter_headers = Vec::new();
                let mut height = CFCHECKPT_INTERVAL;
                while height <= stop_height {
                    match self.stored_filter_at(height) {
                        Some((_, stored)) => filter_headers.push(stored.header),
                        None => return self.cannot_answer(peer, "getcfcheckpt", height),
                    }
                    height += CFCHECKPT_INTERVAL;
                }
                if !self.still_main(&stop_hash, stop_height) {
                    return self.cannot_answer(peer, "getcfcheckpt", stop_height);
                }
                let reply = FilterReply::CFCheckpt {
                    filter_type,
                    stop_hash,
                    filter_headers,
                };
                self.queue_wait(peer, &reply.message()).await;
            }
        }
    }

    /// Core's `PrepareBlockFilterRequest`: the stop block's height, or `None` with the
    /// peer disconnected for a request it should not have made.
    fn prepare_filter_request(
        &self,
        peer: &Peer,
        filter_type: u8,
        start_height: u32,
        stop_hash: &Hash256,
        max_height_diff: u32,
    ) -> Option<u32> {
        if filter_type != BASIC || !self.serves_filters() {
            peer.close(format!(
                "requested unsupported block filter type {filter_type}"
            ));
            return None;
        }
        let stop = self
            .chain
            .entry(stop_hash)
            .filter(|_| self.chain.is_main(stop_hash));
        let Some(stop) = stop else {
            peer.close(format!(
                "requested block filters up to {stop_hash}, not on our main chain"
            ));
            return None;
        };
        if start_height > stop.height {
            peer.close(format!(
                "requested block filters from height {start_height} above the stop height {}",
                stop.height
            ));
            return None;
        }
        if stop.height - start_height >= max_height_diff {
            peer.close(format!(
                "requested {} block filters or filter hashes, at most {max_height_diff}",
                u64::from(stop.height - start_height) + 1
            ));
            return None;
        }
        Some(stop.height)
    }

    /// Whether `stop_hash` is still the main-chain block at `stop_height`: a
    /// reorganisation while the answer was read would mix two chains in it.
    fn still_main(&self, stop_hash: &Hash256, stop_height: u32) -> bool {
        self.chain.hash_at(stop_height) == Some(*stop_hash)
    }

    /// The main-chain block at `height` and what the index holds for it.
    fn stored_filter_at(&self, height: u32) -> Option<(Hash256, node_api::chain::StoredFilter)> {
        let hash = self.chain.hash_at(height)?;
        match self.chain.block_filter(&hash) {
            Ok(stored) => stored.map(|s| (hash, s)),
            Err(error) => {
                tracing::warn!(block = %hash, %error, "cannot read a block filter to serve");
                None
            }
        }
    }

    /// Core answers nothing when its index lacks what was asked (still building, or, here,
    /// pruned filter bytes); the client asks another peer or again later.
    fn cannot_answer(&self, peer: &Peer, command: &str, height: u32) {
        tracing::debug!(peer = %peer.id, command, height, "block filter index cannot answer yet; no reply");
    }
}
