//! Likelihood-based metrics: NLL, bits per dimension, perplexity, ELBO and
//! the importance-weighted (IWAE) bound.
//!
//! - NLL in nats: `−(1/N) Σᵢ log p(xᵢ)`.
//! - Bits per dimension of a `D`-dimensional discrete datum:
//!   `bpd = NLL / (D ln 2)` ([`bits_per_dim`]). For a *continuous* density on
//!   data dequantized and rescaled as `y = (x + u) / L` (`x ∈ {0..L−1}`,
//!   `u ~ U[0,1)^D`, e.g. `L = 256` for 8-bit images) the change of variables
//!   adds `log₂ L` per dimension:
//!   `bpd = NLL_y / (D ln 2) + log₂ L` ([`bits_per_dim_dequantized`]; the
//!   convention of RealNVP, Glow and PixelCNN reports). A uniform density on
//!   `[0,1]^D` (NLL 0) scores exactly 8 bits/dim for 8-bit data.
//! - Perplexity: `exp(mean token NLL in nats)`.
//! - ELBO: per example `ELBO = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z))`, averaged;
//!   `−ELBO` bounds the NLL from above.
//! - IWAE-k (Burda et al. 2016): from `k` log-weights
//!   `log wᵢ = log p(x, zᵢ) − log q(zᵢ|x)`, `zᵢ ~ q`,
//!   `L_k = log((1/k) Σᵢ exp(log wᵢ)) = logsumexp(log w) − log k`, computed
//!   stably (shifting by the largest log-weight). `L_1` is the ELBO;
//!   `E[L_k] ≤ E[L_{k+1}] ≤ log p(x)`.

use gen_core::numerics::mean_stderr;
use gen_core::{GenError, Matrix, Result};

use crate::check;

/// A mean negative log-likelihood.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Nll {
    /// `−(1/N) Σ log p(xᵢ)` in nats.
    pub value: f64,
    /// Standard error of the mean.
    pub std_err: f64,
    /// Number of examples.
    pub samples: usize,
}

/// Mean NLL in nats from per-example log-likelihoods (natural log).
pub fn nll(log_likelihoods: &[f64]) -> Result<Nll> {
    check::finite_slice(log_likelihoods, "nll", "log-likelihoods", 1)?;
    let neg: Vec<f64> = log_likelihoods.iter().map(|l| -l).collect();
    let (value, std_err) = mean_stderr(&neg);
    Ok(Nll {
        value,
        std_err,
        samples: neg.len(),
    })
}

fn check_dims(dims: usize, ctx: &str) -> Result<()> {
    if dims == 0 {
        return Err(GenError::config(
            "dims",
            0,
            format!("{ctx}: bits per dimension needs D ≥ 1"),
            "pass the number of dimensions of one example (e.g. 784 for 28×28 images)",
        ));
    }
    Ok(())
}

/// `NLL / (D ln 2)`: bits per dimension from a per-example NLL in nats of a
/// discrete (or already correctly discretised) model. 80 nats over 784
/// dimensions is 0.14721 bits/dim.
pub fn bits_per_dim(nll_nats: f64, dims: usize) -> Result<f64> {
    check_dims(dims, "bits_per_dim")?;
    check::finite_slice(&[nll_nats], "bits_per_dim", "NLL", 1)?;
    Ok(nll_nats / (dims as f64 * std::f64::consts::LN_2))
}

/// `NLL / (D ln 2) + log₂ L`: bits per dimension of a continuous density on
/// data dequantized and rescaled to `(x + u)/L` (module docs); `levels = L`
/// (256 for 8-bit data). A uniform density on the unit cube gives `log₂ L`.
pub fn bits_per_dim_dequantized(nll_nats: f64, dims: usize, levels: u32) -> Result<f64> {
    if levels < 2 {
        return Err(GenError::config(
            "levels",
            levels,
            "the data needs at least 2 quantization levels",
            "pass 256 for 8-bit data (2^bits in general)",
        ));
    }
    Ok(bits_per_dim(nll_nats, dims)? + (levels as f64).log2())
}

/// Perplexity `exp(mean NLL per token)` from per-token NLLs in nats.
pub fn perplexity(token_nll_nats: &[f64]) -> Result<f64> {
    check::finite_slice(token_nll_nats, "perplexity", "token NLLs", 1)?;
    let mean = token_nll_nats.iter().sum::<f64>() / token_nll_nats.len() as f64;
    Ok(mean.exp())
}

/// An averaged evidence lower bound.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Elbo {
    /// Mean ELBO `mean(reconstruction − kl)` in nats.
    pub value: f64,
    /// Mean reconstruction term `E_q[log p(x|z)]`.
    pub reconstruction: f64,
    /// Mean `KL(q(z|x) ‖ p(z))`.
    pub kl: f64,
    /// `−value`: an upper bound on the NLL.
    pub nll_bound: f64,
    /// Standard error of the mean ELBO.
    pub std_err: f64,
    /// Number of examples.
    pub samples: usize,
}

/// Averages per-example ELBO terms: `reconstruction[i] = E_q[log p(xᵢ|z)]`,
/// `kl[i] = KL(q(z|xᵢ) ‖ p(z))` (≥ 0 up to estimation noise).
pub fn elbo(reconstruction: &[f64], kl: &[f64]) -> Result<Elbo> {
    check::finite_slice(reconstruction, "elbo", "reconstruction terms", 1)?;
    check::same_len(
        reconstruction,
        kl,
        "elbo",
        "reconstruction terms",
        "KL terms",
    )?;
    check::finite_slice(kl, "elbo", "KL terms", 1)?;
    let per: Vec<f64> = reconstruction.iter().zip(kl).map(|(r, k)| r - k).collect();
    let (value, std_err) = mean_stderr(&per);
    let n = per.len() as f64;
    Ok(Elbo {
        value,
        reconstruction: reconstruction.iter().sum::<f64>() / n,
        kl: kl.iter().sum::<f64>() / n,
        nll_bound: -value,
        std_err,
        samples: per.len(),
    })
}

pub use gen_core::numerics::log_sum_exp as logsumexp;

/// IWAE-k bound `log((1/k) Σᵢ exp(log wᵢ))` from `k` log importance weights
/// (module docs). `−∞` weights are allowed, but not all of them; NaN/+∞ error.
pub fn iwae_bound(log_weights: &[f64]) -> Result<f64> {
    if log_weights.is_empty() {
        return Err(GenError::shape(
            "iwae_bound",
            "at least 1 log-weight",
            "0",
            "pass the k log importance weights log p(x, zᵢ) − log q(zᵢ|x)",
        ));
    }
    if let Some(i) = log_weights
        .iter()
        .position(|w| w.is_nan() || *w == f64::INFINITY)
    {
        return Err(GenError::input(
            "iwae_bound",
            format!("log-weight {} at index {i} is NaN or +∞", log_weights[i]),
            "check the model's log p(x, z) and the proposal's log q(z|x) for overflow",
        ));
    }
    let l = logsumexp(log_weights);
    if l == f64::NEG_INFINITY {
        return Err(GenError::input(
            "iwae_bound",
            "every importance weight is zero (all log-weights are −∞)",
            "use a proposal q(z|x) whose samples have non-zero model density",
        ));
    }
    Ok(l - (log_weights.len() as f64).ln())
}

/// [`iwae_bound`] for each row of `log_weights` (rows = examples, columns =
/// the `k` importance samples).
pub fn iwae_bounds(log_weights: &Matrix) -> Result<Vec<f64>> {
    if log_weights.cols() == 0 {
        return Err(GenError::shape(
            "iwae_bounds",
            "k ≥ 1 columns (importance samples)",
            format!("{} x 0", log_weights.rows()),
            "pass one row of k log-weights per example",
        ));
    }
    log_weights
        .iter_rows()
        .enumerate()
        .map(|(i, r)| {
            iwae_bound(r).map_err(|e| GenError::Other(format!("iwae_bounds, row {i}: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gen_core::rng_from_seed;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn bits_per_dim_reference_values() {
        // A uniform density on [0,1]^D for 8-bit data: NLL 0 → 8 bits/dim.
        assert!((bits_per_dim_dequantized(0.0, 3072, 256).unwrap() - 8.0).abs() < 1e-12);
        assert!((bits_per_dim(80.0, 784).unwrap() - 0.14721).abs() < 5e-6);
        assert!(bits_per_dim(1.0, 0).is_err());
        assert!(bits_per_dim_dequantized(1.0, 3, 1).is_err());
        assert!(bits_per_dim(f64::NAN, 3).is_err());
    }

    #[test]
    fn nll_perplexity_elbo() {
        let n = nll(&[-1.0, -3.0]).unwrap();
        assert_eq!(n.value, 2.0);
        assert!((perplexity(&[2f64.ln(), 2f64.ln()]).unwrap() - 2.0).abs() < 1e-12);
        let e = elbo(&[-10.0, -12.0], &[1.0, 3.0]).unwrap();
        assert_eq!(
            (e.value, e.reconstruction, e.kl, e.nll_bound),
            (-13.0, -11.0, 2.0, 13.0)
        );
        assert!(elbo(&[-1.0], &[1.0, 2.0]).is_err());
        assert!(nll(&[]).is_err());
    }

    #[test]
    fn logsumexp_is_stable() {
        assert!((logsumexp(&[1000.0, 1000.0]) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert!((logsumexp(&[-1000.0, f64::NEG_INFINITY]) + 1000.0).abs() < 1e-12);
        assert_eq!(iwae_bound(&[5.0]).unwrap(), 5.0);
        assert!(iwae_bound(&[f64::NEG_INFINITY; 3]).is_err());
        assert!(iwae_bound(&[f64::NAN]).is_err());
        let m = Matrix::from_rows(&[[0.0, 0.0], [1.0, f64::NEG_INFINITY]]).unwrap();
        let b = iwae_bounds(&m).unwrap();
        assert!((b[0] - 0.0).abs() < 1e-15 && (b[1] - (1.0 - 2f64.ln())).abs() < 1e-15);
    }

    /// Linear-Gaussian model: z ~ N(0,1), x|z ~ N(z, σ²); p(x) = N(0, 1 + σ²),
    /// p(z|x) = N(x/(1+σ²), σ²/(1+σ²)).
    fn log_normal(x: f64, mean: f64, var: f64) -> f64 {
        -0.5 * ((x - mean).powi(2) / var + (2.0 * std::f64::consts::PI * var).ln())
    }

    #[test]
    fn iwae_on_linear_gaussian() {
        let s2: f64 = 0.5;
        let x = 1.3;
        let log_px = log_normal(x, 0.0, 1.0 + s2);
        let (post_mean, post_var) = (x / (1.0 + s2), s2 / (1.0 + s2));
        let log_w = |z: f64, q_mean: f64, q_var: f64| {
            log_normal(z, 0.0, 1.0) + log_normal(x, z, s2) - log_normal(z, q_mean, q_var)
        };
        let mut rng = rng_from_seed(7);
        // Exact posterior proposal: every weight equals p(x), for every k.
        let exact = Normal::new(post_mean, post_var.sqrt()).unwrap();
        for k in [1usize, 2, 5, 50] {
            let w: Vec<f64> = (0..k)
                .map(|_| log_w(exact.sample(&mut rng), post_mean, post_var))
                .collect();
            assert!((iwae_bound(&w).unwrap() - log_px).abs() < 1e-12, "k = {k}");
        }
        // The prior as proposal: below log p(x) and non-decreasing in k on average.
        let prior = Normal::new(0.0, 1.0).unwrap();
        let reps = 2000;
        let mut means = Vec::new();
        for k in [1usize, 2, 5, 20, 100] {
            let mut total = 0.0;
            for _ in 0..reps {
                let w: Vec<f64> = (0..k)
                    .map(|_| log_w(prior.sample(&mut rng), 0.0, 1.0))
                    .collect();
                total += iwae_bound(&w).unwrap();
            }
            means.push(total / reps as f64);
        }
        for m in &means {
            assert!(*m < log_px, "{m} ≥ log p(x) = {log_px}");
        }
        for w in means.windows(2) {
            assert!(w[1] >= w[0] - 1e-3, "{means:?}");
        }
        assert!(
            log_px - means[means.len() - 1] < 0.02,
            "{means:?} vs {log_px}"
        );
        assert!(log_px - means[0] > 0.1, "{means:?} vs {log_px}");
    }
}
