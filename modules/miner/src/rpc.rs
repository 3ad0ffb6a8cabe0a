//! Mining RPC methods, with Bitcoin Core's names and result fields.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use node_api::chain::pow::difficulty;
use node_api::chain::ChainSpec;
use node_api::rpc::{codes, Param, RpcError, RpcParams};
use node_api::{BoxError, ChainView, MempoolService, MinerService, StartContext};
use primitive_types::U256;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::worker::{Control, GenerateRequest};

const NONE: &[Param] = &[];
const GENERATE: &[Param] = &[
    Param::required("nblocks"),
    Param::required("address"),
    Param::optional("maxtries"),
];
const SETGENERATE: &[Param] = &[
    Param::required("generate"),
    Param::optional("genproclimit"),
    Param::optional("address"),
];
/// Bitcoin Core's getnetworkhashps default window.
const HASHPS_WINDOW: u32 = 120;

pub(crate) fn register(
    ctx: &StartContext,
    control: Arc<Control>,
    chain: Arc<dyn ChainView>,
    mempool: Arc<dyn MempoolService>,
    spec: &'static ChainSpec,
) -> Result<(), BoxError> {
    {
        let (control, chain) = (control.clone(), chain.clone());
        ctx.rpc().register(
            ctx.module(),
            "getmininginfo",
            NONE,
            "Mining state: blocks, difficulty, network and local hash rates, pooled transactions.",
            move |_| {
                let (control, chain, mempool) = (control.clone(), chain.clone(), mempool.clone());
                async move {
                    let tip = chain.tip();
                    Ok(json!({
                        "blocks": tip.height,
                        "difficulty": difficulty(tip.header.bits),
                        "networkhashps": network_hash_ps(&*chain),
                        "localhashps": control.hash_rate(),
                        "pooledtx": mempool.info().size,
                        "generate": control.is_generating(),
                        "blocksfound": control.blocks_found.load(Ordering::Relaxed),
                        "chain": chain.spec().name,
                        "warnings": "",
                    }))
                }
            },
        )?;
    }
    {
        let control = control.clone();
        ctx.rpc().register(
            ctx.module(),
            "generatetoaddress",
            GENERATE,
            "Mines nblocks blocks paying address at once (regtest only); returns their hashes.",
            move |p: RpcParams| {
                let control = control.clone();
                async move {
                    if spec.name != "regtest" {
                        return Err(RpcError::new(
                            codes::METHOD_DEPRECATED_OR_UNAVAILABLE,
                            "generatetoaddress is only available on regtest",
                        ));
                    }
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
    ctx.rpc().register(
        ctx.module(),
        "setgenerate",
        SETGENERATE,
        "Switches continuous mining on (true) or off (false). genproclimit is accepted and \
         ignored (threads come from [miner] threads); address, if given, receives the \
         rewards from now on (an extension of Core's old setgenerate).",
        move |p: RpcParams| {
            let control = control.clone();
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
                control.set_generate(on, payout);
                Ok(Value::Null)
            }
        },
    )?;
    Ok(())
}

/// Work done over the last blocks divided by the time they took, as Core's
/// getnetworkhashps.
fn network_hash_ps(chain: &dyn ChainView) -> f64 {
    let tip = chain.tip();
    let back = tip.height.min(HASHPS_WINDOW);
    if back == 0 {
        return 0.0;
    }
    let Some(start) = chain
        .hash_at(tip.height - back)
        .and_then(|h| chain.entry(&h))
    else {
        return 0.0;
    };
    let seconds = tip.header.time.saturating_sub(start.header.time).max(1);
    let work: U256 = tip.chain_work - start.chain_work;
    // Work fits f64's range easily; precision beyond 53 bits does not matter for a rate.
    let work = work.to_string().parse::<f64>().unwrap_or(0.0);
    work / f64::from(seconds)
}
