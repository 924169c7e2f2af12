//! The denoiser interface every sampler and the bound take, and the exact
//! denoiser of Gaussian data.
//!
//! A [`Denoiser`] maps host rows x_t (one timestep per row) to its output in
//! its own [`Prediction`]; samplers convert to (x̂₀, ε̂) themselves. A
//! trained network ([`crate::Ddpm`]), a closure ([`FnDenoiser`]) and the
//! closed-form optimum for Gaussian data ([`GaussianData::oracle`]) all plug in.
//!
//! # The optimal denoiser for Gaussian data
//!
//! For x₀ ~ N(μ, diag σ²) the coordinates are independent and
//! x_t | level ᾱ ~ N(√ᾱ μ, s²) with s² = ᾱσ² + 1 − ᾱ. The minimiser of
//! E‖ε − ε̂(x_t)‖² is the posterior mean, linear in x_t:
//!
//! ```text
//! ε*(x_t)  = E[ε | x_t]  = √(1 − ᾱ) (x_t − √ᾱ μ) / s²
//! x̂₀*(x_t) = E[x₀ | x_t] = μ + √ᾱ σ² (x_t − √ᾱ μ) / s²
//! ```
//!
//! and the score of the noisy marginal is ∇ log p_t(x_t) = −ε*(x_t)/√(1 − ᾱ).

use gen_core::numerics::normal_log_pdf;
use gen_core::{GenError, Matrix, Result};

use crate::param::Prediction;
use crate::schedule::NoiseSchedule;

/// A denoising model on host rows.
pub trait Denoiser {
    /// What [`Denoiser::predict`] returns.
    fn prediction(&self) -> Prediction;

    /// The output for rows `x` (n × D), row i at timestep `t[i]`.
    fn predict(&self, x: &Matrix, t: &[usize]) -> Result<Matrix>;
}

/// A closure as a [`Denoiser`]: `f(x, t)` returns the `prediction` output.
pub struct FnDenoiser<F> {
    /// What `f` returns.
    pub prediction: Prediction,
    /// The model.
    pub f: F,
}

impl<F> Denoiser for FnDenoiser<F>
where
    F: Fn(&Matrix, &[usize]) -> Result<Matrix>,
{
    fn prediction(&self) -> Prediction {
        self.prediction
    }

    fn predict(&self, x: &Matrix, t: &[usize]) -> Result<Matrix> {
        (self.f)(x, t)
    }
}

/// (x̂₀, ε̂) of `den` at rows `x`, all at timestep `t`.
pub fn predict_x0_eps(
    den: &dyn Denoiser,
    schedule: &NoiseSchedule,
    x: &Matrix,
    t: usize,
) -> Result<(Matrix, Matrix)> {
    let ab = schedule.alpha_bar(t);
    let p = den.prediction();
    p.check_level(ab)?;
    let out = den.predict(x, &vec![t; x.rows()])?;
    check_output(&out, x)?;
    let (r, c) = x.shape();
    let mut x0 = Vec::with_capacity(r * c);
    let mut eps = Vec::with_capacity(r * c);
    for (o, xv) in out.as_slice().iter().zip(x.as_slice()) {
        let (a, b) = p.to_x0_eps(*o, *xv, ab);
        x0.push(a);
        eps.push(b);
    }
    Ok((Matrix::new(r, c, x0)?, Matrix::new(r, c, eps)?))
}

/// Errors unless the denoiser's output has the input's shape.
pub fn check_output(out: &Matrix, x: &Matrix) -> Result<()> {
    if out.shape() != x.shape() {
        return Err(GenError::shape(
            "denoiser output",
            format!("{:?}", x.shape()),
            format!("{:?}", out.shape()),
            "a denoiser returns one prediction per input coordinate",
        ));
    }
    Ok(())
}

/// Gaussian data N(μ, diag σ²): the exact optimal denoiser, noisy marginals
/// and log-density (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianData {
    /// μ.
    pub mean: Vec<f64>,
    /// σ per coordinate.
    pub std: Vec<f64>,
}

impl GaussianData {
    /// N(mean, diag std²).
    pub fn new(mean: Vec<f64>, std: Vec<f64>) -> Result<Self> {
        if mean.len() != std.len()
            || mean.is_empty()
            || std.iter().any(|s| !(s.is_finite() && *s > 0.0))
        {
            return Err(GenError::config(
                "Gaussian data",
                format!("mean {mean:?}, std {std:?}"),
                "mean and std need the same positive length and std > 0",
                "e.g. mean [0.5], std [0.5]",
            ));
        }
        Ok(Self { mean, std })
    }

    /// D.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// The mean and variance of coordinate `d` of x_t at level `ab`.
    pub fn marginal(&self, d: usize, ab: f64) -> (f64, f64) {
        (
            ab.sqrt() * self.mean[d],
            ab * self.std[d].powi(2) + 1.0 - ab,
        )
    }

    /// (E[x₀ | x], E[ε | x]) for coordinate `d` at level `ab`.
    pub fn posterior_means(&self, d: usize, x: f64, ab: f64) -> (f64, f64) {
        let (m, s2) = self.marginal(d, ab);
        let r = x - m;
        (
            self.mean[d] + ab.sqrt() * self.std[d].powi(2) * r / s2,
            (1.0 - ab).sqrt() * r / s2,
        )
    }

    /// Exact log-density of every row, in nats.
    pub fn log_prob(&self, x: &Matrix) -> Result<Vec<f64>> {
        x.ensure_cols(self.dim(), "Gaussian log-density")?;
        Ok(x.iter_rows()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .map(|(d, v)| normal_log_pdf(*v, self.mean[d], self.std[d]))
                    .sum()
            })
            .collect())
    }

    /// The exact optimal denoiser under `schedule`, returning `prediction`.
    pub fn oracle<'a>(
        &'a self,
        schedule: &'a NoiseSchedule,
        prediction: Prediction,
    ) -> GaussianOracle<'a> {
        GaussianOracle {
            data: self,
            schedule,
            prediction,
        }
    }
}

/// The optimal denoiser of [`GaussianData`] (module docs).
#[derive(Debug, Clone, Copy)]
pub struct GaussianOracle<'a> {
    data: &'a GaussianData,
    schedule: &'a NoiseSchedule,
    prediction: Prediction,
}

impl GaussianOracle<'_> {
    /// The optimal output at noise level `ab` for every row.
    pub(crate) fn predict_at_level(&self, x: &Matrix, ab: f64) -> Result<Matrix> {
        x.ensure_cols(self.data.dim(), "Gaussian oracle")?;
        let (r, c) = x.shape();
        let mut out = Vec::with_capacity(r * c);
        for row in x.iter_rows() {
            for (d, v) in row.iter().enumerate() {
                let (x0, eps) = self.data.posterior_means(d, *v, ab);
                out.push(self.prediction.from_x0_eps(x0, eps, ab));
            }
        }
        Matrix::new(r, c, out)
    }
}

impl Denoiser for GaussianOracle<'_> {
    fn prediction(&self) -> Prediction {
        self.prediction
    }

    fn predict(&self, x: &Matrix, t: &[usize]) -> Result<Matrix> {
        x.ensure_cols(self.data.dim(), "Gaussian oracle")?;
        let (r, c) = x.shape();
        let mut out = Vec::with_capacity(r * c);
        for (i, row) in x.iter_rows().enumerate() {
            let ab = self.schedule.alpha_bar(t[i]);
            for (d, v) in row.iter().enumerate() {
                let (x0, eps) = self.data.posterior_means(d, *v, ab);
                out.push(self.prediction.from_x0_eps(x0, eps, ab));
            }
        }
        Matrix::new(r, c, out)
    }
}
