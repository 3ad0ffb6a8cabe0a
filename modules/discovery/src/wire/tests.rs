//! Checks against datagrams captured from kademlia 2.2.3 / rpcudp 5.0.1 / u-msgpack 2.8.0
//! with `tests/capture_vectors.py` (server id 0x11.., caller id 0x22.., key 0x33..).

use super::*;

const REQ_PING: &str = "005fcefad3014404e6111083475eea5c4237cd202c92a470696e6791c4141111111111111111111111111111111111111111";
const REQ_STUN: &str = "005015fc61f7b3f0c48a9817664a8c7f4ef66e0ced92a47374756e90";
const REQ_FIND_NODE: &str = "00e0b6ad6d08181d56abf1b7cfe07b5b92117d076b92a966696e645f6e6f646592c4141111111111111111111111111111111111111111c4143333333333333333333333333333333333333333";
const REQ_FIND_VALUE: &str = "00f985527e6fca843517d3b1bf0d1e3cbf78d0118292aa66696e645f76616c756592c4141111111111111111111111111111111111111111c4143333333333333333333333333333333333333333";
const REQ_STORE_STR: &str = "0016291ffef8ac6b9bbc4d88d46e53e94862c56c3792a573746f726593c4141111111111111111111111111111111111111111c4143333333333333333333333333333333333333333a5776f726c64";
const REQ_STORE_BYTES: &str = "000aa3ea7e582e870f26d59b93c3cf402b2605e32192a573746f726593c4141111111111111111111111111111111111111111c4143333333333333333333333333333333333333333c4020102";
const REQ_STORE_INT: &str = "00fbde7d40a96ccabcd61131c39516a8cd4189abdf92a573746f726593c4141111111111111111111111111111111111111111c4143333333333333333333333333333333333333333cd012c";
const REQ_STORE_NEG: &str = "003ca243e57dd9a81cd2b96ff188c316a4383214c792a573746f726593c4141111111111111111111111111111111111111111c4143333333333333333333333333333333333333333fb";
const REQ_STORE_FLOAT: &str = "00d0bc5b6d375b75797a6383e96d518acc7a7a340b92a573746f726593c4141111111111111111111111111111111111111111c4143333333333333333333333333333333333333333cb3ff8000000000000";
const REQ_STORE_BOOL: &str = "00c3199e37d5e3af3236224e7857dde266c495cb3c92a573746f726593c4141111111111111111111111111111111111111111c4143333333333333333333333333333333333333333c3";
const RESP_PING: &str =
    "01000102030405060708090a0b0c0d0e0f10111213c4141111111111111111111111111111111111111111";
const RESP_STUN: &str = "01000102030405060708090a0b0c0d0e0f1011121392a93132372e302e302e31cdafdd";
const RESP_FIND_NODE: &str = "01000102030405060708090a0b0c0d0e0f101112139293c4143001010101010101010101010101010101010101a93132372e302e302e31cd0fa093c4148002020202020202020202020202020202020202a831302e302e302e31cdffff";
const RESP_FIND_VALUE_HIT: &str =
    "01000102030405060708090a0b0c0d0e0f1011121381a576616c7565a5776f726c64";
const RESP_STORE: &str = "01000102030405060708090a0b0c0d0e0f10111213c3";

const SERVER: NodeId = NodeId([0x11; 20]);
const KEY: NodeId = NodeId([0x33; 20]);

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("test vector is hex"))
        .collect()
}

fn value(v: impl Into<Value>) -> StoredValue {
    StoredValue::new(v.into()).expect("scalar")
}

/// Decodes a captured request, compares it with `expected`, and re-encodes it to the same
/// bytes.
fn check_request(hex: &str, expected: Request) {
    let bytes = unhex(hex);
    let frame = split(&bytes).expect("frame");
    assert_eq!(frame.kind, Kind::Request);
    let request =
        Request::from_value(decode_payload(frame.payload).expect("msgpack")).expect("request");
    assert_eq!(request, expected);
    let again = encode(Kind::Request, &frame.id, &request.to_value()).expect("encode");
    assert_eq!(again, bytes, "re-encoding {hex}");
}

fn check_response(hex: &str, rpc: Rpc, expected: Response) {
    let bytes = unhex(hex);
    let frame = split(&bytes).expect("frame");
    assert_eq!(frame.kind, Kind::Response);
    assert_eq!(frame.id, core::array::from_fn::<u8, 20, _>(|i| i as u8));
    let body = decode_payload(frame.payload).expect("msgpack");
    assert_eq!(Response::parse(rpc, body, 20).expect("response"), expected);
    let again = encode(Kind::Response, &frame.id, &expected.to_value()).expect("encode");
    assert_eq!(again, bytes, "re-encoding {hex}");
}

#[test]
fn requests_match_python_bytes() {
    check_request(REQ_PING, Request::Ping { sender: SERVER });
    check_request(REQ_STUN, Request::Stun);
    check_request(
        REQ_FIND_NODE,
        Request::FindNode {
            sender: SERVER,
            key: KEY,
        },
    );
    check_request(
        REQ_FIND_VALUE,
        Request::FindValue {
            sender: SERVER,
            key: KEY,
        },
    );
    let store = |v| Request::Store {
        sender: SERVER,
        key: KEY,
        value: v,
    };
    check_request(REQ_STORE_STR, store(value("world")));
    check_request(REQ_STORE_BYTES, store(value(vec![1u8, 2])));
    check_request(REQ_STORE_INT, store(value(300)));
    check_request(REQ_STORE_NEG, store(value(-5)));
    check_request(REQ_STORE_FLOAT, store(value(1.5)));
    check_request(REQ_STORE_BOOL, store(value(true)));
}

#[test]
fn responses_match_python_bytes() {
    check_response(RESP_PING, Rpc::Ping, Response::Id(SERVER));
    let stun_addr: SocketAddr = "127.0.0.1:45021".parse().expect("addr");
    check_response(RESP_STUN, Rpc::Stun, Response::Address(stun_addr));
    let contacts = vec![
        Contact {
            id: NodeId(core::array::from_fn(|i| if i == 0 { 0x30 } else { 1 })),
            addr: "127.0.0.1:4000".parse().expect("addr"),
        },
        Contact {
            id: NodeId(core::array::from_fn(|i| if i == 0 { 0x80 } else { 2 })),
            addr: "10.0.0.1:65535".parse().expect("addr"),
        },
    ];
    check_response(
        RESP_FIND_NODE,
        Rpc::FindNode,
        Response::Contacts(contacts.clone()),
    );
    // A miss answers find_value with the same list find_node gives.
    check_response(RESP_FIND_NODE, Rpc::FindValue, Response::Contacts(contacts));
    check_response(
        RESP_FIND_VALUE_HIT,
        Rpc::FindValue,
        Response::Value(value("world")),
    );
    check_response(RESP_STORE, Rpc::Store, Response::Stored(true));
}

fn request_bytes(payload: Value) -> Vec<u8> {
    encode(Kind::Request, &[7; 20], &payload).expect("encode")
}

fn decode_request(bytes: &[u8]) -> Result<Request, WireError> {
    let frame = split(bytes)?;
    Request::from_value(decode_payload(frame.payload)?)
}

#[test]
fn framing_errors() {
    assert!(matches!(
        split(&[0; 21]),
        Err(WireError::TooShort { len: 21 })
    ));
    assert!(matches!(split(&[2; 30]), Err(WireError::UnknownType(2))));
    let big = vec![0u8; MAX_DATAGRAM + 1];
    assert!(matches!(split(&big), Err(WireError::TooLarge { .. })));
    let huge = Value::Binary(vec![0; MAX_PAYLOAD]);
    assert!(matches!(
        encode(Kind::Response, &[0; 20], &huge),
        Err(WireError::TooLarge { .. })
    ));
    let mut trailing = unhex(REQ_PING);
    trailing.push(0xc0);
    assert!(matches!(
        decode_request(&trailing),
        Err(WireError::Trailing(1))
    ));
    let mut truncated = unhex(REQ_PING);
    truncated.pop();
    assert!(matches!(
        decode_request(&truncated),
        Err(WireError::Msgpack(_))
    ));
}

#[test]
fn deep_nesting_is_refused() {
    let mut nested = Value::Nil;
    for _ in 0..64 {
        nested = Value::Array(vec![nested]);
    }
    let bytes = request_bytes(nested);
    assert!(matches!(decode_request(&bytes), Err(WireError::Msgpack(_))));
}

#[test]
fn only_listed_procedures_are_callable() {
    let id = Value::Binary(vec![0x22; 20]);
    for name in [
        "__init__",
        "rpc_ping",
        "welcome_if_new",
        "get_refresh_ids",
        "",
    ] {
        let bytes = request_bytes(Value::Array(vec![
            Value::from(name),
            Value::Array(vec![id.clone()]),
        ]));
        assert!(
            matches!(decode_request(&bytes), Err(WireError::UnknownRpc(_))),
            "{name}"
        );
    }
    let no_args = request_bytes(Value::Array(vec![
        Value::from("ping"),
        Value::Array(vec![]),
    ]));
    assert!(matches!(
        decode_request(&no_args),
        Err(WireError::ArgCount { got: 0, .. })
    ));
    let not_pair = request_bytes(Value::Array(vec![Value::from("ping")]));
    assert!(matches!(
        decode_request(&not_pair),
        Err(WireError::NotAPair)
    ));
}

#[test]
fn arguments_are_type_checked() {
    let short_id = request_bytes(Value::Array(vec![
        Value::from("ping"),
        Value::Array(vec![Value::Binary(vec![1; 19])]),
    ]));
    assert!(matches!(
        decode_request(&short_id),
        Err(WireError::BadArgument { index: 0, .. })
    ));
    let str_id = request_bytes(Value::Array(vec![
        Value::from("ping"),
        Value::Array(vec![Value::from("x".repeat(20))]),
    ]));
    assert!(matches!(
        decode_request(&str_id),
        Err(WireError::BadArgument { .. })
    ));
    let list_value = request_bytes(Value::Array(vec![
        Value::from("store"),
        Value::Array(vec![
            Value::Binary(vec![1; 20]),
            Value::Binary(vec![2; 20]),
            Value::Array(vec![]),
        ]),
    ]));
    assert!(matches!(
        decode_request(&list_value),
        Err(WireError::BadArgument { index: 2, .. })
    ));
}

#[test]
fn malformed_contacts_are_skipped_and_capped() {
    let good = |n: u8| {
        Value::Array(vec![
            Value::Binary(vec![n; 20]),
            Value::from("10.1.2.3"),
            Value::from(80),
        ])
    };
    let list = Value::Array(vec![
        good(1),
        Value::Array(vec![
            Value::Binary(vec![2; 20]),
            Value::from("not-an-ip"),
            Value::from(1),
        ]),
        Value::Array(vec![
            Value::Binary(vec![3; 20]),
            Value::from("10.0.0.1"),
            Value::from(70000),
        ]),
        Value::Array(vec![Value::Binary(vec![4; 20]), Value::from("10.0.0.1")]),
        good(5),
        good(6),
    ]);
    let Ok(Response::Contacts(contacts)) = Response::parse(Rpc::FindNode, list, 2) else {
        panic!("contact list expected");
    };
    let ids: Vec<u8> = contacts.iter().map(|c| c.id.0[0]).collect();
    assert_eq!(ids, vec![1, 5]);
    assert!(Response::parse(Rpc::Store, Value::Nil, 20).is_err());
    assert!(Response::parse(Rpc::Ping, Value::Binary(vec![0; 5]), 20).is_err());
    let no_value = Value::Map(vec![(Value::from("other"), Value::from(1))]);
    assert!(Response::parse(Rpc::FindValue, no_value, 20).is_err());
}
