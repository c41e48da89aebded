//! The header every churnkit file carries (`format` and `format_version`), checked in one place
//! before the rest of a file is trusted.

use crate::ensure;
use crate::error::{Error, Result};
use serde_json::Value;

/// Parse `bytes` as JSON and check its `format` tag and `format_version`. `what` names the kind
/// of file in messages ("model"), `hint` says what to do about an unsupported version. Returns
/// the parsed value and its version. Errors are of kind [`Model`](crate::error::ErrorKind::Model).
///
/// ```
/// use churnkit_core::format::parse_versioned;
/// let (_, v) = parse_versioned(br#"{"format":"x","format_version":2}"#, "x", &[1, 2], "thing", "").unwrap();
/// assert_eq!(v, 2);
/// let e = parse_versioned(br#"{"format":"x","format_version":9}"#, "x", &[1], "thing", "update").unwrap_err();
/// assert!(e.to_string().contains("format_version 9"));
/// ```
pub fn parse_versioned(
    bytes: &[u8],
    format: &str,
    supported: &[u32],
    what: &str,
    hint: &str,
) -> Result<(Value, u32)> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::model(format!("not valid JSON (corrupt or truncated file?): {e}")))?;
    ensure!(
        v.get("format").and_then(Value::as_str) == Some(format),
        model,
        "not a churnkit {what} file (format is not '{format}')"
    );
    let version = v.get("format_version").and_then(Value::as_u64);
    match version.and_then(|n| u32::try_from(n).ok()) {
        Some(n) if supported.contains(&n) => Ok((v, n)),
        _ => {
            let reads: Vec<String> = supported.iter().map(u32::to_string).collect();
            Err(Error::model(format!(
                "{what} format_version {} is not supported by this churnkit (it reads {}){}{hint}",
                version.map_or("missing".into(), |v| v.to_string()),
                reads.join(", "),
                if hint.is_empty() { "" } else { "; " },
            )))
        }
    }
}
