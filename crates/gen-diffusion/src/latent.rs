//! Latent diffusion (tutorial 11.19; Rombach et al. 2022): a DDPM over the
//! latent space of a trained VAE instead of pixel space.
//!
//! The VAE's encoder maps an image to its posterior mean μ_φ(x) ∈ ℝᴸ (L = 20
//! for the reference VAE against 784 pixels); every coordinate is
//! normalised with the training set's mean m and standard deviation s,
//! z = (μ_φ(x) − m) / s, so the DDPM sees unit-scale data as its schedule
//! assumes; the DDPM learns p_ψ(z); a sample decodes as x = E[x | m + s z]
//! through the VAE's decoder. Sampling costs the DDPM's steps in L
//! dimensions plus one decoder pass, instead of every step in pixel space.
//!
//! # Classes
//!
//! With [`DdpmConfig::classes`] = K the latent DDPM is class-conditional as
//! the pixel one is (the batch's last column holds the label, dropped to ∅
//! with probability p_uncond): it learns p_ψ(z | y) and samples with
//! classifier-free guidance ([`LatentDdpm::sample_guided`]), LDM's
//! class-conditional ImageNet model in miniature. The VAE is untouched (it
//! never saw the labels), so the bound below is of the unconditional model
//! p_ψ(z | ∅).
//!
//! # Score: a bound of a bound
//!
//! With the learned prior p_ψ in place of N(0, I), the VAE's evidence lower
//! bound is
//!
//! ```text
//! log p(x) ≥ E_q[log p_θ(x | u)] + H[q(u | x)] + E_q[log p_ψ(u)]
//!          = ELBO_N(0,I)(x) − E_q[log N(u; 0, I)] + E_q[log p_ψ(u)]
//! ```
//!
//! with u the unnormalised latent, E_q[log N(u; 0, I)] = −½ Σ (μ² + σ²) −
//! (L/2) log 2π in closed form, and log p_ψ(u) = log p_ψ(z) − Σ log s,
//! itself bounded below by minus the DDPM's variational bound at z. One
//! draw u ~ q(u | x) per row estimates the last expectation, so the score is
//! a (stochastic) lower bound on log p(x), labelled as a bound.

use std::path::Path;

use gen_core::burn::tensor::Device;
use gen_core::checkpoint::{read_json, write_json_atomic};
use gen_core::numerics::standard_normals;
use gen_core::{
    Capabilities, Checkpoint, GenError, Matrix, Result, Rng, TaskSupport, rng_from_seed,
};
use gen_vae::{Posterior, Vae};
use serde::{Deserialize, Serialize};

use crate::model::{Ddpm, DdpmConfig};
use crate::sampler::SamplerOptions;

/// The model name `genlab train` takes.
pub const NAME: &str = "latent-ddpm";

/// The capability row of the latent DDPM.
pub fn capabilities_row() -> Capabilities {
    Capabilities {
        model: NAME,
        family: "diffusion",
        learn: TaskSupport::approximate(
            "a trained VAE's posterior means, normalised; Adam on the DDPM's denoising loss in that latent space",
        ),
        score: TaskSupport::approximate(
            "lower bound: the VAE's ELBO with the DDPM's bound as its prior (a bound of a bound)",
        ),
        sample: TaskSupport::exact(
            "the DDPM's sampler in the L-dimensional latent space, then one VAE decoder pass",
        ),
        infer: TaskSupport::approximate(
            "~ the VAE's posterior mean, then DDIM inversion of the latent to z_T",
        ),
    }
}

/// The per-coordinate affine map between the VAE's latents u and the
/// DDPM's z = (u − mean) / std.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatentNormaliser {
    /// Mean of every latent coordinate over the training set.
    pub mean: Vec<f64>,
    /// Standard deviation of every latent coordinate (floored at 1e-6).
    pub std: Vec<f64>,
}

impl LatentNormaliser {
    /// The mean and standard deviation of every column of `u`.
    pub fn fit(u: &Matrix) -> Result<Self> {
        let n = u.rows();
        if n < 2 {
            return Err(GenError::input(
                "latent normaliser",
                format!("{n} rows"),
                "fit the normaliser on at least 2 latent codes (the training set)",
            ));
        }
        u.ensure_finite("latent normaliser")?;
        let mean = u.column_means();
        let std = (0..u.cols())
            .map(|j| {
                let v = u
                    .iter_rows()
                    .map(|r| (r[j] - mean[j]) * (r[j] - mean[j]))
                    .sum::<f64>()
                    / (n - 1) as f64;
                v.sqrt().max(1e-6)
            })
            .collect();
        Ok(Self { mean, std })
    }

    /// z = (u − mean) / std.
    pub fn normalise(&self, u: &Matrix) -> Result<Matrix> {
        self.map(u, |v, m, s| (v - m) / s)
    }

    /// u = mean + std · z.
    pub fn denormalise(&self, z: &Matrix) -> Result<Matrix> {
        self.map(z, |v, m, s| m + s * v)
    }

    /// The posterior q(u | x) in normalised coordinates: mean (μ − m)/s and
    /// standard deviation σ/s per coordinate.
    pub fn posterior(&self, post: &Posterior) -> Result<PosteriorLatents> {
        let mean = self.normalise(&post.mean)?;
        let std = self.map(&post.log_var, |lv, _, s| (0.5 * lv).exp() / s)?;
        Ok(PosteriorLatents { mean, std })
    }

    /// Σ log std: the log-Jacobian |∂z/∂u| is −this.
    pub fn log_scale(&self) -> f64 {
        self.std.iter().map(|s| s.ln()).sum()
    }

    fn map(&self, x: &Matrix, f: impl Fn(f64, f64, f64) -> f64) -> Result<Matrix> {
        x.ensure_cols(self.mean.len(), "latent codes")?;
        let d = self.mean.len();
        let v = x
            .as_slice()
            .iter()
            .enumerate()
            .map(|(i, &v)| f(v, self.mean[i % d], self.std[i % d]))
            .collect();
        Matrix::new(x.rows(), d, v)
    }
}

/// A DDPM in the latent space of a VAE (module docs).
#[derive(Debug)]
pub struct LatentDdpm {
    ddpm: Ddpm,
    vae: Vae,
    norm: LatentNormaliser,
}

impl LatentDdpm {
    /// A new latent DDPM over `vae`, whose normaliser is fitted on the
    /// posterior means of `train_x` (rows as the VAE takes them); returns the
    /// model and the normalised posteriors of the training rows: their
    /// means are the latents the DDPM learns from, or it learns from draws
    /// ([`PosteriorLatents::draw`]). `config.data_dim` must be the VAE's
    /// latent size.
    pub fn new(
        vae: Vae,
        train_x: &Matrix,
        config: DdpmConfig,
        device: &Device,
        seed: u64,
    ) -> Result<(Self, PosteriorLatents)> {
        let latent = vae.config().latent;
        if config.data_dim != latent {
            return Err(GenError::config(
                "latent DDPM",
                config.data_dim,
                format!("the DDPM's data size must equal the VAE's latent size {latent}"),
                format!("build the DDPM with data_dim = {latent}"),
            ));
        }
        let post = vae.encode(train_x)?;
        let norm = LatentNormaliser::fit(&post.mean)?;
        let z = norm.posterior(&post)?;
        let ddpm = Ddpm::new(config, device, seed)?;
        Ok((Self { ddpm, vae, norm }, z))
    }

    /// The DDPM over the normalised latents.
    pub fn ddpm(&self) -> &Ddpm {
        &self.ddpm
    }

    /// The DDPM, for training steps.
    pub fn ddpm_mut(&mut self) -> &mut Ddpm {
        &mut self.ddpm
    }

    /// The VAE.
    pub fn vae(&self) -> &Vae {
        &self.vae
    }

    /// The normaliser.
    pub fn normaliser(&self) -> &LatentNormaliser {
        &self.norm
    }

    /// Normalised latents z of rows `x` (the VAE's posterior means).
    pub fn latents(&self, x: &Matrix) -> Result<Matrix> {
        self.norm.normalise(&self.vae.encode(x)?.mean)
    }

    /// The normalised posterior q(u | x) of rows `x`: per coordinate the
    /// mean (μ_φ(x) − m)/s and the standard deviation σ_φ(x)/s, so that
    /// z = mean + std · ε is a draw of u ~ q(u | x) in the DDPM's
    /// coordinates ([`PosteriorLatents`]).
    pub fn posterior_latents(&self, x: &Matrix) -> Result<PosteriorLatents> {
        self.norm.posterior(&self.vae.encode(x)?)
    }

    /// Decodes normalised latents to the VAE's decoder means.
    pub fn decode_latents(&self, z: &Matrix) -> Result<Matrix> {
        self.vae.decode(&self.norm.denormalise(z)?)
    }

    /// `n` samples: z by the DDPM's sampler `opts`, decoded by the VAE.
    pub fn sample_with(&self, n: usize, opts: &SamplerOptions, rng: &mut Rng) -> Result<Matrix> {
        let z = self.ddpm.sample_with(n, opts, rng)?;
        self.decode_latents(&z)
    }

    /// Classes K of a class-conditional latent DDPM (None: unconditional).
    pub fn classes(&self) -> Option<usize> {
        self.ddpm.classes()
    }

    /// Samples of classes `labels` (one per row) with classifier-free
    /// guidance weight `guidance` = w ([`Ddpm::sample_guided`]): z by the
    /// DDPM's sampler `opts`, decoded by the VAE. Errors for an
    /// unconditional model or a class out of range.
    pub fn sample_guided(
        &self,
        labels: &[usize],
        guidance: f64,
        opts: &SamplerOptions,
        rng: &mut Rng,
    ) -> Result<Matrix> {
        let z = self.ddpm.sample_guided(labels, guidance, opts, rng)?;
        self.decode_latents(&z)
    }

    /// Per row, a lower bound on log p(x) in nats (module docs); the draws
    /// u ~ q(u | x) and the DDPM bound's x_t are seeded by `seed`.
    pub fn log_prob_bound(&self, x: &Matrix, seed: u64) -> Result<Vec<f64>> {
        let mut rng = rng_from_seed(seed);
        let elbo = self.vae.elbo(x, 1, &mut rng)?.values;
        let post = self.vae.encode(x)?;
        let (n, l) = post.mean.shape();
        let eps = standard_normals(n * l, &mut rng);
        let mut u = Vec::with_capacity(n * l);
        let mut e_log_n = vec![-0.5 * l as f64 * (2.0 * std::f64::consts::PI).ln(); n];
        for i in 0..n {
            for j in 0..l {
                let (m, lv) = (post.mean.get(i, j), post.log_var.get(i, j));
                e_log_n[i] -= 0.5 * (m * m + lv.exp());
                u.push(m + (0.5 * lv).exp() * eps[i * l + j]);
            }
        }
        let z = self.norm.normalise(&Matrix::new(n, l, u)?)?;
        let prior_nll = self.ddpm.bound(&z, seed ^ 0x1a7e)?.nll();
        let log_scale = self.norm.log_scale();
        Ok((0..n)
            .map(|i| elbo[i] - e_log_n[i] - prior_nll[i] - log_scale)
            .collect())
    }

    /// DDIM inversion of the normalised latents of `x` over `steps` steps.
    pub fn encode(&self, x: &Matrix, steps: usize) -> Result<Matrix> {
        self.ddpm.encode(&self.latents(x)?, steps)
    }

    /// DDIM decoding of z_T over `steps` steps, then the VAE's decoder.
    pub fn decode(&self, z_t: &Matrix, steps: usize) -> Result<Matrix> {
        self.decode_latents(&self.ddpm.decode(z_t, steps)?)
    }

    /// Loads a latent DDPM saved by [`Checkpoint::save_checkpoint`] from
    /// `dir`, the DDPM built with `config` on `device`.
    pub fn load(dir: &Path, config: DdpmConfig, device: &Device, seed: u64) -> Result<Self> {
        let vae = Vae::load(dir, device)?;
        let norm: LatentNormaliser = read_json(&dir.join(NORMALISER_FILE))?;
        if norm.mean.len() != vae.config().latent {
            return Err(GenError::Format {
                path: dir.join(NORMALISER_FILE),
                problem: format!(
                    "the normaliser has {} coordinates, the VAE's latent space {}",
                    norm.mean.len(),
                    vae.config().latent
                ),
                fix: "retrain the latent DDPM".into(),
            });
        }
        let mut ddpm = Ddpm::new(config, device, seed)?;
        ddpm.load_checkpoint(dir)?;
        Ok(Self { ddpm, vae, norm })
    }
}

const NORMALISER_FILE: &str = "latent_normaliser.json";

/// The training set's normalised posteriors, for training on draws
/// z ~ q(z | x) instead of the means: Rombach et al.'s latent diffusion
/// trains on a fresh posterior sample of every image each time it is seen
/// (its `get_first_stage_encoding` of a `DiagonalGaussianDistribution`),
/// the distribution the decoder was trained to decode, rather than the
/// finite set of means.
#[derive(Debug, Clone)]
pub struct PosteriorLatents {
    /// Normalised posterior means, one row per image.
    pub mean: Matrix,
    /// Normalised posterior standard deviations.
    pub std: Matrix,
}

impl PosteriorLatents {
    /// Rows `rows`, each a draw mean + std · ε with ε ~ N(0, I) from `rng`.
    pub fn draw(&self, rows: &[usize], rng: &mut Rng) -> Result<Matrix> {
        let d = self.mean.cols();
        let eps = standard_normals(rows.len() * d, rng);
        let mut z = Vec::with_capacity(rows.len() * d);
        for (k, &i) in rows.iter().enumerate() {
            if i >= self.mean.rows() {
                return Err(GenError::input(
                    "posterior latents",
                    format!("row {i} of {}", self.mean.rows()),
                    "draw rows of the training set the posteriors were computed on",
                ));
            }
            for j in 0..d {
                z.push(self.mean.get(i, j) + self.std.get(i, j) * eps[k * d + j]);
            }
        }
        Matrix::new(rows.len(), d, z)
    }
}

impl gen_core::Model for LatentDdpm {
    fn capabilities(&self) -> Capabilities {
        capabilities_row()
    }
}

impl gen_core::Sample for LatentDdpm {
    type Output = Matrix;
    /// The DDPM's ancestral sampler over all T steps in latent space
    /// (with a class condition: every sample of that class, w = 0), then
    /// the VAE's decoder; the temperature scales z_T and every noise draw.
    fn sample(&self, n: usize, options: &gen_core::SampleOptions, rng: &mut Rng) -> Result<Matrix> {
        self.decode_latents(&gen_core::Sample::sample(&self.ddpm, n, options, rng)?)
    }
}

impl gen_core::Learn for LatentDdpm {
    /// Normalised latents ([`LatentDdpm::latents`]), computed once: the VAE
    /// is frozen; a conditional model's batch holds the label in its last column.
    type Batch = Matrix;
    fn shard_batch(&self, batch: &Matrix, rank: usize, size: usize) -> Result<Matrix> {
        batch.shard_rows(rank, size)
    }

    /// `loss`: the DDPM's weighted denoising loss on the latents.
    fn learn_step(
        &mut self,
        batch: &Matrix,
        ctx: &mut gen_core::StepContext<'_>,
    ) -> Result<gen_core::StepStats> {
        Ok(gen_core::StepStats::loss(self.ddpm.step(batch, ctx)?))
    }
}

impl Checkpoint for LatentDdpm {
    /// The DDPM (with its optimiser and EMA), the VAE it diffuses in (a copy,
    /// so the run needs nothing outside its directory) and the normaliser.
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        self.ddpm.save_checkpoint(dir)?;
        self.vae.save_checkpoint(dir)?;
        write_json_atomic(&dir.join(NORMALISER_FILE), &self.norm)
    }

    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        self.ddpm.load_checkpoint(dir)?;
        self.vae.load_checkpoint(dir)?;
        self.norm = read_json(&dir.join(NORMALISER_FILE))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normaliser_standardises_and_round_trips() {
        let u = Matrix::new(4, 2, vec![1.0, 10.0, 3.0, 10.0, 5.0, 14.0, 7.0, 14.0]).unwrap();
        let n = LatentNormaliser::fit(&u).unwrap();
        assert_eq!(n.mean, vec![4.0, 12.0]);
        // Sample standard deviations: sqrt(20/3) and sqrt(16/3).
        assert!((n.std[0] - (20.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((n.std[1] - (16.0f64 / 3.0).sqrt()).abs() < 1e-12);
        let z = n.normalise(&u).unwrap();
        for j in 0..2 {
            let col: Vec<f64> = z.iter_rows().map(|r| r[j]).collect();
            assert!(col.iter().sum::<f64>().abs() < 1e-12);
            let var = col.iter().map(|v| v * v).sum::<f64>() / 3.0;
            assert!((var - 1.0).abs() < 1e-12);
        }
        let back = n.denormalise(&z).unwrap();
        for (a, b) in back.as_slice().iter().zip(u.as_slice()) {
            assert!((a - b).abs() < 1e-12);
        }
        assert!(
            (n.log_scale() - ((20.0f64 / 3.0).sqrt().ln() + (16.0f64 / 3.0).sqrt().ln())).abs()
                < 1e-12
        );
    }

    /// q(u | x) in normalised coordinates, by hand: u = m + s·z, so the mean
    /// is (μ − m)/s and the standard deviation exp(log σ² / 2)/s.
    #[test]
    fn posterior_is_the_normalised_gaussian() {
        let u = Matrix::new(4, 2, vec![1.0, 10.0, 3.0, 10.0, 5.0, 14.0, 7.0, 14.0]).unwrap();
        let n = LatentNormaliser::fit(&u).unwrap();
        let post = Posterior {
            mean: Matrix::new(1, 2, vec![6.0, 8.0]).unwrap(),
            log_var: Matrix::new(1, 2, vec![0.0, 2.0f64.ln()]).unwrap(),
        };
        let p = n.posterior(&post).unwrap();
        let (s0, s1) = ((20.0f64 / 3.0).sqrt(), (16.0f64 / 3.0).sqrt());
        assert!((p.mean.get(0, 0) - 2.0 / s0).abs() < 1e-12);
        assert!((p.mean.get(0, 1) + 4.0 / s1).abs() < 1e-12);
        assert!((p.std.get(0, 0) - 1.0 / s0).abs() < 1e-12);
        assert!((p.std.get(0, 1) - 2.0f64.sqrt() / s1).abs() < 1e-12);
        let wrong = Posterior {
            mean: Matrix::new(1, 3, vec![0.0; 3]).unwrap(),
            log_var: Matrix::new(1, 3, vec![0.0; 3]).unwrap(),
        };
        assert!(n.posterior(&wrong).is_err());
    }

    /// Draws of one row have that row's mean and standard deviation per
    /// coordinate (20,000 draws: the sample moments within 4 standard errors),
    /// the same seed gives the same draws, and a row past the end is refused.
    #[test]
    fn posterior_draws_have_the_posterior_moments() {
        let p = PosteriorLatents {
            mean: Matrix::new(2, 2, vec![0.5, -1.0, 3.0, 0.0]).unwrap(),
            std: Matrix::new(2, 2, vec![0.1, 2.0, 1.0, 0.5]).unwrap(),
        };
        let n = 20_000;
        let rows: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let z = p.draw(&rows, &mut rng_from_seed(7)).unwrap();
        assert_eq!(z.shape(), (n, 2));
        for r in 0..2 {
            for j in 0..2 {
                let v: Vec<f64> = (0..n).filter(|i| i % 2 == r).map(|i| z.get(i, j)).collect();
                let m = v.iter().sum::<f64>() / v.len() as f64;
                let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
                let (want_m, want_sd) = (p.mean.get(r, j), p.std.get(r, j));
                let se = want_sd / (v.len() as f64).sqrt();
                assert!((m - want_m).abs() < 4.0 * se, "row {r} col {j}: mean {m}");
                assert!(
                    (sd / want_sd - 1.0).abs() < 0.03,
                    "row {r} col {j}: sd {sd}"
                );
            }
        }
        assert_eq!(
            p.draw(&[1, 0], &mut rng_from_seed(3)).unwrap(),
            p.draw(&[1, 0], &mut rng_from_seed(3)).unwrap()
        );
        assert!(p.draw(&[2], &mut rng_from_seed(3)).is_err());
    }

    #[test]
    fn normaliser_refuses_bad_input() {
        let one = Matrix::new(1, 2, vec![1.0, 2.0]).unwrap();
        assert!(LatentNormaliser::fit(&one).is_err());
        let u = Matrix::new(2, 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let n = LatentNormaliser::fit(&u).unwrap();
        let wrong = Matrix::new(1, 3, vec![0.0; 3]).unwrap();
        assert!(n.normalise(&wrong).is_err());
    }
}
