//! Cox proportional hazards: how each covariate multiplies the hazard of leaving.
//!
//! Efron's method for tied durations and an optional L2 penalty, fitted by Newton-Raphson on
//! standardised covariates exactly as `lifelines.CoxPHFitter` defines them (the penalty is
//! `n x penalizer / 2 x |beta|^2` on the standardised scale), so coefficients, standard errors
//! and the concordance can be checked against lifelines.

use super::concordance::concordance_index;
use super::linalg::{cholesky, cholesky_inverse, cholesky_solve};
use super::{check_times, EventTable};
use crate::error::Result;
use crate::stats::normal_sf;
use crate::{bail, ensure};
use serde::{Deserialize, Serialize};

/// Cox settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CoxParams {
    /// L2 penalty on the standardised coefficients (lifelines' `penalizer`). 0 = none.
    pub penalizer: f64,
    /// Newton iterations before giving up.
    pub max_iter: usize,
}

impl Default for CoxParams {
    fn default() -> Self {
        CoxParams {
            penalizer: 0.0,
            max_iter: 50,
        }
    }
}

/// One covariate's line of the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoxTerm {
    /// The covariate.
    pub feature: String,
    /// Log hazard ratio per unit.
    pub coef: f64,
    /// exp(coef): the factor on the hazard of leaving per unit.
    pub hazard_ratio: f64,
    /// Standard error of `coef`.
    pub se: f64,
    /// coef / se.
    pub z: f64,
    /// Two-sided p-value of `coef = 0`.
    pub p: f64,
}

/// A fitted Cox model: coefficients on the covariates' own scale, their standard errors, and
/// the Breslow baseline cumulative hazard at the covariate means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoxModel {
    /// Covariate names, in column order.
    pub features: Vec<String>,
    /// Coefficients (log hazard ratios).
    pub coef: Vec<f64>,
    /// Standard errors.
    pub se: Vec<f64>,
    /// Covariate means: the baseline is the hazard of a customer at the means.
    pub means: Vec<f64>,
    /// The settings it was fitted with.
    pub params: CoxParams,
    /// Partial log-likelihood at the fit (penalty not included).
    pub log_likelihood: f64,
    /// Partial log-likelihood with every coefficient 0.
    pub log_likelihood_null: f64,
    /// Harrell's concordance index on the rows it was fitted on.
    pub concordance: f64,
    /// Rows fitted on.
    pub rows: usize,
    /// Events among them.
    pub events: usize,
    /// Newton iterations used.
    pub iterations: usize,
    /// Distinct durations (from 0), ascending.
    pub baseline_times: Vec<f64>,
    /// Breslow cumulative baseline hazard at each of `baseline_times`.
    pub baseline_cumulative_hazard: Vec<f64>,
}

/// Log-likelihood, gradient and Hessian of Efron's partial likelihood.
struct Efron {
    ll: f64,
    grad: Vec<f64>,
    hess: Vec<Vec<f64>>,
}

/// Rows sorted by duration, descending, with standardised covariates row by row.
struct Prepared {
    x: Vec<f64>,
    p: usize,
    times: Vec<f64>,
    events: Vec<bool>,
}

fn efron(data: &Prepared, beta: &[f64]) -> Efron {
    let p = data.p;
    let n = data.times.len();
    let mut risk_phi = 0.0;
    let mut risk_x = vec![0.0; p];
    let mut risk_xx = vec![0.0; p * p];
    let mut tie_x = vec![0.0; p];
    let mut tie_xx = vec![0.0; p * p];
    let mut ll = 0.0;
    let mut grad = vec![0.0; p];
    let mut hess = vec![0.0; p * p];
    let mut numer = vec![0.0; p];
    let mut i = 0;
    while i < n {
        let t = data.times[i];
        let mut tie_phi = 0.0;
        let mut deaths = 0usize;
        tie_x.iter_mut().for_each(|v| *v = 0.0);
        tie_xx.iter_mut().for_each(|v| *v = 0.0);
        while i < n && data.times[i] == t {
            let x = &data.x[i * p..(i + 1) * p];
            let xb: f64 = x.iter().zip(beta).map(|(a, b)| a * b).sum();
            let phi = xb.exp();
            risk_phi += phi;
            // Upper triangle only; mirrored at the end of each time.
            for a in 0..p {
                let pa = phi * x[a];
                risk_x[a] += pa;
                let row = &mut risk_xx[a * p..(a + 1) * p];
                for b in a..p {
                    row[b] += pa * x[b];
                }
            }
            if data.events[i] {
                deaths += 1;
                ll += xb;
                tie_phi += phi;
                for a in 0..p {
                    grad[a] += x[a];
                    let pa = phi * x[a];
                    tie_x[a] += pa;
                    let row = &mut tie_xx[a * p..(a + 1) * p];
                    for b in a..p {
                        row[b] += pa * x[b];
                    }
                }
            }
            i += 1;
        }
        for l in 0..deaths {
            let c = l as f64 / deaths as f64;
            let denom = risk_phi - c * tie_phi;
            ll -= denom.ln();
            for a in 0..p {
                numer[a] = risk_x[a] - c * tie_x[a];
                grad[a] -= numer[a] / denom;
            }
            for a in 0..p {
                for b in a..p {
                    let second = risk_xx[a * p + b] - c * tie_xx[a * p + b];
                    hess[a * p + b] -= second / denom - numer[a] * numer[b] / (denom * denom);
                }
            }
        }
    }
    let hess = (0..p)
        .map(|a| (0..p).map(|b| hess[a.min(b) * p + a.max(b)]).collect())
        .collect();
    Efron { ll, grad, hess }
}

impl CoxModel {
    /// Fits the model. `columns[j][i]` is covariate `j` of row `i`.
    ///
    /// ```
    /// use churnkit_core::survival::{CoxModel, CoxParams};
    /// // Customers with x = 1 leave sooner.
    /// let x = vec![vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0]];
    /// let t = [5.0, 6.0, 7.0, 1.0, 2.0, 3.0, 4.0, 6.0];
    /// let e = [true, false, true, true, true, true, false, true];
    /// let m = CoxModel::fit(&x, &["x".to_string()], &t, &e, CoxParams::default()).unwrap();
    /// assert!(m.coef[0] > 0.0);
    /// assert!(m.concordance > 0.7);
    /// ```
    pub fn fit(
        columns: &[Vec<f64>],
        names: &[String],
        durations: &[f64],
        events: &[bool],
        params: CoxParams,
    ) -> Result<CoxModel> {
        check_times(durations, events, "duration")?;
        if !params.penalizer.is_finite() || params.penalizer < 0.0 {
            bail!(
                params,
                "the `penalizer` option must be a non-negative number, got {}",
                params.penalizer
            );
        }
        ensure!(params.max_iter > 0, params, "max_iter must be at least 1");
        ensure!(
            columns.len() == names.len(),
            data,
            "{} covariates but {} names",
            columns.len(),
            names.len()
        );
        ensure!(
            !columns.is_empty(),
            data,
            "no covariates to fit a Cox model on"
        );
        let n = durations.len();
        let p = columns.len();
        let n_events = events.iter().filter(|&&e| e).count();
        ensure!(n_events > 0, data, "no events: every row is censored");
        let mut means = Vec::with_capacity(p);
        let mut stds = Vec::with_capacity(p);
        for (name, col) in names.iter().zip(columns) {
            ensure!(
                col.len() == n,
                data,
                "covariate '{name}' has {} rows, not {n}",
                col.len()
            );
            if let Some(row) = col.iter().position(|v| !v.is_finite()) {
                bail!(
                    data,
                    "covariate '{name}', row {}: not a finite number",
                    row + 1
                );
            }
            let m = col.iter().sum::<f64>() / n as f64;
            // pandas' std (ddof 1), as lifelines standardises.
            let var = col.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n as f64 - 1.0);
            if var.is_nan() || var <= 0.0 {
                bail!(
                    data,
                    "covariate '{name}' is constant: it cannot explain who leaves"
                );
            }
            means.push(m);
            stds.push(var.sqrt());
        }
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_by(|&a, &b| durations[b as usize].total_cmp(&durations[a as usize]));
        let mut x = Vec::with_capacity(n * p);
        for &r in &order {
            for j in 0..p {
                x.push((columns[j][r as usize] - means[j]) / stds[j]);
            }
        }
        let data = Prepared {
            x,
            p,
            times: order.iter().map(|&r| durations[r as usize]).collect(),
            events: order.iter().map(|&r| events[r as usize]).collect(),
        };
        let penalty = n as f64 * params.penalizer;
        let penalised = |beta: &[f64]| {
            let mut e = efron(&data, beta);
            let raw_ll = e.ll;
            e.ll -= 0.5 * penalty * beta.iter().map(|b| b * b).sum::<f64>();
            for (a, b) in beta.iter().enumerate() {
                e.grad[a] -= penalty * b;
                e.hess[a][a] -= penalty;
            }
            (e, raw_ll)
        };
        let mut beta = vec![0.0; p];
        let (mut cur, mut raw_ll) = penalised(&beta);
        let ll_null = raw_ll;
        let mut iterations = 0;
        loop {
            iterations += 1;
            let info: Vec<Vec<f64>> = cur
                .hess
                .iter()
                .map(|r| r.iter().map(|v| -v).collect())
                .collect();
            let Some(l) = cholesky(&info) else {
                bail!(
                    data,
                    "the covariates are collinear (the information matrix is singular): drop one of the \
                     covariates that move together, or give the `penalizer` option a small value such as 0.01"
                );
            };
            let delta = cholesky_solve(&l, &cur.grad);
            let mut step = 1.0;
            let (next, next_raw) = loop {
                let trial: Vec<f64> = beta.iter().zip(&delta).map(|(b, d)| b + step * d).collect();
                let (e, r) = penalised(&trial);
                if e.ll.is_finite() && e.ll >= cur.ll - 1e-12 * cur.ll.abs() {
                    beta = trial;
                    break (e, r);
                }
                step *= 0.5;
                if step < 1e-10 {
                    bail!(
                        data,
                        "the Cox fit does not converge: the likelihood cannot be improved"
                    );
                }
            };
            let moved = delta.iter().fold(0.0f64, |m, d| m.max((step * d).abs()));
            cur = next;
            raw_ll = next_raw;
            if moved < 1e-10 {
                break;
            }
            ensure!(
                iterations < params.max_iter,
                data,
                "the Cox fit did not converge in {} iterations (a covariate may separate the events \
                 perfectly): give the `penalizer` option a small value such as 0.01",
                params.max_iter
            );
        }
        let info: Vec<Vec<f64>> = cur
            .hess
            .iter()
            .map(|r| r.iter().map(|v| -v).collect())
            .collect();
        let Some(l) = cholesky(&info) else {
            bail!(data, "the covariates are collinear at the fit: give the `penalizer` option a small value");
        };
        let var = cholesky_inverse(&l);
        let coef: Vec<f64> = (0..p).map(|j| beta[j] / stds[j]).collect();
        let se: Vec<f64> = (0..p).map(|j| var[j][j].sqrt() / stds[j]).collect();

        // Linear predictors (x - mean) . coef, row order of the input.
        let lp: Vec<f64> = (0..n)
            .map(|i| (0..p).map(|j| (columns[j][i] - means[j]) * coef[j]).sum())
            .collect();
        let concordance = concordance_index(durations, events, &lp)?;
        let (baseline_times, baseline_cumulative_hazard) = breslow(durations, events, &lp);
        Ok(CoxModel {
            features: names.to_vec(),
            coef,
            se,
            means,
            params,
            log_likelihood: raw_ll,
            log_likelihood_null: ll_null,
            concordance,
            rows: n,
            events: n_events,
            iterations,
            baseline_times,
            baseline_cumulative_hazard,
        })
    }

    /// One line per covariate: coefficient, hazard ratio, standard error, z and p.
    pub fn summary(&self) -> Vec<CoxTerm> {
        (0..self.features.len())
            .map(|j| {
                let z = self.coef[j] / self.se[j];
                CoxTerm {
                    feature: self.features[j].clone(),
                    coef: self.coef[j],
                    hazard_ratio: self.coef[j].exp(),
                    se: self.se[j],
                    z,
                    p: (2.0 * normal_sf(z.abs())).min(1.0),
                }
            })
            .collect()
    }

    /// The linear predictor (x - means) . coef of one row: the log of its hazard ratio against
    /// a customer at the means.
    pub fn linear_predictor(&self, row: &[f64]) -> f64 {
        row.iter()
            .zip(&self.means)
            .zip(&self.coef)
            .map(|((x, m), c)| (x - m) * c)
            .sum()
    }

    /// The baseline cumulative hazard at `t` (a step function, held at its last value after the
    /// longest duration seen, as lifelines does).
    pub fn baseline_hazard_at(&self, t: f64) -> f64 {
        match self.baseline_times.partition_point(|&x| x <= t) {
            0 => 0.0,
            i => self.baseline_cumulative_hazard[i - 1],
        }
    }

    /// S(t) for a customer with linear predictor `lp`: exp(-H0(t) exp(lp)).
    pub fn survival_at(&self, lp: f64, t: f64) -> f64 {
        (-self.baseline_hazard_at(t) * lp.exp()).exp()
    }

    /// Likelihood-ratio test of the model against no covariates: (statistic, df, p-value).
    pub fn likelihood_ratio_test(&self) -> (f64, usize, f64) {
        let stat = 2.0 * (self.log_likelihood - self.log_likelihood_null);
        let df = self.features.len();
        (stat, df, crate::stats::chi2_sf(stat, df as f64))
    }

    /// Checks a loaded model's parts fit together.
    pub fn validate(&self) -> Result<()> {
        let p = self.features.len();
        ensure!(
            self.coef.len() == p && self.se.len() == p && self.means.len() == p,
            model,
            "the Cox model has {p} features but {} coefficients, {} standard errors and {} means",
            self.coef.len(),
            self.se.len(),
            self.means.len()
        );
        ensure!(
            self.baseline_times.len() == self.baseline_cumulative_hazard.len()
                && !self.baseline_times.is_empty(),
            model,
            "the Cox model's baseline has {} times but {} hazards",
            self.baseline_times.len(),
            self.baseline_cumulative_hazard.len()
        );
        ensure!(
            self.coef
                .iter()
                .chain(&self.means)
                .chain(&self.baseline_cumulative_hazard)
                .all(|v| v.is_finite()),
            model,
            "the Cox model holds a value that is not a finite number"
        );
        ensure!(
            self.baseline_times.windows(2).all(|w| w[0] < w[1])
                && self
                    .baseline_cumulative_hazard
                    .windows(2)
                    .all(|w| w[0] <= w[1]),
            model,
            "the Cox model's baseline is not ordered by time"
        );
        Ok(())
    }
}

/// Breslow's baseline: at each distinct time, events / the sum of exp(lp) of the rows at risk,
/// summed up over time.
fn breslow(durations: &[f64], events: &[bool], lp: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let table = EventTable::new(durations, events);
    let mut order: Vec<u32> = (0..durations.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| durations[a as usize].total_cmp(&durations[b as usize]));
    // The sum of exp(lp) over rows with a duration >= each distinct time.
    let k = table.times.len();
    let mut at_time = vec![0.0; k];
    let mut slot = 0;
    for &r in &order {
        while table.times[slot] != durations[r as usize] {
            slot += 1;
        }
        at_time[slot] += lp[r as usize].exp();
    }
    let mut risk = vec![0.0; k];
    let mut acc = 0.0;
    for s in (0..k).rev() {
        acc += at_time[s];
        risk[s] = acc;
    }
    let mut times = Vec::with_capacity(k + 1);
    let mut cumulative = Vec::with_capacity(k + 1);
    if table.times[0] > 0.0 {
        times.push(0.0);
        cumulative.push(0.0);
    }
    let mut h = 0.0;
    for ((&t, &d), r) in table.times.iter().zip(&table.observed).zip(&risk) {
        h += d as f64 / r;
        times.push(t);
        cumulative.push(h);
    }
    (times, cumulative)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn recovers_a_known_hazard() {
        // Exponential lifetimes with log hazard ratios 0.7 and -0.5, censored uniformly.
        let mut rng = Rng::new(11);
        let n = 6000;
        let (mut a, mut b, mut t, mut e) = (vec![], vec![], vec![], vec![]);
        for _ in 0..n {
            let (x, y) = (rng.normal(), f64::from(u8::from(rng.uniform() < 0.4)));
            let hazard = 0.05 * (0.7 * x - 0.5 * y).exp();
            let life = -(1.0 - rng.uniform()).ln() / hazard;
            let censor = rng.uniform() * 40.0;
            a.push(x);
            b.push(y);
            t.push(life.min(censor));
            e.push(life <= censor);
        }
        let m = CoxModel::fit(
            &[a.clone(), b.clone()],
            &["x".into(), "y".into()],
            &t,
            &e,
            CoxParams::default(),
        )
        .unwrap();
        for (j, truth) in [0.7, -0.5].into_iter().enumerate() {
            assert!(
                (m.coef[j] - truth).abs() < 4.0 * m.se[j],
                "{} vs {truth}",
                m.coef[j]
            );
        }
        // A penalty shrinks the coefficients towards 0; no covariates is an error.
        let (cols, names) = (
            vec![a.clone(), b.clone()],
            ["x".to_string(), "y".to_string()],
        );
        let params = CoxParams {
            penalizer: 0.1,
            ..CoxParams::default()
        };
        let shrunk = CoxModel::fit(&cols, &names, &t, &e, params).unwrap();
        assert!(shrunk.coef[0].abs() < m.coef[0].abs() && shrunk.coef[1].abs() < m.coef[1].abs());
        assert!(CoxModel::fit(&[], &[], &t, &e, CoxParams::default()).is_err());
        assert!(m.concordance > 0.6 && m.log_likelihood > m.log_likelihood_null);
    }
}
