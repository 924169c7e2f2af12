//! Small numerical helpers shared by the samplers and densities (private).

use gen_core::Rng;
use rand::Rng as _;

/// ln(2π).
pub(crate) const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// A uniform draw in [0, 1) (53 random bits).
pub(crate) fn uniform(rng: &mut Rng) -> f64 {
    rng.random::<f64>()
}

/// A standard normal draw by the Box–Muller transform:
/// z = √(−2 ln u₁) · cos(2π u₂) with u₁ ∈ (0, 1], u₂ ∈ [0, 1).
pub(crate) fn standard_normal(rng: &mut Rng) -> f64 {
    let u1 = 1.0 - uniform(rng); // (0, 1]: ln never sees 0
    let u2 = uniform(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// log N(x; mean, std²) in one dimension.
pub(crate) fn normal_log_pdf(x: f64, mean: f64, std: f64) -> f64 {
    let z = (x - mean) / std;
    -0.5 * z * z - std.ln() - 0.5 * LN_2PI
}

/// log Σ exp(aᵢ), stable; −∞ for an empty slice or all −∞.
pub(crate) fn log_sum_exp(a: &[f64]) -> f64 {
    let m = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    if m == f64::INFINITY {
        return f64::INFINITY;
    }
    m + a.iter().map(|&v| (v - m).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_moments() {
        let mut rng = gen_core::rng_from_seed(3);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let kurt = xs.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n as f64 / (var * var);
        // standard errors: mean 1/√n ≈ 0.0022, var √(2/n) ≈ 0.0032
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.015, "{var}");
        assert!((kurt - 3.0).abs() < 0.06, "{kurt}");
    }

    #[test]
    fn log_pdf_and_lse() {
        assert!((normal_log_pdf(0.0, 0.0, 1.0) + 0.5 * LN_2PI).abs() < 1e-15);
        assert!((LN_2PI - (2.0 * std::f64::consts::PI).ln()).abs() < 1e-15);
        let l = log_sum_exp(&[1000.0, 1000.0]);
        assert!((l - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert_eq!(log_sum_exp(&[]), f64::NEG_INFINITY);
        assert_eq!(log_sum_exp(&[f64::NEG_INFINITY]), f64::NEG_INFINITY);
    }
}
