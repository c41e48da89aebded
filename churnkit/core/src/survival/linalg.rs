//! The few dense symmetric-matrix operations survival models need (p is small: tens of
//! covariates, a handful of groups), without a LAPACK dependency.

/// A symmetric matrix's pseudo-inverse (numpy's `pinv`: eigenvalues below 1e-15 x the largest
/// are taken as zero), through cyclic Jacobi eigen-decomposition.
pub(crate) fn pseudo_inverse(a: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = a.len();
    let mut m: Vec<Vec<f64>> = a.to_vec();
    let mut vecs: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i][j] * m[i][j])
            .sum();
        if off < 1e-30 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if m[p][q].abs() < 1e-300 {
                    continue;
                }
                let theta = (m[q][q] - m[p][p]) / (2.0 * m[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for row in m.iter_mut() {
                    let (mkp, mkq) = (row[p], row[q]);
                    row[p] = c * mkp - s * mkq;
                    row[q] = s * mkp + c * mkq;
                }
                let (rp, rq) = (m[p].clone(), m[q].clone());
                for k in 0..n {
                    m[p][k] = c * rp[k] - s * rq[k];
                    m[q][k] = s * rp[k] + c * rq[k];
                }
                for row in vecs.iter_mut() {
                    let (vp, vq) = (row[p], row[q]);
                    row[p] = c * vp - s * vq;
                    row[q] = s * vp + c * vq;
                }
            }
        }
    }
    let eig: Vec<f64> = (0..n).map(|i| m[i][i]).collect();
    let largest = eig.iter().fold(0.0f64, |a, e| a.max(e.abs()));
    let cutoff = 1e-15 * largest;
    let mut out = vec![vec![0.0; n]; n];
    for (k, &e) in eig.iter().enumerate() {
        if e.abs() <= cutoff {
            continue;
        }
        for i in 0..n {
            for j in 0..n {
                out[i][j] += vecs[i][k] * vecs[j][k] / e;
            }
        }
    }
    out
}

/// The Cholesky factor L (a = L L') of a symmetric positive-definite matrix, `None` if it is not
/// positive definite.
pub(crate) fn cholesky(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = a[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if i == j {
                if s.is_nan() || s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    Some(l)
}

/// Solves L L' x = b.
pub(crate) fn cholesky_solve(l: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let n = l.len();
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (b[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (y[i] - (i + 1..n).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    x
}

/// The inverse of L L'.
pub(crate) fn cholesky_inverse(l: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = l.len();
    let mut out = vec![vec![0.0; n]; n];
    for j in 0..n {
        let e: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i == j))).collect();
        let col = cholesky_solve(l, &e);
        for (row, v) in out.iter_mut().zip(col) {
            row[j] = v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverses_agree() {
        let a = vec![
            vec![4.0, 1.0, 0.5],
            vec![1.0, 3.0, 0.2],
            vec![0.5, 0.2, 2.0],
        ];
        let p = pseudo_inverse(&a);
        let c = cholesky_inverse(&cholesky(&a).unwrap());
        for i in 0..3 {
            for j in 0..3 {
                assert!((p[i][j] - c[i][j]).abs() < 1e-12);
                let id: f64 = (0..3).map(|k| a[i][k] * c[k][j]).sum();
                assert!((id - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
        // Singular: [1 1; 1 1] has pinv [1/4 1/4; 1/4 1/4]; Cholesky refuses it.
        let s = vec![vec![1.0, 1.0], vec![1.0, 1.0]];
        assert!(cholesky(&s).is_none());
        let ps = pseudo_inverse(&s);
        assert!((ps[0][1] - 0.25).abs() < 1e-12);
    }
}
