//! Numbers about a model's scores: classification metrics, curves and reports computed as
//! scikit-learn computes them ([`classification`]), and whether a feature relates to churn at
//! all ([`significance`], scipy's tests).

pub mod classification;
pub mod significance;
