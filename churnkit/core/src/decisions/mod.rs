//! What a retention team decides from an evaluation: whom to target ([`gains`] and lift), at
//! which threshold ([`profit`]), how far the probabilities can be trusted ([`calibration`]),
//! and all three as one [`Decisions`] value with its tables and charts ([`report`]); and, when
//! customers are worth different amounts, whom an offer pays for ([`targeting`]).

pub mod calibration;
pub mod gains;
pub mod profit;
pub mod report;
pub mod targeting;

pub use report::*;
