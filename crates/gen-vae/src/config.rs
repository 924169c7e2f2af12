//! Configuration of a VAE: architecture, observation model, objective and its
//! regularisers (β, KL annealing, free bits).

use gen_core::nn::Activation;
use gen_core::optim::OptimConfig;
use gen_core::{GenError, Result};
use serde::{Deserialize, Serialize};

/// The observation model p_θ(x | z) of the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Likelihood {
    /// Independent Bernoulli pixels with logits ℓ = decoder(z):
    /// log p(x | z) = Σ_d x_d ℓ_d − softplus(ℓ_d) (binary data, x ∈ {0, 1}^D).
    Bernoulli,
    /// Independent Gaussians with mean μ = decoder(z) and variance σ²:
    /// log p(x | z) = −½ Σ_d [(x_d − μ_d)²/σ_d² + log σ_d² + log 2π].
    /// `log_var` is log σ² (the same for every pixel); with `learned` the
    /// per-pixel log σ_d² are parameters initialised at `log_var`.
    Gaussian {
        /// log σ² (initial value when learned).
        log_var: f64,
        /// Learn one log σ_d² per pixel.
        learned: bool,
    },
}

impl Likelihood {
    /// Short name for summaries.
    pub fn name(&self) -> &'static str {
        match self {
            Likelihood::Bernoulli => "bernoulli",
            Likelihood::Gaussian { learned: false, .. } => "gaussian-fixed",
            Likelihood::Gaussian { learned: true, .. } => "gaussian-learned",
        }
    }
}

/// The training objective.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Objective {
    /// The (β-weighted) evidence lower bound, one reparameterised sample per
    /// example (Kingma & Welling 2014; Higgins et al. 2017 for β):
    /// L_β(x) = E_q[log p(x | z)] − β · KL(q(z | x) ‖ p(z)).
    Elbo,
    /// The importance-weighted bound with `k` samples (Burda, Grosse &
    /// Salakhutdinov 2016): L_K(x) = E[log (1/K) Σ_k p(x, z_k) / q(z_k | x)],
    /// L_1 = ELBO ≤ L_K ≤ L_{K+1} ≤ log p(x).
    Iwae {
        /// Importance samples per example (≥ 1).
        k: usize,
    },
}

/// A convolutional encoder/decoder for `height × width` single-channel images.
///
/// Encoder: one 4×4 convolution with stride 2 and padding 1 per entry of
/// `channels` (each halves the image side), then the MLP head to (μ, log σ²).
/// Decoder (mirror): the MLP to the smallest feature map, then per level a
/// nearest-neighbour 2× upsampling and a 3×3 convolution, the last one to one
/// channel (logits or means per pixel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvSpec {
    /// Image height (divisible by 2^levels).
    pub height: usize,
    /// Image width (divisible by 2^levels).
    pub width: usize,
    /// Channels after each stride-2 convolution, e.g. `[32, 64]`.
    pub channels: Vec<usize>,
}

impl ConvSpec {
    /// (channels, height, width) of the smallest feature map.
    pub fn bottleneck(&self) -> (usize, usize, usize) {
        let f = 1 << self.channels.len();
        (
            self.channels.last().copied().unwrap_or(1),
            self.height / f,
            self.width / f,
        )
    }
}

/// Everything needed to build a [`crate::Vae`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VaeConfig {
    /// Observed dimension D (pixels).
    pub d_in: usize,
    /// Hidden widths of the encoder; the decoder mirrors them (e.g. `[400]`).
    pub hidden: Vec<usize>,
    /// Latent dimension L (≥ 1).
    pub latent: usize,
    /// Hidden non-linearity.
    pub activation: Activation,
    /// Decoder observation model.
    pub likelihood: Likelihood,
    /// Training objective.
    pub objective: Objective,
    /// KL weight β of the β-VAE (1 = the plain ELBO; only with [`Objective::Elbo`]).
    pub beta: f64,
    /// Linear KL annealing: β_t = β · min(1, (t + 1) / warmup) (Bowman et al.
    /// 2016); 0 disables it.
    pub kl_warmup_steps: u64,
    /// Free bits λ in nats per latent dimension (Kingma et al. 2016): the KL
    /// term becomes Σ_j max(λ, E_batch KL_j); 0 disables it.
    pub free_bits: f64,
    /// Optimiser.
    pub optim: OptimConfig,
    /// Convolutional encoder/decoder (None: MLP only).
    #[serde(default)]
    pub conv: Option<ConvSpec>,
}

impl VaeConfig {
    /// The MLP VAE of Kingma & Welling (2014) used as the PyTorch reference:
    /// D-400-L with tanh, Bernoulli decoder, ELBO, Adam.
    pub fn mlp_bernoulli(d_in: usize, latent: usize) -> Self {
        Self {
            d_in,
            hidden: vec![400],
            latent,
            activation: Activation::Tanh,
            likelihood: Likelihood::Bernoulli,
            objective: Objective::Elbo,
            beta: 1.0,
            kl_warmup_steps: 0,
            free_bits: 0.0,
            optim: OptimConfig::default(),
            conv: None,
        }
    }

    /// Checks every field; errors say which value is wrong and how to fix it.
    pub fn validate(&self) -> Result<()> {
        check_network(self.d_in, &self.hidden, self.likelihood)?;
        if self.latent == 0 {
            return Err(GenError::config(
                "latent",
                0,
                "a VAE needs at least one latent dimension",
                "use 2 latent dimensions for pictures of the latent space, 10..50 for likelihood (genlab: --vae-latent)",
            ));
        }
        if let Some(c) = &self.conv {
            let f = 1usize << c.channels.len().min(16);
            if c.channels.is_empty()
                || c.channels.contains(&0)
                || c.height * c.width != self.d_in
                || c.height % f != 0
                || c.width % f != 0
            {
                return Err(GenError::config(
                    "conv",
                    format!("{}x{} images, channels {:?}", c.height, c.width, c.channels),
                    format!(
                        "need height·width = d_in = {} and sides divisible by 2^levels = {f}, with positive channel counts",
                        self.d_in
                    ),
                    "use channels [32, 64] for 28x28 MNIST or [16, 32] for 8x8 digits",
                ));
            }
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(GenError::config(
                "beta",
                self.beta,
                "must be finite and ≥ 0",
                "use 1 for the ELBO, > 1 for a β-VAE",
            ));
        }
        if !(self.free_bits.is_finite() && self.free_bits >= 0.0) {
            return Err(GenError::config(
                "free_bits",
                self.free_bits,
                "must be finite and ≥ 0 (nats per latent dimension)",
                "use 0 to disable, or a small value such as 0.25",
            ));
        }
        if let Objective::Iwae { k } = self.objective {
            if k == 0 {
                return Err(GenError::config(
                    "k",
                    0,
                    "the IWAE objective needs at least one importance sample",
                    "use --k 5 (K = 1 is the ELBO)",
                ));
            }
            if self.beta != 1.0 || self.free_bits != 0.0 || self.kl_warmup_steps != 0 {
                return Err(GenError::config(
                    "objective",
                    "iwae",
                    "β, free bits and KL annealing modify the ELBO and are not defined for the IWAE bound",
                    "use beta 1, free_bits 0, kl_warmup_steps 0 with IWAE, or the ELBO objective",
                ));
            }
        }
        Ok(())
    }

    /// β_t at zero-based step `t` under the linear warm-up.
    pub fn beta_at(&self, t: u64) -> f64 {
        if self.kl_warmup_steps == 0 {
            self.beta
        } else {
            self.beta * ((t + 1) as f64 / self.kl_warmup_steps as f64).min(1.0)
        }
    }
}

/// The checks every VAE-family network shares: D ≥ 1, positive hidden
/// widths, and a finite fixed decoder log-variance.
pub(crate) fn check_network(d_in: usize, hidden: &[usize], likelihood: Likelihood) -> Result<()> {
    if d_in == 0 {
        return Err(GenError::config(
            "d_in",
            0,
            "the observed dimension must be at least 1",
            "pass the number of pixels per image (e.g. 784 for MNIST)",
        ));
    }
    if let Some(i) = hidden.iter().position(|&h| h == 0) {
        return Err(GenError::config(
            format!("hidden[{i}]"),
            0,
            "hidden layers need at least one unit",
            "give positive widths, e.g. --vae-hidden 400",
        ));
    }
    if let Likelihood::Gaussian { log_var, .. } = likelihood
        && !log_var.is_finite()
    {
        return Err(GenError::config(
            "log_var",
            log_var,
            "the decoder log-variance must be finite",
            "use e.g. log(0.01) ≈ -4.6 for data scaled to [0, 1]",
        ));
    }
    Ok(())
}
