//! The figures a benchmark prints: one JSON object per line, `{"name", "value", "unit"}`,
//! on stdout, which is what the book's benchmark page (docs/src/benchmarks.md) and any
//! comparison script read.

use serde_json::{json, Value};

/// Prints one figure as a JSON line.
pub(crate) fn print(name: &str, value: Value, unit: &str) {
    println!("{}", json!({ "name": name, "value": value, "unit": unit }));
}

/// `value` rounded to `places` decimal places, so a figure shows no false precision.
pub(crate) fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}
