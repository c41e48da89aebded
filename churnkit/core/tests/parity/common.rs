//! Helpers shared by the tests that compare churnkit with Python's answers on fixed inputs
//! (`fixtures/*.json`, made by the `fixtures/make_*.py` scripts).

use serde_json::Value;

/// The fixture `fixtures/<name>`.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A JSON array of numbers; anything else (Python's `inf`, written as a string) is +inf.
pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::INFINITY))
        .collect()
}
