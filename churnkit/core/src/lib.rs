//! churnkit's machine-learning core, all in memory. Each folder is one part:
//!
//! - [`data`]: a [`table::Table`] (from a CSV or a polars DataFrame), its [`schema::Schema`],
//!   numeric [`frame::Frame`]s, the columnar split file, all-or-nothing file output, file
//!   headers and the synthetic table generator;
//! - [`preprocess`]: cleaning, the stratified [`preprocess::Split`] and the fitted
//!   [`preprocess::Preprocessor`];
//! - [`forest`]: churnkit's random forest (params, trees, binning, growing, prediction,
//!   out-of-bag scores), and [`model`], the saved-model form;
//! - [`metrics`]: classification metrics and reports, significance tests;
//! - [`decisions`]: gains and lift, the profit threshold, calibration;
//! - [`explain`]: TreeSHAP reasons and permutation importance;
//! - [`survival`]: Kaplan-Meier, log-rank, Cox proportional hazards, lifetime value;
//! - [`monitor`]: drift of a scoring batch and performance estimated before the labels;
//! - [`charts`]: PNG rendering and the exploration chart builder, drawn from plain data.
//!
//! Dependencies between the parts point one way (a test holds it): `data` <- `preprocess` <-
//! `metrics`; `forest` <- `model` <- `explain`; `charts` draws from slices and knows no
//! metric type.
//!
//! This crate knows nothing of where files go, of networks, terminals or processes: the
//! `churnkit` crate adds the file layout and tracking on top, and `churnkit-cli` the command line.
//! Every fallible function returns [`Result`] with the one [`Error`] type.
#![doc(html_root_url = "https://docs.rs/churnkit-core")]

pub mod charts;
pub mod data;
pub mod decisions;
pub mod error;
pub mod explain;
pub mod forest;
pub mod metrics;
pub mod model;
pub mod monitor;
pub mod preprocess;
pub mod rng;
pub mod stats;
pub mod survival;

// The flat paths of earlier releases (`churnkit::table`, `churnkit::evaluate`, ...), which the
// notebooks, the README and users' code name.
pub use charts::explore as chart;

/// Every chart function under one path, as earlier releases had them.
pub mod plots {
    pub use crate::charts::classifier::*;
    pub use crate::charts::curves::*;
    pub use crate::charts::render::*;
    pub use crate::charts::summary::*;
}
pub use data::{columnar, format, frame, generate, io, table};

/// The schema and its inference under one path, as earlier releases had them.
pub mod schema {
    pub use crate::data::infer::*;
    pub use crate::data::schema::*;
}
pub use decisions::{calibration, gains, profit};
pub use explain::importance;
pub use metrics::{classification as evaluate, significance};

pub use error::{Error, ErrorKind, Result, Transience};
pub use linfa;
pub use polars;

/// The churnkit version, written into every file it saves.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
