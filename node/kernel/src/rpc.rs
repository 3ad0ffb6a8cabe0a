//! The registry of JSON-RPC methods. Modules and plugins register their methods here when
//! they start; the rpc module serves whatever is registered. Codes follow Bitcoin Core.
//! Each method declares its parameters ([`Param`]: name, kind, description), from which
//! the kernel answers `help` in Core's layout and `getmethodparams` (this node's own
//! method, not Core's), which `node rpc` asks to convert command-line arguments.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Error codes, JSON-RPC's and Bitcoin Core's.
pub mod codes {
    /// Invalid JSON was received.
    pub const PARSE_ERROR: i32 = -32700;
    /// The JSON sent is not a valid request object.
    pub const INVALID_REQUEST: i32 = -32600;
    /// The method does not exist.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// Invalid method parameters (count or names).
    pub const INVALID_PARAMS: i32 = -32602;
    /// Internal error.
    pub const INTERNAL_ERROR: i32 = -32603;
    /// Any other error.
    pub const MISC_ERROR: i32 = -1;
    /// Unexpected type was passed as parameter.
    pub const TYPE_ERROR: i32 = -3;
    /// Wallet error.
    pub const WALLET_ERROR: i32 = -4;
    /// Invalid address or key.
    pub const INVALID_ADDRESS_OR_KEY: i32 = -5;
    /// Not enough funds in wallet or account.
    pub const WALLET_INSUFFICIENT_FUNDS: i32 = -6;
    /// Invalid, missing or duplicate parameter.
    pub const INVALID_PARAMETER: i32 = -8;
    /// Enter the wallet passphrase with walletpassphrase first.
    pub const WALLET_UNLOCK_NEEDED: i32 = -13;
    /// The wallet passphrase entered was incorrect.
    pub const WALLET_PASSPHRASE_INCORRECT: i32 = -14;
    /// Command given in wrong wallet encryption state (encrypting an encrypted wallet etc.).
    pub const WALLET_WRONG_ENC_STATE: i32 = -15;
    /// No peers are connected.
    pub const CLIENT_NOT_CONNECTED: i32 = -9;
    /// Error parsing or validating structure in raw format.
    pub const DESERIALIZATION_ERROR: i32 = -22;
    /// Node is already added.
    pub const CLIENT_NODE_ALREADY_ADDED: i32 = -23;
    /// Node has not been added before.
    pub const CLIENT_NODE_NOT_ADDED: i32 = -24;
    /// General error during transaction or block submission.
    pub const VERIFY_ERROR: i32 = -25;
    /// Transaction or block was rejected by network rules.
    pub const VERIFY_REJECTED: i32 = -26;
    /// Transaction already in chain.
    pub const VERIFY_ALREADY_IN_CHAIN: i32 = -27;
    /// Client still warming up.
    pub const IN_WARMUP: i32 = -28;
    /// Node to disconnect not found in connected nodes.
    pub const CLIENT_NODE_NOT_CONNECTED: i32 = -29;
    /// Invalid IP or subnet.
    pub const CLIENT_INVALID_IP_OR_SUBNET: i32 = -30;
    /// Feature not available on this chain or node.
    pub const METHOD_DEPRECATED_OR_UNAVAILABLE: i32 = -32;
}

/// An error answered to an RPC client: a code and a message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct RpcError {
    /// JSON-RPC or Bitcoin Core error code.
    pub code: i32,
    /// What went wrong, for a person.
    pub message: String,
}

impl RpcError {
    /// An error with any code.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
        }
    }

    /// -8: invalid, missing or duplicate parameter.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(codes::INVALID_PARAMETER, message)
    }

    /// -32602: wrong parameter count or names.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(codes::INVALID_PARAMS, message)
    }

    /// -1: any other failure.
    pub fn misc(message: impl Into<String>) -> Self {
        Self::new(codes::MISC_ERROR, message)
    }
}

/// The future a handler returns.
pub type RpcFuture = Pin<Box<dyn Future<Output = Result<Value, RpcError>> + Send>>;

/// A method's handler.
pub type RpcHandler = Arc<dyn Fn(RpcParams) -> RpcFuture + Send + Sync>;

/// What a parameter holds, as Bitcoin Core's help names it (`numeric`, `string`, ...).
/// `node rpc` sends a command-line argument of a `String` or `Hex` parameter as a JSON
/// string and parses every other kind as JSON, as bitcoin-cli's `vRPCConvertParams` table
/// does; so an address or a label that looks like a number stays a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Text, sent as it is.
    String,
    /// Hex-encoded bytes (a hash, a transaction), sent as a string.
    Hex,
    /// An integer or decimal number.
    Numeric,
    /// An amount in coins (`0.1`), a number or a string.
    Amount,
    /// `true` or `false`.
    Boolean,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
    /// Any JSON value (parsed as JSON, sent as a string when it does not parse).
    Any,
}

impl ParamKind {
    /// The type as Core's help prints it.
    pub fn help_name(self) -> &'static str {
        match self {
            ParamKind::String => "string",
            ParamKind::Hex => "string, hex",
            ParamKind::Numeric => "numeric",
            ParamKind::Amount => "numeric or string",
            ParamKind::Boolean => "boolean",
            ParamKind::Object => "json object",
            ParamKind::Array => "json array",
            ParamKind::Any => "any",
        }
    }

    /// Whether a command-line argument for this kind is sent as a string as it is,
    /// rather than parsed as JSON.
    pub fn is_text(self) -> bool {
        matches!(self, ParamKind::String | ParamKind::Hex)
    }

    /// Every kind, for lookups by name.
    pub const ALL: [ParamKind; 8] = [
        ParamKind::String,
        ParamKind::Hex,
        ParamKind::Numeric,
        ParamKind::Amount,
        ParamKind::Boolean,
        ParamKind::Object,
        ParamKind::Array,
        ParamKind::Any,
    ];

    /// The kind's name in `getmethodparams` answers: one word, stable for clients.
    pub fn name(self) -> &'static str {
        match self {
            ParamKind::String => "string",
            ParamKind::Hex => "hex",
            ParamKind::Numeric => "numeric",
            ParamKind::Amount => "amount",
            ParamKind::Boolean => "boolean",
            ParamKind::Object => "object",
            ParamKind::Array => "array",
            ParamKind::Any => "any",
        }
    }

    /// The kind named `name` by [`ParamKind::name`].
    pub fn from_name(name: &str) -> Option<ParamKind> {
        ParamKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// One parameter of a method: its name, whether it may be left out, its kind and what it
/// means. Built as a constant: `Param::required("height").numeric("The height index")`.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// The name, for named calls and `help`.
    pub name: &'static str,
    /// Whether the call fails without it.
    pub required: bool,
    /// What it holds: drives `help` and `node rpc`'s conversion of arguments.
    pub kind: ParamKind,
    /// One line for `help`: what it means, its unit and default.
    pub description: &'static str,
    /// The value an optional parameter takes when left out, as `help` prints it
    /// (`default=1`); `None` when there is none to name.
    pub default: Option<&'static str>,
    /// A value for the examples of `help`, as JSON text (`1000`, `"0000..."`); `None`
    /// takes a placeholder of its kind.
    pub example: Option<&'static str>,
}

impl Param {
    /// A parameter that must be given (a string until a kind is set).
    pub const fn required(name: &'static str) -> Param {
        Param {
            name,
            required: true,
            kind: ParamKind::String,
            description: "",
            default: None,
            example: None,
        }
    }

    /// A parameter that may be left out (a string until a kind is set).
    pub const fn optional(name: &'static str) -> Param {
        Param {
            required: false,
            ..Param::required(name)
        }
    }

    /// The same parameter with a kind and a description.
    pub const fn of(self, kind: ParamKind, description: &'static str) -> Param {
        Param {
            kind,
            description,
            ..self
        }
    }

    /// A text parameter, described.
    pub const fn string(self, description: &'static str) -> Param {
        self.of(ParamKind::String, description)
    }

    /// A hex parameter (hash, raw transaction), described.
    pub const fn hex(self, description: &'static str) -> Param {
        self.of(ParamKind::Hex, description)
    }

    /// A number, described.
    pub const fn numeric(self, description: &'static str) -> Param {
        self.of(ParamKind::Numeric, description)
    }

    /// An amount in coins, described.
    pub const fn amount(self, description: &'static str) -> Param {
        self.of(ParamKind::Amount, description)
    }

    /// A boolean, described.
    pub const fn boolean(self, description: &'static str) -> Param {
        self.of(ParamKind::Boolean, description)
    }

    /// A JSON object, described.
    pub const fn object(self, description: &'static str) -> Param {
        self.of(ParamKind::Object, description)
    }

    /// A JSON array, described.
    pub const fn array(self, description: &'static str) -> Param {
        self.of(ParamKind::Array, description)
    }

    /// Any JSON value, described.
    pub const fn any(self, description: &'static str) -> Param {
        self.of(ParamKind::Any, description)
    }

    /// The value taken when an optional parameter is left out, for `help`.
    pub const fn default(self, value: &'static str) -> Param {
        Param {
            default: Some(value),
            ..self
        }
    }

    /// A value for `help`'s examples, as JSON text.
    pub const fn example(self, json: &'static str) -> Param {
        Param {
            example: Some(json),
            ..self
        }
    }

    /// The example value as JSON text: the declared one, else a placeholder of the kind
    /// (a string parameter's placeholder is its name).
    pub fn example_json(&self) -> String {
        if let Some(json) = self.example {
            return json.to_string();
        }
        match self.kind {
            ParamKind::String | ParamKind::Hex => Value::String(self.name.to_string()).to_string(),
            ParamKind::Numeric => "1".to_string(),
            ParamKind::Amount => "0.1".to_string(),
            ParamKind::Boolean => "true".to_string(),
            ParamKind::Object => "{}".to_string(),
            ParamKind::Array => "[]".to_string(),
            ParamKind::Any => "null".to_string(),
        }
    }
}

/// A registered method.
#[derive(Clone)]
pub struct RpcMethod {
    /// The module that registered it.
    pub module: String,
    /// Its parameters, in positional order.
    pub params: &'static [Param],
    /// One paragraph for `help METHOD`.
    pub help: &'static str,
    handler: RpcHandler,
}

/// Parameters of a call, positional, after named ones were mapped by the method's
/// parameter names.
#[derive(Debug, Clone, Default)]
pub struct RpcParams {
    values: Vec<Value>,
    names: Vec<&'static str>,
}

impl RpcParams {
    /// The raw value at `index`, `None` when absent or null.
    pub fn get(&self, index: usize) -> Option<&Value> {
        self.values.get(index).filter(|v| !v.is_null())
    }

    fn name(&self, index: usize) -> String {
        self.names
            .get(index)
            .map(|n| n.to_string())
            .unwrap_or_else(|| format!("#{}", index + 1))
    }

    /// The parameter at `index` as `T`; -8 when missing, -3 when of the wrong type.
    pub fn required<T: DeserializeOwned>(&self, index: usize) -> Result<T, RpcError> {
        let value = self.get(index).ok_or_else(|| {
            RpcError::invalid_parameter(format!("missing parameter {}", self.name(index)))
        })?;
        self.convert(index, value)
    }

    /// The parameter at `index` as `T`, or `None` when absent or null.
    pub fn optional<T: DeserializeOwned>(&self, index: usize) -> Result<Option<T>, RpcError> {
        self.get(index)
            .map(|value| self.convert(index, value))
            .transpose()
    }

    fn convert<T: DeserializeOwned>(&self, index: usize, value: &Value) -> Result<T, RpcError> {
        serde_json::from_value(value.clone()).map_err(|e| {
            RpcError::new(
                codes::TYPE_ERROR,
                format!("parameter {} has the wrong type: {e}", self.name(index)),
            )
        })
    }

    /// How many positions were given (trailing nulls included).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no parameter was given.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Builds positional parameters directly (for tests and in-process callers).
    pub fn positional(values: Vec<Value>) -> Self {
        RpcParams {
            values,
            names: Vec::new(),
        }
    }
}

/// One row of a method table: name, parameters, help, and a plain function of the
/// module's shared state. A table is a constant (`const METHODS: &[MethodEntry<S>]`),
/// registered with [`crate::StartContext::register_methods`] and listed as it is in the
/// factory's `methods` (`methods: &[&METHODS]`), so each name is written once.
pub type MethodEntry<S> = (
    &'static str,
    &'static [Param],
    &'static str,
    fn(&S, RpcParams) -> Result<Value, RpcError>,
);

/// A method registered on its own, with an async handler over captured state: its name,
/// parameters and help, written once as a constant that
/// [`crate::StartContext::register_method`] registers and the factory lists in `methods`.
#[derive(Debug, Clone, Copy)]
pub struct Method {
    /// The method's name.
    pub name: &'static str,
    /// Its parameters, for `help` and `node rpc`.
    pub params: &'static [Param],
    /// Its help text, in Core's layout (ending with its `Result:` section).
    pub help: &'static str,
}

/// What a factory lists in `methods`: a table of [`MethodEntry`] rows (`&METHODS`) or
/// one [`Method`] (`&GETINFO`), the same constants the module registers.
pub trait MethodList: Sync {
    /// The names of the methods it holds.
    fn names(&self) -> Vec<&'static str>;
}

impl MethodList for Method {
    fn names(&self) -> Vec<&'static str> {
        vec![self.name]
    }
}

impl<S: 'static> MethodList for &'static [MethodEntry<S>] {
    fn names(&self) -> Vec<&'static str> {
        self.iter().map(|entry| entry.0).collect()
    }
}

/// Where a table's methods run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOn {
    /// On the async thread serving the call: for methods that only read memory.
    Inline,
    /// On tokio's blocking pool: for methods that read LMDB at length or verify
    /// signatures, which must not hold up the threads serving other clients.
    Blocking,
}

/// Every method the node answers.
#[derive(Default)]
pub struct RpcRegistry {
    methods: RwLock<BTreeMap<String, RpcMethod>>,
    /// Methods of registered modules this node does not run, and their module.
    absent: RwLock<BTreeMap<String, String>>,
    /// Where the JSON-RPC server listens, once it does: `help`'s curl example names it.
    address: RwLock<Option<SocketAddr>>,
}

impl RpcRegistry {
    /// Names the methods of registered modules the profile does not run (from each
    /// factory's `methods`), so a call says which module to add.
    pub fn set_absent_methods(&self, absent: BTreeMap<String, String>) {
        *self.absent.write().expect("rpc registry poisoned") = absent;
    }

    /// Records where the JSON-RPC server listens (the rpc module, once bound).
    pub fn set_address(&self, addr: SocketAddr) {
        *self.address.write().expect("rpc registry poisoned") = Some(addr);
    }

    /// Where the JSON-RPC server listens; `None` while no server runs.
    pub fn address(&self) -> Option<SocketAddr> {
        *self.address.read().expect("rpc registry poisoned")
    }

    /// The module of a method this node does not run, when a registered module has it.
    pub fn absent_module(&self, name: &str) -> Option<String> {
        self.absent
            .read()
            .expect("rpc registry poisoned")
            .get(name)
            .cloned()
    }

    /// The error for a method this node does not answer: which module has it when one
    /// does, else "Method not found"; either way Core's -32601.
    pub fn not_found(&self, name: &str) -> RpcError {
        let message = match self.absent_module(name) {
            Some(module) => format!(
                "{name} belongs to the {module} module, which this node does not run \
                 (add \"{module}\" to [node] modules)"
            ),
            None => format!("Method not found: {name}"),
        };
        RpcError::new(codes::METHOD_NOT_FOUND, message)
    }

    /// Registered method names close to `name` (a typo or a prefix), closest first.
    pub fn near_names(&self, name: &str) -> Vec<String> {
        let methods = self.methods.read().expect("rpc registry poisoned");
        let mut near: Vec<(usize, &String)> = methods
            .keys()
            .filter_map(|known| {
                let distance = strsim::levenshtein(name, known);
                let close = distance <= 2.max(name.len() / 4)
                    || (name.len() >= 4 && (known.contains(name) || name.contains(known.as_str())));
                close.then_some((distance, known))
            })
            .collect();
        near.sort();
        near.into_iter().take(5).map(|(_, n)| n.clone()).collect()
    }

    /// Registers a method. A name already taken is refused, naming the module that has it.
    pub fn register<F, Fut>(
        &self,
        module: &str,
        name: &str,
        params: &'static [Param],
        help: &'static str,
        handler: F,
    ) -> Result<(), String>
    where
        F: Fn(RpcParams) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, RpcError>> + Send + 'static,
    {
        let mut methods = self.methods.write().expect("rpc registry poisoned");
        if let Some(existing) = methods.get(name) {
            return Err(format!(
                "RPC method {name:?} is already registered by module {:?}",
                existing.module
            ));
        }
        let handler: RpcHandler = Arc::new(move |p| Box::pin(handler(p)));
        methods.insert(
            name.to_string(),
            RpcMethod {
                module: module.to_string(),
                params,
                help,
                handler,
            },
        );
        Ok(())
    }

    /// Registers a table of synchronous methods over one shared state.
    pub fn register_table<S: Send + Sync + 'static>(
        &self,
        module: &str,
        state: &Arc<S>,
        run: RunOn,
        methods: &[MethodEntry<S>],
    ) -> Result<(), String> {
        for &(name, params, help, handler) in methods {
            let state = Arc::clone(state);
            self.register(module, name, params, help, move |p: RpcParams| {
                let state = Arc::clone(&state);
                async move {
                    match run {
                        RunOn::Inline => handler(&state, p),
                        RunOn::Blocking => tokio::task::spawn_blocking(move || handler(&state, p))
                            .await
                            .map_err(|e| RpcError::new(codes::INTERNAL_ERROR, e.to_string()))?,
                    }
                }
            })?;
        }
        Ok(())
    }

    /// Removes every method of a module (when it stops).
    pub fn unregister_module(&self, module: &str) {
        self.methods
            .write()
            .expect("rpc registry poisoned")
            .retain(|_, m| m.module != module);
    }

    /// The method registered under `name`.
    pub fn method(&self, name: &str) -> Option<RpcMethod> {
        self.methods
            .read()
            .expect("rpc registry poisoned")
            .get(name)
            .cloned()
    }

    /// Every method, sorted by name.
    pub fn methods(&self) -> Vec<(String, RpcMethod)> {
        self.methods
            .read()
            .expect("rpc registry poisoned")
            .iter()
            .map(|(n, m)| (n.clone(), m.clone()))
            .collect()
    }

    /// Calls a method with positional (`Value::Array`) or named (`Value::Object`)
    /// parameters; `Value::Null` is a call without arguments.
    pub async fn call(&self, name: &str, params: Value) -> Result<Value, RpcError> {
        let method = self.method(name).ok_or_else(|| self.not_found(name))?;
        let params = method.bind(params).map_err(|e| {
            e.into_error(|| crate::help::method_help(name, &method, self.address()))
        })?;
        (method.handler)(params).await
    }
}

impl RpcMethod {
    /// The signature line for `help`, as Core writes it: text parameters quoted,
    /// optional ones in parentheses (`getblock "blockhash" ( verbosity )`).
    pub fn signature(&self, name: &str) -> String {
        let mut line = name.to_string();
        let mut in_optional = false;
        for p in self.params {
            if p.required && in_optional {
                line.push_str(" )");
                in_optional = false;
            }
            if !p.required && !in_optional {
                line.push_str(" (");
                in_optional = true;
            }
            if p.kind.is_text() {
                line.push_str(&format!(" \"{}\"", p.name));
            } else {
                line.push_str(&format!(" {}", p.name));
            }
        }
        if in_optional {
            line.push_str(" )");
        }
        line
    }

    /// Maps a JSON params value to positions, checking counts, names and requiredness.
    /// A count outside the method's (fewer than its required parameters, more than all
    /// of them, named parameters leaving a required one out) is Core's -1 with the
    /// method's help, as `RPCHelpMan::HandleRequest` throws it: clients match on that.
    fn bind(&self, params: Value) -> Result<RpcParams, BindError> {
        let names: Vec<&'static str> = self.params.iter().map(|p| p.name).collect();
        let values = match params {
            Value::Null => Vec::new(),
            Value::Array(values) => {
                if values.len() > self.params.len() {
                    return Err(BindError::Count);
                }
                values
            }
            Value::Object(map) => {
                let mut values = vec![Value::Null; self.params.len()];
                for (key, value) in map {
                    let index = names.iter().position(|n| *n == key).ok_or_else(|| {
                        BindError::Other(RpcError::invalid_parameter(format!(
                            "Unknown named parameter {key}"
                        )))
                    })?;
                    values[index] = value;
                }
                while values.last().is_some_and(Value::is_null) {
                    values.pop();
                }
                values
            }
            _ => {
                return Err(BindError::Other(RpcError::new(
                    codes::INVALID_REQUEST,
                    "params must be an array or an object",
                )))
            }
        };
        for (i, p) in self.params.iter().enumerate() {
            if !p.required {
                continue;
            }
            match values.get(i) {
                None => return Err(BindError::Count),
                // Given, but null: Core's type check of a required argument (-3).
                Some(Value::Null) => {
                    return Err(BindError::Other(RpcError::new(
                        codes::TYPE_ERROR,
                        format!("Missing required parameter {}: null given", p.name),
                    )))
                }
                Some(_) => {}
            }
        }
        Ok(RpcParams { values, names })
    }
}

/// Why parameters could not be bound to a method's.
enum BindError {
    /// Too few or too many: answered with the method's help.
    Count,
    Other(RpcError),
}

impl BindError {
    /// The error a caller sees; `help` writes the method's help, only when needed.
    fn into_error(self, help: impl FnOnce() -> String) -> RpcError {
        match self {
            BindError::Count => RpcError::misc(help()),
            BindError::Other(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PARAMS: &[Param] = &[Param::required("height"), Param::optional("verbose")];

    fn registry() -> RpcRegistry {
        let r = RpcRegistry::default();
        r.register("t", "echo", PARAMS, "echoes", |p: RpcParams| async move {
            let h: u64 = p.required(0)?;
            let v: Option<bool> = p.optional(1)?;
            Ok(json!([h, v]))
        })
        .unwrap();
        r
    }

    #[tokio::test]
    async fn positional_and_named_calls_agree() {
        let r = registry();
        assert_eq!(r.call("echo", json!([5])).await.unwrap(), json!([5, null]));
        assert_eq!(
            r.call("echo", json!({"verbose": true, "height": 5}))
                .await
                .unwrap(),
            json!([5, true])
        );
    }

    #[tokio::test]
    async fn errors_carry_bitcoin_core_codes() {
        let r = registry();
        assert_eq!(r.call("nope", Value::Null).await.unwrap_err().code, -32601);
        // A wrong count: -1 with the method's help, as Core.
        for params in [json!([]), json!({}), json!([1, true, 3])] {
            let e = r.call("echo", params.clone()).await.unwrap_err();
            assert_eq!(e.code, -1, "{params}");
            assert!(
                e.message
                    .starts_with("echo \"height\" ( \"verbose\" )\n\nechoes"),
                "{}",
                e.message
            );
        }
        assert_eq!(r.call("echo", json!([null])).await.unwrap_err().code, -3);
        assert_eq!(
            r.call("echo", json!({"verbose": true}))
                .await
                .unwrap_err()
                .code,
            -3
        );
        assert_eq!(r.call("echo", json!({"x": 1})).await.unwrap_err().code, -8);
        assert_eq!(r.call("echo", json!(["a"])).await.unwrap_err().code, -3);
    }

    #[test]
    fn a_name_is_registered_once() {
        let r = registry();
        let err = r
            .register("other", "echo", PARAMS, "", |_p: RpcParams| async {
                Ok(Value::Null)
            })
            .unwrap_err();
        assert!(err.contains("\"t\""), "{err}");
    }
}

/// An amount in satoshis as a JSON number with exactly 8 decimals (`50.00000000`), as
/// Bitcoin Core prints amounts. Built from the decimal text, never through `f64`; this is
/// why the workspace enables serde_json's `arbitrary_precision`.
pub fn amount(sats: u64) -> Value {
    let text = format!("{}.{:08}", sats / 100_000_000, sats % 100_000_000);
    Value::Number(text.parse().expect("a decimal literal is a JSON number"))
}

/// Reads an amount given in coins (a JSON number or string such as `0.1`) as satoshis,
/// exactly: more than 8 decimals, a negative value or more than 21 million coins is a -3
/// error, as in Bitcoin Core's AmountFromValue.
pub fn parse_amount(value: &Value) -> Result<u64, RpcError> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => {
            return Err(RpcError::new(
                codes::TYPE_ERROR,
                "Amount is not a number or string",
            ))
        }
    };
    let invalid = || RpcError::new(codes::TYPE_ERROR, format!("Invalid amount {text}"));
    let sats = fixed_point(&text, 8).ok_or_else(invalid)?;
    if sats > 21_000_000 * 100_000_000 {
        return Err(RpcError::new(codes::TYPE_ERROR, "Amount out of range"));
    }
    Ok(sats)
}

/// A non-negative decimal (`0.1`, `.5`, `1e-05`, `12.5E+2`) as an integer count of
/// `10^-decimals`, as Core's `ParseFixedPoint`: the exponent form is what Python's
/// `json.dumps(0.00001)` and many JSON libraries write. `None` when the value has more
/// significant decimals than `decimals` (trailing zeros are not significant), is not a
/// number, or does not fit 63 bits.
fn fixed_point(text: &str, decimals: i64) -> Option<u64> {
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => {
            let digits = exponent.trim_start_matches(['+', '-']);
            // Core takes up to 18 exponent digits; beyond that no amount fits anyway.
            if digits.is_empty()
                || digits.len() > 18
                || exponent.len() - digits.len() > 1
                || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            (mantissa, exponent.parse::<i64>().ok()?)
        }
        None => (text, 0),
    };
    let (whole, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // The digits as one integer, and the power of ten that scales it to units.
    let digits = format!("{whole}{frac}");
    let significant = digits.trim_end_matches('0');
    let trailing = (digits.len() - significant.len()) as i64;
    let significant = significant.trim_start_matches('0');
    let scale = exponent - frac.len() as i64 + trailing + decimals;
    if significant.is_empty() {
        return Some(0);
    }
    if scale < 0 || significant.len() > 18 || scale > 18 {
        return None;
    }
    let value: u64 = significant.parse().ok()?;
    value
        .checked_mul(10u64.checked_pow(u32::try_from(scale).ok()?)?)
        .filter(|v| *v <= i64::MAX as u64)
}

#[cfg(test)]
mod amount_tests {
    use super::*;

    #[test]
    fn amounts_print_with_eight_decimals_exactly() {
        assert_eq!(amount(5_000_000_000).to_string(), "50.00000000");
        assert_eq!(amount(1).to_string(), "0.00000001");
        assert_eq!(
            amount(2_099_999_997_690_000).to_string(),
            "20999999.97690000"
        );
    }

    #[test]
    fn amounts_parse_exactly() {
        assert_eq!(parse_amount(&serde_json::json!(0.1)).unwrap(), 10_000_000);
        assert_eq!(
            parse_amount(&serde_json::json!("1.23456789")).unwrap(),
            123_456_789
        );
        assert_eq!(
            parse_amount(&serde_json::json!(21000000)).unwrap(),
            21_000_000 * 100_000_000
        );
        assert!(parse_amount(&serde_json::json!(0.000000001)).is_err());
        // Exponent forms, as JSON libraries write small numbers, under the same rule.
        let number = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        for (text, sats) in [
            ("1e-05", 1_000),
            ("1E-8", 1),
            ("1.5e+1", 1_500_000_000),
            ("2.5e-3", 250_000),
            ("0.100000000", 10_000_000),
            ("0e0", 0),
            ("1e1", 1_000_000_000),
        ] {
            assert_eq!(parse_amount(&number(text)).unwrap(), sats, "{text}");
            assert_eq!(
                parse_amount(&serde_json::json!(text)).unwrap(),
                sats,
                "{text}"
            );
        }
        for text in [
            "1e-09", "1.5e-8", "1e", "1e+-1", "e5", "1e99", "-1e-5", "1.e",
        ] {
            assert!(parse_amount(&serde_json::json!(text)).is_err(), "{text}");
        }
        assert_eq!(
            parse_amount(&number("2.1e7")).unwrap(),
            21_000_000 * 100_000_000
        );
        assert!(parse_amount(&number("2.1000001e7")).is_err());
        assert!(parse_amount(&serde_json::json!(-1)).is_err());
        assert!(parse_amount(&serde_json::json!(21000001)).is_err());
    }
}
