//! Gaussian mixture p(x) = Σₖ πₖ N(x; μₖ, Σₖ) fitted by expectation–maximisation.
//!
//! E-step (responsibilities, the posterior over the component z):
//!   γₙₖ = p(z=k | xₙ) = πₖ N(xₙ; μₖ, Σₖ) / Σⱼ πⱼ N(xₙ; μⱼ, Σⱼ)
//! M-step, with Nₖ = Σₙ γₙₖ:
//!   πₖ = Nₖ/N,  μₖ = Σₙ γₙₖ xₙ / Nₖ,  Σₖ = Σₙ γₙₖ (xₙ−μₖ)(xₙ−μₖ)ᵀ / Nₖ + λI.
//! Each EM iteration does not decrease the log-likelihood (Dempster et al. 1977);
//! the tests check that on real runs. Initial means come from k-means++ seeding.

use std::path::Path;

use gen_core::checkpoint::{read_json, write_json_atomic};
use gen_core::numerics::{GaussianFactor, log_sum_exp};
use gen_core::{
    Capabilities, Checkpoint, GenError, Infer, Learn, Matrix, Model, Result, Rng, Sample,
    SampleOptions, Score, Scores, StepContext, StepStats, TaskSupport,
};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// Capability row of [`Gmm`].
pub const GMM_CAPABILITIES: Capabilities = Capabilities {
    model: "gmm",
    family: "classical",
    learn: TaskSupport::approximate("EM (local optimum of the likelihood)"),
    score: TaskSupport::exact("exact, log-sum-exp over components"),
    sample: TaskSupport::exact("ancestral: z ~ pi, x ~ N(mu_z, Sigma_z)"),
    infer: TaskSupport::exact("exact posterior p(z | x) (responsibilities)"),
};

/// Settings of a Gaussian mixture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GmmConfig {
    /// Number of components K.
    pub components: usize,
    /// λ added to every covariance diagonal (keeps Σₖ invertible).
    pub reg_covar: f64,
}

impl Default for GmmConfig {
    fn default() -> Self {
        Self {
            components: 8,
            reg_covar: 1e-6,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct GmmParams {
    config: GmmConfig,
    weights: Vec<f64>,
    means: Vec<Vec<f64>>,
    covs: Vec<Vec<f64>>,
}

/// A fitted (or initialised) Gaussian mixture.
#[derive(Debug, Clone)]
pub struct Gmm {
    params: GmmParams,
    factors: Vec<GaussianFactor>,
}

impl Gmm {
    /// Initialises K components on `data`: k-means++ means, the pooled data
    /// covariance for every component, equal weights.
    pub fn init(data: &Matrix, config: GmmConfig, rng: &mut Rng) -> Result<Self> {
        let (n, d) = data.shape();
        if config.components == 0 || config.components > n {
            return Err(GenError::config(
                "components",
                config.components,
                format!("must be between 1 and the number of rows ({n})"),
                "choose fewer components or provide more data",
            ));
        }
        if d == 0 {
            return Err(GenError::shape(
                "Gmm::init",
                "at least 1 column",
                "0 columns",
                "pass data with one column per dimension",
            ));
        }
        if !(config.reg_covar >= 0.0 && config.reg_covar.is_finite()) {
            return Err(GenError::config(
                "reg_covar",
                config.reg_covar,
                "must be finite and >= 0",
                "use 1e-6",
            ));
        }
        data.ensure_finite("Gmm::init")?;
        let k = config.components;
        // k-means++: first centre uniform, then proportional to squared distance.
        let mut means: Vec<Vec<f64>> = vec![data.row(rng.random_range(0..n)).to_vec()];
        let mut d2: Vec<f64> = data.iter_rows().map(|r| sq_dist(r, &means[0])).collect();
        while means.len() < k {
            let total: f64 = d2.iter().sum();
            let next = if total > 0.0 {
                let mut u = rng.random::<f64>() * total;
                let mut pick = n - 1;
                for (i, w) in d2.iter().enumerate() {
                    if u < *w {
                        pick = i;
                        break;
                    }
                    u -= w;
                }
                pick
            } else {
                rng.random_range(0..n)
            };
            means.push(data.row(next).to_vec());
            let m = means.last().map(|m| m.to_vec()).unwrap_or_default();
            for (di, r) in d2.iter_mut().zip(data.iter_rows()) {
                *di = di.min(sq_dist(r, &m));
            }
        }
        let pooled = covariance(data, &vec![1.0; n], &data.column_means(), config.reg_covar);
        let covs = vec![pooled; k];
        let weights = vec![1.0 / k as f64; k];
        Self::from_params(GmmParams {
            config,
            weights,
            means,
            covs,
        })
    }

    /// A mixture with given weights, means and row-major covariances.
    pub fn new(weights: Vec<f64>, means: Vec<Vec<f64>>, covs: Vec<Vec<f64>>) -> Result<Self> {
        let total: f64 = weights.iter().sum();
        if weights.is_empty()
            || weights.iter().any(|w| !w.is_finite() || *w < 0.0)
            || (total - 1.0).abs() > 1e-6
            || means.len() != weights.len()
            || covs.len() != weights.len()
        {
            return Err(GenError::config(
                "weights",
                format!("{weights:?}"),
                "need K >= 1 non-negative weights summing to 1 and K means and covariances",
                "normalise the weights and give one mean and covariance per component",
            ));
        }
        Self::from_params(GmmParams {
            config: GmmConfig {
                components: weights.len(),
                reg_covar: 0.0,
            },
            weights,
            means,
            covs,
        })
    }

    fn from_params(params: GmmParams) -> Result<Self> {
        let factors = params
            .means
            .iter()
            .zip(&params.covs)
            .map(|(m, c)| GaussianFactor::new(m.clone(), c))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { params, factors })
    }

    /// Dimension d.
    pub fn dim(&self) -> usize {
        self.params.means[0].len()
    }

    /// Mixture weights π.
    pub fn weights(&self) -> &[f64] {
        &self.params.weights
    }

    /// Component means μₖ.
    pub fn means(&self) -> &[Vec<f64>] {
        &self.params.means
    }

    /// Component covariances Σₖ (row-major).
    pub fn covs(&self) -> &[Vec<f64>] {
        &self.params.covs
    }

    /// log πₖ + log N(x; μₖ, Σₖ) for every row and component (n × K, row-major).
    fn joint_log(&self, x: &Matrix) -> Result<Vec<f64>> {
        x.ensure_cols(self.dim(), "Gmm")?;
        x.ensure_finite("Gmm")?;
        let k = self.factors.len();
        let d = self.dim();
        let (mut a, mut b) = (vec![0.0; d], vec![0.0; d]);
        let log_w: Vec<f64> = self.params.weights.iter().map(|w| w.ln()).collect();
        let mut out = Vec::with_capacity(x.rows() * k);
        for r in x.iter_rows() {
            for (f, lw) in self.factors.iter().zip(&log_w) {
                out.push(lw + f.log_prob(r, &mut a, &mut b));
            }
        }
        Ok(out)
    }

    /// Exact log p(x) for each row.
    pub fn log_prob(&self, x: &Matrix) -> Result<Vec<f64>> {
        let k = self.factors.len();
        Ok(self
            .joint_log(x)?
            .chunks_exact(k)
            .map(log_sum_exp)
            .collect())
    }

    /// Posterior responsibilities p(z = k | xₙ) (n × K).
    pub fn responsibilities(&self, x: &Matrix) -> Result<Matrix> {
        let k = self.factors.len();
        let mut joint = self.joint_log(x)?;
        for row in joint.chunks_exact_mut(k) {
            let lse = log_sum_exp(row);
            row.iter_mut().for_each(|v| *v = (*v - lse).exp());
        }
        Matrix::new(x.rows(), k, joint)
    }

    /// One EM iteration on `data`; returns the mean log-likelihood of the
    /// parameters *before* the update (so successive returns are non-decreasing).
    pub fn em_step(&mut self, data: &Matrix) -> Result<f64> {
        let k = self.factors.len();
        let n = data.rows();
        let joint = self.joint_log(data)?;
        let mut resp = joint.clone();
        let mut ll = 0.0;
        for row in resp.chunks_exact_mut(k) {
            let lse = log_sum_exp(row);
            ll += lse;
            row.iter_mut().for_each(|v| *v = (*v - lse).exp());
        }
        let reg = self.params.config.reg_covar;
        let d = self.dim();
        let mut params = self.params.clone();
        for j in 0..k {
            let gamma: Vec<f64> = (0..n).map(|i| resp[i * k + j]).collect();
            let nk: f64 = gamma.iter().sum();
            if nk < 1e-10 {
                return Err(GenError::input(
                    "Gmm::em_step",
                    format!("component {j} has no responsibility left (N_k = {nk:e})"),
                    "decrease the number of components or change the seed",
                ));
            }
            let mut mean = vec![0.0; d];
            for (g, r) in gamma.iter().zip(data.iter_rows()) {
                for (m, v) in mean.iter_mut().zip(r) {
                    *m += g * v;
                }
            }
            mean.iter_mut().for_each(|m| *m /= nk);
            params.covs[j] = covariance(data, &gamma, &mean, reg);
            params.means[j] = mean;
            params.weights[j] = nk / n as f64;
        }
        *self = Self::from_params(params)?;
        Ok(ll / n as f64)
    }

    /// Runs EM from `init` until the mean log-likelihood improves by less than
    /// `tol` or `max_iter` iterations; returns the model and the log-likelihood trace.
    pub fn fit(
        data: &Matrix,
        config: GmmConfig,
        max_iter: usize,
        tol: f64,
        rng: &mut Rng,
    ) -> Result<(Self, Vec<f64>)> {
        let mut g = Self::init(data, config, rng)?;
        let mut trace = Vec::new();
        for _ in 0..max_iter {
            let ll = g.em_step(data)?;
            let stop = trace
                .last()
                .is_some_and(|prev: &f64| (ll - prev).abs() < tol);
            trace.push(ll);
            if stop {
                break;
            }
        }
        Ok((g, trace))
    }
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Σ = Σₙ γₙ (xₙ−μ)(xₙ−μ)ᵀ / Σₙ γₙ + λI.
fn covariance(data: &Matrix, gamma: &[f64], mean: &[f64], reg: f64) -> Vec<f64> {
    let d = data.cols();
    let mut cov = vec![0.0; d * d];
    let mut diff = vec![0.0; d];
    let mut total = 0.0;
    for (g, r) in gamma.iter().zip(data.iter_rows()) {
        total += g;
        for i in 0..d {
            diff[i] = r[i] - mean[i];
        }
        for i in 0..d {
            for j in 0..=i {
                cov[i * d + j] += g * diff[i] * diff[j];
            }
        }
    }
    for i in 0..d {
        for j in 0..=i {
            cov[i * d + j] /= total;
            cov[j * d + i] = cov[i * d + j];
        }
        cov[i * d + i] += reg;
    }
    cov
}

impl Model for Gmm {
    fn capabilities(&self) -> Capabilities {
        GMM_CAPABILITIES
    }
}

impl Sample for Gmm {
    type Output = Matrix;
    /// Ancestral sampling; temperature τ scales each component's standard deviation.
    fn sample(&self, n: usize, options: &SampleOptions, rng: &mut Rng) -> Result<Matrix> {
        options.validate()?;
        let d = self.dim();
        let mut out = vec![0.0; n * d];
        let mut eps = vec![0.0; d];
        for row in out.chunks_exact_mut(d) {
            let mut u: f64 = rng.random();
            let mut z = self.factors.len() - 1;
            for (j, w) in self.params.weights.iter().enumerate() {
                if u < *w {
                    z = j;
                    break;
                }
                u -= w;
            }
            self.factors[z].sample_into(rng, options.temperature, &mut eps, row);
        }
        Matrix::new(n, d, out)
    }
}

impl Score for Gmm {
    type Input = Matrix;
    fn score(&self, x: &Matrix, options: &gen_core::ScoreOptions) -> Result<Scores> {
        options.only_default("gmm", "exact, log-sum-exp over components")?;
        Ok(Scores::exact(self.log_prob(x)?))
    }
}

impl Infer for Gmm {
    type Input = Matrix;
    type Posterior = Matrix;
    /// The exact posterior over components, p(z | x): one row of K probabilities per example.
    fn infer(&self, x: &Matrix) -> Result<Matrix> {
        self.responsibilities(x)
    }
}

impl Learn for Gmm {
    type Batch = Matrix;
    /// One EM iteration on the full data; the loss is −mean log-likelihood.
    fn learn_step(&mut self, batch: &Matrix, _ctx: &mut StepContext<'_>) -> Result<StepStats> {
        let ll = self.em_step(batch)?;
        Ok(StepStats::loss(-ll))
    }
}

impl Checkpoint for Gmm {
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        write_json_atomic(&dir.join("gmm.json"), &self.params)
    }
    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        *self = Self::from_params(read_json(&dir.join("gmm.json"))?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gen_core::rng_from_seed;

    fn truth() -> Gmm {
        Gmm::new(
            vec![0.5, 0.3, 0.2],
            vec![vec![-4.0, 0.0], vec![0.0, 4.0], vec![4.0, -1.0]],
            vec![
                vec![1.0, 0.3, 0.3, 0.5],
                vec![0.4, 0.0, 0.0, 0.4],
                vec![0.8, -0.2, -0.2, 0.3],
            ],
        )
        .unwrap()
    }

    #[test]
    fn em_is_monotone_and_recovers_a_known_mixture() {
        let t = truth();
        let mut rng = rng_from_seed(11);
        let x = t.sample(6000, &SampleOptions::default(), &mut rng).unwrap();
        let cfg = GmmConfig {
            components: 3,
            reg_covar: 1e-6,
        };
        let (fit, trace) = Gmm::fit(&x, cfg, 200, 1e-9, &mut rng).unwrap();
        for w in trace.windows(2) {
            assert!(
                w[1] >= w[0] - 1e-9,
                "EM decreased the log-likelihood: {w:?}"
            );
        }
        // Match fitted components to true ones by nearest mean.
        for (tw, tm) in t.weights().iter().zip(t.means()) {
            let (j, _) = fit
                .means()
                .iter()
                .enumerate()
                .map(|(j, m)| (j, sq_dist(m, tm)))
                .fold((0, f64::MAX), |a, b| if b.1 < a.1 { b } else { a });
            assert!(sq_dist(&fit.means()[j], tm).sqrt() < 0.1);
            assert!((fit.weights()[j] - tw).abs() < 0.03);
        }
        // The fitted likelihood is close to the truth's on the same data.
        let ll_true = t.log_prob(&x).unwrap().iter().sum::<f64>() / 6000.0;
        let ll_fit = *trace.last().unwrap();
        assert!(ll_fit >= ll_true - 0.01, "{ll_fit} vs {ll_true}");
    }

    #[test]
    fn responsibilities_are_a_posterior() {
        let t = truth();
        let x = Matrix::from_rows(&[[-4.0, 0.0], [0.0, 4.0], [1.0, 1.0]]).unwrap();
        let r = t.responsibilities(&x).unwrap();
        for row in r.iter_rows() {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        assert!(r.get(0, 0) > 0.99 && r.get(1, 1) > 0.99);
    }

    #[test]
    fn density_integrates_to_one() {
        let t = truth();
        let h = 0.05;
        let mut pts = Vec::new();
        for i in 0..360 {
            for j in 0..280 {
                pts.push([-9.0 + (i as f64 + 0.5) * h, -7.0 + (j as f64 + 0.5) * h]);
            }
        }
        let grid = Matrix::from_rows(&pts).unwrap();
        let mass: f64 = t
            .log_prob(&grid)
            .unwrap()
            .iter()
            .map(|l| l.exp() * h * h)
            .sum();
        assert!((mass - 1.0).abs() < 1e-3, "mass {mass}");
    }

    #[test]
    fn bad_configurations_are_errors() {
        let x = Matrix::new(3, 1, vec![0.0, 1.0, 2.0]).unwrap();
        let mut rng = rng_from_seed(0);
        let too_many = GmmConfig {
            components: 4,
            reg_covar: 1e-6,
        };
        let err = Gmm::init(&x, too_many, &mut rng).unwrap_err().to_string();
        assert!(err.contains("components"), "{err}");
        assert!(Gmm::new(vec![0.5, 0.6], vec![vec![0.0]; 2], vec![vec![1.0]; 2]).is_err());
    }
}
