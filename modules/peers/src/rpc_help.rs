//! The help of the network methods: a description, then a `Result:` section in Bitcoin
//! Core's layout describing what each method here returns (Core's wording where the
//! answer is Core's).

pub(crate) const GETPEERINFO: &str = r#"Returns data about each connected network peer (that completed the handshake) as a json array of objects.

Result:
[                                     (json array)
  {                                   (json object)
    "id" : n,                         (numeric) Peer index
    "addr" : "str",                   (string) (host:port) The IP address and port of the peer
    "addrbind" : "str",               (string) (ip:port) Bind address of the connection to the peer
    "network" : "str",                (string) Network (ipv4, ipv6, not_publicly_routable)
    "services" : "hex",               (string) The services offered
    "servicesnames" : [               (json array) the services offered, in human-readable form
      "str",                          (string) the service name: NETWORK or NETWORK_LIMITED
      ...
    ],
    "relaytxes" : true|false,         (boolean) Whether we relay transactions to this peer
    "lastsend" : xxx,                 (numeric) The UNIX epoch time of the last send
    "lastrecv" : xxx,                 (numeric) The UNIX epoch time of the last receive
    "bytessent" : n,                  (numeric) The total bytes sent
    "bytesrecv" : n,                  (numeric) The total bytes received
    "conntime" : xxx,                 (numeric) The UNIX epoch time of the connection
    "timeoffset" : n,                 (numeric) The time offset in seconds
    "pingtime" : n,                   (numeric, optional) The last ping time in seconds, if any
    "minping" : n,                    (numeric, optional) The minimum observed ping time in seconds, if any
    "pingwait" : n,                   (numeric, optional) The duration in seconds of an outstanding ping (if non-zero)
    "version" : n,                    (numeric) The peer version, such as 70001
    "subver" : "str",                 (string) The string version
    "inbound" : true|false,           (boolean) Inbound (true) or Outbound (false)
    "startingheight" : n,             (numeric) The starting height (block) of the peer
    "sendheaders" : true|false,       (boolean) This node's addition: whether the peer asked for blocks to be announced by headers (BIP130)
    "connection_type" : "str",        (string) Type of connection: inbound, outbound-full-relay or manual
    "permissions" : [                 (json array) Any special permissions that have been granted to this peer (none here)
    ],
    "transport_protocol_type" : "str", (string) Type of transport protocol: v1 (plaintext transport protocol)
    "bytessent_per_msg" : {           (json object)
      "msg" : n,                      (numeric) The total bytes sent aggregated by message type
                                      When a message type is not listed in this json object, the bytes sent are 0.
                                      Only known message types can appear as keys in the object.
      ...
    },
    "bytesrecv_per_msg" : {           (json object)
      "msg" : n,                      (numeric) The total bytes received aggregated by message type
                                      When a message type is not listed in this json object, the bytes received are 0.
                                      Only known message types can appear as keys in the object and all bytes received
                                      of unknown message types are listed under '*other*'.
      ...
    }
  },
  ...
]"#;

pub(crate) const GETNETWORKINFO: &str = r#"Returns an object containing various state info regarding P2P networking.

Result:
{                                                    (json object)
  "version" : n,                                     (numeric) the Bitcoin Core release whose RPC answers these follow ([peers] core_rpc_version, default 270000)
  "subversion" : "str",                              (string) this node's name and version ([peers] user_agent)
  "protocolversion" : n,                             (numeric) the protocol version
  "localservices" : "hex",                           (string) the services we offer to the network
  "localservicesnames" : [                           (json array) the services we offer to the network, in human-readable form
    "str",                                           (string) the service name
    ...
  ],
  "localrelay" : true|false,                         (boolean) true if transaction relay is requested from peers
  "timeoffset" : n,                                  (numeric) the time offset (always 0 here)
  "connections" : n,                                 (numeric) the total number of connections
  "connections_in" : n,                              (numeric) the number of inbound connections
  "connections_out" : n,                             (numeric) the number of outbound connections
  "networkactive" : true|false,                      (boolean) whether p2p networking is enabled
  "networks" : [                                     (json array) information per network
    {                                                (json object)
      "name" : "str",                                (string) network (ipv4, ipv6)
      "limited" : true|false,                        (boolean) is the network limited using -onlynet?
      "reachable" : true|false,                      (boolean) is the network reachable?
      "proxy" : "str",                               (string) ("host:port") the proxy that is used for this network, or empty if none
      "proxy_randomize_credentials" : true|false     (boolean) Whether randomized credentials are used
    },
    ...
  ],
  "localaddresses" : [                               (json array) list of local addresses
    {                                                (json object)
      "address" : "str",                             (string) network address
      "port" : n,                                    (numeric) network port
      "score" : n                                    (numeric) relative score
    },
    ...
  ],
  "warnings" : "str"                                 (string) any network and blockchain warnings (always empty here)
}"#;

pub(crate) const GETNETTOTALS: &str = r#"Returns information about network traffic, including bytes in, bytes out, and current system time.

Result:
{                                              (json object)
  "totalbytesrecv" : n,                        (numeric) Total bytes received
  "totalbytessent" : n,                        (numeric) Total bytes sent
  "timemillis" : xxx,                          (numeric) Current system UNIX epoch time in milliseconds
  "uploadtarget" : {                           (json object) No upload target here: always the values shown
    "timeframe" : n,                           (numeric) Length of the measuring timeframe in seconds (86400)
    "target" : n,                              (numeric) Target in bytes (0: none)
    "target_reached" : true|false,             (boolean) True if target is reached (false)
    "serve_historical_blocks" : true|false,    (boolean) True if serving historical blocks (true)
    "bytes_left_in_cycle" : n,                 (numeric) Bytes left in current time cycle (0)
    "time_left_in_cycle" : n                   (numeric) Seconds left in current time cycle (0)
  }
}"#;

pub(crate) const GETCONNECTIONCOUNT: &str = r#"Returns the number of connections to other nodes.

Result:
n    (numeric) The connection count"#;

pub(crate) const ADDNODE: &str = r#"Attempts to add or remove a node from the addnode list, or try a connection to a node once.
Nodes added using addnode are kept connected ("add"); "remove" stops keeping one, "onetry" connects once.

Result:
null    (json null)"#;

pub(crate) const DISCONNECTNODE: &str = r#"Immediately disconnects from the specified peer node, given by address or by node id (one of the two).

Result:
null    (json null)"#;

pub(crate) const SETBAN: &str = r#"Attempts to add or remove an IP/Subnet from the banned list: "add" bans for bantime seconds (0: [peers] ban_secs), or until a Unix time when absolute is true; "remove" lifts a ban.

Result:
null    (json null)"#;

pub(crate) const LISTBANNED: &str = r#"List all manually banned IPs/Subnets.

Result:
[                              (json array)
  {                            (json object)
    "address" : "str",         (string) The IP/Subnet of the banned node
    "ban_created" : xxx,       (numeric) The UNIX epoch time the ban was created
    "banned_until" : xxx,      (numeric) The UNIX epoch time the ban expires
    "ban_duration" : xxx,      (numeric) The ban duration, in seconds
    "time_remaining" : xxx     (numeric) The time remaining until the ban expires, in seconds
  },
  ...
]"#;

pub(crate) const CLEARBANNED: &str = r#"Clear all banned IPs.

Result:
null    (json null)"#;

pub(crate) const PING: &str = r#"Requests that a ping be sent to all other nodes, to measure ping time.
Results provided in getpeerinfo, pingtime and pingwait fields are decimal seconds.

Result:
null    (json null)"#;
