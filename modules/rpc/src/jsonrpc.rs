//! JSON-RPC as bitcoind speaks it over HTTP (Bitcoin Core's `httprpc.cpp` and
//! `rpc/request.cpp`, v27 and later): what a request body asks, and the body and HTTP
//! status of the answer.
//!
//! - A request with `"jsonrpc": "2.0"` gets a strict 2.0 reply: `jsonrpc`, then `result`
//!   or `error` (never both), then `id`; errors while running it still answer HTTP 200.
//!   Without an `id` it is a notification: run, and answered 204 with no body.
//! - A request with `"jsonrpc": "1.0"` or no version (what bitcoind's older clients send)
//!   gets `result`, `error` (one of them null) and `id`; an error answers HTTP 404 for an
//!   unknown method, 400 for an invalid request and 500 otherwise.
//! - A malformed request object (missing method, params neither array nor object...) is
//!   answered with that legacy status, whatever its version, as Core does.
//! - A batch is always HTTP 200 with a reply per non-notification, in order; an empty
//!   batch answers `[]` and a batch of notifications only 204. Calls run one after the
//!   other, so a batch may rely on the effects of its earlier calls.
//! - Bounds Core does not have: a batch of more than `max_batch_calls` is refused whole
//!   (-32600, HTTP 400) before any call runs; once a batch's replies pass
//!   `max_batch_response_bytes`, its remaining calls are not run and answer -7 (Core's
//!   `RPC_OUT_OF_MEMORY`). Replies are written out as they come, so a batch holds its
//!   answer's bytes and one call's value at a time.
//!
//! One difference from Core: a reply to a request without `id` carries `"id": null`
//! (Core 27 omits the key; earlier Cores and the 2.0 spec write null).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;
use node_api::rpc::codes;
use node_api::{RpcError, RpcRegistry};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::active::ActiveCommands;
use crate::metrics::RpcMetrics;
use crate::server::Limits;

/// Core's `RPC_OUT_OF_MEMORY`: a batch's remaining calls once its replies are too large.
const OUT_OF_MEMORY: i32 = -7;

/// The protocol a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// `"jsonrpc": "1.0"` or no version field.
    Legacy,
    /// `"jsonrpc": "2.0"`.
    V2,
}

/// A well-formed request object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    pub(crate) version: Version,
    /// `None` when the key is absent; `Some(Value::Null)` when it is null.
    pub(crate) id: Option<Value>,
    pub(crate) method: String,
    /// An array or an object; absent or null params become an empty array.
    pub(crate) params: Value,
}

/// A request object that could not be read, with what was read of it for the reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rejected {
    pub(crate) version: Version,
    pub(crate) id: Option<Value>,
    pub(crate) error: RpcError,
}

fn is_notification(version: Version, id: &Option<Value>) -> bool {
    version == Version::V2 && id.is_none()
}

/// Reads one request object, checking in Core's order: id, version, method, params.
pub(crate) fn parse_call(request: Value) -> Result<Call, Rejected> {
    let Value::Object(mut object) = request else {
        return Err(Rejected {
            version: Version::Legacy,
            id: None,
            error: invalid_request("Invalid Request object"),
        });
    };
    let id = object.remove("id");
    let version = match object.get("jsonrpc") {
        None | Some(Value::Null) => Version::Legacy,
        // Some old documentation put "1.0" in requests, and clients copied it.
        Some(Value::String(v)) if v == "1.0" => Version::Legacy,
        Some(Value::String(v)) if v == "2.0" => Version::V2,
        Some(other) => {
            let message = if other.is_string() {
                "JSON-RPC version not supported"
            } else {
                "jsonrpc field must be a string"
            };
            return Err(Rejected {
                version: Version::Legacy,
                id,
                error: invalid_request(message),
            });
        }
    };
    let reject = |id, message| {
        Err(Rejected {
            version,
            id,
            error: invalid_request(message),
        })
    };
    let method = match object.remove("method") {
        Some(Value::String(method)) => method,
        None | Some(Value::Null) => return reject(id, "Missing method"),
        Some(_) => return reject(id, "Method must be a string"),
    };
    let params = match object.remove("params") {
        None | Some(Value::Null) => Value::Array(Vec::new()),
        Some(params @ (Value::Array(_) | Value::Object(_))) => params,
        Some(_) => return reject(id, "Params must be an array or object"),
    };
    Ok(Call {
        version,
        id,
        method,
        params,
    })
}

/// A request object as clients send it almost always, read straight from the body: its
/// keys and the method's name are not copied into a map of values first (that was a
/// dozen allocations and most of the parsing time of a small call).
#[derive(Deserialize)]
struct PlainCall<'a> {
    #[serde(default, deserialize_with = "present")]
    id: Option<Value>,
    #[serde(default, borrow)]
    jsonrpc: Option<&'a str>,
    method: &'a str,
    #[serde(default)]
    params: Option<Value>,
}

/// `Some` even for a null, which `Option`'s own reading makes `None`: a null id is not a
/// missing one.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// The call of a body that holds one request object of the usual shape, read as
/// [`parse_call`] reads it; `None` for anything else (a batch, a duplicate key, a method
/// that is not a plain string, a version that is not a string, escapes in either, a body
/// that is not JSON), which [`parse_call`] then reads from a `Value` as before.
pub(crate) fn parse_plain_call(body: &[u8]) -> Option<Result<Call, Rejected>> {
    // A struct also reads from an array; an array here is a batch.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let plain: PlainCall = serde_json::from_slice(body).ok()?;
    let version = match plain.jsonrpc {
        None | Some("1.0") => Version::Legacy,
        Some("2.0") => Version::V2,
        Some(_) => {
            return Some(Err(Rejected {
                version: Version::Legacy,
                id: plain.id,
                error: invalid_request("JSON-RPC version not supported"),
            }))
        }
    };
    let params = match plain.params {
        None => Value::Array(Vec::new()),
        Some(params @ (Value::Array(_) | Value::Object(_))) => params,
        Some(_) => {
            return Some(Err(Rejected {
                version,
                id: plain.id,
                error: invalid_request("Params must be an array or object"),
            }))
        }
    };
    Some(Ok(Call {
        version,
        id: plain.id,
        method: plain.method.to_string(),
        params,
    }))
}

fn invalid_request(message: &str) -> RpcError {
    RpcError::new(codes::INVALID_REQUEST, message)
}

/// One reply object, its keys in Core's order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Reply {
    #[serde(skip_serializing_if = "Option::is_none")]
    jsonrpc: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
    /// `Some(Value::Null)` in a legacy reply that succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
    id: Value,
}

/// Shapes a reply for `version`.
pub(crate) fn reply(
    version: Version,
    id: Option<Value>,
    outcome: Result<Value, RpcError>,
) -> Reply {
    let legacy = version == Version::Legacy;
    let (result, error) = match outcome {
        Ok(result) => (Some(result), legacy.then_some(Value::Null)),
        Err(e) => (
            legacy.then_some(Value::Null),
            Some(serde_json::json!({"code": e.code, "message": e.message})),
        ),
    };
    Reply {
        jsonrpc: (!legacy).then_some("2.0"),
        result,
        error,
        id: id.unwrap_or(Value::Null),
    }
}

/// The HTTP status of an error answered the legacy way (Core's `JSONErrorReply`).
pub(crate) fn legacy_status(code: i32) -> u16 {
    match code {
        codes::INVALID_REQUEST => 400,
        codes::METHOD_NOT_FOUND => 404,
        _ => 500,
    }
}

/// What the HTTP layer sends back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    /// 204 without a body: the request held notifications only.
    NoContent,
    /// A JSON body (ending with a newline, as Core's) with its HTTP status.
    Json { status: u16, body: Vec<u8> },
}

fn json_answer<T: Serialize>(status: u16, value: &T) -> Answer {
    // Numbers are written as their text (the workspace enables serde_json's
    // arbitrary_precision), so amounts keep their 8 decimals. Writing into a Vec cannot
    // fail: keys are strings.
    let mut body = serde_json::to_vec(value).unwrap_or_default();
    body.push(b'\n');
    Answer::Json { status, body }
}

fn error_answer(version: Version, id: Option<Value>, error: RpcError) -> Answer {
    let status = legacy_status(error.code);
    json_answer(status, &reply(version, id, Err(error)))
}

/// Answers a request body, calling methods in `registry`; each call is listed in
/// `active` while it runs, and counted and timed in `metrics`.
pub(crate) async fn answer(
    body: &[u8],
    registry: &RpcRegistry,
    active: &Arc<ActiveCommands>,
    metrics: &RpcMetrics,
    limits: &Limits,
) -> Answer {
    if let Some(call) = parse_plain_call(body) {
        return single(call, registry, active, metrics).await;
    }
    let request: Value = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(_) => {
            return error_answer(
                Version::Legacy,
                None,
                RpcError::new(codes::PARSE_ERROR, "Parse error"),
            )
        }
    };
    match request {
        Value::Object(_) => single(parse_call(request), registry, active, metrics).await,
        Value::Array(requests) => batch(requests, registry, active, metrics, limits).await,
        _ => error_answer(
            Version::Legacy,
            None,
            RpcError::new(codes::PARSE_ERROR, "Top-level object parse error"),
        ),
    }
}

async fn single(
    call: Result<Call, Rejected>,
    registry: &RpcRegistry,
    active: &Arc<ActiveCommands>,
    metrics: &RpcMetrics,
) -> Answer {
    let call = match call {
        Ok(call) => call,
        Err(rejected) => return error_answer(rejected.version, rejected.id, rejected.error),
    };
    let outcome = execute(registry, active, metrics, &call.method, call.params).await;
    if is_notification(call.version, &call.id) {
        return Answer::NoContent;
    }
    match (call.version, outcome) {
        (Version::Legacy, Err(error)) => error_answer(Version::Legacy, call.id, error),
        (version, outcome) => json_answer(200, &reply(version, call.id, outcome)),
    }
}

async fn batch(
    requests: Vec<Value>,
    registry: &RpcRegistry,
    active: &Arc<ActiveCommands>,
    metrics: &RpcMetrics,
    limits: &Limits,
) -> Answer {
    if requests.is_empty() {
        // Core answers an empty batch with `[]` rather than nothing: it carries no
        // version, and older clients expect a body.
        return json_answer(200, &Vec::<Reply>::new());
    }
    if requests.len() > limits.max_batch_calls {
        return error_answer(
            Version::Legacy,
            None,
            RpcError::new(
                codes::INVALID_REQUEST,
                format!(
                    "batch of {} calls is more than {} (rpc.max_batch_calls); send it in parts",
                    requests.len(),
                    limits.max_batch_calls
                ),
            ),
        );
    }
    let mut body = vec![b'['];
    let mut replies = 0usize;
    for request in requests {
        let reply = match parse_call(request) {
            Ok(call) if body.len() > limits.max_batch_response_bytes => {
                (!is_notification(call.version, &call.id)).then(|| {
                    reply(
                        call.version,
                        call.id,
                        Err(RpcError::new(
                            OUT_OF_MEMORY,
                            format!(
                                "not run: the batch's replies passed {} bytes \
                                 (rpc.max_batch_response_bytes); send fewer calls per batch",
                                limits.max_batch_response_bytes
                            ),
                        )),
                    )
                })
            }
            Ok(call) => {
                let outcome = execute(registry, active, metrics, &call.method, call.params).await;
                (!is_notification(call.version, &call.id))
                    .then(|| reply(call.version, call.id, outcome))
            }
            Err(rejected) => (!is_notification(rejected.version, &rejected.id))
                .then(|| reply(rejected.version, rejected.id, Err(rejected.error))),
        };
        if let Some(reply) = reply {
            if replies > 0 {
                body.push(b',');
            }
            // Writing into a Vec cannot fail: keys are strings.
            let _ = serde_json::to_writer(&mut body, &reply);
            replies += 1;
        }
    }
    if replies == 0 {
        return Answer::NoContent;
    }
    body.extend_from_slice(b"]\n");
    Answer::Json { status: 200, body }
}

/// Runs a method; a panicking handler (a plugin's bug) becomes an error reply instead of
/// a dropped connection.
async fn execute(
    registry: &RpcRegistry,
    active: &Arc<ActiveCommands>,
    metrics: &RpcMetrics,
    method: &str,
    params: Value,
) -> Result<Value, RpcError> {
    let started = Instant::now();
    // One clock read for both: the active list's age and the metric's duration.
    let _active = active.enter(method, started);
    let outcome = match AssertUnwindSafe(registry.call(method, params))
        .catch_unwind()
        .await
    {
        Ok(outcome) => outcome,
        Err(_) => {
            tracing::error!(method, "RPC method panicked");
            Err(RpcError::new(
                codes::INTERNAL_ERROR,
                format!("internal error in method {method}; see the node's log"),
            ))
        }
    };
    metrics.request(registry, method, &outcome, started.elapsed());
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_api::rpc::Param;
    use node_api::RpcParams;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    const ECHO: &[Param] = &[Param::required("a"), Param::optional("b")];
    const NONE: &[Param] = &[];

    fn registry() -> (RpcRegistry, Arc<AtomicUsize>) {
        let r = RpcRegistry::default();
        r.register("t", "echo", ECHO, "", |p: RpcParams| async move {
            Ok(json!([p.get(0).cloned(), p.get(1).cloned()]))
        })
        .unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        r.register("t", "count", NONE, "", move |_| {
            let c = c.clone();
            async move { Ok(json!(c.fetch_add(1, Ordering::SeqCst) + 1)) }
        })
        .unwrap();
        r.register("t", "fail", NONE, "", |_| async {
            Err(RpcError::new(-8, "bad"))
        })
        .unwrap();
        r.register("t", "boom", NONE, "", |_| async { panic!("boom") })
            .unwrap();
        r.register("t", "balance", NONE, "", |_| async {
            Ok(json!({"balance": node_api::rpc::amount(5_000_000_000), "fee": node_api::rpc::amount(1000)}))
        })
        .unwrap();
        (r, count)
    }

    async fn ask(body: &str) -> (u16, Option<Value>) {
        let (r, _) = registry();
        match answer(
            body.as_bytes(),
            &r,
            &Default::default(),
            &Default::default(),
            &Limits::default(),
        )
        .await
        {
            Answer::NoContent => (204, None),
            Answer::Json { status, body } => {
                assert_eq!(body.last(), Some(&b'\n'));
                (status, Some(serde_json::from_slice(&body).unwrap()))
            }
        }
    }

    #[tokio::test]
    async fn legacy_replies_carry_result_and_error() {
        let (status, body) = ask(r#"{"method":"echo","params":[1],"id":"x"}"#).await;
        assert_eq!(status, 200);
        assert_eq!(
            body.unwrap(),
            json!({"result":[1,null],"error":null,"id":"x"})
        );
        let (status, body) = ask(r#"{"jsonrpc":"1.0","method":"fail","id":7}"#).await;
        assert_eq!(status, 500);
        assert_eq!(
            body.unwrap(),
            json!({"result":null,"error":{"code":-8,"message":"bad"},"id":7})
        );
        let (status, body) = ask(r#"{"method":"nope","id":1}"#).await;
        assert_eq!(status, 404);
        assert_eq!(body.unwrap()["error"]["code"], -32601);
        let (status, _) = ask(r#"{"method":"echo","params":[],"id":1}"#).await;
        assert_eq!(status, 500, "missing parameter is invalid params, 500");
    }

    #[tokio::test]
    async fn v2_replies_carry_one_of_result_and_error() {
        let (status, body) = ask(r#"{"jsonrpc":"2.0","method":"echo","params":[1],"id":1}"#).await;
        assert_eq!(status, 200);
        assert_eq!(
            body.unwrap(),
            json!({"jsonrpc":"2.0","result":[1,null],"id":1})
        );
        let (status, body) = ask(r#"{"jsonrpc":"2.0","method":"nope","id":1}"#).await;
        assert_eq!(status, 200);
        let body = body.unwrap();
        assert_eq!(body["error"]["code"], -32601);
        assert!(body.get("result").is_none(), "{body}");
        let (status, body) = ask(r#"{"jsonrpc":"2.0","method":"boom","id":1}"#).await;
        assert_eq!(status, 200);
        assert_eq!(body.unwrap()["error"]["code"], -32603);
    }

    #[test]
    fn reply_keys_follow_core_order() {
        let text = |r: &Reply| serde_json::to_string(r).unwrap();
        assert_eq!(
            text(&reply(Version::Legacy, Some(json!(1)), Ok(json!(true)))),
            r#"{"result":true,"error":null,"id":1}"#
        );
        assert_eq!(
            text(&reply(Version::V2, None, Err(RpcError::new(-1, "m")))),
            r#"{"jsonrpc":"2.0","error":{"code":-1,"message":"m"},"id":null}"#
        );
        assert_eq!(
            text(&reply(Version::V2, Some(json!("a")), Ok(Value::Null))),
            r#"{"jsonrpc":"2.0","result":null,"id":"a"}"#
        );
    }

    #[tokio::test]
    async fn ids_of_any_type_come_back() {
        for id in [
            json!("s"),
            json!(1.5),
            json!(null),
            json!([1]),
            json!({"k": 1}),
            json!(true),
        ] {
            let request = json!({"jsonrpc":"2.0","method":"count","id":id});
            let (status, body) = ask(&request.to_string()).await;
            assert_eq!(status, 200);
            assert_eq!(body.unwrap()["id"], id);
        }
        let (_, body) = ask(r#"{"method":"count"}"#).await;
        assert_eq!(body.unwrap(), json!({"result":1,"error":null,"id":null}));
    }

    #[tokio::test]
    async fn named_positional_and_empty_params() {
        let (_, body) =
            ask(r#"{"jsonrpc":"2.0","method":"echo","params":{"b":2,"a":1},"id":1}"#).await;
        assert_eq!(body.unwrap()["result"], json!([1, 2]));
        let (_, body) = ask(r#"{"jsonrpc":"2.0","method":"count","params":{},"id":1}"#).await;
        assert_eq!(body.unwrap()["result"], json!(1));
        let (_, body) = ask(r#"{"jsonrpc":"2.0","method":"count","params":null,"id":1}"#).await;
        assert_eq!(body.unwrap()["result"], json!(1));
        let (_, body) = ask(r#"{"jsonrpc":"2.0","method":"echo","params":{"z":1},"id":1}"#).await;
        assert_eq!(body.unwrap()["error"]["code"], -8);
    }

    #[tokio::test]
    async fn notifications_run_without_a_reply() {
        let (r, count) = registry();
        let body = br#"{"jsonrpc":"2.0","method":"count"}"#;
        assert_eq!(
            answer(
                body,
                &r,
                &Default::default(),
                &Default::default(),
                &Limits::default()
            )
            .await,
            Answer::NoContent
        );
        assert_eq!(count.load(Ordering::SeqCst), 1);
        // A failing notification is not answered either.
        assert_eq!(
            answer(
                br#"{"jsonrpc":"2.0","method":"nope"}"#,
                &r,
                &Default::default(),
                &Default::default(),
                &Limits::default()
            )
            .await,
            Answer::NoContent
        );
    }

    #[tokio::test]
    async fn invalid_requests_answer_legacy_statuses() {
        let cases = [
            (r#"{"id":1}"#, 400, -32600, "Missing method"),
            (
                r#"{"method":5,"id":1}"#,
                400,
                -32600,
                "Method must be a string",
            ),
            (
                r#"{"method":"count","params":5,"id":1}"#,
                400,
                -32600,
                "Params must be an array or object",
            ),
            (
                r#"{"jsonrpc":"3.0","method":"count","id":1}"#,
                400,
                -32600,
                "JSON-RPC version not supported",
            ),
            (
                r#"{"jsonrpc":2,"method":"count","id":1}"#,
                400,
                -32600,
                "jsonrpc field must be a string",
            ),
            (r#"{"method":"count""#, 500, -32700, "Parse error"),
            (r#"5"#, 500, -32700, "Top-level object parse error"),
        ];
        for (body, status, code, message) in cases {
            let (got, reply) = ask(body).await;
            let reply = reply.unwrap();
            assert_eq!(got, status, "{body}");
            assert_eq!(reply["error"]["code"], code, "{body}");
            assert_eq!(reply["error"]["message"], message, "{body}");
        }
        // The id is read before the error, and the version too when it was valid.
        let (_, reply) = ask(r#"{"jsonrpc":"2.0","id":"q"}"#).await;
        assert_eq!(
            reply.unwrap(),
            json!({"jsonrpc":"2.0","error":{"code":-32600,"message":"Missing method"},"id":"q"})
        );
    }

    #[tokio::test]
    async fn batches_answer_in_order_and_skip_notifications() {
        let body = r#"[
            {"jsonrpc":"2.0","method":"count","id":1},
            {"jsonrpc":"2.0","method":"count"},
            {"method":"count","id":"legacy"},
            {"jsonrpc":"2.0","method":"nope","id":3},
            {"method":"fail","id":4},
            7,
            {"jsonrpc":"2.0","params":[]}
        ]"#;
        let (status, reply) = ask(body).await;
        assert_eq!(status, 200);
        assert_eq!(
            reply.unwrap(),
            json!([
                {"jsonrpc":"2.0","result":1,"id":1},
                {"result":3,"error":null,"id":"legacy"},
                {"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found: nope"},"id":3},
                {"result":null,"error":{"code":-8,"message":"bad"},"id":4},
                {"result":null,"error":{"code":-32600,"message":"Invalid Request object"},"id":null},
            ])
        );
    }

    #[tokio::test]
    async fn empty_and_notification_only_batches() {
        let (status, reply) = ask("[]").await;
        assert_eq!((status, reply), (200, Some(json!([]))));
        let (status, reply) =
            ask(r#"[{"jsonrpc":"2.0","method":"count"},{"jsonrpc":"2.0","method":"count"}]"#).await;
        assert_eq!((status, reply), (204, None));
    }

    #[tokio::test]
    async fn amounts_and_numbers_keep_their_text() {
        let (r, _) = registry();
        let Answer::Json { body, .. } = answer(
            br#"{"method":"balance","id":1}"#,
            &r,
            &Default::default(),
            &Default::default(),
            &Limits::default(),
        )
        .await
        else {
            panic!("no body");
        };
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains(r#""balance":50.00000000"#), "{text}");
        assert!(text.contains(r#""fee":0.00001000"#), "{text}");
        let Answer::Json { body, .. } = answer(
            br#"{"method":"echo","params":[0.10000000, 21000000.00000000],"id":1}"#,
            &r,
            &Default::default(),
            &Default::default(),
            &Limits::default(),
        )
        .await
        else {
            panic!("no body");
        };
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("[0.10000000,21000000.00000000]"), "{text}");
    }

    #[tokio::test]
    async fn batches_are_bounded_in_calls_and_reply_bytes() {
        let (r, count) = registry();
        let limits = Limits {
            max_batch_calls: 3,
            max_batch_response_bytes: 1024,
            ..Limits::default()
        };
        let call = r#"{"method":"count","id":1}"#;
        let four = format!("[{call},{call},{call},{call}]");
        let Answer::Json { status, body } = answer(
            four.as_bytes(),
            &r,
            &Default::default(),
            &Default::default(),
            &limits,
        )
        .await
        else {
            panic!("no body");
        };
        assert_eq!(status, 400);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], -32600);
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rpc.max_batch_calls"));
        assert_eq!(
            count.load(Ordering::SeqCst),
            0,
            "no call of a refused batch runs"
        );

        // Replies of ~600 bytes each: the first two are run (the body passes 1,024 only
        // after the second), the third is refused with -7.
        let echo = format!(
            r#"{{"method":"echo","params":["{}"],"id":1}}"#,
            "x".repeat(600)
        );
        let three = format!("[{echo},{echo},{echo}]");
        let Answer::Json { status, body } = answer(
            three.as_bytes(),
            &r,
            &Default::default(),
            &Default::default(),
            &limits,
        )
        .await
        else {
            panic!("no body");
        };
        assert_eq!(status, 200);
        let body: Value = serde_json::from_slice(&body).unwrap();
        let replies = body.as_array().unwrap();
        assert_eq!(replies.len(), 3);
        assert!(replies[0]["error"].is_null() && replies[1]["error"].is_null());
        assert_eq!(replies[2]["error"]["code"], -7);
    }

    /// Bodies of every shape the plain reading takes or leaves: each it takes must read
    /// as [`parse_call`] reads its `Value`.
    const BODIES: &[&str] = &[
        r#"{"jsonrpc":"1.0","id":"bench","method":"getblockcount","params":[]}"#,
        r#"{"method":"m"}"#,
        r#"  {"method":"m","id":null}"#,
        r#"{"jsonrpc":"2.0","method":"m"}"#,
        r#"{"jsonrpc":"2.0","method":"m","id":7,"params":{"a":1}}"#,
        r#"{"jsonrpc":null,"method":"m","id":1.50000000,"params":null}"#,
        r#"{"jsonrpc":"3.0","method":"m","id":[1]}"#,
        r#"{"jsonrpc":2,"method":"m","id":1}"#,
        r#"{"jsonrpc":"2.0","id":{"x":1},"method":"m","params":5}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"m","params":"x"}"#,
        r#"{"id":1,"method":null}"#,
        r#"{"id":1}"#,
        r#"{"id":1,"method":7}"#,
        r#"{"id":1,"method":"get\u0062lockcount"}"#,
        r#"{"id":1,"method":"m","method":"n"}"#,
        r#"{"id":1,"id":2,"method":"m"}"#,
        r#"{"id":1,"method":"m","extra":{"deep":[1,2]}}"#,
        r#"{"id":1,"method":"m"} x"#,
        r#"{"id":1,"method":"m""#,
        r#"["1.0",1,"m",[]]"#,
        r#"[{"method":"m"}]"#,
        r#"{"id":123456789012345678901234567890,"method":"m","params":[0.10000000]}"#,
    ];

    #[test]
    fn the_plain_reading_agrees_with_parse_call() {
        let mut taken = 0;
        for body in BODIES {
            let plain = parse_plain_call(body.as_bytes());
            let Some(plain) = plain else {
                continue;
            };
            taken += 1;
            let value: Value = serde_json::from_slice(body.as_bytes()).unwrap();
            assert_eq!(plain, parse_call(value), "{body}");
        }
        assert_eq!(taken, 11, "bodies of the usual shape are read plainly");
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn plain_reading_of_generated_objects_agrees(
            id in proptest::option::of(proptest::prop_oneof![
                proptest::strategy::Just("null".to_string()),
                "[a-z]{0,6}".prop_map(|s| format!("\"{s}\"")),
                proptest::num::i64::ANY.prop_map(|n| n.to_string()),
            ]),
            version in proptest::option::of(proptest::prop_oneof![
                proptest::strategy::Just("\"1.0\"".to_string()),
                proptest::strategy::Just("\"2.0\"".to_string()),
                proptest::strategy::Just("null".to_string()),
                proptest::strategy::Just("2".to_string()),
                "[a-z0-9.]{0,4}".prop_map(|s| format!("\"{s}\"")),
            ]),
            method in proptest::option::of(proptest::prop_oneof![
                "[a-z]{1,12}".prop_map(|s| format!("\"{s}\"")),
                proptest::strategy::Just("null".to_string()),
                proptest::strategy::Just("1".to_string()),
            ]),
            params in proptest::option::of(proptest::prop_oneof![
                proptest::strategy::Just("[]".to_string()),
                proptest::strategy::Just("[1,\"a\",null]".to_string()),
                proptest::strategy::Just("{\"a\":1}".to_string()),
                proptest::strategy::Just("null".to_string()),
                proptest::strategy::Just("\"x\"".to_string()),
                proptest::strategy::Just("3".to_string()),
            ]),
            order in proptest::collection::vec(0usize..4, 4),
        ) {
            let fields: Vec<String> = [("id", id), ("jsonrpc", version), ("method", method), ("params", params)]
                .into_iter()
                .filter_map(|(key, value)| Some(format!("\"{key}\":{}", value?)))
                .collect();
            // The fields in a generated order (some repeated: a duplicate key).
            let picked: Vec<&str> = order.iter().filter_map(|&i| fields.get(i).map(String::as_str)).collect();
            let body = format!("{{{}}}", picked.join(","));
            if let Some(plain) = parse_plain_call(body.as_bytes()) {
                let value: Value = serde_json::from_slice(body.as_bytes()).unwrap();
                proptest::prop_assert_eq!(plain, parse_call(value), "{}", body);
            }
        }
    }

    #[test]
    fn parse_call_keeps_a_null_id_apart_from_a_missing_one() {
        let call = parse_call(json!({"jsonrpc":"2.0","method":"m","id":null})).unwrap();
        assert_eq!(call.id, Some(Value::Null));
        assert!(!is_notification(call.version, &call.id));
        let call = parse_call(json!({"jsonrpc":"2.0","method":"m"})).unwrap();
        assert!(is_notification(call.version, &call.id));
        assert_eq!(call.params, json!([]));
    }
}
