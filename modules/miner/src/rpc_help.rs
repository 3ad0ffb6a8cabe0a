//! The help of the mining methods: a description, then a `Result:` section in Bitcoin
//! Core's layout describing what each method here returns (Core's wording where the
//! answer is Core's).

pub(crate) const GETMININGINFO: &str = r#"Returns a json object containing mining-related information.

Result:
{                              (json object)
  "blocks" : n,                (numeric) The current block
  "difficulty" : n,            (numeric) The current difficulty
  "networkhashps" : n,         (numeric) The network hashes per second
  "localhashps" : n,           (numeric) This node's addition: the hashes per second of this node's own miner
  "pooledtx" : n,              (numeric) The size of the mempool
  "generate" : true|false,     (boolean) This node's addition: whether the miner is mining continuously (setgenerate)
  "blocksfound" : n,           (numeric) This node's addition: the blocks this node's miner found since start
  "chain" : "str",             (string) current network name (the chain spec's: regtest, dev, testnet, ...)
  "warnings" : "str"           (string) any network and blockchain warnings (always empty here)
}"#;

pub(crate) const GETNETWORKHASHPS: &str = r#"Returns the estimated network hashes per second based on the last n blocks (default 120; 0 or less: since the last difficulty change), ending at height (default -1: the tip).

Result:
n    (numeric) Hashes per second estimated"#;

pub(crate) const GENERATETOADDRESS: &str = r#"Mine blocks immediately to a specified address (regtest only).

Result:
[           (json array) hashes of blocks generated
  "hex",    (string) blockhash
  ...
]"#;

pub(crate) const SETGENERATE: &str = r#"Switches continuous mining on (true) or off (false). genproclimit is accepted and ignored (threads come from [miner] threads); address, if given, receives the rewards from now on (an extension of Core's old setgenerate).

Result:
null    (json null)"#;

pub(crate) const GETBLOCKTEMPLATE: &str = r#"If the request parameters include a 'mode' key, that is used to explicitly select between the default 'template' request or a 'proposal'.
It returns data needed to construct a block to work on (BIP22, BIP23): template_request is an object with "mode" ("template", the default, or "proposal" with "data", a block in hex, checked without being stored), "rules" (accepted whatever they list) and "longpollid" (waits until the tip or the mempool changes). The miner builds its coinbase from coinbasevalue and height.

Result (If the proposal was accepted with mode=='proposal'):
null    (json null)

Result (If the proposal was not accepted with mode=='proposal'):
"str"    (string) According to BIP22

Result (Otherwise):
{                                          (json object)
  "capabilities" : [                       (json array)
    "str",                                 (string) A supported feature: 'proposal'
    ...
  ],
  "version" : n,                           (numeric) The preferred block version
  "rules" : [                              (json array) specific block rules that are to be enforced (none here)
    "str",                                 (string) name of a rule the client must understand to some extent; see BIP 9 for format
    ...
  ],
  "vbavailable" : {                        (json object) set of pending, supported versionbit (BIP 9) softfork deployments (none here)
    "rulename" : n,                        (numeric) identifies the bit number as indicating acceptance and readiness for the named softfork rule
    ...
  },
  "vbrequired" : n,                        (numeric) bit mask of versionbits the server requires set in submissions
  "previousblockhash" : "str",             (string) The hash of current highest block
  "transactions" : [                       (json array) contents of non-coinbase transactions that should be included in the next block
    {                                      (json object)
      "data" : "hex",                      (string) transaction data encoded in hexadecimal (byte-for-byte)
      "txid" : "hex",                      (string) transaction id encoded in little-endian hexadecimal
      "hash" : "hex",                      (string) hash encoded in little-endian hexadecimal (the txid: no witness data here)
      "depends" : [                        (json array) array of numbers
        n,                                 (numeric) transactions before this one (by 1-based index in 'transactions' list) that must be present in the final block if this one is
        ...
      ],
      "fee" : n,                           (numeric) difference in value between transaction inputs and outputs (in satoshis)
      "sigops" : n,                        (numeric) total SigOps cost, as counted for purposes of block limits
      "weight" : n                         (numeric) total transaction weight, as counted for purposes of block limits
    },
    ...
  ],
  "coinbaseaux" : {                        (json object) data that should be included in the coinbase's scriptSig content (none here)
    "key" : "hex",                         (string) values must be in the coinbase (keys may be ignored)
    ...
  },
  "coinbasevalue" : n,                     (numeric) maximum allowable input to coinbase transaction, including the generation award and transaction fees (in satoshis)
  "longpollid" : "str",                    (string) an id to include with a request to longpoll on an update to this template
  "target" : "str",                        (string) The hash target
  "mintime" : xxx,                         (numeric) The minimum timestamp appropriate for the next block time, expressed in UNIX epoch time
  "mutable" : [                            (json array) list of ways the block template may be changed
    "str",                                 (string) A way the block template may be changed, e.g. 'time', 'transactions', 'prevblock'
    ...
  ],
  "noncerange" : "hex",                    (string) A range of valid nonces
  "sizelimit" : n,                         (numeric) limit of block size
  "curtime" : xxx,                         (numeric) current timestamp in UNIX epoch time
  "bits" : "str",                          (string) compressed target of next block
  "height" : n                             (numeric) The height of the next block
}"#;

pub(crate) const SUBMITBLOCK: &str = r#"Attempts to submit new block to network, as a peer's block would be.
See https://en.bitcoin.it/wiki/BIP_0022 for full specification. dummy is ignored, as in Core.

Result (If the block was accepted):
null    (json null)

Result (Otherwise):
"str"    (string) According to BIP22: duplicate, duplicate-invalid, inconclusive (a side branch), or the rule the block broke (high-hash, bad-txnmrklroot, bad-cb-amount, ...)"#;
