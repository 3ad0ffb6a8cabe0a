//! Wallet RPC methods over keys, with Bitcoin Core's names and codes: encryption
//! (`encryptwallet`, `walletpassphrase`, `walletlock`, `walletpassphrasechange`), key
//! export and import (`dumpprivkey`, `importprivkey`) and `backupwallet`.
//!
//! No passphrase or key is ever logged or put in an error message.

use std::path::PathBuf;
use std::sync::Arc;

use node_api::chain::PrivateKey;
use node_api::rpc::{codes, Param, RpcError, RpcParams};
use node_api::{BoxError, MethodEntry, RunOn, StartContext};
use serde_json::{json, Value};

use crate::wallet::Wallet;

/// Core's MAX_SLEEP_TIME: a longer unlock is cut to this (about 3 years).
const MAX_UNLOCK_SECONDS: i64 = 100_000_000;

const ENCRYPT: &[Param] = &[Param::required("passphrase")
    .string("The pass phrase to encrypt the wallet with. It must be at least 1 character, but should be long.")];
const UNLOCK: &[Param] = &[
    Param::required("passphrase").string("The wallet passphrase"),
    Param::required("timeout")
        .numeric("The time to keep the decryption key in seconds; capped at 100000000 (~3 years)."),
];
const CHANGE: &[Param] = &[
    Param::required("oldpassphrase").string("The current passphrase"),
    Param::required("newpassphrase").string("The new passphrase"),
];
const NONE: &[Param] = &[];
const DUMP: &[Param] =
    &[Param::required("address").string("The bitcoin address for the private key")];
const IMPORT: &[Param] = &[
    Param::required("privkey").string("The private key (see dumpprivkey)"),
    Param::optional("label")
        .string("An optional label, default current label if address exists, otherwise \"\""),
    Param::optional("rescan")
        .boolean("Scan the chain (through the address index) for the key's unspent outputs and the transactions that made them, default true"),
];
const BACKUP: &[Param] = &[
    Param::required("destination").string("The destination file (a path on the node's machine)")
];

/// Registered at start, and listed as they are in the factory's `methods`.
pub(crate) const METHODS: &[MethodEntry<Wallet>] = &[
    ("encryptwallet", ENCRYPT, "Encrypts the wallet with 'passphrase' (Argon2id, then ChaCha20-Poly1305); the wallet is left locked, so walletpassphrase must be called before sending or making addresses.\n\nResult:\n\"str\"    (string) A string with further instructions", encryptwallet),
    ("walletpassphrase", UNLOCK, "Stores the wallet decryption key in memory for 'timeout' seconds; a later call replaces the timeout.\n\nResult:\nnull    (json null)", walletpassphrase),
    ("walletlock", NONE, "Removes the wallet encryption key from memory, locking the wallet.\n\nResult:\nnull    (json null)", walletlock),
    ("walletpassphrasechange", CHANGE, "Changes the wallet passphrase from 'oldpassphrase' to 'newpassphrase'.\n\nResult:\nnull    (json null)", walletpassphrasechange),
    ("dumpprivkey", DUMP, "Reveals the private key corresponding to 'address' (WIF); the wallet must be unlocked.\n\nResult:\n\"str\"    (string) The private key", dumpprivkey),
    ("importprivkey", IMPORT, "Adds a private key (as returned by dumpprivkey) to the wallet; with rescan, finds its unspent outputs through the chain's address index and records the transactions that made them.\n\nResult:\nnull    (json null)", importprivkey),
    ("backupwallet", BACKUP, "Safely copies the wallet file to destination (mode 0600; an encrypted wallet stays encrypted).\n\nResult:\nnull    (json null)", backupwallet),
];

pub(crate) fn register(ctx: &StartContext, wallet: &Arc<Wallet>) -> Result<(), BoxError> {
    ctx.register_methods(wallet, RunOn::Blocking, METHODS)
}

/// A passphrase parameter; never echoed back.
fn passphrase(p: &RpcParams, index: usize) -> Result<String, RpcError> {
    let text: String = p.required(index)?;
    if text.is_empty() {
        return Err(RpcError::invalid_parameter("passphrase can not be empty"));
    }
    Ok(text)
}

fn encryptwallet(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let pass = passphrase(&p, 0)?;
    w.encrypt(&pass).map_err(|e| e.to_rpc())?;
    Ok(json!(
        "wallet encrypted; the wallet is locked: call walletpassphrase before sending or making addresses. Back it up again: older backups hold the keys unencrypted."
    ))
}

fn walletpassphrase(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let pass: String = p.required(0)?;
    let timeout: i64 = p.required(1)?;
    if w.lock_state().is_none() {
        return Err(crate::WalletError::NotEncrypted("walletpassphrase").to_rpc());
    }
    if timeout < 0 {
        return Err(RpcError::invalid_parameter("Timeout cannot be negative."));
    }
    if pass.is_empty() {
        return Err(RpcError::invalid_parameter("passphrase can not be empty"));
    }
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|e| RpcError::new(codes::INTERNAL_ERROR, e.to_string()))?;
    w.unlock(&pass, timeout.min(MAX_UNLOCK_SECONDS) as u64, &runtime)
        .map_err(|e| e.to_rpc())?;
    Ok(Value::Null)
}

fn walletlock(w: &Wallet, _: RpcParams) -> Result<Value, RpcError> {
    w.lock().map_err(|e| e.to_rpc())?;
    Ok(Value::Null)
}

fn walletpassphrasechange(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let old: String = p.required(0)?;
    let new: String = p.required(1)?;
    if w.lock_state().is_none() {
        return Err(crate::WalletError::NotEncrypted("walletpassphrasechange").to_rpc());
    }
    if old.is_empty() || new.is_empty() {
        return Err(RpcError::invalid_parameter("passphrase can not be empty"));
    }
    w.change_passphrase(&old, &new).map_err(|e| e.to_rpc())?;
    Ok(Value::Null)
}

fn dumpprivkey(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let text: String = p.required(0)?;
    let address = w
        .chain_spec_address(&text)
        .map_err(|_| RpcError::new(codes::INVALID_ADDRESS_OR_KEY, "Invalid Bitcoin address"))?;
    if !w.is_mine(&address) {
        return Err(RpcError::new(
            codes::WALLET_ERROR,
            format!("Private key for address {text} is not known"),
        ));
    }
    let key = w.private_key(&address).map_err(|e| e.to_rpc())?;
    Ok(json!(key.to_wif(w.chain.spec().wif_version)))
}

fn importprivkey(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let wif: String = p.required(0)?;
    let label: String = p.optional(1)?.unwrap_or_default();
    let rescan: bool = p.optional(2)?.unwrap_or(true);
    if w.lock_state().is_some_and(|until| until == 0) {
        return Err(crate::WalletError::Locked.to_rpc());
    }
    // The error never repeats the key.
    let key = PrivateKey::from_wif(&wif, w.chain.spec().wif_version).map_err(|_| {
        RpcError::new(
            codes::INVALID_ADDRESS_OR_KEY,
            "Invalid private key encoding",
        )
    })?;
    w.import_key(key, &label, rescan).map_err(|e| e.to_rpc())?;
    Ok(Value::Null)
}

fn backupwallet(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let destination: String = p.required(0)?;
    w.backup(&PathBuf::from(&destination)).map_err(|e| {
        tracing::warn!("wallet backup to {destination} failed: {e}");
        RpcError::new(codes::WALLET_ERROR, "Error: Wallet backup failed!")
    })?;
    Ok(Value::Null)
}
