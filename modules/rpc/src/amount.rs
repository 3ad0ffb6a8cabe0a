//! Amounts in JSON, as Bitcoin Core writes them: numbers in coins with exactly 8 decimals
//! (`50.00000000`, `0.00000001`).
//!
//! `serde_json::Value` can only hold an integer or an `f64`, and its `arbitrary_precision`
//! feature, which keeps number text, changes every number of every crate linked with it
//! (feature unification) and breaks untagged enums. So an amount travels in a `Value` as
//! the `f64` nearest to `sats / 10^8`, and the server writes every JSON number that is
//! exactly such a value with 8 decimals, recovering the satoshis by an exact comparison
//! rather than by rounding. This is lossless for amounts up to 2^26 coins (67,108,864),
//! above any supply our chains allow, because below that two amounts one satoshi apart
//! never share an `f64`. The side effect: a non-amount float that happens to be a whole
//! number of satoshis (a difficulty of exactly `1.0`) is also written with 8 decimals,
//! which JSON readers take as the same number.

use std::io;

use node_kernel::rpc::codes;
use node_kernel::RpcError;
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};
use serde_json::Value;

/// Satoshis per coin.
pub const COIN: i64 = 100_000_000;

/// The largest amount, in satoshis, that is carried and written exactly (2^26 coins).
pub const MAX_EXACT_SATS: i64 = (1 << 26) * COIN;

/// An amount in satoshis as a JSON number in coins, written by the server with exactly 8
/// decimals: `amount(5_000_000_000)` is sent as `50.00000000`. Exact up to
/// [`MAX_EXACT_SATS`].
pub fn amount(sats: i64) -> Value {
    Value::from(sats as f64 / COIN as f64)
}

/// Reads an amount parameter in coins (a number, or a string as Bitcoin Core also
/// accepts) into satoshis: at most 8 decimals, not negative. Errors carry code -3 and
/// Bitcoin Core's messages.
pub fn amount_from_value(value: &Value) -> Result<i64, RpcError> {
    let invalid = || RpcError::new(codes::TYPE_ERROR, "Invalid amount");
    let out_of_range = || RpcError::new(codes::TYPE_ERROR, "Amount out of range");
    let sats = match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.checked_mul(COIN).ok_or_else(out_of_range)?
            } else if n.is_u64() {
                return Err(out_of_range());
            } else {
                let x = n.as_f64().ok_or_else(invalid)?;
                satoshis_of(x).ok_or_else(|| {
                    if x.abs() >= (MAX_EXACT_SATS / COIN) as f64 {
                        out_of_range()
                    } else {
                        invalid()
                    }
                })?
            }
        }
        Value::String(s) => parse_decimal(s).ok_or_else(invalid)?,
        _ => {
            return Err(RpcError::new(
                codes::TYPE_ERROR,
                "Amount is not a number or string",
            ))
        }
    };
    if !(0..=MAX_EXACT_SATS).contains(&sats) {
        return Err(out_of_range());
    }
    Ok(sats)
}

/// The satoshis `x` carries, when `x` is exactly the `f64` nearest to a whole number of
/// satoshis within the exact range.
fn satoshis_of(x: f64) -> Option<i64> {
    if !x.is_finite() {
        return None;
    }
    let guess = (x * COIN as f64).round();
    if guess.abs() > MAX_EXACT_SATS as f64 {
        return None;
    }
    // The product above may be off by up to two near the top of the range; the check is
    // the exact division `amount` performs.
    let guess = guess as i64;
    (guess - 2..=guess + 2).find(|&k| k.abs() <= MAX_EXACT_SATS && k as f64 / COIN as f64 == x)
}

/// Parses `digits[.digits]` with at most 8 significant decimals into satoshis.
fn parse_decimal(text: &str) -> Option<i64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > 8 {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<8}").parse().ok()?
    };
    whole.checked_mul(COIN)?.checked_add(frac)
}

fn write_sats<W: ?Sized + io::Write>(writer: &mut W, sats: i64) -> io::Result<()> {
    let sign = if sats < 0 { "-" } else { "" };
    let abs = sats.unsigned_abs();
    let coin = COIN as u64;
    write!(writer, "{sign}{}.{:08}", abs / coin, abs % coin)
}

/// A formatter that writes amount-valued floats with 8 decimals and leaves everything else
/// to the inner formatter (compact or pretty).
struct AmountFormatter<F>(F);

impl<F: Formatter> Formatter for AmountFormatter<F> {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        match satoshis_of(value) {
            Some(sats) => write_sats(writer, sats),
            None => self.0.write_f64(writer, value),
        }
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_array(writer)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(writer, first)
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_key(writer)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_value(writer)
    }
}

/// Writes JSON with amounts as Bitcoin Core writes them; `pretty` indents by two spaces
/// as bitcoin-cli prints.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T, pretty: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    // Writing JSON values and replies into a Vec cannot fail: keys are strings and
    // floats are finite.
    let written = if pretty {
        let mut ser = serde_json::Serializer::with_formatter(
            &mut out,
            AmountFormatter(PrettyFormatter::new()),
        );
        value.serialize(&mut ser)
    } else {
        let mut ser =
            serde_json::Serializer::with_formatter(&mut out, AmountFormatter(CompactFormatter));
        value.serialize(&mut ser)
    };
    debug_assert!(written.is_ok(), "serializing JSON failed: {written:?}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(v: &Value) -> String {
        String::from_utf8(to_json(v, false)).unwrap()
    }

    #[test]
    fn amounts_have_eight_decimals() {
        assert_eq!(text(&amount(5_000_000_000)), "50.00000000");
        assert_eq!(text(&amount(1)), "0.00000001");
        assert_eq!(text(&amount(0)), "0.00000000");
        assert_eq!(text(&amount(-12_345)), "-0.00012345");
        assert_eq!(text(&amount(10_000_000)), "0.10000000");
        assert_eq!(text(&amount(2_100_000_000_000_000)), "21000000.00000000");
        assert_eq!(text(&amount(2_099_999_999_999_999)), "20999999.99999999");
        assert_eq!(text(&amount(MAX_EXACT_SATS)), "67108864.00000000");
        assert_eq!(text(&amount(MAX_EXACT_SATS - 1)), "67108863.99999999");
    }

    #[test]
    fn other_numbers_are_left_alone() {
        let v = json!({"height": 7, "big": u64::MAX, "difficulty": 4.656542373906925e-10, "third": 1.0 / 3.0});
        assert_eq!(
            text(&v),
            r#"{"big":18446744073709551615,"difficulty":4.656542373906925e-10,"height":7,"third":0.3333333333333333}"#
        );
    }

    #[test]
    fn pretty_output_indents_by_two() {
        let v = json!({"a": [amount(1)]});
        let pretty = String::from_utf8(to_json(&v, true)).unwrap();
        assert_eq!(pretty, "{\n  \"a\": [\n    0.00000001\n  ]\n}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Written text parses back to the same Value, and the satoshis come back exactly.
        #[test]
        fn amounts_round_trip_exactly(sats in -MAX_EXACT_SATS..=MAX_EXACT_SATS) {
            let v = amount(sats);
            let written = text(&v);
            let expected = format!("{}{}.{:08}", if sats < 0 { "-" } else { "" }, sats.unsigned_abs() / 100_000_000, sats.unsigned_abs() % 100_000_000);
            proptest::prop_assert_eq!(&written, &expected);
            let parsed: Value = serde_json::from_str(&written).unwrap();
            proptest::prop_assert_eq!(&parsed, &v);
            if sats >= 0 {
                proptest::prop_assert_eq!(amount_from_value(&parsed).unwrap(), sats);
                proptest::prop_assert_eq!(amount_from_value(&Value::String(written)).unwrap(), sats);
            }
        }
    }

    #[test]
    fn amount_parameters_are_read_exactly() {
        assert_eq!(amount_from_value(&json!(0.1)).unwrap(), 10_000_000);
        assert_eq!(amount_from_value(&json!(1)).unwrap(), COIN);
        assert_eq!(amount_from_value(&json!(0.00000001)).unwrap(), 1);
        assert_eq!(amount_from_value(&json!("0.1")).unwrap(), 10_000_000);
        assert_eq!(amount_from_value(&json!(".5")).unwrap(), 50_000_000);
        assert_eq!(amount_from_value(&json!("2")).unwrap(), 2 * COIN);
        assert_eq!(
            amount_from_value(&json!("1.100000000000")).unwrap(),
            110_000_000
        );
        let err = |v: Value| amount_from_value(&v).unwrap_err();
        assert_eq!(err(json!(0.000000001)).message, "Invalid amount");
        assert_eq!(err(json!("0.000000001")).message, "Invalid amount");
        assert_eq!(err(json!("1e-8")).message, "Invalid amount");
        assert_eq!(err(json!("")).message, "Invalid amount");
        assert_eq!(err(json!(".")).message, "Invalid amount");
        assert_eq!(err(json!("-1")).message, "Invalid amount");
        assert_eq!(err(json!(-1)).message, "Amount out of range");
        assert_eq!(err(json!(1e300)).message, "Amount out of range");
        assert_eq!(err(json!(u64::MAX)).message, "Amount out of range");
        assert_eq!(err(json!(true)).message, "Amount is not a number or string");
        assert_eq!(err(json!(true)).code, -3);
    }
}
