//! Posterior diagnostics: KL per latent dimension, active units, posterior collapse.
//!
//! - KL per dimension: KL_j = E_x[½(μ_j² + σ_j² − log σ_j² − 1)], the nats the
//!   code spends in dimension j; Σ_j KL_j is the KL term of the ELBO.
//! - Active units (Burda, Grosse & Salakhutdinov 2016, §5.2): dimension j is
//!   active when A_j = Cov_x(E_{q(z|x)}[z_j]) = Var_x(μ_j(x)) > 0.01, i.e. the
//!   posterior mean moves with the input.
//! - Posterior collapse (Bowman et al. 2016; Lucas et al. 2019): q(z | x) ≈ p(z)
//!   for every x, so the decoder ignores z. Flagged when no unit is active.

use gen_core::numerics::kl_normal_standard;
use gen_core::{GenError, Matrix, Result};
use serde::{Deserialize, Serialize};

/// The active-unit threshold of Burda et al. (2016).
pub const ACTIVE_UNIT_THRESHOLD: f64 = 0.01;

/// Diagnostics of an encoder on a data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// E_x KL(q(z_j | x) ‖ N(0, 1)) per latent dimension j, in nats.
    pub kl_per_dim: Vec<f64>,
    /// Σ_j KL_j: the mean KL term of the ELBO.
    pub kl_total: f64,
    /// Var_x(μ_j(x)) per dimension.
    pub activity: Vec<f64>,
    /// Number of dimensions with activity above [`ACTIVE_UNIT_THRESHOLD`].
    pub active_units: usize,
    /// True when no latent dimension is active: the posterior has collapsed
    /// onto the prior and the decoder ignores z.
    pub posterior_collapse: bool,
    /// Mean squared error per pixel between x and the reconstruction E[x | z = μ(x)]
    /// (0 until filled by the model).
    pub reconstruction_mse: f64,
}

impl Diagnostics {
    /// Computes KL per dimension, activity, active units and the collapse flag
    /// from the posterior means and log-variances (`rows × L` each).
    pub fn from_posterior(mean: &Matrix, log_var: &Matrix) -> Result<Self> {
        if mean.shape() != log_var.shape() || mean.rows() == 0 {
            return Err(GenError::shape(
                "Diagnostics::from_posterior",
                "means and log-variances of the same, non-empty shape",
                format!("{:?} and {:?}", mean.shape(), log_var.shape()),
                "pass the output of Vae::encode on at least one example",
            ));
        }
        let (n, l) = mean.shape();
        let mut kl = vec![0.0; l];
        for (m, v) in mean.iter_rows().zip(log_var.iter_rows()) {
            for j in 0..l {
                kl[j] += kl_normal_standard(m[j], v[j]);
            }
        }
        kl.iter_mut().for_each(|k| *k /= n as f64);
        let mu_bar = mean.column_means();
        let mut activity = vec![0.0; l];
        for m in mean.iter_rows() {
            for j in 0..l {
                activity[j] += (m[j] - mu_bar[j]).powi(2);
            }
        }
        // Unbiased sample variance (as numpy.cov); a single row has no spread.
        let denom = (n.max(2) - 1) as f64;
        activity.iter_mut().for_each(|a| *a /= denom);
        let active_units = activity
            .iter()
            .filter(|&&a| a > ACTIVE_UNIT_THRESHOLD)
            .count();
        Ok(Self {
            kl_total: kl.iter().sum(),
            kl_per_dim: kl,
            activity,
            active_units,
            posterior_collapse: active_units == 0,
            reconstruction_mse: 0.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prior_matching_posterior_is_flagged_as_collapsed() {
        // q(z|x) = N(0, 1) for every x: zero KL, zero activity.
        let m = Matrix::zeros(50, 3);
        let v = Matrix::zeros(50, 3);
        let d = Diagnostics::from_posterior(&m, &v).unwrap();
        assert!(d.posterior_collapse);
        assert_eq!(d.active_units, 0);
        assert!(d.kl_total.abs() < 1e-12);
    }

    #[test]
    fn moving_means_are_active_and_kl_matches_closed_form() {
        // Dimension 0: μ = ±1, σ² = e^{-2}; dimension 1: μ = 0, σ² = 1.
        let m = Matrix::new(2, 2, vec![1.0, 0.0, -1.0, 0.0]).unwrap();
        let v = Matrix::new(2, 2, vec![-2.0, 0.0, -2.0, 0.0]).unwrap();
        let d = Diagnostics::from_posterior(&m, &v).unwrap();
        assert_eq!(d.active_units, 1);
        assert!(!d.posterior_collapse);
        let expected = 0.5 * (1.0 + (-2.0f64).exp() + 2.0 - 1.0);
        assert!((d.kl_per_dim[0] - expected).abs() < 1e-12);
        assert!((d.activity[0] - 2.0).abs() < 1e-12);
        assert!(Diagnostics::from_posterior(&m, &Matrix::zeros(2, 3)).is_err());
    }
}
