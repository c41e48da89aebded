//! How each value travels: [`Wire`] writes a value as JSON and reads it back, strictly (a wrong
//! type or an unknown key is an error naming the key, never a silent default).

use crate::json::{number, quote, Json};
use std::collections::BTreeMap;
use std::marker::PhantomData;

/// A value that travels between the cells and the engine.
pub trait Wire: Sized {
    /// Append the value's JSON to `out`.
    fn write(&self, out: &mut String);
    /// Read the value back.
    fn read(v: &Json) -> Result<Self, String>;
    /// The value of a record field that is absent: only options have one.
    fn absent() -> Option<Self> {
        None
    }
    /// The value's JSON.
    fn to_json(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Num(_) => "a number",
        Json::Str(_) => "text",
        Json::Arr(_) => "a list",
        Json::Obj(_) => "an object",
    }
}

/// "expected X, got Y".
pub fn expected(what: &str, v: &Json) -> String {
    format!("expected {what}, got {}", kind(v))
}

impl Wire for String {
    fn write(&self, out: &mut String) {
        out.push_str(&quote(self));
    }
    fn read(v: &Json) -> Result<Self, String> {
        v.str().map(String::from).ok_or_else(|| expected("text", v))
    }
}

impl Wire for bool {
    fn write(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
    fn read(v: &Json) -> Result<Self, String> {
        v.bool().ok_or_else(|| expected("true or false", v))
    }
}

/// Not finite travels as `null` and comes back as NaN: metrics can be undefined.
impl Wire for f64 {
    fn write(&self, out: &mut String) {
        out.push_str(&number(*self));
    }
    fn read(v: &Json) -> Result<Self, String> {
        match v {
            Json::Num(x) => Ok(*x),
            Json::Null => Ok(f64::NAN),
            _ => Err(expected("a number", v)),
        }
    }
}

macro_rules! whole_numbers {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            fn write(&self, out: &mut String) {
                out.push_str(&self.to_string());
            }
            fn read(v: &Json) -> Result<Self, String> {
                match v {
                    // Exact below 2^53, which handles and counts never reach.
                    Json::Num(x) if x.fract() == 0.0 && *x >= 0.0 && *x <= <$t>::MAX as f64 => {
                        Ok(*x as $t)
                    }
                    _ => Err(expected("a whole number of at least 0", v)),
                }
            }
        }
    )*};
}
whole_numbers!(usize, u64, u32);

impl Wire for () {
    fn write(&self, out: &mut String) {
        out.push_str("null");
    }
    fn read(v: &Json) -> Result<Self, String> {
        match v {
            Json::Null => Ok(()),
            _ => Err(expected("null", v)),
        }
    }
}

impl<T: Wire> Wire for Option<T> {
    fn write(&self, out: &mut String) {
        match self {
            Some(v) => v.write(out),
            None => out.push_str("null"),
        }
    }
    fn read(v: &Json) -> Result<Self, String> {
        match v {
            Json::Null => Ok(None),
            v => T::read(v).map(Some),
        }
    }
    fn absent() -> Option<Self> {
        Some(None)
    }
}

impl<T: Wire> Wire for Vec<T> {
    fn write(&self, out: &mut String) {
        out.push('[');
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            v.write(out);
        }
        out.push(']');
    }
    fn read(v: &Json) -> Result<Self, String> {
        match v {
            Json::Arr(items) => items
                .iter()
                .enumerate()
                .map(|(i, x)| T::read(x).map_err(|e| format!("item {i}: {e}")))
                .collect(),
            _ => Err(expected("a list", v)),
        }
    }
}

impl<A: Wire, B: Wire> Wire for (A, B) {
    fn write(&self, out: &mut String) {
        out.push('[');
        self.0.write(out);
        out.push(',');
        self.1.write(out);
        out.push(']');
    }
    fn read(v: &Json) -> Result<Self, String> {
        match v.arr() {
            [a, b] => Ok((A::read(a)?, B::read(b)?)),
            _ => Err(expected("a pair", v)),
        }
    }
}

impl<T: Wire> Wire for BTreeMap<String, T> {
    fn write(&self, out: &mut String) {
        out.push('{');
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&quote(k));
            out.push(':');
            v.write(out);
        }
        out.push('}');
    }
    fn read(v: &Json) -> Result<Self, String> {
        match v {
            Json::Obj(m) => m
                .iter()
                .map(|(k, x)| Ok((k.clone(), T::read(x).map_err(|e| format!("`{k}`: {e}"))?)))
                .collect(),
            _ => Err(expected("an object", v)),
        }
    }
}

/// A handle to an engine object of kind `K` (a marker type of [`crate::kind`]): the engine checks
/// the kind when it looks the object up, so a model passed where a table belongs is an error.
pub struct Ref<K> {
    /// The engine's number for the object.
    pub id: u64,
    kind: PhantomData<fn() -> K>,
}

impl<K> Ref<K> {
    /// The handle of object `id`.
    pub const fn new(id: u64) -> Self {
        Ref {
            id,
            kind: PhantomData,
        }
    }
    /// The same object seen as another kind (a trained model is also a model).
    pub const fn cast<L>(self) -> Ref<L> {
        Ref::new(self.id)
    }
}

// By hand: derives would demand `K: Clone` etc. of the marker types.
impl<K> Clone for Ref<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Ref<K> {}
impl<K> PartialEq for Ref<K> {
    fn eq(&self, o: &Self) -> bool {
        self.id == o.id
    }
}
impl<K> std::fmt::Debug for Ref<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ref({})", self.id)
    }
}

impl<K> Wire for Ref<K> {
    fn write(&self, out: &mut String) {
        self.id.write(out);
    }
    fn read(v: &Json) -> Result<Self, String> {
        u64::read(v).map(Ref::new)
    }
}

/// Read field `key` of a record's object: absent is an error unless the field is an option.
pub fn field<T: Wire>(m: &BTreeMap<String, Json>, key: &str) -> Result<T, String> {
    match m.get(key) {
        Some(v) => T::read(v).map_err(|e| format!("`{key}`: {e}")),
        None => T::absent().ok_or_else(|| format!("`{key}` is missing")),
    }
}

/// Refuse keys a record does not have, naming the closest one it has.
pub fn known_keys(m: &BTreeMap<String, Json>, known: &[&str]) -> Result<(), String> {
    match m.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => Err(format!(
            "unknown key `{k}` (known: {})",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Define records that travel as JSON objects: every field is written, an absent option reads as
/// `None`, anything else absent or unknown is an error.
#[macro_export]
macro_rules! records {
    ($(
        $(#[$m:meta])*
        pub struct $name:ident { $( $(#[$fm:meta])* pub $f:ident : $t:ty ),* $(,)? }
    )*) => {$(
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name { $( $(#[$fm])* pub $f: $t ),* }

        impl $crate::wire::Wire for $name {
            #[allow(unused_assignments, unused_mut, unused_variables)]
            fn write(&self, out: &mut String) {
                out.push('{');
                let mut first = true;
                $(
                    if !first { out.push(','); }
                    first = false;
                    out.push_str(concat!("\"", stringify!($f), "\":"));
                    $crate::wire::Wire::write(&self.$f, out);
                )*
                out.push('}');
            }
            #[allow(unused_variables)]
            fn read(v: &$crate::json::Json) -> Result<Self, String> {
                let $crate::json::Json::Obj(m) = v else {
                    return Err($crate::wire::expected("an object", v));
                };
                $crate::wire::known_keys(m, &[$(stringify!($f)),*])?;
                Ok($name { $( $f: $crate::wire::field(m, stringify!($f))? ),* })
            }
        }
    )*};
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    records! {
        /// A test record.
        pub struct R {
            pub a: usize,
            pub b: Option<String>,
            pub c: Vec<(String, f64)>,
        }
    }

    #[test]
    fn records_round_trip_and_refuse_what_they_do_not_know() {
        let r = R {
            a: 3,
            b: None,
            c: vec![("x\"".into(), 0.5)],
        };
        let back = R::read(&parse(&r.to_json()).unwrap()).unwrap();
        assert_eq!(back, r);
        // An absent option is None; an absent number is an error naming it.
        assert_eq!(
            R::read(&parse(r#"{"a": 1, "c": []}"#).unwrap()).unwrap().b,
            None
        );
        let e = R::read(&parse(r#"{"c": []}"#).unwrap()).unwrap_err();
        assert_eq!(e, "`a` is missing");
        // A renamed key is refused, not ignored.
        let e = R::read(&parse(r#"{"a": 1, "c": [], "bb": "x"}"#).unwrap()).unwrap_err();
        assert!(e.starts_with("unknown key `bb`"), "{e}");
        // A wrongly typed value names the key and the types.
        let e = R::read(&parse(r#"{"a": "8", "c": []}"#).unwrap()).unwrap_err();
        assert_eq!(e, "`a`: expected a whole number of at least 0, got text");
        let e = R::read(&parse(r#"{"a": 2.5, "c": []}"#).unwrap()).unwrap_err();
        assert!(e.contains("whole number"), "{e}");
        let e = R::read(&parse(r#"{"a": 1, "c": [["x", "y"]]}"#).unwrap()).unwrap_err();
        assert_eq!(e, "`c`: item 0: expected a number, got text");
    }

    #[test]
    fn undefined_numbers_travel_as_null() {
        let v = parse(&f64::NAN.to_json()).unwrap();
        assert!(f64::read(&v).unwrap().is_nan());
        assert_eq!(Option::<f64>::read(&Json::Null).unwrap(), None);
    }
}
