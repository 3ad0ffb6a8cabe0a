//! The help of the blockchain methods: a description, then a `Result:` section in
//! Bitcoin Core's layout describing what each method here returns (Core's wording where
//! the answer is Core's).

pub(crate) const GETBLOCKCOUNT: &str = r#"Returns the height of the most-work fully-validated chain.
The genesis block has height 0.

Result:
n    (numeric) The current block count"#;

pub(crate) const GETBESTBLOCKHASH: &str = r#"Returns the hash of the best (tip) block in the most-work fully-validated chain.

Result:
"hex"    (string) the block hash, hex-encoded"#;

pub(crate) const GETBLOCKCHAININFO: &str = r#"Returns an object containing various state info regarding blockchain processing.

Result:
{                                         (json object)
  "chain" : "str",                        (string) current network name (the chain spec's: regtest, dev, testnet, ...)
  "blocks" : n,                           (numeric) the height of the most-work fully-validated chain. The genesis block has height 0
  "headers" : n,                          (numeric) the current number of headers we have validated
  "bestblockhash" : "hex",                (string) the hash of the currently best block
  "difficulty" : n,                       (numeric) the current difficulty
  "time" : xxx,                           (numeric) The block time expressed in UNIX epoch time
  "mediantime" : xxx,                     (numeric) The median block time expressed in UNIX epoch time
  "verificationprogress" : n,             (numeric) estimate of verification progress [0..1] (blocks / headers)
  "initialblockdownload" : true|false,    (boolean) (debug information) estimate of whether this node is in Initial Block Download mode
  "chainwork" : "hex",                    (string) total amount of work in active chain, in hexadecimal
  "size_on_disk" : n,                     (numeric) the estimated size of the block and undo files on disk
  "pruned" : true|false,                  (boolean) if the blocks are subject to pruning
  "addressindex" : true|false,            (boolean) This node's addition: whether the address index ([chain] address_index) is kept
  "pruneheight" : n,                      (numeric, optional) height of the last block pruned, plus one (only present if pruning is enabled)
  "automatic_pruning" : true|false,       (boolean, optional) whether automatic pruning is enabled (only present if pruning is enabled)
  "keep_blocks" : n,                      (numeric, optional) This node's addition: the number of recent blocks kept ([chain] keep_blocks; only present if pruning is enabled)
  "warnings" : "str"                      (string) any network and blockchain warnings (always empty here)
}"#;

pub(crate) const GETCHAININFO: &str = r#"This node's own method: the consensus constants in effect, from the chain spec (built-in or file) this node runs.

Result:
{                                   (json object)
  "chain" : "str",                  (string) The chain spec's name
  "description" : "str",            (string) What the chain is for, in one line
  "genesis" : "hex",                (string) The hash of the genesis block
  "magic" : "hex",                  (string) The 4 bytes that start every P2P message
  "p2p_port" : n,                   (numeric) The default P2P port
  "rpc_port" : n,                   (numeric) The default JSON-RPC port
  "address_version" : n,            (numeric) The version byte of P2PKH addresses
  "wif_version" : n,                (numeric) The version byte of private keys in WIF
  "initial_subsidy" : n,            (numeric) The block subsidy at height 0, in BTC
  "subsidy" : n,                    (numeric) The subsidy of the next block, in BTC
  "halving_interval" : n,           (numeric) Blocks between halvings of the subsidy
  "coinbase_maturity" : n,          (numeric) Confirmations before a coinbase output can be spent
  "target_spacing" : n,             (numeric) The target time between blocks, in seconds
  "retarget_window" : n,            (numeric) Blocks between difficulty adjustments (0: never adjusted)
  "pow_limit_bits" : "hex",         (string) The easiest target allowed, in compact form
  "max_block_size" : n,             (numeric) The largest block allowed, in bytes
  "default_assume_valid" : "hex"    (string) The block whose ancestors' scripts are not checked by default ("0": none)
}"#;

pub(crate) const GETBLOCKHEADER: &str = r#"If verbose is false, returns a string that is serialized, hex-encoded data for blockheader 'hash'.
If verbose is true, returns an Object with information about blockheader <hash>.

Result (for verbose = true):
{                                 (json object)
  "hash" : "hex",                 (string) the block hash (same as provided)
  "confirmations" : n,            (numeric) The number of confirmations, or -1 if the block is not on the main chain
  "height" : n,                   (numeric) The block height or index
  "version" : n,                  (numeric) The block version
  "versionHex" : "hex",           (string) The block version formatted in hexadecimal
  "merkleroot" : "hex",           (string) The merkle root
  "time" : xxx,                   (numeric) The block time expressed in UNIX epoch time
  "mediantime" : xxx,             (numeric) The median block time expressed in UNIX epoch time
  "nonce" : n,                    (numeric) The nonce
  "bits" : "hex",                 (string) The bits
  "difficulty" : n,               (numeric) The difficulty
  "chainwork" : "hex",            (string) Expected number of hashes required to produce the current chain
  "nTx" : n,                      (numeric) The number of transactions in the block
  "previousblockhash" : "hex",    (string, optional) The hash of the previous block (if available)
  "nextblockhash" : "hex"         (string, optional) The hash of the next block (if available)
}

Result (for verbose=false):
"hex"    (string) A string that is serialized, hex-encoded data for block 'hash'"#;

pub(crate) const GETBLOCK: &str = r#"If verbosity is 0, returns a string that is serialized, hex-encoded data for block 'hash'.
If verbosity is 1, returns an Object with information about block <hash>.
If verbosity is 2, returns an Object with information about block <hash> and information about each transaction.

Result (for verbosity = 0):
"hex"    (string) A string that is serialized, hex-encoded data for block 'hash'

Result (for verbosity = 1):
{                                 (json object)
  "hash" : "hex",                 (string) the block hash (same as provided)
  "confirmations" : n,            (numeric) The number of confirmations, or -1 if the block is not on the main chain
  "size" : n,                     (numeric) The block size
  "strippedsize" : n,             (numeric) The block size excluding witness data (the size: no witness data here)
  "weight" : n,                   (numeric) The block weight (size * 4)
  "height" : n,                   (numeric) The block height or index
  "version" : n,                  (numeric) The block version
  "versionHex" : "hex",           (string) The block version formatted in hexadecimal
  "merkleroot" : "hex",           (string) The merkle root
  "tx" : [                        (json array) The transaction ids
    "hex",                        (string) The transaction id
    ...
  ],
  "time" : xxx,                   (numeric) The block time expressed in UNIX epoch time
  "mediantime" : xxx,             (numeric) The median block time expressed in UNIX epoch time
  "nonce" : n,                    (numeric) The nonce
  "bits" : "hex",                 (string) The bits
  "difficulty" : n,               (numeric) The difficulty
  "chainwork" : "hex",            (string) Expected number of hashes required to produce the chain up to this block (in hex)
  "nTx" : n,                      (numeric) The number of transactions in the block
  "previousblockhash" : "hex",    (string, optional) The hash of the previous block (if available)
  "nextblockhash" : "hex"         (string, optional) The hash of the next block (if available)
}

Result (for verbosity = 2):
{             (json object)
  ...,        Same output as verbosity = 1
  "tx" : [    (json array)
    {         (json object)
      ...,    The transaction's fields, as decoderawtransaction gives them. Different from verbosity = 1 "tx" result
      "hex" : "hex"    (string) The serialized, hex-encoded data for the transaction
    },
    ...
  ]
}"#;

pub(crate) const GETDIFFICULTY: &str = r#"Returns the proof-of-work difficulty as a multiple of the minimum difficulty.

Result:
n    (numeric) the proof-of-work difficulty as a multiple of the minimum difficulty."#;

pub(crate) const GETCHAINTIPS: &str = r#"Return information about all known tips in the block tree, including the main chain as well as orphaned branches.

Result:
[                        (json array)
  {                      (json object)
    "height" : n,        (numeric) height of the chain tip
    "hash" : "hex",      (string) block hash of the tip
    "branchlen" : n,     (numeric) zero for main chain, otherwise length of branch connecting the tip to the main chain
    "status" : "str"     (string) status of the chain, "active" for the main chain
                         Possible values for status:
                         1.  "invalid"               This branch contains at least one invalid block
                         2.  "headers-only"          Not all blocks for this branch are available, but the headers are valid
                         3.  "valid-fork"            This branch is not part of the active chain, but is fully validated
                         4.  "active"                This is the tip of the active main chain, which is certainly valid
  },
  ...
]"#;

pub(crate) const GETTXOUTSETINFO: &str = r#"Returns statistics about the unspent transaction output set.
hash_serialized is a SHA-256 of every record, which two nodes on the same tip agree on.
Note this call may take some time: it walks the whole set.

Result:
{                                 (json object)
  "height" : n,                   (numeric) The block height (index) of the returned statistics
  "bestblock" : "hex",            (string) The hash of the block at which these statistics are calculated
  "txouts" : n,                   (numeric) The number of unspent transaction outputs
  "bogosize" : n,                 (numeric) Database-independent, meaningless metric indicating the UTXO set size
  "hash_serialized" : "hex",      (string) The serialized hash of the UTXO set (this node's own, not Core's hash_serialized_3)
  "total_amount" : n,             (numeric) The total amount of coins in the UTXO set
  "transactions" : n,             (numeric) The number of transactions with unspent outputs
  "disk_size" : n                 (numeric) The estimated size of the chain state on disk
}"#;

pub(crate) const GETCHAINTXSTATS: &str = r#"Compute statistics about the total number and rate of transactions in the chain, over the nblocks blocks (default: one month of target spacing) ending at blockhash (default: the tip).

Result:
{                                       (json object)
  "time" : xxx,                         (numeric) The timestamp for the final block in the window, expressed in UNIX epoch time
  "txcount" : n,                        (numeric) The total number of transactions in the chain up to that point
  "window_final_block_hash" : "hex",    (string) The hash of the final block in the window
  "window_final_block_height" : n,      (numeric) The height of the final block in the window.
  "window_block_count" : n,             (numeric) Size of the window in number of blocks
  "window_tx_count" : n,                (numeric, optional) The number of transactions in the window. Only returned if "window_block_count" is > 0
  "window_interval" : n,                (numeric, optional) The elapsed time in the window in seconds. Only returned if "window_block_count" is > 0
  "txrate" : n                          (numeric, optional) The average rate of transactions per second in the window. Only returned if "window_interval" is > 0
}"#;

pub(crate) const GETDEPLOYMENTINFO: &str = r#"Returns an object containing various state info regarding deployments of consensus changes at blockhash (default: the tip). These chains have none.

Result:
{                                    (json object)
  "hash" : "hex",                    (string) requested block hash (or tip)
  "height" : n,                      (numeric) requested block height (or tip)
  "deployments" : {                  (json object) Empty: these chains have no soft-fork deployments
  }
}"#;

pub(crate) const GETINDEXINFO: &str = r#"Returns the status of one or all available indices currently running in the node (txindex, basic block filter index, addressindex).

Result:
{                               (json object)
  "name" : {                    (json object) The name of the index
    "synced" : true|false,      (boolean) Whether the index is synced or not
    "best_block_height" : n     (numeric) The block height to which the index is synced
  },
  ...
}"#;

pub(crate) const PRUNEBLOCKCHAIN: &str = r#"Pruning is automatic here ([chain] keep_blocks): answers the height pruned up to; error -1 when the node does not prune.

Result:
n    (numeric) Height of the last block pruned"#;

pub(crate) const DECODERAWTRANSACTION: &str = concat!(
    r#"Return a JSON object representing the serialized, hex-encoded transaction.

Result:
{                           (json object)
"#,
    node_api::tx_result_fields!(),
    "\n}"
);

pub(crate) const GETBLOCKSTATS: &str = r#"Compute per block statistics for a given window. All amounts are in satoshis.
It won't work for some heights with pruning (the block and its undo data are needed).

Result:
{                              (json object)
  "avgfee" : n,                (numeric, optional) Average fee in the block
  "avgfeerate" : n,            (numeric, optional) Average feerate (in satoshis per virtual byte)
  "avgtxsize" : n,             (numeric, optional) Average transaction size
  "blockhash" : "hex",       (string, optional) The block hash (to check for potential reorgs)
  "feerate_percentiles" : [    (json array, optional) Feerates at the 10th, 25th, 50th, 75th, and 90th percentile weight unit (in satoshis per virtual byte)
    n,                         (numeric) The 10th percentile feerate
    n,                         (numeric) The 25th percentile feerate
    n,                         (numeric) The 50th percentile feerate
    n,                         (numeric) The 75th percentile feerate
    n                          (numeric) The 90th percentile feerate
  ],
  "height" : n,                (numeric, optional) The height of the block
  "ins" : n,                   (numeric, optional) The number of inputs (excluding coinbase)
  "maxfee" : n,                (numeric, optional) Maximum fee in the block
  "maxfeerate" : n,            (numeric, optional) Maximum feerate (in satoshis per virtual byte)
  "maxtxsize" : n,             (numeric, optional) Maximum transaction size
  "medianfee" : n,             (numeric, optional) Truncated median fee in the block
  "mediantime" : n,            (numeric, optional) The block median time past
  "mediantxsize" : n,          (numeric, optional) Truncated median transaction size
  "minfee" : n,                (numeric, optional) Minimum fee in the block
  "minfeerate" : n,            (numeric, optional) Minimum feerate (in satoshis per virtual byte)
  "mintxsize" : n,             (numeric, optional) Minimum transaction size
  "outs" : n,                  (numeric, optional) The number of outputs
  "subsidy" : n,               (numeric, optional) The block subsidy
  "swtotal_size" : n,          (numeric, optional) Total size of all segwit transactions (always 0 here: no witness)
  "swtotal_weight" : n,        (numeric, optional) Total weight of all segwit transactions (always 0 here)
  "swtxs" : n,                 (numeric, optional) The number of segwit transactions (always 0 here)
  "time" : n,                  (numeric, optional) The block time
  "total_out" : n,             (numeric, optional) Total amount in all outputs (excluding coinbase and thus reward [ie subsidy + totalfee])
  "total_size" : n,            (numeric, optional) Total size of all non-coinbase transactions
  "total_weight" : n,          (numeric, optional) Total weight of all non-coinbase transactions
  "totalfee" : n,              (numeric, optional) The fee total
  "txs" : n,                   (numeric, optional) The number of transactions (including coinbase)
  "utxo_increase" : n,         (numeric, optional) The increase/decrease in the number of unspent outputs (not discounting op_return and similar)
  "utxo_size_inc" : n,         (numeric, optional) The increase/decrease in size for the utxo index (not discounting op_return and similar)
  "utxo_increase_actual" : n,  (numeric, optional) The increase/decrease in the number of unspent outputs, not counting unspendables
  "utxo_size_inc_actual" : n   (numeric, optional) The increase/decrease in size for the utxo index, not counting unspendables
}"#;

pub(crate) const GETBLOCKFILTER: &str = r#"Retrieve a BIP 157 content filter for a particular block (needs [chain] block_filter_index).

Result:
{                      (json object)
  "filter" : "hex",    (string) the hex-encoded filter data
  "header" : "hex"     (string) the hex-encoded filter header
}"#;
