//! The requests notebook cells send to the churnkit engine, and their answers, defined once.
//!
//! `churnkit-cells` (what a cell compiles against) and `churnkit-engine` (polars and the models,
//! built once in release mode) both expand the one table of [`ops`]: each op is a record of typed
//! fields with its answer type. The cells build a record and send it; the engine implements
//! [`ops::Handler`], one method per op, so an op added, renamed or retyped on one side and not on
//! the other does not compile. The wire is `method\n{json}` in, `ok\n{json}` or `err\n{message}`
//! out; records refuse unknown keys and wrongly typed values (see [`wire::Wire`]).
//!
//! [`PROTOCOL`] is a hash of the table's source: an engine built from another table is refused
//! when the cells load it, with a line saying to rebuild it.
//!
//! ```
//! use churnkit_protocol::{ops::Summary, wire::Ref, Request};
//! let req = Summary { frame: Ref::new(3) };
//! assert_eq!(Summary::METHOD, "summary");
//! assert_eq!(churnkit_protocol::encode(&req), "summary\n{\"frame\":3}");
//! ```

// Before the modules: `ops` expands it.
/// Define the ops: a record per op, its [`Request`] impl, the engine's `Handler` trait with one
/// method per op, `dispatch` from a method name to the handler, and `METHODS`.
macro_rules! define_ops {
    ($(
        $(#[$m:meta])*
        $method:ident : $name:ident { $( $(#[$fm:meta])* $f:ident : $t:ty ),* $(,)? } -> $answer:ty;
    )*) => {
        $crate::records! {$(
            $(#[$m])*
            pub struct $name { $( $(#[$fm])* pub $f: $t ),* }
        )*}

        $(impl $crate::Request for $name {
            const METHOD: &'static str = stringify!($method);
            type Answer = $answer;
        })*

        /// What the engine implements: one method per op.
        pub trait Handler {
            $(
                #[allow(missing_docs)]
                fn $method(&mut self, req: $name) -> Result<$answer, String>;
            )*
        }

        /// Read the fields of `method`, run it on `handler`, write its answer.
        pub fn dispatch<H: Handler>(
            handler: &mut H,
            method: &str,
            fields: &$crate::json::Json,
        ) -> Result<String, String> {
            use $crate::wire::Wire;
            match method {
                $(stringify!($method) => {
                    let req = $name::read(fields)
                        .map_err(|e| format!("bad request `{}`: {e}", stringify!($method)))?;
                    Ok(handler.$method(req)?.to_json())
                })*
                _ => Err(format!(
                    "unknown request `{method}`: churnkit-cells and the engine disagree; rebuild the engine (scripts/jupyter-setup.sh)"
                )),
            }
        }

        /// Every op's name.
        pub const METHODS: &[&str] = &[$(stringify!($method)),*];
    };
}

pub mod json;
pub mod ops;
pub mod wire;

use wire::Wire;

/// One op: its name on the wire, its fields (the record itself) and its answer.
pub trait Request: Wire {
    /// The op's name.
    const METHOD: &'static str;
    /// What the engine answers.
    type Answer: Wire;
}

/// FNV-1a, 32 bits, at compile time.
const fn fnv1a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u32;
        h = h.wrapping_mul(0x0100_0193);
        i += 1;
    }
    h
}

/// The protocol version: FNV-1a (32 bits) of `ops.rs`, so any change to the table changes it.
/// scripts/jupyter-setup.sh computes the same hash of the same file to check a built engine.
pub const PROTOCOL: u32 = fnv1a(include_bytes!("ops.rs"));

/// A request as it travels: `method\n{json}`.
pub fn encode<R: Request>(req: &R) -> String {
    let mut s = String::with_capacity(64);
    s.push_str(R::METHOD);
    s.push('\n');
    req.write(&mut s);
    s
}

/// Split a request into its method and its fields.
pub fn decode(text: &str) -> Result<(&str, json::Json), String> {
    let (method, body) = text.split_once('\n').ok_or("bad request: no method line")?;
    Ok((
        method,
        json::parse(body).map_err(|e| format!("bad request: {e}"))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_has_its_own_name_and_the_version_follows_the_table() {
        let mut names = ops::METHODS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ops::METHODS.len(), "two ops share a name");
        assert_eq!(PROTOCOL, fnv1a(include_bytes!("ops.rs")));
        assert_ne!(PROTOCOL, fnv1a(b"another table"));
    }

    #[test]
    fn a_request_reads_back_as_it_was_written() {
        let req = ops::Head {
            frame: wire::Ref::new(7),
            n: 5,
        };
        let text = encode(&req);
        let (method, fields) = decode(&text).unwrap();
        assert_eq!(method, "head");
        assert_eq!(ops::Head::read(&fields).unwrap(), req);
    }
}
