//! The encoder/decoder networks and the per-example log-densities on tensors.
//!
//! Encoder: x ↦ (μ_φ(x), log σ²_φ(x)), q_φ(z | x) = N(μ, diag σ²).
//! Decoder: z ↦ η_θ(z), the logits (Bernoulli) or means (Gaussian) of p_θ(x | z).
//! Reparameterisation (Kingma & Welling 2014; Rezende et al. 2014):
//! z = μ + σ ⊙ ε with ε ~ N(0, I) drawn on the host, so gradients reach φ.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, activation};
use gen_core::burn;
use gen_core::nn::ops::{LN_2PI, diag_normal_log_prob, standard_normal_log_prob};
use gen_core::nn::{Mlp, MlpConfig};
use gen_core::{Result, Rng};

use crate::config::{Likelihood, VaeConfig};

/// log σ² of the encoder is clamped to this range so that exp never overflows.
pub const LOGVAR_RANGE: (f64, f64) = (-30.0, 20.0);

/// Encoder and decoder of an MLP VAE.
#[derive(Module, Debug)]
pub struct VaeNet {
    /// x ↦ [μ, log σ²] (width 2L).
    pub encoder: Mlp,
    /// z ↦ logits or means (width D).
    pub decoder: Mlp,
    /// Learned per-pixel decoder log-variance (Gaussian, learned variance only).
    pub log_var: Option<Param<Tensor<1>>>,
    /// Latent dimension L.
    #[module(skip)]
    pub latent: usize,
    /// Observation model.
    #[module(skip)]
    pub likelihood: Likelihood,
}

impl VaeNet {
    /// Builds the networks from `config` with weights drawn from `rng`
    /// (PyTorch `nn.Linear` initialisation).
    pub fn new(config: &VaeConfig, rng: &mut Rng, device: &Device) -> Result<Self> {
        config.validate()?;
        let encoder = MlpConfig {
            d_in: config.d_in,
            hidden: config.hidden.clone(),
            d_out: 2 * config.latent,
            activation: config.activation,
            zero_last: false,
        }
        .init(rng, device)?;
        let decoder = MlpConfig {
            d_in: config.latent,
            hidden: config.hidden.iter().rev().copied().collect(),
            d_out: config.d_in,
            activation: config.activation,
            zero_last: false,
        }
        .init(rng, device)?;
        let log_var = match config.likelihood {
            Likelihood::Gaussian {
                log_var,
                learned: true,
            } => Some(Param::from_tensor(Tensor::full(
                [config.d_in],
                log_var,
                device,
            ))),
            _ => None,
        };
        Ok(Self {
            encoder,
            decoder,
            log_var,
            latent: config.latent,
            likelihood: config.likelihood,
        })
    }

    /// q_φ(z | x): returns (μ, log σ²), each `[batch, L]`.
    pub fn encode(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = self.encoder.forward(x);
        let l = self.latent;
        let mu = h.clone().narrow(1, 0, l);
        let logvar = h.narrow(1, l, l).clamp(LOGVAR_RANGE.0, LOGVAR_RANGE.1);
        (mu, logvar)
    }

    /// Decoder output η_θ(z) (`[batch, D]`): logits (Bernoulli) or means (Gaussian).
    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        self.decoder.forward(z)
    }

    /// The mean of p_θ(x | z) given the decoder output: σ(ℓ) or μ.
    pub fn mean(&self, out: Tensor<2>) -> Tensor<2> {
        match self.likelihood {
            Likelihood::Bernoulli => activation::sigmoid(out),
            Likelihood::Gaussian { .. } => out,
        }
    }

    /// log p_θ(x | z) per row, from the decoder output `out` (`[batch, D]` → `[batch]`).
    pub fn log_px(&self, x: Tensor<2>, out: Tensor<2>) -> Tensor<1> {
        match self.likelihood {
            Likelihood::Bernoulli => bernoulli_log_prob(x, out),
            Likelihood::Gaussian { log_var, .. } => {
                let [b, d] = out.dims();
                match &self.log_var {
                    Some(p) => {
                        let lv = p.val().unsqueeze_dim::<2>(0).expand([b, d]);
                        diag_normal_log_prob(x, out, lv)
                    }
                    None => {
                        // Fixed σ²: −½ [Σ_d (x_d − μ_d)² / σ² + D (log σ² + log 2π)].
                        let sq = (x - out).powf_scalar(2.0).sum_dim(1).squeeze_dim::<1>(1);
                        sq * (-0.5 * (-log_var).exp()) - 0.5 * d as f64 * (log_var + LN_2PI)
                    }
                }
            }
        }
    }

    /// z = μ + σ ⊙ ε (the reparameterisation trick); `eps` is `[batch, L]`.
    pub fn reparameterize(mu: Tensor<2>, logvar: Tensor<2>, eps: Tensor<2>) -> Tensor<2> {
        mu + (logvar * 0.5).exp() * eps
    }

    /// log w = log p_θ(x | z) + log p(z) − log q_φ(z | x) per row, for
    /// `x`, `mu`, `logvar`, `eps` already repeated to the same number of rows.
    pub fn log_weight(
        &self,
        x: Tensor<2>,
        mu: Tensor<2>,
        logvar: Tensor<2>,
        eps: Tensor<2>,
    ) -> Tensor<1> {
        let z = Self::reparameterize(mu.clone(), logvar.clone(), eps);
        let out = self.decode(z.clone());
        self.log_px(x, out) + standard_normal_log_prob(z.clone())
            - diag_normal_log_prob(z, mu, logvar)
    }
}

/// Σ_d [x_d ℓ_d − softplus(ℓ_d)] = Σ_d log Bernoulli(x_d; σ(ℓ_d)), per row.
///
/// # Shapes
/// - `x`, `logits`: `[batch, D]` → `[batch]`
pub fn bernoulli_log_prob(x: Tensor<2>, logits: Tensor<2>) -> Tensor<1> {
    // softplus(ℓ) = max(ℓ, 0) + log(1 + exp(−|ℓ|)), stable for any ℓ.
    let sp = activation::relu(logits.clone()) + logits.clone().abs().neg().exp().log1p();
    (x * logits - sp).sum_dim(1).squeeze_dim(1)
}

/// KL(N(μ, diag σ²) ‖ N(0, I)) per latent dimension: ½(μ² + σ² − log σ² − 1),
/// `[batch, L]` → `[batch, L]`.
pub fn kl_per_dim(mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<2> {
    (mu.powf_scalar(2.0) + logvar.clone().exp() - logvar - 1.0) * 0.5
}
