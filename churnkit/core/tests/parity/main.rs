//! The core against its reference implementations on fixed inputs: metrics and curves against
//! scikit-learn, calibration against scikit-learn, significance tests against scipy. The
//! fixtures (`fixtures/*.json`) are made by the `fixtures/make_*.py` scripts, so these tests need
//! no Python at run time. One test binary, one module per reference.

mod calibration;
mod common;
mod metrics;
mod significance;
