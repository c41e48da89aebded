//! Stratified k-fold cross-validation: is one setting really better than another, or was that
//! one lucky split?
//!
//! On a table, each fold has its own preprocessor fitted on its training rows
//! ([`Processed::fit_folds`]). On prepared data, the folds are made of its training rows only
//! ([`cross_validate_rows`]), so the test rows stay unseen until the final check: that is how a
//! sweep is ranked without choosing on the test rows. Folds are fitted in parallel; the scores
//! are the same for the same seed on any thread count.

use churnkit_core::evaluate::{roc_auc, BinaryMetrics};
use churnkit_core::forest::RandomForestValidParams;
use churnkit_core::frame::Frame;
use churnkit_core::model::{Model, ModelKind};
use churnkit_core::preprocess::{stratified_folds, Processed};
use churnkit_core::schema::Schema;
use churnkit_core::table::Table;
use churnkit_core::Result;

/// One fold's scores on its test rows (threshold 0.5 for F1 and accuracy).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoldScores {
    /// ROC AUC (NaN when the fold's test rows hold one class).
    pub roc_auc: f64,
    /// F1 of the churn class.
    pub f1: f64,
    /// Accuracy.
    pub accuracy: f64,
    /// Log loss, probabilities clipped to `[1e-15, 1 - 1e-15]` as scikit-learn does.
    pub log_loss: f64,
}

/// One fold: its sizes and scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    /// The fold's number, from 0.
    pub fold: usize,
    /// Rows trained on.
    pub train_rows: usize,
    /// Rows scored.
    pub test_rows: usize,
    /// Churners among the rows scored.
    pub test_positive: usize,
    /// Scores on the rows scored.
    pub scores: FoldScores,
}

/// Every fold, with the mean and the standard deviation (n - 1) of each score.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossValidation {
    /// The folds, in order.
    pub folds: Vec<Fold>,
    /// Mean of each score over the folds.
    pub mean: FoldScores,
    /// Sample standard deviation of each score over the folds.
    pub sd: FoldScores,
    /// The fold seed.
    pub seed: u64,
}

/// Log loss of probabilities `p` for labels `y`.
pub fn log_loss(y: &[u8], p: &[f64]) -> f64 {
    let eps = 1e-15;
    let total: f64 = y
        .iter()
        .zip(p)
        .map(|(&y, &p)| {
            let p = p.clamp(eps, 1.0 - eps);
            if y == 1 {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum();
    total / y.len().max(1) as f64
}

fn fold_scores(y: &[u8], p: &[f64]) -> FoldScores {
    let m = BinaryMetrics::compute(y, p, 0.5);
    FoldScores {
        roc_auc: roc_auc(y, p).unwrap_or(f64::NAN),
        f1: m.f1,
        accuracy: m.accuracy,
        log_loss: log_loss(y, p),
    }
}

fn fit_and_score(
    fold: usize,
    params: &RandomForestValidParams,
    (x_train, y_train): (&Frame, &[u8]),
    (x_test, y_test): (&Frame, &[u8]),
) -> Result<Fold> {
    let model = Model::fit(ModelKind::RandomForest, params, x_train, y_train, &|| {})?;
    let p = model.predict(x_test)?;
    Ok(Fold {
        fold,
        train_rows: y_train.len(),
        test_rows: y_test.len(),
        test_positive: y_test.iter().filter(|&&v| v == 1).count(),
        scores: fold_scores(y_test, &p),
    })
}

fn summarise(folds: Vec<Fold>, seed: u64) -> CrossValidation {
    let n = folds.len() as f64;
    let each = |f: fn(&FoldScores) -> f64| -> (f64, f64) {
        let v: Vec<f64> = folds.iter().map(|x| f(&x.scores)).collect();
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        (mean, var.sqrt())
    };
    let (auc, f1, acc, ll) = (
        each(|s| s.roc_auc),
        each(|s| s.f1),
        each(|s| s.accuracy),
        each(|s| s.log_loss),
    );
    CrossValidation {
        folds,
        mean: FoldScores {
            roc_auc: auc.0,
            f1: f1.0,
            accuracy: acc.0,
            log_loss: ll.0,
        },
        sd: FoldScores {
            roc_auc: auc.1,
            f1: f1.1,
            accuracy: acc.1,
            log_loss: ll.1,
        },
        seed,
    }
}

/// Stratified `k`-fold cross-validation of the forest on a table: each fold preprocessed on its
/// own training rows, all folds fitted in parallel.
///
/// ```
/// use churnkit::prelude::*;
/// use churnkit::workflow::cross_validate;
/// let (csv, _) = churnkit::generate::generate_rows(400, 3);
/// let table = Table::from_csv_bytes(csv, "customers.csv")?;
/// let schema = Schema::infer(&table, "Churn", None)?;
/// let params = RandomForestParams::new().n_estimators(20).check()?;
/// let cv = cross_validate(&table, &schema, &params, 5, 42)?;
/// assert_eq!(cv.folds.len(), 5);
/// assert!(cv.mean.roc_auc > 0.5 && cv.sd.roc_auc < 0.2);
/// # Ok::<(), churnkit::Error>(())
/// ```
pub fn cross_validate(
    table: &Table,
    schema: &Schema,
    params: &RandomForestValidParams,
    k: usize,
    seed: u64,
) -> Result<CrossValidation> {
    use rayon::prelude::*;
    let folds = Processed::fit_folds(table, schema, k, seed)?;
    let scored = folds
        .par_iter()
        .enumerate()
        .map(|(i, d)| fit_and_score(i, params, (&d.x_train, &d.y_train), (&d.x_test, &d.y_test)))
        .collect::<Result<Vec<_>>>()?;
    Ok(summarise(scored, seed))
}

/// Stratified `k`-fold cross-validation on rows already preprocessed (a [`Processed`]'s training
/// rows: the test rows are not touched).
pub fn cross_validate_rows(
    x: &Frame,
    y: &[u8],
    params: &RandomForestValidParams,
    k: usize,
    seed: u64,
) -> Result<CrossValidation> {
    use rayon::prelude::*;
    let fold_of = stratified_folds(y, k, seed)?;
    let scored = (0..k)
        .into_par_iter()
        .map(|f| {
            let train: Vec<usize> = (0..y.len()).filter(|&i| fold_of[i] != f).collect();
            let test: Vec<usize> = (0..y.len()).filter(|&i| fold_of[i] == f).collect();
            let pick = |rows: &[usize]| rows.iter().map(|&i| y[i]).collect::<Vec<u8>>();
            let (y_train, y_test) = (pick(&train), pick(&test));
            fit_and_score(
                f,
                params,
                (&x.take(&train), &y_train),
                (&x.take(&test), &y_test),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(summarise(scored, seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_loss_matches_its_definition_and_clips() {
        let y = [1, 0, 1];
        let p = [0.9, 0.2, 0.6];
        let want = -(0.9f64.ln() + 0.8f64.ln() + 0.6f64.ln()) / 3.0;
        assert!((log_loss(&y, &p) - want).abs() < 1e-15);
        assert!(log_loss(&[1], &[0.0]).is_finite());
    }

    #[test]
    fn the_same_seed_gives_the_same_scores_on_any_thread_count() {
        let (csv, _) = churnkit_core::generate::generate_rows(600, 5);
        let table = Table::from_csv_bytes(csv, "c.csv").unwrap();
        let schema = Schema::infer(&table, "Churn", None).unwrap();
        let run = |threads| {
            let params = churnkit_core::forest::RandomForestParams::new()
                .n_estimators(15)
                .n_threads(Some(threads));
            use churnkit_core::linfa::ParamGuard;
            let params = params.check().unwrap();
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| cross_validate(&table, &schema, &params, 4, 9).unwrap())
        };
        let (a, b) = (run(1), run(2));
        assert_eq!(a, b);
        let rows: usize = a.folds.iter().map(|f| f.test_rows).sum();
        assert_eq!(rows, a.folds[0].train_rows + a.folds[0].test_rows);
    }
}
