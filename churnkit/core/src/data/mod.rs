//! Customer data in memory and at the edge: the [`table::Table`] of text cells and what its
//! columns mean ([`schema`]), numeric feature [`frame`]s and their binary [`columnar`] copy,
//! all-or-nothing file output ([`io`]), schema inference ([`infer`]), the versioned header every file carries ([`format`]),
//! and synthetic tables ([`generate`]).

pub mod chunks;
pub mod columnar;
pub mod format;
pub mod frame;
pub mod generate;
pub mod infer;
pub mod io;
pub mod schema;
pub mod table;
