//! The VAE model: learning (ELBO, β-VAE, KL annealing, free bits, IWAE),
//! scoring (ELBO bound, IWAE-K estimate), sampling, encoding, reconstruction,
//! latent interpolation and traversal.
//!
//! # Mathematics (tutorial §8.10–8.14; Kingma & Welling 2014)
//!
//! Generative model p(z) = N(0, I), p_θ(x | z) from the decoder; inference
//! model q_φ(z | x) = N(μ_φ(x), diag σ²_φ(x)). For every x,
//!
//! ```text
//! log p_θ(x) ≥ ELBO(x) = E_q[log p_θ(x | z)] − KL(q_φ(z | x) ‖ p(z))
//! KL = ½ Σ_j (μ_j² + σ_j² − log σ_j² − 1)                 (closed form)
//! ```
//!
//! The importance-weighted estimate (Burda et al. 2016) with weights
//! w_k = p_θ(x | z_k) p(z_k) / q_φ(z_k | x), z_k ~ q_φ(z | x):
//!
//! ```text
//! IWAE_K(x) = log (1/K) Σ_k w_k = logsumexp_k(log w_k) − log K
//! ```
//!
//! is a consistent estimator of log p_θ(x) as K → ∞ whose expectation is a
//! lower bound increasing in K; the mean of log w_k over the same draws is an
//! unbiased ELBO estimate and never exceeds IWAE_K on those draws (Jensen).

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use gen_core::burn;
use gen_core::checkpoint::{read_json, write_json_atomic};
use gen_core::optim::Optimized;
use gen_core::tensor::{to_tensor, to_vec};
use gen_core::{
    Capabilities, Checkpoint, GenError, Infer, Learn, Matrix, Model, Result, Rng, Sample,
    SampleOptions, Score, ScoreEstimator, Scores, StepContext, StepStats, TaskSupport,
    rng_from_seed,
};

use crate::config::{Objective, VaeConfig};
use crate::diagnostics::Diagnostics;
use crate::input::row_chunks;
pub use crate::input::{SCORE_BUDGET, check_images};
use crate::net::{VaeNet, kl_per_dim};

/// Largest K accepted by the IWAE estimator.
pub const MAX_IWAE_K: usize = 100_000;

/// The posterior q_φ(z | x) = N(mean, diag exp(log_var)) of every row.
#[derive(Debug, Clone, PartialEq)]
pub struct Posterior {
    /// μ_φ(x), `rows × L`.
    pub mean: Matrix,
    /// log σ²_φ(x), `rows × L`.
    pub log_var: Matrix,
}

/// A variational autoencoder with its optimiser.
#[derive(Debug)]
pub struct Vae {
    config: VaeConfig,
    state: Optimized<VaeNet>,
    /// Training device (autodiff).
    device: Device,
}

/// Standard normal draws as f32, from the host RNG.
pub fn host_normal(n: usize, rng: &mut Rng) -> Vec<f32> {
    gen_core::numerics::standard_normals(n, rng)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}

fn t2(v: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

impl Vae {
    /// A new VAE on `device` (autodiff is added for training), weights drawn
    /// from `seed`.
    pub fn new(config: VaeConfig, device: &Device, seed: u64) -> Result<Self> {
        config.validate()?;
        let train = device.clone().autodiff();
        let net = VaeNet::new(&config, &mut rng_from_seed(seed), &train)?;
        Self::from_net(config, net, device)
    }

    /// Wraps given networks (e.g. built by hand, see [`crate::Ppca::to_vae`]).
    /// `net` must live on `device.autodiff()` (moving it there would make its
    /// parameters non-leaf tensors of the autodiff graph).
    pub fn from_net(config: VaeConfig, net: VaeNet, device: &Device) -> Result<Self> {
        config.validate()?;
        let train = device.clone().autodiff();
        Ok(Self {
            state: Optimized::new(net, &config.optim),
            config,
            device: train,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &VaeConfig {
        &self.config
    }

    /// The trained networks (on the training device).
    pub fn net(&self) -> &VaeNet {
        &self.state.model
    }

    /// The model name in the capability table: `vae`, `beta-vae` or `iwae`.
    pub fn name(&self) -> &'static str {
        match self.config.objective {
            Objective::Iwae { .. } => "iwae",
            Objective::Elbo if self.config.conv.is_some() => "conv-vae",
            Objective::Elbo if self.config.beta != 1.0 => "beta-vae",
            Objective::Elbo => "vae",
        }
    }

    fn eval(&self) -> (VaeNet, Device) {
        (self.state.model.valid(), self.device.clone().inner())
    }

    /// Errors unless `x` has D columns, finite values, and (Bernoulli) values in [0, 1].
    pub fn check_input(&self, x: &Matrix, context: &str) -> Result<()> {
        check_images(x, self.config.d_in, self.config.likelihood, context)
    }

    /// q_φ(z | x) for every row.
    pub fn encode(&self, x: &Matrix) -> Result<Posterior> {
        self.check_input(x, "VAE encode")?;
        let (net, dev) = self.eval();
        let mut mean = Vec::with_capacity(x.rows() * self.config.latent);
        let mut log_var = Vec::with_capacity(x.rows() * self.config.latent);
        for chunk in row_chunks(x.rows(), SCORE_BUDGET) {
            let xs = to_tensor(&x.select_rows(&chunk)?, &dev);
            let (mu, lv) = net.encode(xs);
            mean.extend(to_vec(mu)?.into_iter().map(f64::from));
            log_var.extend(to_vec(lv)?.into_iter().map(f64::from));
        }
        Ok(Posterior {
            mean: Matrix::new(x.rows(), self.config.latent, mean)?,
            log_var: Matrix::new(x.rows(), self.config.latent, log_var)?,
        })
    }

    /// The mean of p_θ(x | z) for every row of `z` (`rows × L`).
    pub fn decode(&self, z: &Matrix) -> Result<Matrix> {
        z.ensure_cols(self.config.latent, "VAE decode (latent codes)")?;
        z.ensure_finite("VAE decode (latent codes)")?;
        let (net, dev) = self.eval();
        let mut out = Vec::with_capacity(z.rows() * self.config.d_in);
        for chunk in row_chunks(z.rows(), SCORE_BUDGET) {
            let zs = to_tensor(&z.select_rows(&chunk)?, &dev);
            out.extend(to_vec(net.mean(net.decode(zs)))?.into_iter().map(f64::from));
        }
        Matrix::new(z.rows(), self.config.d_in, out)
    }

    /// Reconstructions: the decoder mean at the posterior mean, E[x | z = μ_φ(x)].
    pub fn reconstruct(&self, x: &Matrix) -> Result<Matrix> {
        let post = self.encode(x)?;
        self.decode(&post.mean)
    }

    /// Decodes `steps` points on the segment between the posterior means of
    /// `a` and `b`: z_t = (1 − t) μ(a) + t μ(b), t = 0, 1/(steps−1), …, 1.
    pub fn interpolate(&self, a: &[f64], b: &[f64], steps: usize) -> Result<Matrix> {
        if steps < 2 {
            return Err(GenError::config(
                "steps",
                steps,
                "an interpolation needs at least its two end points",
                "use 8 or 10 steps",
            ));
        }
        let ends = Matrix::from_rows(&[a, b])?;
        let post = self.encode(&ends)?;
        let (za, zb) = (post.mean.row(0), post.mean.row(1));
        let mut rows = Vec::with_capacity(steps);
        for s in 0..steps {
            let t = s as f64 / (steps - 1) as f64;
            rows.push(
                za.iter()
                    .zip(zb)
                    .map(|(p, q)| (1.0 - t) * p + t * q)
                    .collect::<Vec<_>>(),
            );
        }
        self.decode(&Matrix::from_rows(&rows)?)
    }

    /// Latent traversal: for each latent dimension in `dims`, decodes μ(x)
    /// with that coordinate replaced by each of `values` (row-major: one row
    /// of the picture per dimension).
    pub fn traverse(&self, x: &[f64], dims: &[usize], values: &[f64]) -> Result<Matrix> {
        if let Some(&d) = dims.iter().find(|&&d| d >= self.config.latent) {
            return Err(GenError::config(
                "traversal dimension",
                d,
                format!("the model has {} latent dimensions", self.config.latent),
                "choose dimensions below the latent size",
            ));
        }
        let post = self.encode(&Matrix::from_rows(&[x])?)?;
        let mut rows = Vec::with_capacity(dims.len() * values.len());
        for &d in dims {
            for &v in values {
                let mut z = post.mean.row(0).to_vec();
                z[d] = v;
                rows.push(z);
            }
        }
        self.decode(&Matrix::from_rows(&rows)?)
    }

    /// log w_k = log p(x, z_k) − log q(z_k | x) for K draws per row (`rows × K`),
    /// computed in chunks of at most [`SCORE_BUDGET`] decoder passes.
    pub fn log_weights(&self, x: &Matrix, k: usize, rng: &mut Rng) -> Result<Matrix> {
        check_k(k)?;
        self.check_input(x, "VAE scoring")?;
        let (net, dev) = self.eval();
        let (n, d, l) = (x.rows(), self.config.d_in, self.config.latent);
        let mut out = Matrix::zeros(n, k);
        let r_chunk = (SCORE_BUDGET / k).clamp(1, n);
        for rows in row_chunks(n, r_chunk) {
            let r = rows.len();
            let xs = to_tensor(&x.select_rows(&rows)?, &dev);
            let (mu, lv) = net.encode(xs.clone());
            let k_chunk = (SCORE_BUDGET / r).clamp(1, k);
            let mut k0 = 0;
            while k0 < k {
                let kc = k_chunk.min(k - k0);
                let rep = |t: Tensor<2>, w: usize| {
                    t.unsqueeze_dim::<3>(0)
                        .repeat_dim(0, kc)
                        .reshape([kc * r, w])
                };
                let eps = t2(host_normal(kc * r * l, rng), kc * r, l, &dev);
                let lw = net.log_weight(
                    rep(xs.clone(), d),
                    rep(mu.clone(), l),
                    rep(lv.clone(), l),
                    eps,
                );
                let lw = to_vec(lw)?;
                // Row index within the chunk is i, sample index k0 + j: flat j * r + i.
                let slice = out.as_mut_slice();
                for j in 0..kc {
                    for (i, &row) in rows.iter().enumerate() {
                        slice[row * k + k0 + j] = lw[j * r + i] as f64;
                    }
                }
                k0 += kc;
            }
        }
        if let Some(p) = out.as_slice().iter().position(|v| v.is_nan()) {
            return Err(GenError::input(
                "VAE scoring",
                format!("log-weight of row {} is NaN", p / k),
                "the model's parameters are not finite: retrain or load a good checkpoint",
            ));
        }
        Ok(out)
    }

    /// IWAE_K per row: logsumexp_k log w_k − log K (an estimate of log p(x)).
    pub fn iwae(&self, x: &Matrix, k: usize, rng: &mut Rng) -> Result<Scores> {
        let lw = self.log_weights(x, k, rng)?;
        Ok(Scores::estimate(
            "iwae",
            k,
            lw.iter_rows().map(iwae_from_log_weights).collect(),
        ))
    }

    /// The ELBO and IWAE_K per row from the same K draws: ELBO = mean_k log w_k,
    /// IWAE = logmeanexp_k log w_k, so ELBO ≤ IWAE row by row.
    pub fn elbo_and_iwae(&self, x: &Matrix, k: usize, rng: &mut Rng) -> Result<(Scores, Scores)> {
        let lw = self.log_weights(x, k, rng)?;
        let elbo = lw
            .iter_rows()
            .map(|r| r.iter().sum::<f64>() / k as f64)
            .collect();
        let iwae = lw.iter_rows().map(iwae_from_log_weights).collect();
        Ok((
            Scores::bound("elbo", elbo),
            Scores::estimate("iwae", k, iwae),
        ))
    }

    /// The ELBO per row with the closed-form KL and `samples` draws of the
    /// reconstruction term: (1/S) Σ_s log p(x | μ + σ ε_s) − KL(q ‖ p).
    pub fn elbo(&self, x: &Matrix, samples: usize, rng: &mut Rng) -> Result<Scores> {
        if samples == 0 {
            return Err(GenError::config(
                "samples",
                0,
                "the ELBO needs at least one Monte-Carlo draw",
                "use 1 (the usual test ELBO) or more for less variance",
            ));
        }
        self.check_input(x, "VAE scoring")?;
        let (net, dev) = self.eval();
        let (n, l) = (x.rows(), self.config.latent);
        let mut values = vec![0.0; n];
        for rows in row_chunks(n, (SCORE_BUDGET / samples).max(1)) {
            let r = rows.len();
            let xs = to_tensor(&x.select_rows(&rows)?, &dev);
            let (mu, lv) = net.encode(xs.clone());
            let kl = to_vec(
                kl_per_dim(mu.clone(), lv.clone())
                    .sum_dim(1)
                    .squeeze_dim::<1>(1),
            )?;
            let rep = |t: Tensor<2>, w: usize| {
                t.unsqueeze_dim::<3>(0)
                    .repeat_dim(0, samples)
                    .reshape([samples * r, w])
            };
            let eps = t2(host_normal(samples * r * l, rng), samples * r, l, &dev);
            let z = VaeNet::reparameterize(rep(mu, l), rep(lv, l), eps);
            let rec = to_vec(net.log_px(rep(xs, self.config.d_in), net.decode(z)))?;
            for (i, &row) in rows.iter().enumerate() {
                let mean_rec =
                    (0..samples).map(|s| rec[s * r + i] as f64).sum::<f64>() / samples as f64;
                values[row] = mean_rec - kl[i] as f64;
            }
        }
        Ok(Scores::bound("elbo", values))
    }

    /// Posterior diagnostics on `x`: KL per latent dimension, active units,
    /// the posterior-collapse flag and the reconstruction error.
    pub fn diagnostics(&self, x: &Matrix) -> Result<Diagnostics> {
        let post = self.encode(x)?;
        let rec = self.decode(&post.mean)?;
        let mut d = Diagnostics::from_posterior(&post.mean, &post.log_var)?;
        let n = (x.rows() * x.cols()) as f64;
        d.reconstruction_mse = x
            .as_slice()
            .iter()
            .zip(rec.as_slice())
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            / n;
        Ok(d)
    }

    /// One step of the configured objective on `batch`; returns
    /// (loss, −reconstruction term, KL) as host values.
    fn objective_step(
        &mut self,
        batch: &Matrix,
        step: u64,
        lr: f64,
        rng: &mut Rng,
    ) -> Result<StepStats> {
        self.check_input(batch, "VAE training batch")?;
        let (b, d, l) = (batch.rows(), self.config.d_in, self.config.latent);
        let dev = self.device.clone();
        let x = to_tensor(batch, &dev);
        let net = &self.state.model;
        match self.config.objective {
            Objective::Elbo => {
                let eps = t2(host_normal(b * l, rng), b, l, &dev);
                let (mu, lv) = net.encode(x.clone());
                let z = VaeNet::reparameterize(mu.clone(), lv.clone(), eps);
                let rec = net.log_px(x, net.decode(z)).mean();
                let kl = kl_per_dim(mu, lv);
                let kl_mean = kl.clone().sum_dim(1).mean();
                let kl_term = if self.config.free_bits > 0.0 {
                    kl.mean_dim(0).clamp_min(self.config.free_bits).sum()
                } else {
                    kl_mean.clone()
                };
                let beta = self.config.beta_at(step);
                let loss = kl_term * beta - rec.clone();
                let extra = Tensor::cat(vec![rec.detach(), kl_mean.detach()], 0);
                let loss = self.state.step(loss, lr)?;
                let extra = to_vec(extra)?;
                let (rec, kl) = (extra[0] as f64, extra[1] as f64);
                Ok(StepStats::loss(loss)
                    .with("elbo", rec - kl)
                    .with("recon_nll", -rec)
                    .with("kl", kl)
                    .with("beta", beta))
            }
            Objective::Iwae { k } => {
                let eps = t2(host_normal(k * b * l, rng), k * b, l, &dev);
                let (mu, lv) = net.encode(x.clone());
                let rep = |t: Tensor<2>, w: usize| {
                    t.unsqueeze_dim::<3>(0).repeat_dim(0, k).reshape([k * b, w])
                };
                let lw = net.log_weight(rep(x, d), rep(mu, l), rep(lv, l), eps);
                let lw = lw.reshape([k, b]);
                let elbo = lw.clone().mean();
                let bound = gen_core::nn::ops::logsumexp(lw, 0).mean() - (k as f64).ln();
                let extra = elbo.detach();
                let loss = self.state.step(bound.neg(), lr)?;
                let extra = to_vec(extra)?;
                Ok(StepStats::loss(loss)
                    .with("iwae_bound", -loss)
                    .with("elbo", extra[0] as f64))
            }
        }
    }
}

/// logsumexp(log w) − log K for one row, in f64 (a log-mean-exp).
pub fn iwae_from_log_weights(lw: &[f64]) -> f64 {
    gen_core::numerics::log_mean_exp(lw)
}

fn check_k(k: usize) -> Result<()> {
    if k == 0 || k > MAX_IWAE_K {
        return Err(GenError::config(
            "k",
            k,
            format!("the number of importance samples must be between 1 and {MAX_IWAE_K}"),
            "use --k 1000 (or 5000 for a final test NLL); K = 1 gives an ELBO estimate",
        ));
    }
    Ok(())
}

impl Model for Vae {
    fn capabilities(&self) -> Capabilities {
        let mut c = capabilities_rows()[0].clone();
        c.model = self.name();
        c
    }
}

/// The capability rows of the VAE models (`vae`, `beta-vae`, `iwae`,
/// `conv-vae`); the crate's table is [`crate::capabilities`].
pub fn capabilities_rows() -> Vec<Capabilities> {
    let vae = Capabilities {
        model: "vae",
        family: "vae",
        learn: TaskSupport::approximate("Adam on the reparameterised ELBO"),
        score: TaskSupport::approximate(
            "ELBO lower bound; IWAE-K estimate (K up to 100k, batched)",
        ),
        sample: TaskSupport::exact("z ~ N(0, I), decoder mean"),
        infer: TaskSupport::approximate("amortised q(z|x) = N(mu, diag sigma^2)"),
    };
    let mut beta = vae.clone();
    beta.model = "beta-vae";
    beta.learn = TaskSupport::approximate("Adam on the beta-weighted ELBO (annealing, free bits)");
    let mut iwae = vae.clone();
    iwae.model = "iwae";
    iwae.learn = TaskSupport::approximate("Adam on the importance-weighted bound L_K");
    let mut conv = vae.clone();
    conv.model = "conv-vae";
    conv.learn =
        TaskSupport::approximate("Adam on the ELBO; stride-2 conv encoder, upsample+conv decoder");
    vec![vae, beta, iwae, conv]
}

impl Learn for Vae {
    type Batch = Matrix;
    /// Rows split evenly over the ranks (data-parallel training).
    fn shard_batch(&self, batch: &Matrix, rank: usize, size: usize) -> Result<Matrix> {
        batch.shard_rows(rank, size)
    }

    fn learn_step(&mut self, batch: &Matrix, ctx: &mut StepContext<'_>) -> Result<StepStats> {
        self.objective_step(batch, ctx.step, ctx.lr, ctx.rng)
    }
}

impl Score for Vae {
    type Input = Matrix;
    /// `default` and `elbo`: the ELBO with one draw (a bound); `iwae`: the
    /// IWAE-K estimate with K = `options.k`. The noise comes from
    /// `options.seed`, so repeated calls agree.
    fn score(&self, x: &Matrix, options: &gen_core::ScoreOptions) -> Result<Scores> {
        let mut rng = rng_from_seed(options.seed);
        match options.estimator {
            ScoreEstimator::Default | ScoreEstimator::Elbo => self.elbo(x, 1, &mut rng),
            ScoreEstimator::Iwae => {
                check_k(options.k)?;
                self.iwae(x, options.k, &mut rng)
            }
            other => Err(GenError::config(
                "--estimator",
                other,
                "a VAE is scored by its ELBO (a bound) or the IWAE-K estimate",
                "use --estimator elbo or --estimator iwae --k 1000",
            )),
        }
    }
}

impl Sample for Vae {
    type Output = Matrix;
    /// z ~ N(0, τ² I), returns the decoder means E[x | z] (pixel probabilities
    /// for a Bernoulli decoder).
    fn sample(&self, n: usize, options: &SampleOptions, rng: &mut Rng) -> Result<Matrix> {
        options.validate()?;
        let l = self.config.latent;
        let z: Vec<f64> = host_normal(n * l, rng)
            .into_iter()
            .map(|e| e as f64 * options.temperature)
            .collect();
        self.decode(&Matrix::new(n, l, z)?)
    }
}

impl Infer for Vae {
    type Input = Matrix;
    type Posterior = Posterior;
    fn infer(&self, x: &Matrix) -> Result<Posterior> {
        self.encode(x)
    }
}

impl Checkpoint for Vae {
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        write_json_atomic(&dir.join("vae_config.json"), &self.config)?;
        self.state.save(dir, "vae")
    }
    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        let path = dir.join("vae_config.json");
        if path.exists() {
            let saved: VaeConfig = read_json(&path)?;
            if saved.d_in != self.config.d_in
                || saved.latent != self.config.latent
                || saved.hidden != self.config.hidden
                || saved.likelihood != self.config.likelihood
                || saved.conv != self.config.conv
            {
                return Err(GenError::Format {
                    path,
                    problem: format!(
                        "the checkpoint is a {}-{:?}-{} {} VAE, this model is {}-{:?}-{} {}",
                        saved.d_in,
                        saved.hidden,
                        saved.latent,
                        saved.likelihood.name(),
                        self.config.d_in,
                        self.config.hidden,
                        self.config.latent,
                        self.config.likelihood.name()
                    ),
                    fix: "build the model from the checkpoint's vae_config.json (Vae::load)".into(),
                });
            }
        }
        self.state.load(dir, "vae")
    }
}

impl Vae {
    /// Rebuilds a VAE from a checkpoint folder written by [`Checkpoint::save_checkpoint`].
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config: VaeConfig = read_json(&dir.join("vae_config.json"))?;
        let mut vae = Vae::new(config, device, 0)?;
        vae.load_checkpoint(dir)?;
        Ok(vae)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Likelihood;
    use gen_core::Backend;
    use gen_core::nn::ops::{diag_normal_log_prob, standard_normal_log_prob};
    use gen_core::train::{EpochBatcher, TrainConfig, Trainer};

    fn dev() -> Device {
        Backend::Ndarray.device().unwrap()
    }

    fn digits(split: gen_data::Split) -> Matrix {
        gen_data::digits8x8(split).unwrap().scaled().unwrap()
    }

    #[test]
    fn closed_form_kl_matches_a_monte_carlo_estimate() {
        let d = dev();
        let mu = [0.5f32, -1.2, 0.0];
        let lv = [-1.0f32, 0.7, 0.0];
        let n = 200_000;
        let mut rng = rng_from_seed(11);
        let eps = t2(host_normal(n * 3, &mut rng), n, 3, &d);
        let m = t2(mu.repeat(n), n, 3, &d);
        let v = t2(lv.repeat(n), n, 3, &d);
        let z = VaeNet::reparameterize(m.clone(), v.clone(), eps);
        // KL = E_q[log q(z) − log p(z)].
        let diff =
            to_vec(diag_normal_log_prob(z.clone(), m, v) - standard_normal_log_prob(z)).unwrap();
        let mc = diff.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
        let var = diff.iter().map(|&x| (x as f64 - mc).powi(2)).sum::<f64>() / (n - 1) as f64;
        let se = (var / n as f64).sqrt();
        let closed: f64 = mu
            .iter()
            .zip(&lv)
            .map(|(&m, &l)| 0.5 * ((m * m) as f64 + (l as f64).exp() - l as f64 - 1.0))
            .sum();
        let from_tensor = to_vec(kl_per_dim(
            t2(mu.to_vec(), 1, 3, &d),
            t2(lv.to_vec(), 1, 3, &d),
        ))
        .unwrap();
        let from_tensor: f64 = from_tensor.iter().map(|&x| x as f64).sum();
        assert!(
            (from_tensor - closed).abs() < 1e-5,
            "{from_tensor} vs {closed}"
        );
        assert!(
            (mc - closed).abs() < 4.0 * se,
            "MC {mc} ± {se} vs closed form {closed}"
        );
    }

    #[test]
    fn gradients_flow_through_the_reparameterised_sample() {
        let d = dev().autodiff();
        let mu =
            Tensor::<2>::from_data(TensorData::new(vec![0.5f32, -1.0], [1, 2]), &d).require_grad();
        let lv =
            Tensor::<2>::from_data(TensorData::new(vec![0.2f32, -0.6], [1, 2]), &d).require_grad();
        let e = [1.3f32, -0.4];
        let eps = t2(e.to_vec(), 1, 2, &d);
        let z = VaeNet::reparameterize(mu.clone(), lv.clone(), eps);
        let grads = z.powf_scalar(2.0).sum().backward();
        let gm = to_vec(mu.grad(&grads).unwrap()).unwrap();
        let gl = to_vec(lv.grad(&grads).unwrap()).unwrap();
        // f = Σ (μ + e^{v/2} ε)²: ∂f/∂μ = 2z, ∂f/∂v = z · e^{v/2} ε.
        for i in 0..2 {
            let (m, v) = ([0.5f32, -1.0][i], [0.2f32, -0.6][i]);
            let s = (v / 2.0).exp();
            let z = m + s * e[i];
            assert!(
                (gm[i] - 2.0 * z).abs() < 1e-5,
                "dμ {} vs {}",
                gm[i],
                2.0 * z
            );
            assert!(
                (gl[i] - z * s * e[i]).abs() < 1e-5,
                "dv {} vs {}",
                gl[i],
                z * s * e[i]
            );
        }
        // And through a whole VAE: every encoder weight gets a finite gradient, not all zero.
        let cfg = VaeConfig::mlp_bernoulli(16, 3);
        let net = VaeNet::new(&cfg, &mut rng_from_seed(1), &d).unwrap();
        let x = t2((0..32).map(|i| (i % 2) as f32).collect(), 2, 16, &d);
        let (mu, lv) = net.encode(x.clone());
        let eps = t2(host_normal(6, &mut rng_from_seed(2)), 2, 3, &d);
        let z = VaeNet::reparameterize(mu, lv, eps);
        let loss = net.log_px(x, net.decode(z)).sum().neg();
        let grads = loss.backward();
        let g = to_vec(net.encoder.layers[0].weight.val().grad(&grads).unwrap()).unwrap();
        assert!(g.iter().all(|v| v.is_finite()));
        assert!(
            g.iter().any(|v| v.abs() > 1e-8),
            "encoder gradient is all zero"
        );
    }

    fn train_digits(cfg: VaeConfig, steps: u64, tag: &str) -> (Vae, gen_core::train::TrainReport) {
        let x = digits(gen_data::Split::Train);
        let mut vae = Vae::new(cfg, &dev(), 1).unwrap();
        let dir = std::env::temp_dir().join(format!("gen-vae-{tag}-{}", std::process::id()));
        let batcher = EpochBatcher::new(x.rows(), 100, 1).unwrap();
        let tc = TrainConfig {
            steps,
            lr: 3e-3,
            progress: false,
            batch_size: 100,
            ..TrainConfig::default()
        };
        let report = Trainer::new(tc, &dir)
            .unwrap()
            .fit(&mut vae, |t, _| x.select_rows(&batcher.indices(t)))
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        (vae, report)
    }

    fn gaussian_cfg(latent: usize, beta: f64) -> VaeConfig {
        VaeConfig {
            d_in: 64,
            hidden: vec![64],
            latent,
            activation: gen_core::nn::Activation::Tanh,
            likelihood: Likelihood::Gaussian {
                log_var: (0.05f64).ln(),
                learned: false,
            },
            beta,
            ..VaeConfig::mlp_bernoulli(64, latent)
        }
    }

    #[test]
    fn large_beta_collapses_the_posterior_and_the_diagnostics_flag_it() {
        let test = digits(gen_data::Split::Test);
        let (good, report) = train_digits(gaussian_cfg(4, 1.0), 300, "beta1");
        assert!(report.losses[299] < report.losses[0]);
        let dg = good.diagnostics(&test).unwrap();
        let (bad, _) = train_digits(gaussian_cfg(4, 200.0), 300, "beta200");
        let db = bad.diagnostics(&test).unwrap();
        eprintln!("beta=1: {dg:?}\nbeta=200: {db:?}");
        assert!(!dg.posterior_collapse && dg.active_units >= 2);
        assert!(db.posterior_collapse, "β = 200 should collapse: {db:?}");
        assert!(db.kl_total < 0.1 * dg.kl_total);
        assert!(db.reconstruction_mse > dg.reconstruction_mse);
    }

    #[test]
    fn training_improves_the_bound_and_scores_are_consistent() {
        let test = digits(gen_data::Split::Test);
        let cfg = VaeConfig {
            likelihood: Likelihood::Gaussian {
                log_var: (0.05f64).ln(),
                learned: true,
            },
            ..gaussian_cfg(8, 1.0)
        };
        let untrained = Vae::new(cfg.clone(), &dev(), 1).unwrap();
        let (vae, _) = train_digits(cfg, 200, "train");
        let mut rng = rng_from_seed(4);
        let before = untrained.elbo(&test, 1, &mut rng).unwrap().mean();
        let (elbo, iwae) = vae.elbo_and_iwae(&test, 50, &mut rng).unwrap();
        assert!(
            elbo.mean() > before + 20.0,
            "ELBO {before} -> {}",
            elbo.mean()
        );
        // Jensen on the same draws: ELBO ≤ IWAE for every row.
        assert!(
            elbo.values
                .iter()
                .zip(&iwae.values)
                .all(|(e, i)| e <= &(i + 1e-9))
        );
        assert_eq!(
            iwae.kind,
            gen_core::ScoreKind::Estimate {
                estimator: "iwae".into(),
                samples: 50
            }
        );
        // Chunking K (K > budget / rows) gives a valid estimate too.
        let big = vae
            .iwae(
                &test.select_rows(&[0, 1]).unwrap(),
                SCORE_BUDGET + 7,
                &mut rng,
            )
            .unwrap();
        assert!(big.values.iter().all(|v| v.is_finite()));
        // Score is reproducible; sample / reconstruct / interpolate / traverse have the right shapes.
        assert_eq!(
            vae.score(&test, &gen_core::ScoreOptions::default())
                .unwrap(),
            vae.score(&test, &gen_core::ScoreOptions::default())
                .unwrap()
        );
        let s = vae.sample(5, &SampleOptions::default(), &mut rng).unwrap();
        assert_eq!(s.shape(), (5, 64));
        assert_eq!(vae.reconstruct(&test).unwrap().shape(), test.shape());
        assert_eq!(
            vae.interpolate(test.row(0), test.row(1), 7)
                .unwrap()
                .shape(),
            (7, 64)
        );
        assert_eq!(
            vae.traverse(test.row(0), &[0, 1], &[-2.0, 0.0, 2.0])
                .unwrap()
                .shape(),
            (6, 64)
        );
        // Checkpoint round trip reproduces the scores.
        let dir = std::env::temp_dir().join(format!("gen-vae-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        vae.save_checkpoint(&dir).unwrap();
        let back = Vae::load(&dir, &dev()).unwrap();
        assert_eq!(
            back.score(&test, &gen_core::ScoreOptions::default())
                .unwrap(),
            vae.score(&test, &gen_core::ScoreOptions::default())
                .unwrap()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn conv_vae_trains_on_digits_and_rejects_bad_geometry() {
        let cfg = VaeConfig {
            conv: Some(crate::config::ConvSpec {
                height: 8,
                width: 8,
                channels: vec![8, 16],
            }),
            activation: gen_core::nn::Activation::Relu,
            hidden: vec![],
            ..gaussian_cfg(4, 1.0)
        };
        let (vae, report) = train_digits(cfg.clone(), 80, "conv");
        assert_eq!(vae.name(), "conv-vae");
        let first = report.losses[..10].iter().sum::<f64>();
        let last = report.losses[70..].iter().sum::<f64>();
        assert!(
            last < first,
            "conv VAE loss did not decrease: {first} -> {last}"
        );
        let test = digits(gen_data::Split::Test);
        assert_eq!(vae.reconstruct(&test).unwrap().shape(), test.shape());
        let bad = VaeConfig {
            conv: Some(crate::config::ConvSpec {
                height: 8,
                width: 8,
                channels: vec![4, 4, 4, 4],
            }),
            ..cfg
        };
        let e = Vae::new(bad, &dev(), 0).unwrap_err().to_string();
        assert!(e.contains("divisible") && e.contains("Fix"), "{e}");
    }

    #[test]
    fn iwae_objective_trains() {
        let cfg = VaeConfig {
            objective: Objective::Iwae { k: 5 },
            ..gaussian_cfg(4, 1.0)
        };
        let (vae, report) = train_digits(cfg, 100, "iwae-obj");
        assert_eq!(vae.name(), "iwae");
        let first = report.losses[..10].iter().sum::<f64>();
        let last = report.losses[90..].iter().sum::<f64>();
        assert!(
            last < first,
            "IWAE loss did not decrease: {first} -> {last}"
        );
    }

    #[test]
    fn bad_input_gives_clear_errors() {
        let vae = Vae::new(VaeConfig::mlp_bernoulli(784, 20), &dev(), 0).unwrap();
        let digits = Matrix::zeros(3, 64);
        let e = vae
            .score(&digits, &gen_core::ScoreOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("784") && e.contains("8x8") && e.contains("Fix"),
            "{e}"
        );
        let e = Vae::new(VaeConfig::mlp_bernoulli(784, 0), &dev(), 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("latent") && e.contains("Fix"), "{e}");
        let x = Matrix::zeros(2, 784);
        let e = vae
            .iwae(&x, 0, &mut rng_from_seed(0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("importance samples") && e.contains("Fix"), "{e}");
        let e = vae
            .score(
                &Matrix::new(1, 784, vec![2.0; 784]).unwrap(),
                &gen_core::ScoreOptions::default(),
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside [0, 1]"), "{e}");
        let e = vae
            .score(
                &Matrix::new(1, 784, vec![f64::NAN; 784]).unwrap(),
                &gen_core::ScoreOptions::default(),
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("not finite"), "{e}");
        let mut cfg = VaeConfig::mlp_bernoulli(784, 20);
        cfg.objective = Objective::Iwae { k: 5 };
        cfg.beta = 4.0;
        assert!(Vae::new(cfg, &dev(), 0).is_err());
    }
}
