//! churnkit's machine-learning core, all in memory: a [`table::Table`] (from a CSV or a polars
//! DataFrame) and its [`schema::Schema`], the stratified [`preprocess::Split`] and the fitted
//! [`preprocess::Preprocessor`], the [`forest`] and the saved-model form [`model::Model`],
//! [`evaluate`] with its [`plots`].
//!
//! This crate knows nothing of where files go, of networks, terminals or processes: the
//! `churnkit` crate adds the file layout and tracking on top, and `churnkit-cli` the command line.
//! Every fallible function returns [`Result`] with the one [`Error`] type.
#![doc(html_root_url = "https://docs.rs/churnkit-core")]

pub mod calibration;
pub mod chart;
pub mod columnar;
pub mod decisions;
pub mod error;
pub mod evaluate;
pub mod explain;
pub mod forest;
pub mod format;
pub mod frame;
pub mod gains;
pub mod generate;
pub mod importance;
pub mod io;
pub mod model;
pub mod plots;
pub mod preprocess;
pub mod profit;
pub mod rng;
pub mod schema;
pub mod significance;
pub mod stats;
pub mod table;

pub use error::{Error, ErrorKind, Result, Transience};
pub use linfa;
pub use polars;

/// The churnkit version, written into every file it saves.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
