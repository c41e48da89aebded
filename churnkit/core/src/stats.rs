//! Small statistics shared by preprocessing, summaries and charts.

/// Linear-interpolation quantile of sorted data, as numpy's default; `None` for no data.
///
/// ```
/// use churnkit_core::stats::quantile;
/// assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.25), Some(1.75));
/// assert_eq!(quantile(&[], 0.5), None);
/// ```
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

/// Mean and population standard deviation (ddof 0, as scikit-learn's scaler), `None` if empty.
pub fn mean_std(values: &[f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let m = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
    Some((m, var.sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&s, 0.5), Some(2.5));
        assert_eq!(quantile(&s, 0.75), Some(3.25));
        assert_eq!(quantile(&[7.0], 0.9), Some(7.0));
        assert_eq!(mean_std(&[1.0, 3.0]), Some((2.0, 1.0)));
    }
}
