//! Small numerical helpers on host values shared by every crate.

/// `log Σᵢ exp(xᵢ)`, stable (shifted by the maximum). `−∞` entries (zero
/// weights) are allowed; an empty slice or all `−∞` gives `−∞`; NaN propagates.
pub fn logsumexp(xs: &[f64]) -> f64 {
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY || max.is_nan() {
        return max;
    }
    max + xs.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logsumexp_is_stable_and_handles_zero_weights() {
        assert!((logsumexp(&[1000.0, 1000.0]) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert!((logsumexp(&[0.0, f64::NEG_INFINITY]) - 0.0).abs() < 1e-15);
        assert_eq!(logsumexp(&[f64::NEG_INFINITY]), f64::NEG_INFINITY);
        assert_eq!(logsumexp(&[]), f64::NEG_INFINITY);
    }
}
