//! churnkit: churn modelling in Rust.
//!
//! The workflow of the guide, step by step: [`generate`] sample data, [`preprocess`] it,
//! train a [`forest`], [`evaluate`] it with [`plots`], and [`tracking`] runs (MLflow or a
//! local store).
#![doc(html_root_url = "https://docs.rs/churnkit")]

pub mod evaluate;
pub mod forest;
pub mod frame;
pub mod generate;
pub mod io;
pub mod model;
#[cfg(feature = "notebook")]
pub mod notebook;
pub mod pipeline;
pub mod plots;
pub mod preprocess;
pub mod rng;
pub mod schema;
pub mod table;
pub mod tracking;

pub use polars;
