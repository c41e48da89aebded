//! What a retention team decides from an evaluation: whom to target (gains and lift), at which
//! threshold (expected profit, chosen on out-of-bag scores), and how far the probabilities can
//! be trusted (calibration). One value with its tables, charts and a short summary.

use crate::charts::render::Png;
use crate::decisions::calibration::CalibrationReport;
use crate::decisions::gains::Gains;
use crate::decisions::profit::{Economics, ProfitCurve};
use crate::ensure;
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// How the evaluation's threshold was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "choice")]
pub enum ThresholdChoice {
    /// Given by the user (0.5 by default).
    Fixed {
        /// The threshold.
        threshold: f64,
    },
    /// The profit-optimal threshold on the out-of-bag scores of the training rows.
    ProfitOptimal {
        /// The threshold.
        threshold: f64,
        /// Expected profit at it on the training rows' out-of-bag scores.
        oob_profit: f64,
        /// Training rows with an out-of-bag score.
        oob_rows: usize,
    },
}

impl ThresholdChoice {
    /// The threshold.
    pub fn threshold(&self) -> f64 {
        match *self {
            ThresholdChoice::Fixed { threshold }
            | ThresholdChoice::ProfitOptimal { threshold, .. } => threshold,
        }
    }

    /// `fixed` or `profit-optimal on out-of-bag scores` (the run's `threshold_choice` param).
    pub fn label(&self) -> &'static str {
        match self {
            ThresholdChoice::Fixed { .. } => "fixed",
            ThresholdChoice::ProfitOptimal { .. } => "profit-optimal on out-of-bag scores",
        }
    }

    /// The profit-optimal threshold on out-of-bag scores `oob` (NaN where a row has none) of
    /// the training rows with labels `y`.
    pub fn profit_optimal(y: &[u8], oob: &[f64], economics: Economics) -> Result<Self> {
        let (s, t) = crate::forest::scored_rows(oob, y);
        ensure!(
            !s.is_empty(),
            data,
            "no training row has an out-of-bag score: use more trees",
        );
        let curve = ProfitCurve::new(&t, &s, economics)?;
        let (threshold, oob_profit) = curve.best();
        Ok(ThresholdChoice::ProfitOptimal {
            threshold,
            oob_profit,
            oob_rows: s.len(),
        })
    }
}

/// Gains, calibration and profit of test scores, with the threshold they were judged at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decisions {
    /// How the threshold was chosen.
    pub threshold: ThresholdChoice,
    /// The economics of an offer.
    pub economics: Economics,
    /// Deciles of the test scores (`None` without a churner among them: capture and lift are
    /// undefined).
    pub gains: Option<Gains>,
    /// Rows judged.
    pub customers: usize,
    /// Calibration of the test probabilities (10 bins).
    pub calibration: CalibrationReport,
    /// Expected profit on the test rows over thresholds.
    pub profit: ProfitCurve,
    /// Expected profit on the test rows at the chosen threshold.
    pub profit_at_threshold: f64,
    /// Expected profit on the test rows at 0.5.
    pub profit_at_half: f64,
    /// Test customers given an offer at the chosen threshold.
    pub targeted: usize,
}

/// The charts of [`Decisions`] as PNG bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionCharts {
    /// Cumulative gains.
    pub gains: Png,
    /// Lift per decile.
    pub lift: Png,
    /// Reliability curve.
    pub calibration: Png,
    /// Expected profit over the share targeted.
    pub profit: Png,
}

impl Decisions {
    /// Judge test probabilities `p` against labels `y` with the threshold `threshold`.
    pub fn new(
        y: &[u8],
        p: &[f64],
        threshold: ThresholdChoice,
        economics: Economics,
    ) -> Result<Self> {
        let profit = ProfitCurve::new(y, p, economics)?;
        let t = threshold.threshold();
        Ok(Decisions {
            threshold,
            economics,
            gains: if y.contains(&1) {
                Some(Gains::new(y, p, 10)?)
            } else {
                None
            },
            customers: y.len(),
            calibration: CalibrationReport::new(y, p, 10)?,
            profit_at_threshold: profit.profit_at(t),
            profit_at_half: profit.profit_at(0.5),
            targeted: profit.targeted_at(t),
            profit,
        })
    }

    /// A few lines for a terminal or a notebook.
    pub fn summary(&self) -> String {
        let t = self.threshold.threshold();
        let choice = match self.threshold {
            ThresholdChoice::Fixed { .. } => "given".to_string(),
            ThresholdChoice::ProfitOptimal { oob_rows, .. } => {
                format!("profit-optimal on the out-of-bag scores of {oob_rows} training rows")
            }
        };
        format!(
            "{}.\nthreshold {t:.3} ({choice}): {} of {} test customers get an offer; expected profit {:.0} (at 0.5: {:.0}); offer {} / retained customer {} / success rate {:.0}%.\ncalibration: Brier score {:.4}, expected calibration error {:.4}.",
            capitalise(&self.gains_summary()),
            self.targeted,
            self.customers,
            self.profit_at_threshold,
            self.profit_at_half,
            self.economics.offer_cost,
            self.economics.retained_value,
            self.economics.success_rate * 100.0,
            self.calibration.brier,
            self.calibration.ece,
        )
    }

    /// "the top 10% of customers by score hold X% of the churners (lift L)", or why not.
    pub fn gains_summary(&self) -> String {
        match &self.gains {
            Some(g) => g.summary(0.1),
            None => "no churner among these rows: capture and lift are undefined".into(),
        }
    }

    /// Share of the churners among the top 10% of scores (`None` without a churner).
    pub fn top_decile_capture(&self) -> Option<f64> {
        self.gains.as_ref().map(|g| g.capture_at(0.1))
    }

    /// The four charts.
    pub fn charts(&self) -> Result<DecisionCharts> {
        Ok(DecisionCharts {
            gains: match &self.gains {
                Some(g) => g.gains_chart()?,
                None => crate::charts::summary::line_chart(
                    "Cumulative gains: undefined, no churner among these rows",
                    "Share of customers targeted",
                    "Share of churners captured",
                    &[],
                )?,
            },
            lift: match &self.gains {
                Some(g) => g.lift_chart()?,
                None => crate::charts::summary::line_chart(
                    "Lift: undefined, no churner among these rows",
                    "Score group",
                    "Lift",
                    &[],
                )?,
            },
            calibration: self.calibration.chart(None, "Model")?,
            profit: self.profit.chart(self.threshold.threshold())?,
        })
    }

    /// The summary figures as pretty JSON (`decisions.json`): threshold, economics, the gains
    /// table, calibration figures and profits (the curves stay in the charts). `model_sha256`
    /// names the model file they were computed for, so `predict --threshold optimal` can refuse
    /// a threshold chosen for another model.
    pub fn to_json(&self, model_sha256: &str) -> Vec<u8> {
        let v = serde_json::json!({
            "model_sha256": model_sha256,
            "chosen_threshold": self.threshold.threshold(),
            "threshold": self.threshold,
            "economics": self.economics,
            "break_even_probability": self.economics.break_even(),
            "targeted": self.targeted,
            "customers": self.customers,
            "profit_at_threshold": self.profit_at_threshold,
            "profit_at_0.5": self.profit_at_half,
            "brier_score": self.calibration.brier,
            "expected_calibration_error": self.calibration.ece,
            "reliability_curve": self.calibration.curve,
            "gains": self.gains.as_ref().map(|g| &g.rows),
            "summary": self.gains_summary(),
        });
        serde_json::to_vec_pretty(&v).expect("decisions serialize")
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_comes_from_out_of_bag_scores_not_the_test_rows() {
        let e = Economics::default();
        let y_train: Vec<u8> = (0..400).map(|i| u8::from(i % 4 == 0)).collect();
        // Out-of-bag scores that separate churners above 0.6.
        let oob: Vec<f64> = (0..400)
            .map(|i| {
                if i % 4 == 0 {
                    0.7
                } else if i % 8 == 1 {
                    f64::NAN
                } else {
                    0.2
                }
            })
            .collect();
        let choice = ThresholdChoice::profit_optimal(&y_train, &oob, e).unwrap();
        let ThresholdChoice::ProfitOptimal {
            threshold,
            oob_rows,
            ..
        } = choice
        else {
            panic!("optimal");
        };
        assert_eq!(oob_rows, 350);
        assert!((0.2..0.7).contains(&threshold), "{threshold}");
        let y_test = [1, 0, 0, 1, 0];
        let p_test = [0.9, 0.3, 0.1, 0.5, 0.65];
        let d = Decisions::new(&y_test, &p_test, choice, e).unwrap();
        assert_eq!(d.threshold.threshold(), threshold);
        assert!(d.summary().contains("out-of-bag"));
        let v: serde_json::Value = serde_json::from_slice(&d.to_json("ab")).unwrap();
        assert_eq!(v["chosen_threshold"], threshold);
        assert_eq!(v["gains"].as_array().unwrap().len(), 5);
        assert!(ThresholdChoice::profit_optimal(&[1], &[f64::NAN], e).is_err());
        // No churner among the test rows: gains are undefined, the rest still holds.
        let none = Decisions::new(&[0, 0, 0], &[0.2, 0.6, 0.1], choice, e).unwrap();
        assert!(none.gains.is_none() && none.top_decile_capture().is_none());
        assert!(none.summary().contains("undefined"));
        assert!(none.charts().is_ok());
    }
}
