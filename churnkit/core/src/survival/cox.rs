//! Cox proportional hazards: how each covariate multiplies the hazard of leaving.
//!
//! Efron's method for tied durations and an optional L2 penalty, fitted by Newton-Raphson on
//! standardised covariates exactly as `lifelines.CoxPHFitter` defines them (the penalty is
//! `n x penalizer / 2 x |beta|^2` on the standardised scale), so coefficients, standard errors
//! and the concordance can be checked against lifelines.

use super::check_times;
use super::concordance::concordance_index;
use super::linalg::{cholesky, cholesky_inverse, cholesky_solve};
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

/// `acc[a][b] += sum_r w_r x_r[a] x_r[b]` over the upper triangle (b >= a) of a row-major p x p
/// matrix, for the rows `(index, w)` of `x` (row-major, p per row). Four rows at a time: the
/// accumulator is loaded and stored once per four rows, which makes the loop compute-bound.
fn add_outer_rows(acc: &mut [f64], x: &[f64], p: usize, rows: &[(usize, f64)]) {
    let row = |i: usize| &x[i * p..(i + 1) * p];
    let mut blocks = rows.chunks_exact(4);
    for b4 in &mut blocks {
        let (x0, x1, x2, x3) = (row(b4[0].0), row(b4[1].0), row(b4[2].0), row(b4[3].0));
        let (w0, w1, w2, w3) = (b4[0].1, b4[1].1, b4[2].1, b4[3].1);
        for a in 0..p {
            let (c0, c1, c2, c3) = (w0 * x0[a], w1 * x1[a], w2 * x2[a], w3 * x3[a]);
            let out = &mut acc[a * p + a..(a + 1) * p];
            let (y0, y1, y2, y3) = (&x0[a..], &x1[a..], &x2[a..], &x3[a..]);
            for k in 0..out.len() {
                out[k] += c0 * y0[k] + c1 * y1[k] + c2 * y2[k] + c3 * y3[k];
            }
        }
    }
    for &(i, w) in blocks.remainder() {
        let xi = row(i);
        for a in 0..p {
            let wa = w * xi[a];
            let out = &mut acc[a * p + a..(a + 1) * p];
            for (o, v) in out.iter_mut().zip(&xi[a..]) {
                *o += wa * v;
            }
        }
    }
}

/// One pass over the rows (longest duration first). Each row adds its weighted outer product
/// once: to the risk set if censored, to its time's ties if an event (the ties join the risk
/// set when the time is done). Efron's sum over the d tied events is then taken in closed form
/// per distinct time, so the pass costs n p^2 / 2, whatever the number of ties.
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
    // This time's rows with their weights: events, and the censored.
    let mut died: Vec<(usize, f64)> = Vec::new();
    let mut stayed: Vec<(usize, f64)> = Vec::new();
    let mut i = 0;
    while i < n {
        let t = data.times[i];
        let mut tie_phi = 0.0;
        died.clear();
        stayed.clear();
        tie_x.iter_mut().for_each(|v| *v = 0.0);
        tie_xx.iter_mut().for_each(|v| *v = 0.0);
        while i < n && data.times[i] == t {
            let x = &data.x[i * p..(i + 1) * p];
            let xb: f64 = x.iter().zip(beta).map(|(a, b)| a * b).sum();
            let phi = xb.exp();
            if data.events[i] {
                ll += xb;
                tie_phi += phi;
                for ((g, t), v) in grad.iter_mut().zip(tie_x.iter_mut()).zip(x) {
                    *g += v;
                    *t += phi * v;
                }
                died.push((i, phi));
            } else {
                risk_phi += phi;
                for (r, v) in risk_x.iter_mut().zip(x) {
                    *r += phi * v;
                }
                stayed.push((i, phi));
            }
            i += 1;
        }
        add_outer_rows(&mut tie_xx, &data.x, p, &died);
        add_outer_rows(&mut risk_xx, &data.x, p, &stayed);
        let deaths = died.len();
        risk_phi += tie_phi;
        for (r, v) in risk_x.iter_mut().zip(&tie_x) {
            *r += v;
        }
        for (r, v) in risk_xx.iter_mut().zip(&tie_xx) {
            *r += v;
        }
        if deaths == 0 {
            continue;
        }
        // Efron: the l-th of d tied events sees the risk set less l/d of the tied weight.
        let (mut s0, mut s1, mut s2, mut s3, mut s4) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for l in 0..deaths {
            let c = l as f64 / deaths as f64;
            let den = risk_phi - c * tie_phi;
            ll -= den.ln();
            let inv = 1.0 / den;
            s0 += inv;
            s1 += c * inv;
            s2 += inv * inv;
            s3 += c * inv * inv;
            s4 += c * c * inv * inv;
        }
        for a in 0..p {
            grad[a] -= risk_x[a] * s0 - tie_x[a] * s1;
            for b in a..p {
                let k = a * p + b;
                let outer = risk_x[a] * risk_x[b] * s2
                    - (risk_x[a] * tie_x[b] + tie_x[a] * risk_x[b]) * s3
                    + tie_x[a] * tie_x[b] * s4;
                hess[k] -= risk_xx[k] * s0 - tie_xx[k] * s1 - outer;
            }
        }
    }
    let hess = (0..p)
        .map(|a| (0..p).map(|b| hess[a.min(b) * p + a.max(b)]).collect())
        .collect();
    Efron { ll, grad, hess }
}

/// Rows from which a large table's fit is warm-started (see [`CoxModel::fit`]).
const WARM_START_ROWS: usize = 100_000;

/// Efron's log-likelihood, gradient and Hessian with the L2 penalty
/// `penalty / 2 x |beta|^2`, and the log-likelihood without it.
fn penalised(data: &Prepared, penalty: f64, beta: &[f64]) -> (Efron, f64) {
    let mut e = efron(data, beta);
    let raw = e.ll;
    e.ll -= 0.5 * penalty * beta.iter().map(|b| b * b).sum::<f64>();
    for (a, b) in beta.iter().enumerate() {
        e.grad[a] -= penalty * b;
        e.hess[a][a] -= penalty;
    }
    (e, raw)
}

/// Where Newton's method stopped.
struct Converged {
    beta: Vec<f64>,
    /// Cholesky factor of the (penalised) information matrix at `beta`.
    information: Vec<Vec<f64>>,
    /// The unpenalised log-likelihood at `beta`.
    log_likelihood: f64,
    iterations: usize,
}

/// Newton-Raphson with a halving line search from `beta`, until the Newton step is below `tol`
/// in every coordinate.
fn newton(
    data: &Prepared,
    penalty: f64,
    mut beta: Vec<f64>,
    max_iter: usize,
    tol: f64,
) -> Result<Converged> {
    let (mut cur, mut raw) = penalised(data, penalty, &beta);
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
                "the information matrix is singular: covariates move together, or one separates who \
                 leaves from who stays; drop one, or give the `penalizer` option a small value such as 0.01"
            );
        };
        let delta = cholesky_solve(&l, &cur.grad);
        if delta.iter().all(|d| d.abs() < tol) {
            return Ok(Converged {
                beta,
                information: l,
                log_likelihood: raw,
                iterations,
            });
        }
        ensure!(
            iterations < max_iter,
            data,
            "the Cox fit did not converge in {max_iter} iterations (a covariate may separate the \
             events perfectly): give the `penalizer` option a small value such as 0.01"
        );
        let mut step = 1.0;
        loop {
            let trial: Vec<f64> = beta.iter().zip(&delta).map(|(b, d)| b + step * d).collect();
            let (e, r) = penalised(data, penalty, &trial);
            if e.ll.is_finite() && e.ll >= cur.ll - 1e-12 * cur.ll.abs() {
                beta = trial;
                cur = e;
                raw = r;
                break;
            }
            step *= 0.5;
            if step < 1e-10 {
                bail!(
                    data,
                    "the Cox fit does not converge: the likelihood cannot be improved"
                );
            }
        }
    }
}

/// Efron's log-likelihood at beta = 0, from the counts alone: every weight is 1, so each of the
/// d events at a time with n at risk contributes -ln(n - l) for l = 0..d.
fn null_log_likelihood(data: &Prepared) -> f64 {
    let n = data.times.len();
    let (mut ll, mut at_risk, mut i) = (0.0, 0usize, 0);
    while i < n {
        let t = data.times[i];
        let mut deaths = 0usize;
        while i < n && data.times[i] == t {
            at_risk += 1;
            deaths += usize::from(data.events[i]);
            i += 1;
        }
        for l in 0..deaths {
            ll -= ((at_risk - l) as f64).ln();
        }
    }
    ll
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
        // Longest duration first; equal durations in input order.
        let mut keyed: Vec<(f64, u32)> = durations
            .iter()
            .enumerate()
            .map(|(i, &d)| (d, i as u32))
            .collect();
        keyed.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let order: Vec<u32> = keyed.into_iter().map(|(_, i)| i).collect();
        let mut position = vec![0u32; n];
        for (k, &r) in order.iter().enumerate() {
            position[r as usize] = k as u32;
        }
        // Standardised rows in duration order. The columns are read in sequence, a block of
        // input rows at a time, so the block's rows stay in cache while every column is
        // written into them.
        let mut x = vec![0.0; n * p];
        const BLOCK: usize = 1024;
        for start in (0..n).step_by(BLOCK) {
            let end = (start + BLOCK).min(n);
            for (j, col) in columns.iter().enumerate() {
                let (m, s) = (means[j], stds[j]);
                for (i, v) in col[start..end].iter().enumerate() {
                    x[position[start + i] as usize * p + j] = (v - m) / s;
                }
            }
        }
        let data = Prepared {
            x,
            p,
            times: order.iter().map(|&r| durations[r as usize]).collect(),
            events: order.iter().map(|&r| events[r as usize]).collect(),
        };
        let ll_null = null_log_likelihood(&data);
        // A large table starts Newton from the optimum of an evenly spaced sample of its rows
        // (sorted by duration, so the sample keeps the order): two or three full passes
        // instead of five or six. Any failure there just means starting from zero.
        let start = if n >= 4 * WARM_START_ROWS {
            let k = n / WARM_START_ROWS;
            let rows: Vec<usize> = (0..n).step_by(k).collect();
            let sample = Prepared {
                x: rows
                    .iter()
                    .flat_map(|&r| data.x[r * p..(r + 1) * p].iter().copied())
                    .collect(),
                p,
                times: rows.iter().map(|&r| data.times[r]).collect(),
                events: rows.iter().map(|&r| data.events[r]).collect(),
            };
            let penalty = rows.len() as f64 * params.penalizer;
            newton(&sample, penalty, vec![0.0; p], params.max_iter, 1e-6)
                .map(|c| c.beta)
                .unwrap_or_else(|_| vec![0.0; p])
        } else {
            vec![0.0; p]
        };
        let penalty = n as f64 * params.penalizer;
        let Converged {
            beta,
            information,
            log_likelihood: raw_ll,
            iterations,
        } = newton(&data, penalty, start, params.max_iter, 1e-9)?;
        let var = cholesky_inverse(&information);
        let coef: Vec<f64> = (0..p).map(|j| beta[j] / stds[j]).collect();
        let se: Vec<f64> = (0..p).map(|j| var[j][j].sqrt() / stds[j]).collect();

        // Linear predictors (x - mean) . coef = x_std . beta, back in the input's row order.
        let lp_sorted: Vec<f64> = data
            .x
            .chunks_exact(p)
            .map(|x| x.iter().zip(&beta).map(|(a, b)| a * b).sum())
            .collect();
        let mut lp = vec![0.0; n];
        for (k, &r) in order.iter().enumerate() {
            lp[r as usize] = lp_sorted[k];
        }
        let concordance = concordance_index(durations, events, &lp)?;
        let (baseline_times, baseline_cumulative_hazard) =
            breslow(&data.times, &data.events, &lp_sorted);
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

/// Breslow's baseline from rows sorted by duration, longest first, with their linear
/// predictors in that order: at each distinct time, events / the sum of exp(lp) of the rows
/// still at risk, summed up over time (ascending, from 0).
fn breslow(times: &[f64], events: &[bool], lp: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n = times.len();
    let (mut at, mut hazard) = (Vec::new(), Vec::new());
    let (mut risk, mut i) = (0.0, 0);
    while i < n {
        let t = times[i];
        let mut deaths = 0usize;
        while i < n && times[i] == t {
            risk += lp[i].exp();
            deaths += usize::from(events[i]);
            i += 1;
        }
        at.push(t);
        hazard.push(deaths as f64 / risk);
    }
    at.reverse();
    hazard.reverse();
    let mut times_out = Vec::with_capacity(at.len() + 1);
    let mut cumulative = Vec::with_capacity(at.len() + 1);
    if at.first().is_some_and(|&t| t > 0.0) {
        times_out.push(0.0);
        cumulative.push(0.0);
    }
    let mut h = 0.0;
    for (t, d) in at.into_iter().zip(hazard) {
        h += d;
        times_out.push(t);
        cumulative.push(h);
    }
    (times_out, cumulative)
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
        // The null log-likelihood from counts is Efron's at beta = 0.
        let data = Prepared {
            x: a.iter().zip(&b).flat_map(|(x, y)| [*x, *y]).collect(),
            p: 2,
            times: t.clone(),
            events: e.clone(),
        };
        let mut order: Vec<usize> = (0..t.len()).collect();
        order.sort_by(|&i, &j| t[j].total_cmp(&t[i]));
        let sorted = Prepared {
            x: order
                .iter()
                .flat_map(|&i| [data.x[2 * i], data.x[2 * i + 1]])
                .collect(),
            p: 2,
            times: order.iter().map(|&i| t[i]).collect(),
            events: order.iter().map(|&i| e[i]).collect(),
        };
        let at_zero = efron(&sorted, &[0.0, 0.0]).ll;
        assert!((null_log_likelihood(&sorted) - at_zero).abs() < 1e-9 * at_zero.abs());
    }
}
