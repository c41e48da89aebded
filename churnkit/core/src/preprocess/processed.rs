//! A split table ready for modelling: numeric features and 0/1 labels of both sides, with the
//! fitted transform that made them.

use super::split::{Split, SplitOptions};
use super::transform::{Inputs, Preprocessor, UnknownCategory};
use crate::data::frame::Frame;
use crate::data::schema::Schema;
use crate::data::table::Table;
use crate::ensure;
use crate::error::{few, Result};

/// Features and labels of both sides of a split, with the state that made them: what a model is
/// trained and evaluated on.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    /// The fitted state.
    pub state: Preprocessor,
    /// Training features.
    pub x_train: Frame,
    /// Training labels.
    pub y_train: Vec<u8>,
    /// Test features.
    pub x_test: Frame,
    /// Test labels.
    pub y_test: Vec<u8>,
}

impl Processed {
    /// Split `table`, fit the preprocessor on the training rows and transform both sides: the
    /// whole of `churnkit preprocess` but the writing.
    pub fn fit(table: &Table, schema: &Schema, options: SplitOptions) -> Result<Processed> {
        let split = Split::stratified(table, schema, options)?;
        // The cells are parsed once, for fitting and transforming.
        let inputs = Inputs::read(table, schema)?;
        let state = Preprocessor::fit_inputs(table, schema, &split, &inputs)?;
        Self::from_split_inputs(table, &split, state, &inputs)
    }

    /// The `k` folds of stratified k-fold cross-validation ([`Split::folds`]), each with its own
    /// preprocessor fitted on its training rows only; the cells are parsed once for all folds.
    pub fn fit_folds(
        table: &Table,
        schema: &Schema,
        k: usize,
        seed: u64,
    ) -> Result<Vec<Processed>> {
        use rayon::prelude::*;
        let splits = Split::folds(table, schema, k, seed)?;
        let inputs = Inputs::read(table, schema)?;
        splits
            .par_iter()
            .map(|split| {
                let state = Preprocessor::fit_inputs(table, schema, split, &inputs)?;
                Self::from_split_inputs(table, split, state, &inputs)
            })
            .collect()
    }

    /// Transform the rows of `split` with a fitted `state`.
    pub fn from_split(table: &Table, split: &Split, state: Preprocessor) -> Result<Processed> {
        split.check_table(table)?;
        let schema = state.schema.clone();
        let inputs = Inputs::read(table, &schema)?;
        Self::from_split_inputs(table, split, state, &inputs)
    }

    fn from_split_inputs(
        table: &Table,
        split: &Split,
        state: Preprocessor,
        inputs: &Inputs,
    ) -> Result<Processed> {
        // Categories were collected from every kept row: none is unseen here. Each column is
        // split as it is made: the whole frame never exists beside its two sides.
        let names = state.feature_names();
        let (mut train, mut test) = (Vec::new(), Vec::new());
        let take = |c: &[f64], rows: &[usize]| rows.iter().map(|&i| c[i]).collect::<Vec<f64>>();
        state.transform_each(table, inputs, UnknownCategory::Error, |c| {
            train.push(take(&c, &split.train));
            test.push(take(&c, &split.test));
        })?;
        let labels = |rows: &[usize]| rows.iter().map(|&i| split.labels[i]).collect();
        Ok(Processed {
            x_train: Frame {
                names: names.clone(),
                columns: train,
            },
            y_train: labels(&split.train),
            x_test: Frame {
                names,
                columns: test,
            },
            y_test: labels(&split.test),
            state,
        })
    }

    /// Assemble from parts (e.g. read back from files), checking that they agree: the frames'
    /// columns are the state's features and each frame has one label per row.
    pub fn from_parts(
        state: Preprocessor,
        (x_train, y_train): (Frame, Vec<u8>),
        (x_test, y_test): (Frame, Vec<u8>),
    ) -> Result<Processed> {
        let names = state.feature_names();
        for (side, x, y) in [("training", &x_train, &y_train), ("test", &x_test, &y_test)] {
            ensure!(
                x.names == names,
                model,
                "{side} columns [{}] do not match the preprocessor's features [{}]",
                few(&x.names, 8),
                few(&names, 8)
            );
            ensure!(
                x.n_rows() == y.len(),
                model,
                "{side} features have {} rows but there are {} labels",
                x.n_rows(),
                y.len()
            );
        }
        Ok(Processed {
            state,
            x_train,
            y_train,
            x_test,
            y_test,
        })
    }

    /// Features and labels of every kept row, training rows first: what a final model is
    /// fitted on once the held-out evaluation is done.
    pub fn all_rows(&self) -> Result<(Frame, Vec<u8>)> {
        let x = self.x_train.concat(&self.x_test)?;
        let y = self.y_train.iter().chain(&self.y_test).copied().collect();
        Ok((x, y))
    }

    /// The share of positive labels in the test rows.
    pub fn test_prevalence(&self) -> f64 {
        self.y_test.iter().map(|&v| f64::from(v)).sum::<f64>() / self.y_test.len().max(1) as f64
    }
}
