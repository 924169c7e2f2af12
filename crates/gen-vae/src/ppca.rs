//! Probabilistic PCA (Tipping & Bishop 1999): the linear-Gaussian latent
//! variable model whose marginal, posterior and maximum-likelihood fit are all
//! closed form — the exact baseline for VAEs (tutorial §8.8).
//!
//! # Model
//!
//! ```text
//! z ~ N(0, I_q),   x | z ~ N(W z + μ, σ² I_D)
//! p(x) = N(x; μ, C),  C = W Wᵀ + σ² I_D
//! p(z | x) = N(M⁻¹ Wᵀ (x − μ), σ² M⁻¹),  M = Wᵀ W + σ² I_q
//! ```
//!
//! # Maximum likelihood (Tipping & Bishop 1999, eq. 7–8)
//!
//! With the sample covariance S = U Λ Uᵀ (eigenvalues λ₁ ≥ … ≥ λ_D):
//!
//! ```text
//! σ² = (1 / (D − q)) Σ_{j > q} λ_j,   W = U_q (Λ_q − σ² I)^{1/2}
//! ```
//!
//! (choosing the rotation R = I). Then C has eigenvalues λ₁..λ_q and σ² (D − q
//! times) on the same eigenvectors, so with c = U_qᵀ(x − μ) and r = x − μ:
//!
//! ```text
//! log p(x) = −½ [D log 2π + Σ_{i≤q} log λ_i + (D − q) log σ²
//!               + Σ_{i≤q} c_i² / λ_i + (‖r‖² − Σ_{i≤q} c_i²) / σ²]
//! ```
//!
//! and M = Λ_q is diagonal: the exact posterior is the diagonal Gaussian
//! N(√(λ_i − σ²) c_i / λ_i, σ² / λ_i), which a VAE with linear encoder and
//! decoder can represent exactly ([`Ppca::to_vae`]).

use std::path::Path;

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use gen_core::burn;
use gen_core::checkpoint::{read_json, write_json_atomic};
use gen_core::nn::{Activation, Mlp};
use gen_core::numerics::linalg::symmetric_eigen;
use gen_core::numerics::{LN_2PI, standard_normals};
use gen_core::optim::OptimConfig;
use gen_core::{
    Capabilities, Checkpoint, GenError, Infer, Learn, Matrix, Model, Result, Rng, Sample,
    SampleOptions, Score, Scores, StepContext, StepStats, TaskSupport,
};
use serde::{Deserialize, Serialize};

use crate::config::{Likelihood, Objective, VaeConfig};
use crate::net::VaeNet;
use crate::vae::{Posterior, Vae};

/// Smallest noise variance σ² (constant pixels would otherwise give σ² = 0).
pub const MIN_SIGMA2: f64 = 1e-6;

/// A fitted probabilistic PCA model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ppca {
    /// μ (length D).
    pub mean: Vec<f64>,
    /// The q leading eigenvectors u_i of S as rows (`q × D`).
    pub components: Matrix,
    /// Their eigenvalues λ_i (each ≥ σ²), descending.
    pub eigenvalues: Vec<f64>,
    /// σ².
    pub sigma2: f64,
}

impl Ppca {
    /// An unfitted placeholder with `q` latent dimensions in `d` dimensions
    /// (fit it with [`Ppca::fit`] or a learning step).
    pub fn unfitted(d: usize, q: usize) -> Result<Self> {
        check_dims(d, q)?;
        let mut comps = Matrix::zeros(q, d);
        for i in 0..q {
            comps.as_mut_slice()[i * d + i] = 1.0;
        }
        Ok(Self {
            mean: vec![0.0; d],
            components: comps,
            eigenvalues: vec![1.0; q],
            sigma2: 1.0,
        })
    }

    /// The maximum-likelihood PPCA with `q` latent dimensions (closed form).
    pub fn fit(x: &Matrix, q: usize) -> Result<Self> {
        let (n, d) = x.shape();
        check_dims(d, q)?;
        if n < 2 {
            return Err(GenError::input(
                "PPCA fit",
                format!("{n} rows"),
                "a covariance needs at least two examples",
            ));
        }
        x.ensure_finite("PPCA fit")?;
        let mean = x.column_means();
        let centred: Vec<f64> = x
            .iter_rows()
            .flat_map(|r| r.iter().zip(&mean).map(|(a, m)| a - m).collect::<Vec<_>>())
            .collect();
        // S = (1/N) Σ (x − μ)(x − μ)ᵀ, accumulated row by row (upper triangle).
        let mut s = vec![0.0; d * d];
        for r in centred.chunks_exact(d) {
            for i in 0..d {
                let ri = r[i];
                if ri == 0.0 {
                    continue;
                }
                let row = &mut s[i * d..(i + 1) * d];
                for j in i..d {
                    row[j] += ri * r[j];
                }
            }
        }
        for i in 0..d {
            for j in i..d {
                let v = s[i * d + j] / n as f64;
                s[i * d + j] = v;
                s[j * d + i] = v;
            }
        }
        // Eigenvalues descending; each eigenvector signed so that its
        // largest-magnitude entry is positive (this fixes the signs of W, the
        // posterior means and seeded samples).
        let (eigenvalues, eigenvectors) = symmetric_eigen(&s, d);
        let lambda: Vec<f64> = eigenvalues.iter().map(|l| l.max(0.0)).collect();
        let sigma2 = (lambda[q..].iter().sum::<f64>() / (d - q) as f64).max(MIN_SIGMA2);
        let mut comps = Matrix::zeros(q, d);
        for i in 0..q {
            for j in 0..d {
                comps.as_mut_slice()[i * d + j] = eigenvectors[j * d + i];
            }
        }
        Ok(Self {
            mean,
            components: comps,
            eigenvalues: lambda[..q].iter().map(|&l| l.max(sigma2)).collect(),
            sigma2,
        })
    }

    /// Observed dimension D.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Latent dimension q.
    pub fn latent(&self) -> usize {
        self.eigenvalues.len()
    }

    /// The loading matrix W = U_q (Λ_q − σ² I)^{1/2} as `D × q`.
    pub fn loadings(&self) -> Matrix {
        let (d, q) = (self.dim(), self.latent());
        let mut w = Matrix::zeros(d, q);
        for i in 0..q {
            let s = (self.eigenvalues[i] - self.sigma2).max(0.0).sqrt();
            for j in 0..d {
                w.as_mut_slice()[j * q + i] = self.components.get(i, j) * s;
            }
        }
        w
    }

    /// Exact log p(x) per row (see the module documentation).
    pub fn log_prob(&self, x: &Matrix) -> Result<Vec<f64>> {
        x.ensure_cols(self.dim(), "PPCA log-likelihood")?;
        x.ensure_finite("PPCA log-likelihood")?;
        let (d, q) = (self.dim(), self.latent());
        let log_det = self.eigenvalues.iter().map(|l| l.ln()).sum::<f64>()
            + (d - q) as f64 * self.sigma2.ln();
        Ok(x.iter_rows()
            .map(|row| {
                let r: Vec<f64> = row.iter().zip(&self.mean).map(|(a, m)| a - m).collect();
                let r2: f64 = r.iter().map(|v| v * v).sum();
                let mut quad = 0.0;
                let mut proj2 = 0.0;
                for i in 0..q {
                    let c: f64 = self
                        .components
                        .row(i)
                        .iter()
                        .zip(&r)
                        .map(|(u, v)| u * v)
                        .sum();
                    quad += c * c / self.eigenvalues[i];
                    proj2 += c * c;
                }
                quad += (r2 - proj2).max(0.0) / self.sigma2;
                -0.5 * (d as f64 * LN_2PI + log_det + quad)
            })
            .collect())
    }

    /// The exact posterior p(z | x) = N(√(λ_i − σ²) c_i / λ_i, σ² / λ_i) per row.
    pub fn posterior(&self, x: &Matrix) -> Result<Posterior> {
        x.ensure_cols(self.dim(), "PPCA posterior")?;
        x.ensure_finite("PPCA posterior")?;
        let q = self.latent();
        let mut mean = Vec::with_capacity(x.rows() * q);
        let mut log_var = Vec::with_capacity(x.rows() * q);
        for row in x.iter_rows() {
            for i in 0..q {
                let c: f64 = self
                    .components
                    .row(i)
                    .iter()
                    .zip(row.iter().zip(&self.mean))
                    .map(|(u, (a, m))| u * (a - m))
                    .sum();
                let l = self.eigenvalues[i];
                mean.push((l - self.sigma2).max(0.0).sqrt() * c / l);
                log_var.push((self.sigma2 / l).ln());
            }
        }
        Ok(Posterior {
            mean: Matrix::new(x.rows(), q, mean)?,
            log_var: Matrix::new(x.rows(), q, log_var)?,
        })
    }

    /// A VAE with a linear encoder and a linear Gaussian decoder (fixed σ²)
    /// whose generative model is exactly this PPCA. The encoder is the exact
    /// posterior with its mean scaled by `mean_scale` and its variance by
    /// `var_scale` (1, 1: exact, so ELBO = IWAE_K = log p(x); other values
    /// give a deliberately imperfect q for testing the estimators).
    pub fn to_vae(&self, mean_scale: f64, var_scale: f64, device: &Device) -> Result<Vae> {
        if !(var_scale.is_finite() && var_scale > 0.0 && mean_scale.is_finite()) {
            return Err(GenError::config(
                "var_scale",
                var_scale,
                "the variance scale must be finite and > 0 (and the mean scale finite)",
                "use 1.0 for the exact posterior",
            ));
        }
        let (d, q) = (self.dim(), self.latent());
        let config = VaeConfig {
            d_in: d,
            hidden: vec![],
            latent: q,
            activation: Activation::Tanh,
            likelihood: Likelihood::Gaussian {
                log_var: self.sigma2.ln(),
                learned: false,
            },
            objective: Objective::Elbo,
            beta: 1.0,
            kl_warmup_steps: 0,
            free_bits: 0.0,
            optim: OptimConfig::default(),
            conv: None,
        };
        // Encoder: [μ | log σ²] = x A + b with A = [a_i u_i | 0].
        let mut enc_w = vec![0f32; d * 2 * q];
        let mut enc_b = vec![0f32; 2 * q];
        // Decoder: x̂ = z W^T + μ.
        let mut dec_w = vec![0f32; q * d];
        let dec_b: Vec<f32> = self.mean.iter().map(|&m| m as f32).collect();
        for i in 0..q {
            let l = self.eigenvalues[i];
            let s = (l - self.sigma2).max(0.0).sqrt();
            let a = mean_scale * s / l;
            let u = self.components.row(i);
            let mut um = 0.0;
            for j in 0..d {
                enc_w[j * 2 * q + i] = (a * u[j]) as f32;
                dec_w[i * d + j] = (s * u[j]) as f32;
                um += u[j] * self.mean[j];
            }
            enc_b[i] = (-a * um) as f32;
            enc_b[q + i] = (var_scale * self.sigma2 / l).ln() as f32;
        }
        let train = device.clone().autodiff();
        let lin = |w: Vec<f32>, b: Vec<f32>, i: usize, o: usize| Linear {
            weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [i, o]), &train)),
            bias: Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(b, [o]),
                &train,
            ))),
        };
        let net = VaeNet {
            encoder: Mlp {
                layers: vec![lin(enc_w, enc_b, d, 2 * q)],
                activation: Activation::Tanh,
            },
            decoder: Mlp {
                layers: vec![lin(dec_w, dec_b, q, d)],
                activation: Activation::Tanh,
            },
            log_var: None,
            enc_conv: vec![],
            dec_conv: vec![],
            latent: q,
            likelihood: config.likelihood,
            conv: None,
            activation: Activation::Tanh,
        };
        Vae::from_net(config, net, device)
    }

    /// This model's row of the capability table.
    pub fn capabilities_row() -> Capabilities {
        Capabilities {
            model: "ppca",
            family: "vae",
            learn: TaskSupport::exact("closed-form maximum likelihood (eigen-decomposition)"),
            score: TaskSupport::exact("exact Gaussian marginal N(mu, W W^T + sigma^2 I)"),
            sample: TaskSupport::exact("z ~ N(0, I), x = W z + mu + sigma eps"),
            infer: TaskSupport::exact("exact Gaussian posterior p(z|x)"),
        }
    }
}

fn check_dims(d: usize, q: usize) -> Result<()> {
    if q == 0 || q >= d {
        return Err(GenError::config(
            "latent",
            q,
            format!("PPCA needs 1 ≤ q < D = {d} latent dimensions"),
            "use a latent size below the data dimension, e.g. 10 for 8x8 digits",
        ));
    }
    Ok(())
}

impl Model for Ppca {
    fn capabilities(&self) -> Capabilities {
        Self::capabilities_row()
    }
}

impl Score for Ppca {
    type Input = Matrix;
    fn score(&self, x: &Matrix, options: &gen_core::ScoreOptions) -> Result<Scores> {
        options.only_default("ppca", "the exact marginal N(mu, W W^T + sigma^2 I)")?;
        Ok(Scores::exact(self.log_prob(x)?))
    }
}

impl Sample for Ppca {
    type Output = Matrix;
    /// x = μ + W (τ z) + σ ε with z, ε standard normal.
    fn sample(&self, n: usize, options: &SampleOptions, rng: &mut Rng) -> Result<Matrix> {
        options.validate()?;
        let (d, q) = (self.dim(), self.latent());
        let w = self.loadings();
        let sigma = self.sigma2.sqrt();
        let mut out = Vec::with_capacity(n * d);
        for _ in 0..n {
            let z: Vec<f64> = standard_normals(q, rng)
                .iter()
                .map(|v| v * options.temperature)
                .collect();
            let e = standard_normals(d, rng);
            for (j, (m, ej)) in self.mean.iter().zip(&e).enumerate() {
                let wz: f64 = z.iter().enumerate().map(|(i, zi)| w.get(j, i) * zi).sum();
                out.push(m + wz + sigma * ej);
            }
        }
        Matrix::new(n, d, out)
    }
}

impl Infer for Ppca {
    type Input = Matrix;
    type Posterior = Posterior;
    fn infer(&self, x: &Matrix) -> Result<Posterior> {
        self.posterior(x)
    }
}

impl Learn for Ppca {
    /// The whole training set: one step is the closed-form fit.
    type Batch = Matrix;
    fn learn_step(&mut self, batch: &Matrix, _ctx: &mut StepContext<'_>) -> Result<StepStats> {
        *self = Ppca::fit(batch, self.latent())?;
        let ll = self.log_prob(batch)?;
        let nll = -ll.iter().sum::<f64>() / ll.len() as f64;
        Ok(StepStats::loss(nll).with("sigma2", self.sigma2))
    }
}

impl Checkpoint for Ppca {
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        write_json_atomic(&dir.join("ppca.json"), self)
    }
    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        *self = read_json(&dir.join("ppca.json"))?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use gen_core::rng_from_seed;

    /// Data from a known PPCA: x = W z + μ + σ ε.
    pub(crate) fn synthetic(n: usize, seed: u64) -> Matrix {
        let mut rng = rng_from_seed(seed);
        let (d, q) = (6, 2);
        let w = [
            [2.0, 0.5],
            [1.0, -1.0],
            [0.0, 1.5],
            [0.5, 0.5],
            [-1.0, 0.0],
            [0.3, 2.0],
        ];
        let mu = [1.0, -2.0, 0.5, 0.0, 3.0, -1.0];
        let mut out = Vec::new();
        for _ in 0..n {
            let z = standard_normals(q, &mut rng);
            let e = standard_normals(d, &mut rng);
            for j in 0..d {
                out.push(mu[j] + w[j][0] * z[0] + w[j][1] * z[1] + 0.3 * e[j]);
            }
        }
        Matrix::new(n, d, out).unwrap()
    }

    /// log N(x; μ, C) with C = W Wᵀ + σ² I by Cholesky, independently of the
    /// eigen-basis formula used by the model.
    fn dense_log_prob(p: &Ppca, x: &[f64]) -> f64 {
        let d = p.dim();
        let w = p.loadings();
        let mut c = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                c[i * d + j] = (0..p.latent())
                    .map(|k| w.get(i, k) * w.get(j, k))
                    .sum::<f64>()
                    + if i == j { p.sigma2 } else { 0.0 };
            }
        }
        // Cholesky C = L Lᵀ, then log|C| = 2 Σ log L_ii and rᵀC⁻¹r = ‖L⁻¹r‖².
        let g = gen_core::numerics::GaussianFactor::new(p.mean.clone(), &c).unwrap();
        let (mut scratch, mut y) = (vec![0.0; d], vec![0.0; d]);
        g.log_prob(x, &mut scratch, &mut y)
    }

    #[test]
    fn fit_recovers_a_known_eigen_decomposition() {
        // Eight rows μ ± a, μ ± b, μ ± c, μ ± e with orthogonal a, b, c, e:
        // S = (1/4)(a aᵀ + b bᵀ + c cᵀ + e eᵀ) has the eigenpairs
        // (56.25, (0.6, 0.8, 0, 0)), (25, (0.8, −0.6, 0, 0)), (4, e₃), (1, e₄).
        let mu = [1.0, -2.0, 0.5, 3.0];
        let dirs = [
            [9.0, 12.0, 0.0, 0.0],
            [8.0, -6.0, 0.0, 0.0],
            [0.0, 0.0, 4.0, 0.0],
            [0.0, 0.0, 0.0, 2.0],
        ];
        let mut rows = Vec::new();
        for v in dirs {
            for sign in [1.0, -1.0] {
                rows.push(std::array::from_fn::<f64, 4, _>(|j| mu[j] + sign * v[j]));
            }
        }
        let x = Matrix::from_rows(&rows).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12 * b.abs().max(1.0);

        let p = Ppca::fit(&x, 2).unwrap();
        assert!(
            p.mean.iter().zip(&mu).all(|(a, b)| close(*a, *b)),
            "{:?}",
            p.mean
        );
        assert!(close(p.eigenvalues[0], 56.25) && close(p.eigenvalues[1], 25.0));
        // σ² is the mean of the discarded eigenvalues (4 + 1) / 2.
        assert!(close(p.sigma2, 2.5), "{}", p.sigma2);
        // Eigenvectors signed with their largest entry positive.
        let want = [[0.6, 0.8, 0.0, 0.0], [0.8, -0.6, 0.0, 0.0]];
        for (i, w) in want.iter().enumerate() {
            for (j, &wj) in w.iter().enumerate() {
                assert!(close(p.components.get(i, j), wj), "{:?}", p.components);
            }
        }
        // W = U_q (Λ_q − σ² I)^{1/2}.
        let w = p.loadings();
        assert!(close(w.get(1, 0), 0.8 * (56.25f64 - 2.5).sqrt()));
        assert!(close(w.get(0, 1), 0.8 * (25.0f64 - 2.5).sqrt()));

        let p1 = Ppca::fit(&x, 1).unwrap();
        assert!(close(p1.eigenvalues[0], 56.25));
        assert!(close(p1.sigma2, 10.0), "{}", p1.sigma2);
    }

    #[test]
    fn log_prob_matches_the_dense_gaussian_marginal() {
        let x = synthetic(2000, 1);
        let p = Ppca::fit(&x, 2).unwrap();
        let lp = p.log_prob(&x).unwrap();
        for i in [0, 7, 1999] {
            let want = dense_log_prob(&p, x.row(i));
            assert!((lp[i] - want).abs() < 1e-9, "{} vs {want}", lp[i]);
        }
        // Recovers the noise level: σ² ≈ 0.09.
        assert!((p.sigma2 - 0.09).abs() < 0.02, "sigma2 {}", p.sigma2);
    }

    #[test]
    fn ml_fit_beats_perturbed_parameters_and_the_posterior_is_bayes_rule() {
        let x = synthetic(1000, 2);
        let p = Ppca::fit(&x, 2).unwrap();
        let mean_ll = |m: &Ppca| m.log_prob(&x).unwrap().iter().sum::<f64>();
        let mut worse = p.clone();
        worse.sigma2 *= 1.3;
        assert!(mean_ll(&p) > mean_ll(&worse));
        let mut worse = p.clone();
        worse.eigenvalues[0] *= 0.8;
        assert!(mean_ll(&p) > mean_ll(&worse));
        // Bayes: log p(x) = log p(x|z) + log p(z) − log p(z|x) for any z.
        let post = p.posterior(&x).unwrap();
        let w = p.loadings();
        let row = x.row(3);
        let z = [0.3, -0.7];
        let mut lxz = 0.0;
        for (j, (xj, mj)) in row.iter().zip(&p.mean).enumerate() {
            let m = mj + w.get(j, 0) * z[0] + w.get(j, 1) * z[1];
            lxz += -0.5 * ((xj - m).powi(2) / p.sigma2 + p.sigma2.ln() + LN_2PI);
        }
        let lz: f64 = z.iter().map(|v| -0.5 * (v * v + LN_2PI)).sum();
        let lq: f64 = (0..2)
            .map(|i| {
                let (m, lv) = (post.mean.get(3, i), post.log_var.get(3, i));
                -0.5 * ((z[i] - m).powi(2) / lv.exp() + lv + LN_2PI)
            })
            .sum();
        let lp = p.log_prob(&x).unwrap()[3];
        assert!(
            (lxz + lz - lq - lp).abs() < 1e-9,
            "{} vs {lp}",
            lxz + lz - lq
        );
    }

    #[test]
    fn bad_latent_sizes_are_clear_errors() {
        let x = synthetic(10, 3);
        let e = Ppca::fit(&x, 0).unwrap_err().to_string();
        assert!(e.contains("latent") && e.contains("Fix"), "{e}");
        assert!(Ppca::fit(&x, 6).is_err());
        let p = Ppca::fit(&x, 2).unwrap();
        assert!(p.log_prob(&Matrix::zeros(2, 5)).is_err());
    }

    #[test]
    fn iwae_on_the_linear_gaussian_vae_approaches_the_exact_ppca_likelihood() {
        let x = synthetic(3000, 5);
        let p = Ppca::fit(&x, 2).unwrap();
        let test = synthetic(200, 6);
        let exact = p.log_prob(&test).unwrap();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let exact_mean = mean(&exact);
        let mut rng = rng_from_seed(3);
        // The exact posterior: every log-weight equals log p(x).
        let vae = p
            .to_vae(1.0, 1.0, &gen_core::Backend::Ndarray.device().unwrap())
            .unwrap();
        let (elbo, iwae) = vae.elbo_and_iwae(&test, 10, &mut rng).unwrap();
        #[allow(clippy::needless_range_loop)]
        for i in 0..test.rows() {
            assert!(
                (elbo.values[i] - exact[i]).abs() < 2e-3,
                "{} vs {}",
                elbo.values[i],
                exact[i]
            );
            assert!((iwae.values[i] - exact[i]).abs() < 2e-3);
        }
        // A deliberately poor posterior: ELBO < IWAE-1000 ≤ exact (on average), gap < 0.5 nats.
        let vae = p
            .to_vae(0.7, 3.0, &gen_core::Backend::Ndarray.device().unwrap())
            .unwrap();
        let (elbo, iwae1) = vae.elbo_and_iwae(&test, 1, &mut rng).unwrap();
        let (_, iwae10) = vae.elbo_and_iwae(&test, 10, &mut rng).unwrap();
        let (elbo_k, iwae1000) = vae.elbo_and_iwae(&test, 1000, &mut rng).unwrap();
        let closed_elbo = vae.elbo(&test, 50, &mut rng).unwrap();
        let (e, e1, i10, i1000) = (elbo_k.mean(), iwae1.mean(), iwae10.mean(), iwae1000.mean());
        eprintln!(
            "exact {exact_mean:.4}  elbo {e:.4} (closed-KL {:.4}, K=1 {e1:.4})  iwae10 {i10:.4}  iwae1000 {i1000:.4}",
            closed_elbo.mean()
        );
        assert!(
            e < exact_mean - 0.3,
            "the perturbed posterior should leave an ELBO gap"
        );
        assert!(
            (closed_elbo.mean() - e).abs() < 0.05,
            "two ELBO estimators disagree"
        );
        assert!((elbo.mean() - e).abs() < 0.3);
        assert!(
            e < i10 && i10 < i1000,
            "IWAE must increase with K: {e} {i10} {i1000}"
        );
        assert!(
            i1000 <= exact_mean + 0.02,
            "IWAE-1000 above the exact log-likelihood"
        );
        assert!(
            exact_mean - i1000 < 0.5,
            "IWAE-1000 gap {} ≥ 0.5 nats",
            exact_mean - i1000
        );
    }
}
