//! The `churnkit` binary end to end, one test binary with a module per area: the commands on
//! generated and real tables, tracking against a real MLflow server, and the model registry.
//! `cargo test --test cli -- mlflow:: registry::` runs the server tests alone.

mod commands;
mod common;
mod mlflow;
mod real_tables;
mod registry;
mod survival;
