//! The help of the mempool methods: a description, then a `Result:` section in Bitcoin
//! Core's layout describing what each method here returns (Core's wording where the
//! answer is Core's).

pub(crate) const GETMEMPOOLINFO: &str = r#"Returns details on the active state of the TX memory pool.

Result:
{                            (json object)
  "loaded" : true|false,     (boolean) True if the initial load attempt of the persisted mempool finished (always, once the module runs)
  "size" : n,                (numeric) Current tx count
  "bytes" : n,               (numeric) Sum of all transaction sizes
  "usage" : n,               (numeric) Total memory usage for the mempool (counted as the bytes of its transactions)
  "maxmempool" : n,          (numeric) Maximum size of the mempool in bytes
  "orphans" : n,             (numeric) This node's addition: transactions held until their parents arrive
  "total_fee" : n,           (numeric) Total fees for the mempool in BTC, ignoring modified fees through prioritisetransaction
  "mempoolminfee" : n,       (numeric) Minimum fee rate in BTC/kvB for tx to be accepted. Is the maximum of minrelaytxfee and minimum mempool fee (raised when the pool trims, decaying after)
  "minrelaytxfee" : n        (numeric) Current minimum relay fee for transactions
}"#;

pub(crate) const GETRAWMEMPOOL: &str = r#"Returns all transaction ids in memory pool as a json array of string transaction ids.

Hint: use getmempoolentry to fetch a specific transaction from the mempool.

Result (for verbose = false):
[           (json array)
  "hex",    (string) The transaction id
  ...
]

Result (for verbose = true):
{                         (json object)
  "transactionid" : {     (json object)
    ...                   The entry's fields, as getmempoolentry gives them
  },
  ...
}"#;

pub(crate) const GETMEMPOOLENTRY: &str = r#"Returns mempool data for given transaction

Result:
{                         (json object)
  "wtxid" : "hex",        (string) hash of serialized transaction, including witness data (the txid: no witness data here)
  "vsize" : n,            (numeric) virtual transaction size (the serialized size: no witness data here)
  "weight" : n,           (numeric) transaction weight (size * 4)
  "time" : xxx,           (numeric) local time transaction entered pool in seconds since 1 Jan 1970 GMT
  "height" : n,           (numeric) block height when transaction entered pool
  "descendantcount" : n,  (numeric) number of in-mempool descendant transactions (including this one)
  "descendantsize" : n,   (numeric) virtual transaction size of in-mempool descendants (including this one)
  "ancestorcount" : n,    (numeric) number of in-mempool ancestor transactions (including this one)
  "ancestorsize" : n,     (numeric) virtual transaction size of in-mempool ancestors (including this one)
  "fees" : {              (json object)
    "base" : n,           (numeric) transaction fee, denominated in BTC
    "modified" : n,       (numeric) transaction fee with fee deltas used for mining priority, denominated in BTC
    "ancestor" : n,       (numeric) transaction fees of in-mempool ancestors (including this one), denominated in BTC
    "descendant" : n      (numeric) transaction fees of in-mempool descendants (including this one), denominated in BTC
  },
  "depends" : [           (json array) unconfirmed transactions used as inputs for this transaction
    "hex",                (string) parent transaction id
    ...
  ],
  "spentby" : [           (json array) unconfirmed transactions spending outputs from this transaction
    "hex",                (string) child transaction id
    ...
  ]
}"#;

pub(crate) const SENDRAWTRANSACTION: &str = r#"Submit a raw transaction (serialized, hex-encoded) to the mempool and the network.
A transaction already in the mempool is not an error: its txid is returned again.

Result:
"hex"    (string) The transaction hash in hex"#;

pub(crate) const GETMEMPOOLANCESTORS: &str = r#"If txid is in the mempool, returns all in-mempool ancestors.

Result (for verbose = false):
[           (json array)
  "hex",    (string) The transaction id of an in-mempool ancestor transaction
  ...
]

Result (for verbose = true):
{                         (json object)
  "transactionid" : {     (json object)
    ...                   The entry's fields, as getmempoolentry gives them
  },
  ...
}"#;

pub(crate) const GETMEMPOOLDESCENDANTS: &str = r#"If txid is in the mempool, returns all in-mempool descendants.

Result (for verbose = false):
[           (json array)
  "hex",    (string) The transaction id of an in-mempool descendant transaction
  ...
]

Result (for verbose = true):
{                         (json object)
  "transactionid" : {     (json object)
    ...                   The entry's fields, as getmempoolentry gives them
  },
  ...
}"#;

pub(crate) const GETTXOUT: &str = r#"Returns details about an unspent transaction output (confirmations 0 for an output of a mempool transaction). include_mempool (default true) counts the mempool's spends and outputs.

Result (If the UTXO was not found):
null    (json null)

Result (Otherwise):
{                             (json object)
  "bestblock" : "hex",        (string) The hash of the block at the tip of the chain
  "confirmations" : n,        (numeric) The number of confirmations
  "value" : n,                (numeric) The transaction value in BTC
  "scriptPubKey" : {          (json object)
    "asm" : "str",            (string) Disassembly of the public key script
    "hex" : "hex",            (string) The raw public key script bytes, hex-encoded
    "type" : "str",           (string) The type: 'pubkeyhash', 'nulldata' or 'nonstandard'
    "address" : "str"         (string, optional) The address (only for a pubkeyhash script)
  },
  "coinbase" : true|false     (boolean) Coinbase or not
}"#;

pub(crate) const PRIORITISETRANSACTION: &str = r#"Accepts the transaction into mined blocks at a higher (or lower) priority: block templates count fee_delta satoshis more (negative: less) for txid, pooled or not yet. The fee paid does not change. dummy must be 0 or null.

Result:
true|false    (boolean) Returns true"#;

pub(crate) const GETRAWTRANSACTION: &str = concat!(
    r#"Return the raw transaction data.
It is looked for in the block given by its hash, else in the mempool, else among the wallet's confirmed transactions or (with [chain] tx_index) any confirmed one.
If verbose is true, returns an Object with information about 'txid'; if false or omitted, the serialized, hex-encoded data.

Result (if verbose is not set or set to false):
"str"    (string) The serialized, hex-encoded data for 'txid'

Result (if verbose is set to true):
{                                    (json object)
  "in_active_chain" : true|false,    (boolean, optional) Whether specified block is in the active chain or not (only present with explicit "blockhash" argument)
  "blockhash" : "hex",               (string, optional) the block hash (absent for a mempool transaction)
  "confirmations" : n,               (numeric, optional) The confirmations
  "blocktime" : xxx,                 (numeric, optional) The block time expressed in UNIX epoch time
  "time" : n,                        (numeric, optional) Same as "blocktime"
  "hex" : "hex",                     (string) The serialized, hex-encoded data for 'txid'
"#,
    node_api::tx_result_fields!(),
    "\n}"
);

pub(crate) const SAVEMEMPOOL: &str = r#"Dumps the mempool to disk (mempool.dat in the data directory). It is also done at shutdown, and read at start, when [mempool] persist is on.

Result:
{                       (json object)
  "filename" : "str"    (string) the directory and file where the mempool was saved
}"#;
