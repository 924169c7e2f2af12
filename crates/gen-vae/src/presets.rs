//! Named configurations of the VAE family on image data and the evaluation
//! protocol of its runs (the candle way: presets live with the model, the
//! command line only picks one and overrides fields).
//!
//! Data: with a Bernoulli decoder (the default on MNIST) training batches are
//! dynamically binarized from the run RNG and the test split is binarized
//! once with seed [`TEST_BINARIZE_SEED`]; with a Gaussian decoder (the default
//! on the 8×8 digits) and for PPCA, pixels are scaled to [0, 1] and scores are
//! continuous log-densities of the scaled data.

use std::str::FromStr;

use gen_core::burn;
use gen_core::nn::Activation;
use gen_core::optim::OptimConfig;
use gen_core::{GenError, Matrix, Result, rng_from_seed};
use serde::{Deserialize, Serialize};

use crate::config::{ConvSpec, Likelihood, Objective, VaeConfig};

pub use gen_data::prep::{Prep, TEST_BINARIZE_SEED, fit_images};

/// The preparation a decoder likelihood needs: binarized pixels for a
/// Bernoulli decoder, pixels scaled to [0, 1] for a Gaussian one.
pub fn prep_for(likelihood: &Likelihood) -> Prep {
    if *likelihood == Likelihood::Bernoulli {
        Prep::Binarize
    } else {
        Prep::Scale
    }
}

/// Fixed variance of the Gaussian decoder presets (and the initial value of
/// the learned one): σ² = 0.01 on pixels in [0, 1].
pub const GAUSSIAN_DECODER_VAR: f64 = 0.01;

/// The decoder a run asks for; [`DecoderChoice::Auto`] picks by data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecoderChoice {
    /// Bernoulli on MNIST (binary pixels), a learned-variance Gaussian otherwise.
    #[default]
    Auto,
    /// Bernoulli pixels (data binarized).
    Bernoulli,
    /// Gaussian with fixed variance [`GAUSSIAN_DECODER_VAR`].
    Gaussian,
    /// Gaussian with a learned per-pixel variance.
    GaussianLearned,
}

impl DecoderChoice {
    /// Every choice, in the order `--help` lists them.
    pub const NAMES: [&'static str; 4] = ["auto", "bernoulli", "gaussian", "gaussian-learned"];

    /// The decoder likelihood for data set `data_name`.
    pub fn resolve(self, data_name: &str) -> Likelihood {
        let gaussian = |learned| Likelihood::Gaussian {
            log_var: GAUSSIAN_DECODER_VAR.ln(),
            learned,
        };
        match self {
            DecoderChoice::Auto if data_name.starts_with("mnist") => Likelihood::Bernoulli,
            DecoderChoice::Auto | DecoderChoice::GaussianLearned => gaussian(true),
            DecoderChoice::Bernoulli => Likelihood::Bernoulli,
            DecoderChoice::Gaussian => gaussian(false),
        }
    }
}

impl FromStr for DecoderChoice {
    type Err = GenError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "auto" => DecoderChoice::Auto,
            "bernoulli" => DecoderChoice::Bernoulli,
            "gaussian" => DecoderChoice::Gaussian,
            "gaussian-learned" => DecoderChoice::GaussianLearned,
            other => {
                return Err(GenError::config(
                    "--decoder",
                    other,
                    "unknown decoder",
                    "use auto, bernoulli, gaussian or gaussian-learned",
                ));
            }
        })
    }
}

/// The neural VAE variants that share [`VaeConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaeVariant {
    /// MLP VAE, ELBO, tanh.
    Vae,
    /// β-VAE: ELBO with KL weight β.
    BetaVae,
    /// IWAE: the importance-weighted bound.
    Iwae,
    /// Convolutional VAE (ReLU).
    ConvVae,
}

impl VaeVariant {
    /// The variant named `model` (`vae`, `beta-vae`, `iwae`, `conv-vae`), if any.
    pub fn from_model(model: &str) -> Option<Self> {
        Some(match model {
            "vae" => VaeVariant::Vae,
            "beta-vae" => VaeVariant::BetaVae,
            "iwae" => VaeVariant::Iwae,
            "conv-vae" => VaeVariant::ConvVae,
            _ => return None,
        })
    }
}

/// The knobs a user sets on top of a preset.
#[derive(Debug, Clone, PartialEq)]
pub struct VaeKnobs {
    /// Latent dimension.
    pub latent: usize,
    /// Encoder hidden widths (the decoder mirrors them).
    pub hidden: Vec<usize>,
    /// KL weight β (β-VAE only).
    pub beta: f64,
    /// Linear KL annealing steps (not for IWAE).
    pub kl_warmup: u64,
    /// Free bits per latent dimension (not for IWAE).
    pub free_bits: f64,
    /// Importance samples of the IWAE objective.
    pub iwae_k: usize,
}

impl Default for VaeKnobs {
    /// The reference MNIST VAE: 784-400-20 (Kingma & Welling 2014).
    fn default() -> Self {
        Self {
            latent: 20,
            hidden: vec![400],
            beta: 4.0,
            kl_warmup: 0,
            free_bits: 0.0,
            iwae_k: 5,
        }
    }
}

impl VaeConfig {
    /// The image preset of `variant` for `h × w` images: tanh MLP (ReLU and
    /// stride-2 convolutions for the conv VAE, 32-64 channels from 16×16 up,
    /// 16-32 below), the objective and KL schedule of the variant, Adam.
    pub fn image(
        variant: VaeVariant,
        (h, w): (usize, usize),
        likelihood: Likelihood,
        k: &VaeKnobs,
    ) -> Result<VaeConfig> {
        let iwae = variant == VaeVariant::Iwae;
        let cfg = VaeConfig {
            d_in: h * w,
            hidden: k.hidden.clone(),
            latent: k.latent,
            activation: if variant == VaeVariant::ConvVae {
                Activation::Relu
            } else {
                Activation::Tanh
            },
            likelihood,
            objective: if iwae {
                Objective::Iwae { k: k.iwae_k }
            } else {
                Objective::Elbo
            },
            beta: if variant == VaeVariant::BetaVae {
                k.beta
            } else {
                1.0
            },
            kl_warmup_steps: if iwae { 0 } else { k.kl_warmup },
            free_bits: if iwae { 0.0 } else { k.free_bits },
            optim: OptimConfig::default(),
            conv: (variant == VaeVariant::ConvVae).then(|| ConvSpec {
                height: h,
                width: w,
                channels: if h >= 16 { vec![32, 64] } else { vec![16, 32] },
            }),
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

impl crate::VqVaeConfig {
    /// The image preset of the VQ-VAE: an MLP of `hidden` widths with ReLU,
    /// `codes` code vectors of width `code_dim` per image from a codebook of
    /// `codebook_size`, commitment cost `commitment`, Adam.
    pub fn image(
        d_in: usize,
        likelihood: Likelihood,
        hidden: &[usize],
        (codebook_size, codes, code_dim): (usize, usize, usize),
        commitment: f64,
    ) -> Result<crate::VqVaeConfig> {
        let cfg = crate::VqVaeConfig {
            d_in,
            hidden: hidden.to_vec(),
            codes,
            code_dim,
            codebook_size,
            commitment,
            activation: Activation::Relu,
            likelihood,
            optim: OptimConfig::default(),
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// A trained model of the family, whichever it is: what a run directory loads into.
#[derive(Debug)]
pub enum VaeFamilyModel {
    /// A neural VAE (vae, beta-vae, iwae, conv-vae).
    Vae(Box<crate::Vae>),
    /// A VQ-VAE.
    VqVae(Box<crate::VqVae>),
    /// Probabilistic PCA.
    Ppca(crate::Ppca),
}

impl VaeFamilyModel {
    /// Loads the checkpoint folder `dir` of model `model` onto `device`
    /// (PPCA is host-side and ignores it).
    pub fn load(model: &str, dir: &std::path::Path, device: &burn::tensor::Device) -> Result<Self> {
        Ok(match model {
            "ppca" => {
                let mut p = crate::Ppca::unfitted(2, 1)?;
                gen_core::Checkpoint::load_checkpoint(&mut p, dir)?;
                VaeFamilyModel::Ppca(p)
            }
            "vq-vae" => VaeFamilyModel::VqVae(Box::new(crate::VqVae::load(dir, device)?)),
            _ => VaeFamilyModel::Vae(Box::new(crate::Vae::load(dir, device)?)),
        })
    }

    /// Its row of the capability table.
    pub fn capabilities(&self) -> gen_core::Capabilities {
        use gen_core::Model;
        match self {
            VaeFamilyModel::Vae(v) => v.capabilities(),
            VaeFamilyModel::VqVae(v) => v.capabilities(),
            VaeFamilyModel::Ppca(p) => p.capabilities(),
        }
    }

    /// Samples (decoder means; PPCA: draws of x).
    pub fn sample(
        &self,
        n: usize,
        options: &gen_core::SampleOptions,
        rng: &mut gen_core::Rng,
    ) -> Result<Matrix> {
        use gen_core::Sample;
        match self {
            VaeFamilyModel::Vae(v) => v.sample(n, options, rng),
            VaeFamilyModel::VqVae(v) => v.sample(n, options, rng),
            VaeFamilyModel::Ppca(p) => p.sample(n, options, rng),
        }
    }

    /// Scores rows as the model's row of the capability table says.
    pub fn score(&self, x: &Matrix, options: &gen_core::ScoreOptions) -> Result<gen_core::Scores> {
        use gen_core::Score;
        match self {
            VaeFamilyModel::Vae(v) => v.score(x, options),
            VaeFamilyModel::VqVae(v) => v.score(x, options),
            VaeFamilyModel::Ppca(p) => p.score(x, options),
        }
    }

    /// The encodings of rows: posterior means and log-variances of q(z | x)
    /// (VAE), code indices and quantised vectors z_q (VQ-VAE).
    pub fn encode(&self, x: &Matrix) -> Result<Vec<gen_core::EncodingPart>> {
        let part = |key, file_suffix, values, integer, description| gen_core::EncodingPart {
            key,
            file_suffix,
            values,
            integer,
            description,
        };
        Ok(match self {
            VaeFamilyModel::Vae(v) => {
                let post = v.encode(x)?;
                vec![
                    part("mean", "", post.mean, false, "posterior means"),
                    part(
                        "log_var",
                        "logvar.npy",
                        post.log_var,
                        false,
                        "log-variances",
                    ),
                ]
            }
            VaeFamilyModel::VqVae(vq) => {
                let codes = vq.encode(x)?;
                vec![
                    part("indices", "", codes.indices, true, "code indices"),
                    part("z_q", "zq.npy", codes.z_q, false, "quantised vectors z_q"),
                ]
            }
            VaeFamilyModel::Ppca(_) => return Err(self.not_neural("encode")),
        })
    }

    /// Reconstructions E[x | z = μ(x)] (VQ-VAE: E[x | z_q(x)]).
    pub fn reconstruct(&self, x: &Matrix) -> Result<Matrix> {
        match self {
            VaeFamilyModel::Vae(v) => v.reconstruct(x),
            VaeFamilyModel::VqVae(v) => v.reconstruct(x),
            VaeFamilyModel::Ppca(_) => Err(self.not_neural("reconstruct")),
        }
    }

    /// Decoded points on the segment between the posterior means of `a` and `b`.
    pub fn interpolate(&self, a: &[f64], b: &[f64], steps: usize) -> Result<Matrix> {
        match self {
            VaeFamilyModel::Vae(v) => v.interpolate(a, b, steps),
            _ => Err(self.not_neural("interpolate")),
        }
    }

    /// The error for an inference command (`what`) this model does not offer.
    pub fn not_neural(&self, what: &str) -> GenError {
        match self {
            VaeFamilyModel::VqVae(_) => GenError::config(
                "--checkpoint",
                "a vq-vae run",
                format!(
                    "`genlab {what}` needs a continuous latent space; a vq-vae's codes are discrete"
                ),
                "use `genlab encode` / `genlab reconstruct` with a vq-vae run, or a vae / beta-vae / iwae run",
            ),
            _ => GenError::config(
                "--checkpoint",
                "a ppca run",
                format!("`genlab {what}` is implemented for the neural VAEs"),
                "use Ppca::posterior from the library for ppca, or a vae / beta-vae / iwae run",
            ),
        }
    }
}

/// The test-split figures of a neural VAE run (nats per image).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VaeEvaluation {
    /// Mean ELBO, one draw per image (a lower bound on log p(x)).
    pub test_elbo: f64,
    /// Mean IWAE-K estimate (None when K = 0).
    pub test_iwae: Option<f64>,
    /// K of the estimate.
    pub iwae_k: usize,
    /// −IWAE-K, the NLL estimate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_nll_iwae: Option<f64>,
    /// Wall time of the evaluation.
    pub eval_seconds: f64,
    /// Active units (Burda et al.'s covariance criterion).
    pub active_units: usize,
    /// Total KL(q‖p) per image.
    pub kl_total: f64,
    /// KL per latent dimension.
    pub kl_per_dim: Vec<f64>,
    /// Whether the posterior collapsed.
    pub posterior_collapse: bool,
    /// Mean squared reconstruction error through the posterior mean.
    pub reconstruction_mse: f64,
}

impl crate::Vae {
    /// The evaluation protocol of a VAE run on prepared test rows `xt`: the
    /// ELBO (one draw) then IWAE-`k` (skipped for k = 0), both from one RNG
    /// seeded with `seed ^ 0x5eed`, and the latent diagnostics.
    pub fn evaluate_split(&self, xt: &Matrix, k: usize, seed: u64) -> Result<VaeEvaluation> {
        let mut rng = rng_from_seed(seed ^ 0x5eed);
        let t0 = std::time::Instant::now();
        let elbo = self.elbo(xt, 1, &mut rng)?.mean();
        let iwae = if k > 0 {
            Some(self.iwae(xt, k, &mut rng)?.mean())
        } else {
            None
        };
        let d = self.diagnostics(xt)?;
        Ok(VaeEvaluation {
            test_elbo: elbo,
            test_iwae: iwae,
            iwae_k: k,
            test_nll_iwae: iwae.map(|i| -i),
            eval_seconds: t0.elapsed().as_secs_f64(),
            active_units: d.active_units,
            kl_total: d.kl_total,
            kl_per_dim: d.kl_per_dim,
            posterior_collapse: d.posterior_collapse,
            reconstruction_mse: d.reconstruction_mse,
        })
    }
}

/// The test-split figures of a PPCA run (nats per image of pixels in [0, 1]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PpcaEvaluation {
    /// Latent dimension.
    pub latent: usize,
    /// The fitted isotropic noise variance σ².
    pub sigma2: f64,
    /// Mean exact log-likelihood of the test rows.
    pub test_log_likelihood_exact: f64,
    /// Its negation.
    pub test_nll: f64,
}

/// The protocol of a PPCA run: the closed-form fit to the scaled training
/// rows `x` (one trainer step, so the run directory holds an ordinary
/// checkpoint) and the exact log-likelihood of the test rows `xt`.
pub fn fit_ppca(
    x: &Matrix,
    xt: &Matrix,
    latent: usize,
    seed: u64,
    out: &std::path::Path,
) -> Result<(crate::Ppca, gen_core::train::TrainReport, PpcaEvaluation)> {
    use gen_core::Score;
    let mut p = crate::Ppca::unfitted(x.cols(), latent)?;
    let config = gen_core::train::TrainConfig {
        steps: 1,
        seed,
        progress: false,
        batch_size: x.rows(),
        ..Default::default()
    };
    let report = gen_core::train::Trainer::new(config, out)?.fit(&mut p, |_, _| Ok(x.clone()))?;
    let ll = p.score(xt, &gen_core::ScoreOptions::default())?.mean();
    let eval = PpcaEvaluation {
        latent,
        sigma2: p.sigma2,
        test_log_likelihood_exact: ll,
        test_nll: -ll,
    };
    Ok((p, report, eval))
}

/// The test-split figures of a VQ-VAE run (nats per image).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VqEvaluation {
    /// −E log p(x | z_q(x)).
    pub test_recon_nll: f64,
    /// The bound log p(x | z_q) − L log K under a uniform prior over codes.
    pub test_vq_elbo: f64,
    /// −bound.
    pub test_nll_bound: f64,
    /// L log K.
    pub prior_nats: f64,
    /// Distinct codewords used on the test split.
    pub codebook_used: usize,
    /// exp(entropy) of the code assignments.
    pub codebook_perplexity: f64,
    /// Mean squared reconstruction error.
    pub reconstruction_mse: f64,
    /// Bits per dimension of the bound (binary pixels only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_bits_per_dim_bound: Option<f64>,
    /// Wall time of the evaluation.
    pub eval_seconds: f64,
}

impl crate::VqVae {
    /// The evaluation protocol of a VQ-VAE run on prepared test rows `xt`.
    pub fn evaluate_split(&self, xt: &Matrix, prep: Prep) -> Result<VqEvaluation> {
        let t0 = std::time::Instant::now();
        let prior = self.config().prior_nats();
        let bound = self.vq_elbo(xt)?.mean();
        let usage = self.code_usage(xt)?;
        let rec = self.reconstruct(xt)?;
        let mse = xt
            .as_slice()
            .iter()
            .zip(rec.as_slice())
            .map(|(p, q)| (p - q) * (p - q))
            .sum::<f64>()
            / (xt.rows() * xt.cols()) as f64;
        Ok(VqEvaluation {
            test_recon_nll: -(bound + prior),
            test_vq_elbo: bound,
            test_nll_bound: -bound,
            prior_nats: prior,
            codebook_used: usage.used,
            codebook_perplexity: usage.perplexity,
            reconstruction_mse: mse,
            // Binary pixels: bits per dimension of the bound is NLL / (D ln 2).
            test_bits_per_dim_bound: (prep == Prep::Binarize)
                .then(|| -bound / (xt.cols() as f64 * std::f64::consts::LN_2)),
            eval_seconds: t0.elapsed().as_secs_f64(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_decoder_is_bernoulli_on_mnist_only() {
        assert_eq!(
            DecoderChoice::Auto.resolve("mnist5k"),
            Likelihood::Bernoulli
        );
        assert!(matches!(
            DecoderChoice::Auto.resolve("digits"),
            Likelihood::Gaussian { learned: true, .. }
        ));
        for name in DecoderChoice::NAMES {
            assert!(name.parse::<DecoderChoice>().is_ok());
        }
        let e = "nope".parse::<DecoderChoice>().unwrap_err().to_string();
        assert!(e.contains("gaussian-learned"), "{e}");
    }

    #[test]
    fn variant_presets_set_objective_activation_and_conv() {
        let k = VaeKnobs::default();
        let lik = Likelihood::Bernoulli;
        let iwae = VaeConfig::image(VaeVariant::Iwae, (28, 28), lik, &k).unwrap();
        assert_eq!(iwae.objective, Objective::Iwae { k: 5 });
        let beta = VaeConfig::image(VaeVariant::BetaVae, (28, 28), lik, &k).unwrap();
        assert_eq!(beta.beta, 4.0);
        let conv = VaeConfig::image(VaeVariant::ConvVae, (8, 8), lik, &k).unwrap();
        assert_eq!(conv.activation, Activation::Relu);
        assert_eq!(conv.conv.unwrap().channels, vec![16, 32]);
    }
}
