//! Multivariate Gaussian N(μ, Σ) fitted by maximum likelihood in closed form.
//!
//! MLE: μ̂ = (1/N) Σₙ xₙ, Σ̂ = (1/N) Σₙ (xₙ − μ̂)(xₙ − μ̂)ᵀ + λI (λ = `reg_covar`
//! keeps Σ̂ invertible). Density: log N(x; μ, Σ) = −½ (x−μ)ᵀΣ⁻¹(x−μ) − ½ log det(2πΣ).

use std::path::Path;

use gen_core::checkpoint::{read_json, write_json_atomic};
use gen_core::numerics::GaussianFactor;
use gen_core::{
    Capabilities, Checkpoint, GenError, Learn, Matrix, Model, Result, Rng, Sample, SampleOptions,
    Score, Scores, StepContext, StepStats, TaskSupport,
};
use serde::{Deserialize, Serialize};

/// Capability row of [`Gaussian`].
pub const GAUSSIAN_CAPABILITIES: Capabilities = Capabilities {
    model: "gaussian",
    family: "classical",
    learn: TaskSupport::exact("closed-form maximum likelihood"),
    score: TaskSupport::exact("exact, closed form"),
    sample: TaskSupport::exact("one pass: mu + L eps"),
    infer: TaskSupport::none("none (no latents)"),
};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct GaussianParams {
    mean: Vec<f64>,
    cov: Vec<f64>,
    reg_covar: f64,
}

/// A multivariate Gaussian.
#[derive(Debug, Clone)]
pub struct Gaussian {
    params: GaussianParams,
    factor: GaussianFactor,
}

impl Gaussian {
    /// N(mean, cov) with `cov` row-major d×d.
    pub fn new(mean: Vec<f64>, cov: Vec<f64>) -> Result<Self> {
        let d = mean.len();
        if d == 0 || cov.len() != d * d {
            return Err(GenError::shape(
                "Gaussian::new",
                format!("d >= 1 and a {d} x {d} covariance"),
                format!("d = {d}, {} covariance entries", cov.len()),
                "pass a mean of length d and a d*d row-major covariance",
            ));
        }
        let factor = GaussianFactor::new(mean.clone(), &cov)?;
        Ok(Self {
            params: GaussianParams {
                mean,
                cov,
                reg_covar: 0.0,
            },
            factor,
        })
    }

    /// The maximum-likelihood Gaussian of `data` (rows = examples).
    pub fn fit(data: &Matrix, reg_covar: f64) -> Result<Self> {
        if data.rows() < 2 || data.cols() == 0 {
            return Err(GenError::shape(
                "Gaussian::fit",
                "at least 2 rows and 1 column",
                format!("{} x {}", data.rows(), data.cols()),
                "fit on a data set with several examples",
            ));
        }
        if !(reg_covar >= 0.0 && reg_covar.is_finite()) {
            return Err(GenError::config(
                "reg_covar",
                reg_covar,
                "must be finite and >= 0",
                "use a small value such as 1e-6",
            ));
        }
        data.ensure_finite("Gaussian::fit")?;
        let d = data.cols();
        let mean = data.column_means();
        let mut cov = vec![0.0; d * d];
        for r in data.iter_rows() {
            for i in 0..d {
                let di = r[i] - mean[i];
                for j in 0..=i {
                    cov[i * d + j] += di * (r[j] - mean[j]);
                }
            }
        }
        let n = data.rows() as f64;
        for i in 0..d {
            for j in 0..=i {
                cov[i * d + j] /= n;
                cov[j * d + i] = cov[i * d + j];
            }
            cov[i * d + i] += reg_covar;
        }
        let mut g = Self::new(mean, cov)?;
        g.params.reg_covar = reg_covar;
        Ok(g)
    }

    /// Mean μ.
    pub fn mean(&self) -> &[f64] {
        &self.params.mean
    }

    /// Covariance Σ, row-major.
    pub fn cov(&self) -> &[f64] {
        &self.params.cov
    }

    /// Dimension d.
    pub fn dim(&self) -> usize {
        self.params.mean.len()
    }

    /// Exact log-densities of each row.
    pub fn log_prob(&self, x: &Matrix) -> Result<Vec<f64>> {
        x.ensure_cols(self.dim(), "Gaussian::log_prob")?;
        x.ensure_finite("Gaussian::log_prob")?;
        let d = self.dim();
        let (mut a, mut b) = (vec![0.0; d], vec![0.0; d]);
        Ok(x.iter_rows()
            .map(|r| self.factor.log_prob(r, &mut a, &mut b))
            .collect())
    }
}

impl Model for Gaussian {
    fn capabilities(&self) -> Capabilities {
        GAUSSIAN_CAPABILITIES
    }
}

impl Sample for Gaussian {
    type Output = Matrix;
    /// x = μ + τ L ε: temperature τ scales the standard deviation.
    fn sample(&self, n: usize, options: &SampleOptions, rng: &mut Rng) -> Result<Matrix> {
        options.validate()?;
        let d = self.dim();
        let mut data = vec![0.0; n * d];
        let mut eps = vec![0.0; d];
        for row in data.chunks_exact_mut(d) {
            self.factor
                .sample_into(rng, options.temperature, &mut eps, row);
        }
        Matrix::new(n, d, data)
    }
}

impl Score for Gaussian {
    type Input = Matrix;
    fn score(&self, x: &Matrix, options: &gen_core::ScoreOptions) -> Result<Scores> {
        options.only_default("gaussian", "exact, closed form")?;
        Ok(Scores::exact(self.log_prob(x)?))
    }
}

impl Learn for Gaussian {
    type Batch = Matrix;
    /// Closed-form MLE on the batch (one step reaches the optimum).
    fn learn_step(&mut self, batch: &Matrix, _ctx: &mut StepContext<'_>) -> Result<StepStats> {
        *self = Gaussian::fit(batch, self.params.reg_covar)?;
        let ll = self.log_prob(batch)?;
        Ok(StepStats::loss(-ll.iter().sum::<f64>() / ll.len() as f64))
    }
}

impl Checkpoint for Gaussian {
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        write_json_atomic(&dir.join("gaussian.json"), &self.params)
    }
    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        let p: GaussianParams = read_json(&dir.join("gaussian.json"))?;
        let reg = p.reg_covar;
        *self = Gaussian::new(p.mean, p.cov)?;
        self.params.reg_covar = reg;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gen_core::rng_from_seed;

    #[test]
    fn mle_recovers_parameters_and_density_integrates() {
        let truth = Gaussian::new(vec![1.0, -2.0], vec![2.0, 0.8, 0.8, 1.0]).unwrap();
        let mut rng = rng_from_seed(3);
        let x = truth
            .sample(20_000, &SampleOptions::default(), &mut rng)
            .unwrap();
        let fit = Gaussian::fit(&x, 0.0).unwrap();
        for (a, b) in fit.mean().iter().zip(truth.mean()) {
            assert!((a - b).abs() < 0.05, "{a} vs {b}");
        }
        for (a, b) in fit.cov().iter().zip(truth.cov()) {
            assert!((a - b).abs() < 0.08, "{a} vs {b}");
        }
        // Riemann sum of the exact density over a box holding > 1 - 1e-6 of the mass.
        let h = 0.05;
        let mut pts = Vec::new();
        for i in 0..280 {
            for j in 0..200 {
                pts.push([
                    -6.0 + 1.0 * (i as f64 + 0.5) * h,
                    -7.0 + (j as f64 + 0.5) * h,
                ]);
            }
        }
        let grid = Matrix::from_rows(&pts).unwrap();
        let mass: f64 = truth
            .log_prob(&grid)
            .unwrap()
            .iter()
            .map(|l| l.exp() * h * h)
            .sum();
        assert!((mass - 1.0).abs() < 1e-3, "mass {mass}");
    }

    #[test]
    fn bad_input_is_an_error() {
        let g = Gaussian::new(vec![0.0, 0.0], vec![1.0, 0.0, 0.0, 1.0]).unwrap();
        let wrong = Matrix::new(1, 3, vec![0.0; 3]).unwrap();
        assert!(g.log_prob(&wrong).is_err());
        let nan = Matrix::new(1, 2, vec![f64::NAN, 0.0]).unwrap();
        assert!(g.log_prob(&nan).is_err());
        assert!(Gaussian::new(vec![0.0], vec![-1.0]).is_err());
    }
}
