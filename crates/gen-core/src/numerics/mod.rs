//! Host-side numerics shared by every crate: the one home of log-sum-exp,
//! ln 2π, Gaussian log-densities and KLs, Box–Muller normal draws from the
//! host [`Rng`], summary statistics, and (in [`linalg`]) the dense linear
//! algebra (Cholesky, solves, log-determinants, symmetric eigen-decomposition,
//! covariances, PSD square roots).
//!
//! Everything here is plain `f64` on the host and compiles without the `burn`
//! feature; the tensor counterparts live in `nn::ops`.

pub mod linalg;

pub use linalg::GaussianFactor;

use rand::Rng as _;

use crate::Rng;

/// ln(2π), the `f64` that `(2.0 * std::f64::consts::PI).ln()` gives.
pub const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// `log Σᵢ exp(xᵢ)`, stable (shifted by the maximum m). `−∞` entries (zero
/// weights) are allowed; an empty slice or all `−∞` gives `−∞`, a `+∞` entry
/// gives `+∞`; NaN propagates.
pub fn log_sum_exp(xs: &[f64]) -> f64 {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m.is_infinite() || m.is_nan() {
        return m;
    }
    m + xs.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// `log (1/n) Σᵢ exp(xᵢ)`, stable, computed as `m + ln((Σᵢ exp(xᵢ − m)) / n)`
/// (e.g. an importance-weighted bound from its log-weights). A non-finite
/// maximum m (empty slice, all `−∞`, a `+∞` entry) is returned as is.
pub fn log_mean_exp(xs: &[f64]) -> f64 {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + (xs.iter().map(|v| (v - m).exp()).sum::<f64>() / xs.len() as f64).ln()
}

/// log N(x; mean, std²) in one dimension.
pub fn normal_log_pdf(x: f64, mean: f64, std: f64) -> f64 {
    let z = (x - mean) / std;
    -0.5 * z * z - std.ln() - 0.5 * LN_2PI
}

/// KL(N(μ, e^{log σ²}) ‖ N(0, 1)) = ½ (μ² + σ² − log σ² − 1), one dimension
/// (sum over dimensions for a diagonal Gaussian).
pub fn kl_normal_standard(mean: f64, log_var: f64) -> f64 {
    0.5 * (mean * mean + log_var.exp() - log_var - 1.0)
}

/// KL(N(μ₁, σ₁²) ‖ N(μ₂, σ₂²)) = ln(σ₂/σ₁) + (σ₁² + (μ₁ − μ₂)²) / (2σ₂²) − ½,
/// one dimension, from the standard deviations.
pub fn kl_normal(mean1: f64, std1: f64, mean2: f64, std2: f64) -> f64 {
    (std2 / std1).ln() + (std1 * std1 + (mean1 - mean2).powi(2)) / (2.0 * std2 * std2) - 0.5
}

/// A uniform draw in [0, 1) (53 random bits).
pub fn uniform(rng: &mut Rng) -> f64 {
    rng.random::<f64>()
}

/// Two independent standard normal draws by the Box–Muller transform, from
/// two uniforms u₁ = 1 − U ∈ (0, 1] (so ln u₁ is finite), then u₂ ∈ [0, 1):
/// r = √(−2 ln u₁), (r cos 2πu₂, r sin 2πu₂).
pub fn box_muller(rng: &mut Rng) -> (f64, f64) {
    box_muller_with_std(rng, 1.0)
}

/// Two independent N(0, std²) draws by the Box–Muller transform: the same
/// uniforms as [`box_muller`], with the radius scaled before the rotation,
/// r = std · √(−2 ln u₁), (r cos 2πu₂, r sin 2πu₂). `std = 1` is exactly
/// [`box_muller`]; this is the workspace's one Box–Muller implementation.
pub fn box_muller_with_std(rng: &mut Rng, std: f64) -> (f64, f64) {
    let u1 = 1.0 - uniform(rng);
    let u2 = uniform(rng);
    let r = (-2.0 * u1.ln()).sqrt() * std;
    let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
    (r * c, r * s)
}

/// One standard normal draw: the cosine half of a Box–Muller pair (two
/// uniforms per draw; the sine half is discarded).
pub fn standard_normal(rng: &mut Rng) -> f64 {
    box_muller(rng).0
}

/// `n` standard normal draws, both halves of each Box–Muller pair in turn
/// (cosine, sine); an odd `n` drops the last sine.
pub fn standard_normals(n: usize, rng: &mut Rng) -> Vec<f64> {
    normals(n, 1.0, rng)
}

/// `n` draws from N(0, std²), both halves of each [`box_muller_with_std`]
/// pair in turn (cosine, sine); an odd `n` drops the last sine. `std = 1` is
/// exactly [`standard_normals`].
pub fn normals(n: usize, std: f64, rng: &mut Rng) -> Vec<f64> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let (c, s) = box_muller_with_std(rng, std);
        out.push(c);
        out.push(s);
    }
    out.truncate(n);
    out
}

/// Mean and population standard deviation (ddof 0, `np.std`).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Mean and standard error of the mean (sample std with ddof 1 over `√n`;
/// 0 for a single value).
pub fn mean_stderr(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (mean, 0.0);
    }
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng_from_seed;

    #[test]
    fn ln_2pi_is_the_f64_of_ln_two_pi() {
        assert_eq!(LN_2PI, (2.0 * std::f64::consts::PI).ln());
    }

    #[test]
    fn log_sum_exp_is_stable_and_handles_zero_weights() {
        assert!((log_sum_exp(&[1000.0, 1000.0]) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert!((log_sum_exp(&[0.0, f64::NEG_INFINITY]) - 0.0).abs() < 1e-15);
        assert!((log_sum_exp(&[-1000.0, f64::NEG_INFINITY]) + 1000.0).abs() < 1e-12);
        assert_eq!(log_sum_exp(&[f64::NEG_INFINITY]), f64::NEG_INFINITY);
        assert_eq!(log_sum_exp(&[]), f64::NEG_INFINITY);
        assert_eq!(log_sum_exp(&[1.0, f64::INFINITY]), f64::INFINITY);
        assert!(log_sum_exp(&[1.0, f64::NAN]).is_nan());
    }

    #[test]
    fn log_mean_exp_is_log_sum_exp_minus_log_n() {
        let x = [-3.0, 0.5, 2.0, -700.0];
        assert!((log_mean_exp(&x) - (log_sum_exp(&x) - 4f64.ln())).abs() < 1e-12);
        assert_eq!(log_mean_exp(&[7.0; 5]), 7.0);
        assert_eq!(log_mean_exp(&[]), f64::NEG_INFINITY);
    }

    #[test]
    fn gaussian_densities_and_kls() {
        assert!((normal_log_pdf(0.0, 0.0, 1.0) + 0.5 * LN_2PI).abs() < 1e-15);
        let direct = -0.5 * ((1.5f64 - 1.0) / 2.0).powi(2) - 2f64.ln() - 0.5 * LN_2PI;
        assert!((normal_log_pdf(1.5, 1.0, 2.0) - direct).abs() < 1e-15);
        assert_eq!(kl_normal_standard(0.0, 0.0), 0.0);
        // The standard-normal KL is the general one with (μ₂, σ₂) = (0, 1).
        let (m, lv) = (0.7, -1.3f64);
        let general = kl_normal(m, (0.5 * lv).exp(), 0.0, 1.0);
        assert!((kl_normal_standard(m, lv) - general).abs() < 1e-14);
        assert!(kl_normal(1.0, 2.0, -1.0, 0.5) > 0.0);
        assert!(kl_normal(0.3, 1.7, 0.3, 1.7).abs() < 1e-15);
    }

    #[test]
    fn box_muller_draw_order() {
        // standard_normal is the first half of a pair; standard_normals keeps both halves.
        let (a, b) = box_muller(&mut rng_from_seed(5));
        assert_eq!(standard_normal(&mut rng_from_seed(5)), a);
        assert_eq!(standard_normals(2, &mut rng_from_seed(5)), vec![a, b]);
        let five = standard_normals(5, &mut rng_from_seed(5));
        assert_eq!(five.len(), 5);
        assert_eq!(&five[..2], &[a, b]);
        // The scaled form draws the same uniforms and scales the radius.
        assert_eq!(box_muller_with_std(&mut rng_from_seed(5), 1.0), (a, b));
        assert_eq!(normals(5, 1.0, &mut rng_from_seed(5)), five);
        let scaled = normals(5, 0.25, &mut rng_from_seed(5));
        for (s, f) in scaled.iter().zip(&five) {
            assert!((s - 0.25 * f).abs() <= 1e-15 * f.abs());
        }
    }

    #[test]
    fn normal_draws_have_unit_moments() {
        let mut rng = rng_from_seed(3);
        let n = 200_000;
        let single: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        let paired = standard_normals(200_001, &mut rng_from_seed(2));
        assert_eq!(paired.len(), 200_001);
        for xs in [single, paired] {
            let m = xs.len() as f64;
            let mean = xs.iter().sum::<f64>() / m;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / m;
            let kurt = xs.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / m / (var * var);
            // standard errors: mean 1/√n ≈ 0.0022, var √(2/n) ≈ 0.0032
            assert!(mean.abs() < 0.01, "{mean}");
            assert!((var - 1.0).abs() < 0.015, "{var}");
            assert!((kurt - 3.0).abs() < 0.06, "{kurt}");
        }
    }

    #[test]
    fn summary_statistics() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((s - 1.25f64.sqrt()).abs() < 1e-15);
        let (m, se) = mean_stderr(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((se - (5.0f64 / 3.0 / 4.0).sqrt()).abs() < 1e-15);
        assert_eq!(mean_stderr(&[3.0]), (3.0, 0.0));
    }
}
