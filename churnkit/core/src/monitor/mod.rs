//! Watching a deployed model: do the customers it scores still look like the ones it was
//! trained on ([`drift`]), and how is it doing before the churn labels arrive ([`estimate`])?
//!
//! Everything takes columns of numbers (the preprocessed features: numbers as scaled, categories
//! as their codes, unseen categories as missing) and returns values; the CLI's `monitor` adds
//! the files.

pub mod drift;
pub mod estimate;

pub use drift::{drift, ks_2samp, psi, DriftOptions, DriftReport, FeatureDrift};
pub use estimate::{cbpe, Estimated};
