//! Small dense linear algebra for covariance matrices (d is small here).

use gen_core::{GenError, Result};

/// Lower-triangular Cholesky factor L with Σ = L Lᵀ (row-major d×d).
pub fn cholesky(a: &[f64], d: usize) -> Result<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return Err(GenError::input(
                        "Cholesky factorisation",
                        format!("covariance is not positive definite (pivot {i} = {s:e})"),
                        "add regularisation (reg_covar) or remove duplicate / constant columns",
                    ));
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    Ok(l)
}

/// Solves L y = b for lower-triangular L.
pub fn solve_lower(l: &[f64], d: usize, b: &[f64], y: &mut [f64]) {
    for i in 0..d {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * d + k] * y[k];
        }
        y[i] = s / l[i * d + i];
    }
}

/// log det Σ = 2 Σᵢ log Lᵢᵢ.
pub fn log_det_from_cholesky(l: &[f64], d: usize) -> f64 {
    (0..d).map(|i| l[i * d + i].ln()).sum::<f64>() * 2.0
}

/// A Gaussian N(μ, Σ) prepared for repeated log-density evaluation.
#[derive(Debug, Clone)]
pub struct GaussianFactor {
    /// Mean μ.
    pub mean: Vec<f64>,
    /// Cholesky factor L of Σ.
    pub chol: Vec<f64>,
    /// −½ (d log 2π + log det Σ).
    pub log_norm: f64,
}

impl GaussianFactor {
    /// Factorises Σ.
    pub fn new(mean: Vec<f64>, cov: &[f64]) -> Result<Self> {
        let d = mean.len();
        let chol = cholesky(cov, d)?;
        let log_norm =
            -0.5 * (d as f64 * (2.0 * std::f64::consts::PI).ln() + log_det_from_cholesky(&chol, d));
        Ok(Self {
            mean,
            chol,
            log_norm,
        })
    }

    /// log N(x; μ, Σ) = −½ (x−μ)ᵀ Σ⁻¹ (x−μ) − ½ log det(2πΣ), via y = L⁻¹(x−μ).
    pub fn log_prob(&self, x: &[f64], scratch: &mut [f64], y: &mut [f64]) -> f64 {
        let d = self.mean.len();
        for i in 0..d {
            scratch[i] = x[i] - self.mean[i];
        }
        solve_lower(&self.chol, d, scratch, y);
        self.log_norm - 0.5 * y.iter().map(|v| v * v).sum::<f64>()
    }

    /// Draws x = μ + τ L ε with ε ~ N(0, I) into `out` (`eps` is scratch of length d).
    pub fn sample_into(&self, rng: &mut gen_core::Rng, tau: f64, eps: &mut [f64], out: &mut [f64]) {
        use rand_distr::{Distribution, StandardNormal};
        eps.iter_mut()
            .for_each(|e| *e = StandardNormal.sample(&mut *rng));
        self.transform_noise(eps, tau, out);
    }

    /// x = μ + τ L ε for standard-normal ε.
    pub fn transform_noise(&self, eps: &[f64], tau: f64, out: &mut [f64]) {
        let d = self.mean.len();
        for i in 0..d {
            let mut s = 0.0;
            for k in 0..=i {
                s += self.chol[i * d + k] * eps[k];
            }
            out[i] = self.mean[i] + tau * s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reconstructs() {
        let a = [4.0, 2.0, 0.6, 2.0, 2.0, 0.5, 0.6, 0.5, 3.0];
        let l = cholesky(&a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((v - a[i * 3 + j]).abs() < 1e-12);
            }
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_err());
    }
}
