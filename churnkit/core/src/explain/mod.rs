//! Why the model scores as it does: exact TreeSHAP contributions per customer ([`shap`], also
//! reached as `Model::explain`), what they are as reasons and charts ([`contributions`]), and
//! permutation importance on held-out rows ([`importance`]).

pub mod contributions;
pub mod importance;
pub mod shap;

pub use contributions::*;
pub use shap::*;
