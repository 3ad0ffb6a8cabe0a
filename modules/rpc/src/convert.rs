//! Command-line arguments of `node rpc` as JSON-RPC parameters, per method and position
//! as bitcoin-cli's `vRPCConvertParams` table does, from the parameters the node declares.
//!
//! bitcoin-cli keeps a table, compiled in, of the (method, position) pairs to parse as
//! JSON; every other argument is sent as a string. Our table is the node's own: before a
//! call with arguments, the client asks `getmethodparams METHOD` (this node's method, not
//! Core's), so a third-party module's methods convert as well as the built-in ones. A
//! `string` or `hex` parameter is sent as the text given (an address or a label "1234"
//! stays a string); the other kinds are parsed as JSON, and an argument that does not
//! parse is an error naming it, as bitcoin-cli's "Error parsing JSON". A method the node
//! does not describe (unknown, or a node without `getmethodparams`, or a user whose
//! whitelist leaves it out) and an argument past the declared ones fall back to the
//! guess: JSON when it parses, else a string.

use node_api::ParamKind;
use serde_json::{Map, Value};

use crate::error::ClientError;

/// A parameter as `getmethodparams` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeclaredParam {
    /// The name, for `-named` calls.
    pub(crate) name: String,
    /// What it holds; `None` for a kind this client does not know (a newer node's).
    pub(crate) kind: Option<ParamKind>,
}

/// Reads a `getmethodparams` answer; `None` when it is not one.
pub(crate) fn declared_params(answer: &Value) -> Option<Vec<DeclaredParam>> {
    answer
        .as_array()?
        .iter()
        .map(|p| {
            Some(DeclaredParam {
                name: p.get("name")?.as_str()?.to_string(),
                kind: ParamKind::from_name(p.get("kind")?.as_str()?),
            })
        })
        .collect()
}

/// Positional arguments as parameters. `declared` is `None` when the node did not
/// describe the method.
pub(crate) fn positional(
    method: &str,
    args: &[String],
    declared: Option<&[DeclaredParam]>,
) -> Result<Vec<Value>, ClientError> {
    args.iter()
        .enumerate()
        .map(|(i, arg)| {
            let param = declared.and_then(|d| d.get(i));
            let label = match param {
                Some(p) => format!("argument {} of {method}, {}", i + 1, p.name),
                None => format!("argument {} of {method}", i + 1),
            };
            convert(&label, param.and_then(|p| p.kind), arg)
        })
        .collect()
}

/// `-named` arguments (`name=value`, split at the first `=`, as bitcoin-cli) as an object
/// of parameters. A name the method does not declare is sent as given, for the node to
/// refuse.
pub(crate) fn named(
    method: &str,
    args: &[String],
    declared: Option<&[DeclaredParam]>,
) -> Result<Map<String, Value>, ClientError> {
    let mut params = Map::new();
    for arg in args {
        let (name, value) = arg.split_once('=').ok_or_else(|| ClientError::Argument {
            reason: format!(
                "No '=' in named argument '{arg}', this needs to be present for every \
                 argument (even if it is empty)"
            ),
        })?;
        if params.contains_key(name) {
            return Err(ClientError::Argument {
                reason: format!("Parameter {name} specified multiple times"),
            });
        }
        let kind = declared
            .and_then(|d| d.iter().find(|p| p.name == name))
            .and_then(|p| p.kind);
        let value = convert(&format!("argument {name} of {method}"), kind, value)?;
        params.insert(name.to_string(), value);
    }
    Ok(params)
}

/// One argument: text kinds as they are, other known kinds parsed as JSON (an error
/// when they do not parse), `any` and unknown ones guessed.
fn convert(label: &str, kind: Option<ParamKind>, arg: &str) -> Result<Value, ClientError> {
    match kind {
        Some(kind) if kind.is_text() => Ok(Value::String(arg.to_string())),
        Some(ParamKind::Any) | None => Ok(guess(arg)),
        Some(kind) => serde_json::from_str(arg).map_err(|_| ClientError::Argument {
            reason: format!("Error parsing JSON: {arg} ({label}: {})", kind.help_name()),
        }),
    }
}

/// The guess for a parameter of unknown kind: JSON when the text parses as JSON (`5`,
/// `true`, `[1,2]`, `"quoted"`), else the text as a string.
fn guess(arg: &str) -> Value {
    serde_json::from_str(arg).unwrap_or_else(|_| Value::String(arg.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn declared(list: &[(&str, ParamKind)]) -> Vec<DeclaredParam> {
        list.iter()
            .map(|(name, kind)| DeclaredParam {
                name: name.to_string(),
                kind: Some(*kind),
            })
            .collect()
    }

    #[test]
    fn text_parameters_stay_strings_and_others_are_json() {
        let d = declared(&[
            ("label", ParamKind::String),
            ("n", ParamKind::Numeric),
            ("flag", ParamKind::Boolean),
            ("hash", ParamKind::Hex),
        ]);
        assert_eq!(
            positional(
                "m",
                &args(&["1234", "5", "true", "00ff", "extra"]),
                Some(&d)
            )
            .unwrap(),
            vec![
                json!("1234"),
                json!(5),
                json!(true),
                json!("00ff"),
                json!("extra")
            ]
        );
    }

    #[test]
    fn a_bad_json_argument_is_named() {
        let d = declared(&[("template_request", ParamKind::Object)]);
        let err = positional("getblocktemplate", &args(&["{bad"]), Some(&d))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Error parsing JSON: {bad")
                && err.contains("argument 1 of getblocktemplate, template_request: json object"),
            "{err}"
        );
    }

    #[test]
    fn undescribed_methods_fall_back_to_the_guess() {
        assert_eq!(
            positional(
                "m",
                &args(&[
                    "5",
                    "true",
                    "[1,2]",
                    "{\"a\":1}",
                    "\"q\"",
                    "abc",
                    "-1",
                    "0.1"
                ]),
                None
            )
            .unwrap(),
            vec![
                json!(5),
                json!(true),
                json!([1, 2]),
                json!({"a": 1}),
                json!("q"),
                json!("abc"),
                json!(-1),
                json!(0.1)
            ]
        );
    }

    #[test]
    fn named_arguments_convert_by_name() {
        let d = declared(&[
            ("blockhash", ParamKind::Hex),
            ("verbosity", ParamKind::Numeric),
        ]);
        let params = named(
            "getblock",
            &args(&["verbosity=2", "blockhash=00ab"]),
            Some(&d),
        )
        .unwrap();
        assert_eq!(
            Value::Object(params),
            json!({"verbosity": 2, "blockhash": "00ab"})
        );
        // Split at the first '=': a value may hold more.
        let d = declared(&[("label", ParamKind::String)]);
        let params = named("m", &args(&["label=a=b"]), Some(&d)).unwrap();
        assert_eq!(Value::Object(params), json!({"label": "a=b"}));
        let err = named("m", &args(&["label"]), Some(&d))
            .unwrap_err()
            .to_string();
        assert!(err.contains("No '=' in named argument 'label'"), "{err}");
        let err = named("m", &args(&["label=a", "label=b"]), Some(&d))
            .unwrap_err()
            .to_string();
        assert!(err.contains("specified multiple times"), "{err}");
    }

    #[test]
    fn answers_of_getmethodparams_are_read() {
        let answer = json!([
            {"name": "height", "kind": "numeric", "required": true, "description": "h"},
            {"name": "future", "kind": "someday", "required": false, "description": ""},
        ]);
        assert_eq!(
            declared_params(&answer).unwrap(),
            vec![
                DeclaredParam {
                    name: "height".into(),
                    kind: Some(ParamKind::Numeric)
                },
                DeclaredParam {
                    name: "future".into(),
                    kind: None
                },
            ]
        );
        assert!(declared_params(&json!("text")).is_none());
    }
}
