//! Charts as PNG bytes: the plotters renderer with its bundled font ([`render`]), a classifier's
//! evaluation charts ([`classifier`]), summary charts of data and models ([`summary`]), step curves with bands and
//! estimates with intervals ([`curves`]: survival curves, hazard ratios), and a
//! chart builder for any columns of a table ([`explore`]).
//! Charts take plain numbers (slices, counts, names), never a metric or model type, so every
//! other part may draw and this one depends on none of them.

pub mod classifier;
pub mod curves;
pub mod explore;
pub mod html;
pub mod render;
pub mod summary;
