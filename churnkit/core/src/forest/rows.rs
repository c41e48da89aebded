//! What the tree walkers and the binning read rows from: a row-major ndarray, or columns (a
//! frame's layout, read without a row-major copy), in blocks of [`BLOCK`] rows.

use ndarray::ArrayView2;

/// A matrix the tree walkers read rows from: a row-major ndarray, or columns (a [`Frame`]'s
/// layout, read without a row-major copy).
///
/// [`Frame`]: crate::data::frame::Frame
pub trait Rows: Sync {
    /// Rows.
    fn n_rows(&self) -> usize;
    /// Columns.
    fn n_cols(&self) -> usize;
    /// Append rows `first..first + len`, row after row, to `out`.
    fn copy_rows(&self, first: usize, len: usize, out: &mut Vec<f64>);
    /// The value at `row` of column `col` (through [`Rows::copy_rows`] unless overridden).
    fn value(&self, row: usize, col: usize) -> f64 {
        let mut v = Vec::with_capacity(self.n_cols());
        self.copy_rows(row, 1, &mut v);
        v[col]
    }
}

impl Rows for ArrayView2<'_, f64> {
    fn n_rows(&self) -> usize {
        self.nrows()
    }
    fn n_cols(&self) -> usize {
        self.ncols()
    }
    fn copy_rows(&self, first: usize, len: usize, out: &mut Vec<f64>) {
        for k in first..first + len {
            out.extend(self.row(k).iter().copied());
        }
    }
    fn value(&self, row: usize, col: usize) -> f64 {
        self[[row, col]]
    }
}

/// Columns of equal length, as a [`Frame`](crate::data::frame::Frame) holds them.
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a>(pub &'a [Vec<f64>]);

impl Rows for Columns<'_> {
    fn n_rows(&self) -> usize {
        self.0.first().map_or(0, Vec::len)
    }
    fn n_cols(&self) -> usize {
        self.0.len()
    }
    fn copy_rows(&self, first: usize, len: usize, out: &mut Vec<f64>) {
        let m = self.0.len();
        let at = out.len();
        out.resize(at + len * m, 0.0);
        for (j, c) in self.0.iter().enumerate() {
            for (k, v) in c[first..first + len].iter().enumerate() {
                out[at + k * m + j] = *v;
            }
        }
    }
    fn value(&self, row: usize, col: usize) -> f64 {
        self.0[col][row]
    }
}

pub(super) const BLOCK: usize = 512;
