//! The encoder/decoder networks and the per-example log-densities on tensors.
//!
//! Encoder: x ↦ (μ_φ(x), log σ²_φ(x)), q_φ(z | x) = N(μ, diag σ²).
//! Decoder: z ↦ η_θ(z), the logits (Bernoulli) or means (Gaussian) of p_θ(x | z).
//! Reparameterisation (Kingma & Welling 2014; Rezende et al. 2014):
//! z = μ + σ ⊙ ε with ε ~ N(0, I) drawn on the host, so gradients reach φ.

use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor, activation};
use gen_core::burn;
use gen_core::nn::conv::{ConvShape, conv2d};
use gen_core::nn::ops::{diag_normal_log_prob, standard_normal_log_prob};
use gen_core::nn::{Activation, Init, Mlp, MlpConfig, bce_with_logits, upsample_nearest};
use gen_core::numerics::LN_2PI;
use gen_core::{Result, Rng};

use crate::config::{ConvSpec, Likelihood, VaeConfig};

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
    /// Stride-2 encoder convolutions (empty for an MLP VAE).
    pub enc_conv: Vec<Conv2d>,
    /// Decoder 3×3 convolutions after each upsampling (empty for an MLP VAE).
    pub dec_conv: Vec<Conv2d>,
    /// Latent dimension L.
    #[module(skip)]
    pub latent: usize,
    /// Observation model.
    #[module(skip)]
    pub likelihood: Likelihood,
    /// Image geometry of the convolutional variant.
    #[module(skip)]
    pub conv: Option<ConvSpec>,
    /// Non-linearity between convolutions.
    #[module(skip)]
    pub activation: Activation,
}

impl VaeNet {
    /// Builds the networks from `config` with weights drawn from `rng`
    /// (PyTorch `nn.Linear` initialisation).
    pub fn new(config: &VaeConfig, rng: &mut Rng, device: &Device) -> Result<Self> {
        config.validate()?;
        let (mut enc_conv, mut dec_conv) = (Vec::new(), Vec::new());
        let feat = match &config.conv {
            Some(c) => {
                let mut c_in = 1;
                for &c_out in &c.channels {
                    let shape = ConvShape {
                        c_in,
                        c_out,
                        kernel: 4,
                        stride: 2,
                        padding: 1,
                    };
                    enc_conv.push(conv2d(shape, Init::Default, rng, device));
                    c_in = c_out;
                }
                let mut outs: Vec<usize> = c.channels.iter().rev().skip(1).copied().collect();
                outs.push(1);
                for c_out in outs {
                    dec_conv.push(conv2d(
                        ConvShape::same(c_in, c_out, 3),
                        Init::Default,
                        rng,
                        device,
                    ));
                    c_in = c_out;
                }
                let (ch, h, w) = c.bottleneck();
                ch * h * w
            }
            None => config.d_in,
        };
        let encoder = MlpConfig {
            d_in: feat,
            hidden: config.hidden.clone(),
            d_out: 2 * config.latent,
            activation: config.activation,
            zero_last: false,
        }
        .init(rng, device)?;
        let decoder = MlpConfig {
            d_in: config.latent,
            hidden: config.hidden.iter().rev().copied().collect(),
            d_out: feat,
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
            enc_conv,
            dec_conv,
            latent: config.latent,
            likelihood: config.likelihood,
            conv: config.conv.clone(),
            activation: config.activation,
        })
    }

    /// Convolutional features of flattened images (identity for an MLP VAE).
    fn features(&self, x: Tensor<2>) -> Tensor<2> {
        let Some(c) = &self.conv else { return x };
        let [b, _] = x.dims();
        let mut h: Tensor<4> = x.reshape([b, 1, c.height, c.width]);
        for layer in &self.enc_conv {
            h = self.activation.forward(layer.forward(h));
        }
        let [_, ch, hh, ww] = h.dims();
        h.reshape([b, ch * hh * ww])
    }

    /// Decoder output of the MLP part turned into pixels (identity for an MLP VAE).
    fn pixels(&self, f: Tensor<2>) -> Tensor<2> {
        let Some(c) = &self.conv else { return f };
        let [b, _] = f.dims();
        let (ch, hh, ww) = c.bottleneck();
        let mut h: Tensor<4> = self.activation.forward(f).reshape([b, ch, hh, ww]);
        let n = self.dec_conv.len();
        for (i, layer) in self.dec_conv.iter().enumerate() {
            h = layer.forward(upsample_nearest(h, 2));
            if i + 1 < n {
                h = self.activation.forward(h);
            }
        }
        h.reshape([b, c.height * c.width])
    }

    /// q_φ(z | x): returns (μ, log σ²), each `[batch, L]`.
    pub fn encode(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = self.encoder.forward(self.features(x));
        let l = self.latent;
        let mu = h.clone().narrow(1, 0, l);
        let logvar = h.narrow(1, l, l).clamp(LOGVAR_RANGE.0, LOGVAR_RANGE.1);
        (mu, logvar)
    }

    /// Decoder output η_θ(z) (`[batch, D]`): logits (Bernoulli) or means (Gaussian).
    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        self.pixels(self.decoder.forward(z))
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
        observation_log_prob(
            self.likelihood,
            self.log_var.as_ref().map(|p| p.val()),
            x,
            out,
        )
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

/// log p_θ(x | out) per row for the observation model `likelihood`, from the
/// decoder output `out` (logits or means); `learned_log_var` holds the
/// per-pixel log σ_d² of a learned-variance Gaussian (`[D]`).
///
/// # Shapes
/// - `x`, `out`: `[batch, D]` → `[batch]`
pub fn observation_log_prob(
    likelihood: Likelihood,
    learned_log_var: Option<Tensor<1>>,
    x: Tensor<2>,
    out: Tensor<2>,
) -> Tensor<1> {
    match likelihood {
        Likelihood::Bernoulli => bernoulli_log_prob(x, out),
        Likelihood::Gaussian { log_var, .. } => {
            let [b, d] = out.dims();
            match learned_log_var {
                Some(lv) => {
                    let lv = lv.unsqueeze_dim::<2>(0).expand([b, d]);
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

/// Σ_d [x_d ℓ_d − softplus(ℓ_d)] = Σ_d log Bernoulli(x_d; σ(ℓ_d)), per row:
/// minus the summed (stable) binary cross-entropy with logits.
///
/// # Shapes
/// - `x`, `logits`: `[batch, D]` → `[batch]`
pub fn bernoulli_log_prob(x: Tensor<2>, logits: Tensor<2>) -> Tensor<1> {
    bce_with_logits(logits, x).neg().sum_dim(1).squeeze_dim(1)
}

/// KL(N(μ, diag σ²) ‖ N(0, I)) per latent dimension (gen-core's).
pub use gen_core::nn::ops::kl_diag_normal_standard_per_dim as kl_per_dim;
