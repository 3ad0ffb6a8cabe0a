//! Mining RPC methods, with Bitcoin Core's names and result fields.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use node_api::chain::pow::difficulty;
use node_api::chain::ChainSpec;
use node_api::rpc::{codes, Method, Param, RpcError, RpcParams};
use node_api::{BoxError, ChainView, MempoolService, MinerService, StartContext};
use primitive_types::U256;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::rpc_help;
use crate::worker::{Control, GenerateRequest};

const NONE: &[Param] = &[];
const GENERATE: &[Param] = &[
    Param::required("nblocks")
        .numeric("How many blocks are generated")
        .example("11"),
    Param::required("address").string("The address to send the newly generated coins to"),
    Param::optional("maxtries")
        .numeric("How many iterations to try (accepted for Core's clients)")
        .default("1000000"),
];
const SETGENERATE_PARAMS: &[Param] = &[
    Param::required("generate").boolean("true to mine continuously, false to stop"),
    Param::optional("genproclimit")
        .numeric("Accepted and ignored: threads come from [miner] threads"),
    Param::optional("address").string("The address to receive the rewards from now on"),
];
const NETWORKHASHPS: &[Param] = &[
    Param::optional("nblocks")
        .numeric("The number of previous blocks to calculate estimate from, or -1 for blocks since last difficulty change.")
        .default("120"),
    Param::optional("height")
        .numeric("To estimate at the time of the given height.")
        .default("-1"),
];
/// Bitcoin Core's getnetworkhashps default window.
const HASHPS_WINDOW: u32 = 120;

/// `getmininginfo`, registered at start and listed in the factory's `methods`.
pub(crate) const GETMININGINFO: Method = Method {
    name: "getmininginfo",
    params: NONE,
    help: rpc_help::GETMININGINFO,
};

/// `getnetworkhashps`, registered at start and listed in the factory's `methods`.
pub(crate) const GETNETWORKHASHPS: Method = Method {
    name: "getnetworkhashps",
    params: NETWORKHASHPS,
    help: rpc_help::GETNETWORKHASHPS,
};

/// `generatetoaddress`, registered at start and listed in the factory's `methods`.
pub(crate) const GENERATETOADDRESS: Method = Method {
    name: "generatetoaddress",
    params: GENERATE,
    help: rpc_help::GENERATETOADDRESS,
};

/// `setgenerate`, registered at start and listed in the factory's `methods`.
pub(crate) const SETGENERATE: Method = Method {
    name: "setgenerate",
    params: SETGENERATE_PARAMS,
    help: rpc_help::SETGENERATE,
};

pub(crate) fn register(
    ctx: &StartContext,
    control: Arc<Control>,
    chain: Arc<dyn ChainView>,
    mempool: Arc<dyn MempoolService>,
    spec: Arc<ChainSpec>,
) -> Result<(), BoxError> {
    {
        let (control, chain) = (control.clone(), chain.clone());
        ctx.register_method(&GETMININGINFO, move |_| {
            let (control, chain, mempool) = (control.clone(), chain.clone(), mempool.clone());
            async move {
                let tip = chain.tip();
                Ok(json!({
                    "blocks": tip.height,
                    "difficulty": difficulty(tip.header.bits),
                    "networkhashps": network_hash_ps(&*chain, HASHPS_WINDOW as i64, None),
                    "localhashps": control.hash_rate(),
                    "pooledtx": mempool.info().size,
                    "generate": control.is_generating(),
                    "blocksfound": control.blocks_found.load(Ordering::Relaxed),
                    "chain": chain.spec().name,
                    "warnings": "",
                }))
            }
        })?;
    }
    {
        let chain = chain.clone();
        ctx.register_method(&GETNETWORKHASHPS, move |p: RpcParams| {
            let chain = chain.clone();
            async move {
                let nblocks: i64 = p.optional(0)?.unwrap_or(i64::from(HASHPS_WINDOW));
                let height: i64 = p.optional(1)?.unwrap_or(-1);
                let tip = chain.tip().height;
                let height = if height < 0 {
                    None
                } else {
                    Some(
                        u32::try_from(height)
                            .ok()
                            .filter(|h| *h <= tip)
                            .ok_or_else(|| {
                                RpcError::invalid_parameter(
                                    "Block does not exist at specified height",
                                )
                            })?,
                    )
                };
                Ok(json!(network_hash_ps(&*chain, nblocks, height)))
            }
        })?;
    }
    {
        let (control, spec) = (control.clone(), spec.clone());
        ctx.register_method(
            &GENERATETOADDRESS,
            // Served on every chain, as Bitcoin Core does: on a chain with real difficulty
            // it simply takes as long as the work does.
            move |p: RpcParams| {
                let (control, spec) = (control.clone(), spec.clone());
                async move {
                    let count: u32 = p.required(0)?;
                    let text: String = p.required(1)?;
                    let address = spec.parse_address(&text).map_err(|e| {
                        RpcError::new(
                            codes::INVALID_ADDRESS_OR_KEY,
                            format!("Error: Invalid address {text}: {e}"),
                        )
                    })?;
                    let (reply, answer) = oneshot::channel();
                    control.request(GenerateRequest {
                        count,
                        payout: address.script_pubkey(),
                        reply,
                    });
                    let hashes = answer
                        .await
                        .map_err(|_| RpcError::misc("miner stopped"))?
                        .map_err(RpcError::misc)?;
                    Ok(json!(hashes
                        .iter()
                        .map(|h| h.to_string())
                        .collect::<Vec<_>>()))
                }
            },
        )?;
    }
    ctx.register_method(&SETGENERATE, move |p: RpcParams| {
        let (control, spec) = (control.clone(), spec.clone());
        async move {
            let on: bool = p.required(0)?;
            let payout = match p.optional::<String>(2)? {
                Some(text) => Some(
                    spec.parse_address(&text)
                        .map_err(|e| {
                            RpcError::new(
                                codes::INVALID_ADDRESS_OR_KEY,
                                format!("Invalid address {text}: {e}"),
                            )
                        })?
                        .script_pubkey(),
                ),
                None => None,
            };
            // Stopping waits for a found block to reach the chain: off the runtime.
            tokio::task::spawn_blocking(move || control.set_generate(on, payout))
                .await
                .map_err(|e| RpcError::new(codes::MISC_ERROR, e.to_string()))?;
            Ok(Value::Null)
        }
    })?;
    Ok(())
}

/// Work done over the `nblocks` blocks ending at `height` (the tip when `None`) divided
/// by the time they took, as Core's getnetworkhashps; `nblocks` of 0 or less counts back
/// to the last difficulty change.
fn network_hash_ps(chain: &dyn ChainView, nblocks: i64, height: Option<u32>) -> f64 {
    let height = height.unwrap_or_else(|| chain.tip().height);
    let Some(end) = chain.hash_at(height).and_then(|h| chain.entry(&h)) else {
        return 0.0;
    };
    let back = if nblocks <= 0 {
        // Without retargeting (regtest) the whole chain is one difficulty period.
        chain
            .spec()
            .retarget_window
            .map_or(height, |window| height % window.max(1) + 1)
    } else {
        u32::try_from(nblocks).unwrap_or(u32::MAX)
    };
    let back = height.min(back);
    if back == 0 {
        return 0.0;
    }
    let Some(start) = chain.hash_at(height - back).and_then(|h| chain.entry(&h)) else {
        return 0.0;
    };
    // Core divides by the spread of times over the window, not first and last alone.
    let mut min_time = start.header.time;
    let mut max_time = start.header.time;
    for h in height - back..=height {
        if let Some(entry) = chain.hash_at(h).and_then(|hash| chain.entry(&hash)) {
            min_time = min_time.min(entry.header.time);
            max_time = max_time.max(entry.header.time);
        }
    }
    if min_time == max_time {
        return 0.0;
    }
    let work: U256 = end.chain_work - start.chain_work;
    // Work fits f64's range easily; precision beyond 53 bits does not matter for a rate.
    let work = work.to_string().parse::<f64>().unwrap_or(0.0);
    work / f64::from(max_time - min_time)
}
