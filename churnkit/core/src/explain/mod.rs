//! Why the model scores as it does: exact TreeSHAP contributions per customer and their
//! charts ([`shap`], also reached as `Model::explain`), and permutation importance on held-out
//! rows ([`importance`]).

pub mod importance;
pub mod shap;

pub use shap::*;
