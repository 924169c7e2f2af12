//! The DDPM model: a denoising network (an MLP for vectors, a U-Net for
//! images), its training step, EMA, sampling, the bound, DDIM inversion and
//! checkpoints. The schedule, samplers and bound see the network only
//! through the [`Denoiser`] interface on host rows, so both architectures
//! share them; an image is one row of C·H·W values (channel major).
//!
//! # Networks
//!
//! [`DdpmConfig::arch`] chooses the denoiser. [`DenoiserArch::UNet`] is the
//! U-Net of [`crate::unet`] for images (data in [−1, 1]; see
//! [`DdpmConfig::image`]). [`DenoiserArch::Mlp`], the default, is
//!
//! out(x_t, t) = MLP([x_t, e(25 x_t,1), …, e(25 x_t,D), e(t)]), with e the
//! sinusoidal embedding (gen-core's, max period 10⁴): of the timestep
//! t ∈ {0, …, T−1} with width `time_dim`, and optionally of every data
//! coordinate scaled by 25 with width `x_embed` (Fourier features against
//! the MLP's spectral bias, as tiny-diffusion's positional input embedding;
//! 0 leaves x raw), and SiLU hidden layers; weights drawn from the host RNG (PyTorch's
//! default initialisation), so one seed gives one model on every device.
//! [`DenoiserArch::AdaLnMlp`] takes the same inputs but feeds [e(t), e(y)]
//! to every residual block through adaLN-Zero modulation
//! ([`crate::adaln_mlp`]); it is the stronger denoiser of latent codes.
//!
//! # One learning step (Ho et al. 2020, Alg. 1)
//!
//! For a batch x₀¹..x₀ⁿ: draw t_i uniform on {0, …, T−1}, then ε_i ~ N(0, I)
//! (both from the run's host RNG, in that order), form
//! x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε and minimise
//!
//! ```text
//! L = (1/n) Σ_i w(t_i) · (1/D) ‖out(x_t, t_i) − target_i‖²
//! ```
//!
//! with the target of the parameterisation (ε, x₀ or v) and w = 1 (simple)
//! or the min-SNR-γ weight ([`crate::param`]); one Adam step, then the EMA
//! of the weights is updated. Sampling, scoring and encoding use the EMA.
//!
//! # Classes and classifier-free guidance (Ho & Salimans 2022)
//!
//! With [`DdpmConfig::classes`] = K the network also takes a class
//! y ∈ {0, …, K−1} or the null class ∅ = K, through a learned table of K + 1
//! embeddings (N(0, 1) entries, as PyTorch's `nn.Embedding`): added to the
//! U-Net's time embedding before its SiLU (diffusers' `class_embedding`), or
//! appended to the MLP's input. A conditional batch carries its labels in
//! its last column (as gen-gan's cGAN); each label is replaced by ∅ with
//! probability p_uncond ([`DdpmConfig::label_dropout`], drawn after t and
//! ε), so one network learns both ε(x_t, y) and ε(x_t, ∅). Guided sampling
//! with weight w uses
//!
//! ```text
//! ε̃(x_t, y) = (1 + w) · ε(x_t, y) − w · ε(x_t, ∅)
//! ```
//!
//! (Ho & Salimans' w; diffusers' `guidance_scale` is 1 + w, so w = 0 is the
//! conditional model alone). The combination is applied to the network's
//! output whatever it predicts (ε, x₀ or v are affine in each other at fixed
//! x_t, so it is the same guidance), as diffusers does.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use gen_core::burn;
use gen_core::checkpoint::{read_json, write_json_atomic};
use gen_core::nn::{
    Activation, Mlp, MlpConfig, TokenEmbedding, TokenEmbeddingConfig, sinusoidal_time_embedding,
};
use gen_core::numerics::standard_normals;
use gen_core::optim::{OptimConfig, Optimized};
use gen_core::tensor::to_vec;
use gen_core::train::{Ema, EmaConfig};
use gen_core::{
    Capabilities, Checkpoint, GenError, Infer, Learn, Matrix, Model, Result, Rng, Sample,
    SampleOptions, Score, ScoreEstimator, ScoreOptions, Scores, StepContext, StepStats,
    TaskSupport, rng_from_seed,
};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::adaln_mlp::AdaLnMlp;
use crate::bound::{BoundTerms, Decoder, variational_bound_with};
use crate::denoiser::Denoiser;
use crate::param::{LossWeighting, Prediction};
use crate::sampler::{self, SamplerKind, SamplerOptions, Spacing, VarianceKind};
use crate::schedule::{NoiseSchedule, ScheduleConfig};
use crate::unet::{UNet, UNetConfig};

/// The model name on the command line.
pub const NAME: &str = "ddpm";

/// Which network denoises (module docs).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DenoiserArch {
    /// The MLP on vectors ([`DdpmConfig::hidden`], `time_dim`, `x_embed`).
    #[default]
    Mlp,
    /// The U-Net on images of [`UNetConfig`]'s shape.
    #[serde(rename = "unet")]
    UNet(UNetConfig),
    /// The residual MLP with adaLN-Zero time conditioning on vectors
    /// ([`crate::adaln_mlp`]): one block per entry of
    /// [`DdpmConfig::hidden`], all of one width.
    #[serde(rename = "adaln_mlp")]
    AdaLnMlp,
}

impl DenoiserArch {
    /// "mlp" or "unet".
    pub fn name(&self) -> &'static str {
        match self {
            Self::Mlp => "mlp",
            Self::UNet(_) => "unet",
            Self::AdaLnMlp => "adaln-mlp",
        }
    }
}

/// Settings of a [`Ddpm`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DdpmConfig {
    /// The noise schedule (β schedule, T, zero terminal SNR).
    pub schedule: ScheduleConfig,
    /// What the network predicts.
    pub prediction: Prediction,
    /// The loss weighting over timesteps.
    pub loss: LossWeighting,
    /// The reverse variance of the bound and of the default ancestral sampler.
    pub variance: VarianceKind,
    /// The denoising network (the MLP when absent from a saved config).
    #[serde(default)]
    pub arch: DenoiserArch,
    /// Hidden widths of the MLP.
    pub hidden: Vec<usize>,
    /// Width of the sinusoidal time embedding (even).
    pub time_dim: usize,
    /// Width of the sinusoidal embedding of each data coordinate (even; 0: none).
    #[serde(default)]
    pub x_embed: usize,
    /// Data width D.
    pub data_dim: usize,
    /// Decay of the EMA of the weights used for sampling and scoring.
    pub ema: Option<f64>,
    /// Grey levels L of discrete data mapped to [−1, 1] by
    /// x ↦ 2k/(L − 1) − 1 (images). Then the bound's decoder L₀ is Ho et
    /// al.'s discretised Gaussian and scores are of the discrete data, and
    /// samplers clip x̂₀ to [−1, 1]. None: continuous data.
    #[serde(default)]
    pub levels: Option<u32>,
    /// Classes K of a class-conditional denoiser (module docs: the batch's
    /// last column holds the label); None: unconditional.
    #[serde(default)]
    pub classes: Option<usize>,
    /// Probability p_uncond that a training label is replaced by the null
    /// class, so the network also learns ε(x_t, ∅) for guidance (Ho &
    /// Salimans use 0.1 or 0.2).
    #[serde(default = "default_label_dropout")]
    pub label_dropout: f64,
}

fn default_label_dropout() -> f64 {
    0.1
}

impl Default for DdpmConfig {
    fn default() -> Self {
        Self {
            schedule: ScheduleConfig::default(),
            prediction: Prediction::Epsilon,
            loss: LossWeighting::Simple,
            variance: VarianceKind::FixedLarge,
            arch: DenoiserArch::Mlp,
            hidden: vec![128, 128, 128],
            time_dim: 64,
            x_embed: 0,
            data_dim: 2,
            ema: Some(0.995),
            levels: None,
            classes: None,
            label_dropout: default_label_dropout(),
        }
    }
}

impl DdpmConfig {
    /// A DDPM of `levels`-level images denoised by `unet` (data in [−1, 1];
    /// the other settings at their defaults).
    pub fn image(unet: UNetConfig, levels: u32) -> Self {
        Self {
            data_dim: unet.data_dim(),
            arch: DenoiserArch::UNet(unet),
            levels: Some(levels),
            ..Self::default()
        }
    }

    /// The U-Net's shape, if the denoiser is one.
    pub fn unet(&self) -> Option<&UNetConfig> {
        match &self.arch {
            DenoiserArch::UNet(u) => Some(u),
            DenoiserArch::Mlp | DenoiserArch::AdaLnMlp => None,
        }
    }

    /// The bound's decoder L₀: discretised for [`DdpmConfig::levels`], else Gaussian.
    pub fn decoder(&self) -> Decoder {
        match self.levels {
            Some(levels) => Decoder::Discretized { levels },
            None => Decoder::Gaussian,
        }
    }

    /// x̂₀ clipping of the samplers: [−1, 1] for discrete data in [−1, 1]
    /// (diffusers' `clip_sample`), none for continuous data.
    pub fn clip_x0(&self) -> Option<f64> {
        self.levels.map(|_| 1.0)
    }

    /// Errors with cause and fix for: a bad schedule or γ, ε-prediction with
    /// zero terminal SNR, zero widths, an odd or zero time embedding, an EMA
    /// decay outside [0, 1), a U-Net whose image is not the data's width or
    /// whose image size it cannot take, fewer than 2 grey levels.
    pub fn validate(&self) -> Result<()> {
        self.schedule.validate()?;
        self.loss.validate()?;
        if self.classes == Some(0) {
            return Err(GenError::config(
                "classes",
                0,
                "a conditional DDPM needs at least one class",
                "give the data set's number of classes (10 for digits and MNIST), or none for an unconditional model",
            ));
        }
        if !(0.0..1.0).contains(&self.label_dropout) {
            return Err(GenError::config(
                "label dropout",
                self.label_dropout,
                "p_uncond is a probability below 1 (at 1 the network never sees a class)",
                "use 0.1 (Ho & Salimans), or 0 for no unconditional model (then no guidance)",
            ));
        }
        if self.schedule.zero_terminal_snr && self.prediction == Prediction::Epsilon {
            Prediction::Epsilon.check_level(0.0)?;
        }
        if let Some(levels) = self.levels
            && levels < 2
        {
            return Err(GenError::config(
                "grey levels",
                levels,
                "discrete data needs at least 2 levels",
                "pass the data set's levels (256 for MNIST, 17 for digits)",
            ));
        }
        if let Some(u) = self.unet() {
            u.validate()?;
            if u.data_dim() != self.data_dim {
                return Err(GenError::shape(
                    "U-Net image",
                    format!("{} values per row", self.data_dim),
                    format!("{}x{}x{} = {}", u.channels, u.height, u.width, u.data_dim()),
                    "give the U-Net the data's channels, height and width",
                ));
            }
            if self.x_embed > 0 {
                return Err(GenError::config(
                    "x_embed",
                    self.x_embed,
                    "the coordinate embedding is the MLP's; the U-Net takes pixels as they are",
                    "use x_embed 0 with the U-Net",
                ));
            }
            if let Some(decay) = self.ema {
                EmaConfig::new(decay).validate()?;
            }
            return Ok(());
        }
        if self.data_dim == 0 || self.hidden.is_empty() || self.hidden.contains(&0) {
            return Err(GenError::config(
                "ddpm widths",
                format!("hidden {:?}, data_dim {}", self.hidden, self.data_dim),
                "every width must be positive and there must be at least one hidden layer",
                "use hidden [128, 128, 128] and data_dim 2 for the 2-D toys",
            ));
        }
        if self.arch == DenoiserArch::AdaLnMlp && self.hidden.iter().any(|w| *w != self.hidden[0]) {
            return Err(GenError::config(
                "ddpm widths",
                format!("{:?}", self.hidden),
                "the adaLN MLP's blocks are residual, so every block has the stream's one width",
                "give one width per block, all equal, e.g. 512,512,512,512",
            ));
        }
        if self.time_dim < 2 || !self.time_dim.is_multiple_of(2) {
            return Err(GenError::config(
                "time_dim",
                self.time_dim,
                "the sinusoidal embedding has a sine and a cosine per frequency",
                "use an even width ≥ 2, e.g. 64",
            ));
        }
        if !self.x_embed.is_multiple_of(2) {
            return Err(GenError::config(
                "x_embed",
                self.x_embed,
                "the sinusoidal embedding has a sine and a cosine per frequency",
                "use an even width, e.g. 32, or 0 for raw inputs",
            ));
        }
        if let Some(decay) = self.ema {
            EmaConfig::new(decay).validate()?;
        }
        Ok(())
    }

    /// The sampler `genlab sample` uses without options: ancestral DDPM over
    /// all T steps with this config's variance and x̂₀ clipping
    /// ([`DdpmConfig::clip_x0`]).
    pub fn default_sampler(&self) -> SamplerOptions {
        SamplerOptions {
            variance: self.variance,
            clip_x0: self.clip_x0(),
            ..SamplerOptions::of(SamplerKind::Ddpm)
        }
    }
}

/// The denoising network (module docs): an MLP or a U-Net, as
/// [`DdpmConfig::arch`] says; exactly one of `mlp` and `unet` is present.
/// (The MLP keeps its field name, so checkpoints of MLP runs written before
/// the U-Net existed still load.)
#[derive(Module, Debug)]
pub struct DenoiserNet {
    /// [x_t, e(x_t), e(t)] → output (vector data).
    pub mlp: Option<Mlp>,
    /// The U-Net (images).
    pub unet: Option<UNet>,
    /// The adaLN residual MLP (vectors): x features, [e(t), e(y)] → output.
    pub adaln: Option<AdaLnMlp>,
    /// Width of the MLP's time embedding.
    #[module(skip)]
    pub time_dim: usize,
    /// Width of each coordinate's embedding (0: none).
    #[module(skip)]
    pub x_embed: usize,
    /// The K + 1 class embeddings of a conditional network (the last is ∅).
    pub class_embed: Option<TokenEmbedding>,
}

/// The scale of the data coordinates before their sinusoidal embedding.
pub const X_EMBED_SCALE: f64 = 25.0;

impl DenoiserNet {
    /// The network of `config` with weights drawn from `rng` (PyTorch's
    /// default initialisation, in a fixed order).
    pub fn new(config: &DdpmConfig, rng: &mut Rng, device: &Device) -> Result<Self> {
        let (mut mlp, mut unet, mut adaln) = (None, None, None);
        // The MLPs' conditioning: e(t), and e(y) of the same width when conditional.
        let cond_width = config.time_dim + config.classes.map_or(0, |_| config.time_dim);
        let x_width = config.data_dim * (1 + config.x_embed);
        match &config.arch {
            DenoiserArch::Mlp => {
                let m = MlpConfig {
                    d_in: x_width + cond_width,
                    hidden: config.hidden.clone(),
                    d_out: config.data_dim,
                    activation: Activation::Silu,
                    zero_last: false,
                }
                .init(rng, device)?;
                mlp = Some(m);
            }
            DenoiserArch::UNet(u) => unet = Some(u.init(rng, device)?),
            DenoiserArch::AdaLnMlp => {
                adaln = Some(AdaLnMlp::new(
                    x_width,
                    cond_width,
                    config.data_dim,
                    config.hidden[0],
                    config.hidden.len(),
                    rng,
                    device,
                ));
            }
        }
        // Drawn after the network, so an unconditional seed gives the same weights.
        let class_embed = match config.classes {
            Some(k) => {
                let width = match &unet {
                    Some(u) => u.config.time_embed_width(),
                    None => config.time_dim,
                };
                Some(
                    TokenEmbeddingConfig {
                        vocab: k + 1,
                        d_model: width,
                        std: 1.0,
                    }
                    .init(rng, device)?,
                )
            }
            None => None,
        };
        Ok(Self {
            mlp,
            unet,
            adaln,
            time_dim: config.time_dim,
            x_embed: config.x_embed,
            class_embed,
        })
    }

    /// Classes K of a conditional network (None: unconditional).
    pub fn classes(&self) -> Option<usize> {
        self.class_embed.as_ref().map(|e| e.vocab() - 1)
    }

    /// The class embeddings of `labels` (values in 0..=K, K the null
    /// class ∅), or of ∅ for every row when `labels` is None; None for an
    /// unconditional network.
    ///
    /// # Shapes
    /// - `labels`: n values → `[n, width]`
    fn class_embedding(
        &self,
        labels: Option<&[usize]>,
        n: usize,
        device: &Device,
    ) -> Option<Tensor<2>> {
        let table = self.class_embed.as_ref()?;
        let null = table.vocab() - 1;
        let ids: Vec<i64> = match labels {
            Some(l) => l.iter().map(|&c| c.min(null) as i64).collect(),
            None => vec![null as i64; n],
        };
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [n, 1]), device);
        Some(table.forward(ids).reshape([n, table.d_model()]))
    }

    /// Rows per network call when sampling and scoring: 8192 vectors, or as
    /// many images as keep one full-resolution feature map of the U-Net
    /// (C·H·W·c₀ values per image) within 2²² values (2048 8 × 8 images at
    /// c₀ = 32, 334 of 28 × 28 at c₀ = 16), at least 16.
    pub fn rows_per_call(&self) -> usize {
        match &self.unet {
            Some(u) => (1 << 22) / u.config.data_dim().max(1) / u.config.widths[0].max(1),
            None => ROWS_PER_CALL,
        }
        .clamp(16, ROWS_PER_CALL)
    }

    /// # Shapes
    /// - `x`: `[batch, D]`, `t`: `[batch]` → `[batch, D]` (an image is a row
    ///   of D = C·H·W values)
    pub fn forward(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        self.forward_with_classes(x, t, None)
    }

    /// The network of a conditional model at classes `labels` (0..K, or K
    /// for ∅; None: ∅ for every row); an unconditional network ignores them.
    ///
    /// # Shapes
    /// - `x`: `[batch, D]`, `t`: `[batch]`, `labels`: batch values → `[batch, D]`
    pub fn forward_with_classes(
        &self,
        x: Tensor<2>,
        t: Tensor<1>,
        labels: Option<&[usize]>,
    ) -> Tensor<2> {
        let [n, _] = x.dims();
        let class = self.class_embedding(labels, n, &x.device());
        if let Some(u) = &self.unet {
            return u.forward_conditioned(x, t, class);
        }
        let [n, d] = x.dims();
        let mut parts = vec![x.clone()];
        if self.x_embed > 0 {
            for j in 0..d {
                let col = x.clone().slice([0..n, j..j + 1]).reshape([n]);
                parts.push(sinusoidal_time_embedding(
                    col.mul_scalar(X_EMBED_SCALE),
                    self.x_embed,
                    10_000.0,
                ));
            }
        }
        let temb = sinusoidal_time_embedding(t, self.time_dim, 10_000.0);
        if let Some(net) = &self.adaln {
            let cond = match class {
                Some(c) => Tensor::cat(vec![temb, c], 1),
                None => temb,
            };
            return net.forward(Tensor::cat(parts, 1), cond);
        }
        parts.push(temb);
        parts.extend(class);
        self.mlp
            .as_ref()
            .expect("a DenoiserNet holds an MLP, a U-Net or an adaLN MLP")
            .forward(Tensor::cat(parts, 1))
    }

    /// The output and, per row, the trace of its Jacobian with respect to
    /// x, tr(∂out/∂x), exactly: forward-mode tangents e_1 … e_D through the
    /// input features (x, the sinusoidal features of 25·x, which have
    /// derivative 25·f·(cos, −sin), and e(t), which has none) and the MLP
    /// ([`Mlp::forward_jvp`]). For the probability-flow ODE likelihood.
    ///
    /// The MLP only: the U-Net refuses (its trace would take D = C·H·W
    /// tangents per row).
    ///
    /// # Shapes
    /// - `x`: `[batch, D]`, `t`: `[batch]` → (`[batch, D]`, `[batch]`)
    pub fn forward_trace(&self, x: Tensor<2>, t: Tensor<1>) -> Result<(Tensor<2>, Tensor<1>)> {
        let Some(mlp) = &self.mlp else {
            return Err(GenError::config(
                "--estimator ode",
                if self.unet.is_some() {
                    "a U-Net denoiser"
                } else {
                    "an adaLN MLP denoiser"
                },
                "the exact trace needs one forward-mode tangent per data coordinate, C·H·W per image",
                "score image runs with the variational bound (the default estimator)",
            ));
        };
        let [n, d] = x.dims();
        let device = x.device();
        let eye = Tensor::<2>::eye(d, &device);
        // Tangent of the raw coordinates: row j of each [D, ·] block is e_j.
        let mut blocks = vec![eye.clone().unsqueeze_dim::<3>(0).repeat_dim(0, n)];
        let mut inputs = vec![x.clone()];
        if self.x_embed > 0 {
            let half = (self.x_embed / 2).max(1);
            let freqs: Vec<f32> = (0..half)
                .map(|i| 10_000f64.powf(-(i as f64) / half as f64) as f32)
                .collect();
            let f = Tensor::<1>::from_data(TensorData::new(freqs, [half]), &device)
                .unsqueeze_dim::<2>(0);
            for j in 0..d {
                let col = x.clone().slice([0..n, j..j + 1]).reshape([n]);
                inputs.push(sinusoidal_time_embedding(
                    col.clone().mul_scalar(X_EMBED_SCALE),
                    self.x_embed,
                    10_000.0,
                ));
                let args = col.mul_scalar(X_EMBED_SCALE).unsqueeze_dim::<2>(1) * f.clone();
                let scaled = f.clone().mul_scalar(X_EMBED_SCALE);
                let deriv = Tensor::cat(
                    vec![
                        args.clone().cos() * scaled.clone(),
                        args.sin().neg() * scaled,
                    ],
                    1,
                );
                // Only direction j moves this block.
                let onehot = eye.clone().slice([j..j + 1, 0..d]).reshape([1, d, 1]);
                blocks.push(deriv.unsqueeze_dim::<3>(1) * onehot);
            }
        }
        let temb = sinusoidal_time_embedding(t, self.time_dim, 10_000.0);
        let width = temb.dims()[1];
        inputs.push(temb);
        blocks.push(Tensor::<3>::zeros([n, d, width], &device));
        // A conditional MLP's likelihood is of its unconditional model, ∅.
        if let Some(class) = self.class_embedding(None, n, &device) {
            let width = class.dims()[1];
            inputs.push(class);
            blocks.push(Tensor::<3>::zeros([n, d, width], &device));
        }
        let (out, jv) = mlp.forward_jvp(Tensor::cat(inputs, 1), Tensor::cat(blocks, 2));
        // jv[:, j, k] = ∂out_k/∂x_j; the trace sums k = j.
        let trace = (jv * eye.unsqueeze_dim::<3>(0))
            .sum_dim(2)
            .sum_dim(1)
            .reshape([n]);
        Ok((out, trace))
    }

    /// Every float parameter in visiting order (for the MLP: layer by
    /// layer, weight then bias); for tests and parity checks.
    pub fn weights(&self) -> Result<Vec<f32>> {
        gen_core::distributed::flatten_params(self)
    }
}

/// Fixed-point iterations per step of [`Ddpm::encode`].
pub const ENCODE_REFINE: usize = 2;

/// Rows per network call when sampling and scoring.
const ROWS_PER_CALL: usize = 8192;

/// A network as a [`Denoiser`] on host rows (no autodiff). For a
/// conditional network: at the null class ∅, or at one class per row with
/// guidance weight w (module docs).
#[derive(Debug, Clone)]
pub struct NetDenoiser {
    net: DenoiserNet,
    device: Device,
    prediction: Prediction,
    labels: Option<Vec<usize>>,
    guidance: f64,
}

impl NetDenoiser {
    /// Rows `range` of the row-major `xs` (width `d`) as a tensor on the device.
    fn rows_tensor(
        &self,
        xs: &[f32],
        d: usize,
        range: std::ops::Range<usize>,
    ) -> (usize, Tensor<2>) {
        let rows = range.len();
        let data = xs[range.start * d..range.end * d].to_vec();
        (
            rows,
            Tensor::from_data(TensorData::new(data, [rows, d]), &self.device),
        )
    }
}

impl Denoiser for NetDenoiser {
    fn prediction(&self) -> Prediction {
        self.prediction
    }

    fn predict(&self, x: &Matrix, t: &[usize]) -> Result<Matrix> {
        let (n, d) = x.shape();
        if t.len() != n {
            return Err(GenError::shape(
                "denoiser timesteps",
                n,
                t.len(),
                "pass one timestep per row",
            ));
        }
        if let Some(l) = &self.labels
            && l.len() != n
        {
            return Err(GenError::shape(
                "guided denoiser rows",
                l.len(),
                n,
                "a class-conditional denoiser is called with the rows it was built for, one class each",
            ));
        }
        let mut out = Vec::with_capacity(n * d);
        let xs = x.to_f32();
        let per_call = self.net.rows_per_call();
        for start in (0..n).step_by(per_call) {
            let end = (start + per_call).min(n);
            let (rows, xt) = self.rows_tensor(&xs, d, start..end);
            let tv: Vec<f32> = t[start..end].iter().map(|v| *v as f32).collect();
            let tt = Tensor::<1>::from_data(TensorData::new(tv, [rows]), &self.device);
            let labels = self.labels.as_ref().map(|l| &l[start..end]);
            let mut o = self
                .net
                .forward_with_classes(xt.clone(), tt.clone(), labels);
            if labels.is_some() && self.guidance != 0.0 {
                // (1 + w)·out(x, y) − w·out(x, ∅)
                let w = self.guidance;
                let u = self.net.forward_with_classes(xt, tt, None);
                o = o.mul_scalar(1.0 + w) - u.mul_scalar(w);
            }
            out.extend(to_vec(o)?.into_iter().map(f64::from));
        }
        Matrix::new(n, d, out)
    }
}

impl crate::likelihood::TraceDenoiser for NetDenoiser {
    fn prediction(&self) -> Prediction {
        self.prediction
    }

    fn predict_with_trace(
        &self,
        x: &Matrix,
        t: f64,
        _alpha_bar: f64,
    ) -> Result<(Matrix, Vec<f64>)> {
        let (n, d) = x.shape();
        let xs = x.to_f32();
        let (mut out, mut trace) = (Vec::with_capacity(n * d), Vec::with_capacity(n));
        let per_call = self.net.rows_per_call();
        for start in (0..n).step_by(per_call) {
            let end = (start + per_call).min(n);
            let (rows, xt) = self.rows_tensor(&xs, d, start..end);
            let tt =
                Tensor::<1>::from_data(TensorData::new(vec![t as f32; rows], [rows]), &self.device);
            let (o, tr) = self.net.forward_trace(xt, tt)?;
            out.extend(to_vec(o)?.into_iter().map(f64::from));
            trace.extend(to_vec(tr)?.into_iter().map(f64::from));
        }
        Ok((Matrix::new(n, d, out)?, trace))
    }
}

/// A denoising diffusion probabilistic model (module docs).
#[derive(Debug)]
pub struct Ddpm {
    config: DdpmConfig,
    schedule: NoiseSchedule,
    net: Optimized<DenoiserNet>,
    ema: Option<Ema<DenoiserNet>>,
    /// Training device (autodiff).
    device: Device,
}

impl Ddpm {
    /// A new model on `device` (autodiff is added for training) with weights
    /// drawn from `seed`.
    pub fn new(config: DdpmConfig, device: &Device, seed: u64) -> Result<Self> {
        config.validate()?;
        let schedule = NoiseSchedule::new(config.schedule)?;
        let train = device.clone().autodiff();
        let net = DenoiserNet::new(&config, &mut rng_from_seed(seed), &train)?;
        let ema = config
            .ema
            .map(|decay| Ema::new(&net, EmaConfig::new(decay)))
            .transpose()?;
        Ok(Self {
            net: Optimized::new(net, &OptimConfig::default()),
            config,
            schedule,
            ema,
            device: train,
        })
    }

    /// The settings.
    pub fn config(&self) -> &DdpmConfig {
        &self.config
    }

    /// The noise schedule.
    pub fn schedule(&self) -> &NoiseSchedule {
        &self.schedule
    }

    /// The live network with its optimiser.
    pub fn net(&self) -> &Optimized<DenoiserNet> {
        &self.net
    }

    /// The EMA of the weights, if configured.
    pub fn ema(&self) -> Option<&Ema<DenoiserNet>> {
        self.ema.as_ref()
    }

    /// The denoiser sampling and scoring use: the EMA when configured, else
    /// the live weights, without autodiff.
    pub fn denoiser(&self) -> NetDenoiser {
        let net = match &self.ema {
            Some(e) => e.model().clone(),
            None => self.net.model.valid(),
        };
        NetDenoiser {
            net,
            device: self.device.clone().inner(),
            prediction: self.config.prediction,
            labels: None,
            guidance: 0.0,
        }
    }

    /// Classes K of a conditional model (None: unconditional).
    pub fn classes(&self) -> Option<usize> {
        self.config.classes
    }

    /// The sampling denoiser at class `labels[i]` for row i with
    /// classifier-free guidance weight `guidance` = w ≥ 0 (module docs;
    /// w = 0: the conditional model alone). Errors, with the fix, for an
    /// unconditional model, a class out of range, a negative or non-finite
    /// w, and w > 0 on a model trained without label dropout (it has no
    /// unconditional ε(x_t, ∅) to guide away from).
    pub fn guided_denoiser(&self, labels: &[usize], guidance: f64) -> Result<NetDenoiser> {
        let Some(k) = self.config.classes else {
            return Err(GenError::config(
                "class",
                format!("{} labels", labels.len()),
                "this DDPM is unconditional: it takes no class and no guidance weight",
                "sample without a class and guidance, or train with classes (genlab train ddpm --conditional)",
            ));
        };
        if let Some(&c) = labels.iter().find(|&&c| c >= k) {
            return Err(GenError::config(
                "class",
                c,
                format!("the model has {k} classes, 0..={}", k - 1),
                format!("give a class between 0 and {}", k - 1),
            ));
        }
        if !(guidance.is_finite() && guidance >= 0.0) {
            return Err(GenError::config(
                "guidance weight w",
                guidance,
                "w is Ho & Salimans' weight, (1 + w)·ε(x, y) − w·ε(x, ∅), a finite number ≥ 0",
                "use w = 0 (the conditional model alone) up to about 4; diffusers' guidance_scale s is w = s − 1",
            ));
        }
        if guidance > 0.0 && self.config.label_dropout == 0.0 {
            return Err(GenError::config(
                "guidance weight w",
                guidance,
                "the model was trained with label dropout 0, so its unconditional ε(x, ∅) was never learned",
                "sample with w = 0, or train with label dropout (e.g. 0.1)",
            ));
        }
        Ok(NetDenoiser {
            labels: Some(labels.to_vec()),
            guidance,
            ..self.denoiser()
        })
    }

    /// One sample per entry of `labels`, of that class, with guidance
    /// weight `guidance` ([`Ddpm::guided_denoiser`]) and sampler `opts`.
    pub fn sample_guided(
        &self,
        labels: &[usize],
        guidance: f64,
        opts: &SamplerOptions,
        rng: &mut Rng,
    ) -> Result<Matrix> {
        opts.validate(self.schedule.steps())?;
        let den = self.guided_denoiser(labels, guidance)?;
        let x_t =
            sampler::initial_noise(labels.len(), self.config.data_dim, opts.temperature, rng)?;
        // Guidance pushes x̂₀ past the clipping range; a DDIM step that kept
        // the unclipped ε̃ would then leave the data range (grey, noisy
        // samples from w ≈ 1 on digits), so ε̃ is re-derived from the
        // clipped x̂₀, as GLIDE and diffusers' guided pipelines do.
        let opts = SamplerOptions {
            clipped_eps: opts.clipped_eps || guidance > 0.0,
            ..*opts
        };
        sampler::sample(&den, &self.schedule, &opts, x_t, rng)
    }

    /// A batch's data columns and, for a conditional model, the class
    /// labels of its last column (checked to be integers in 0..K).
    pub fn split_labels(&self, batch: &Matrix) -> Result<(Matrix, Option<Vec<usize>>)> {
        let Some(k) = self.config.classes else {
            return Ok((batch.clone(), None));
        };
        let d = self.config.data_dim;
        batch.ensure_cols(
            d + 1,
            "conditional DDPM batch (data columns, then the class)",
        )?;
        let mut x = Vec::with_capacity(batch.rows() * d);
        let mut labels = Vec::with_capacity(batch.rows());
        for r in batch.iter_rows() {
            let y = r[d];
            if !(y.fract() == 0.0 && y >= 0.0 && (y as usize) < k) {
                return Err(GenError::config(
                    "class",
                    y,
                    format!(
                        "a conditional DDPM batch holds the class in its last column, an integer in 0..={}",
                        k - 1
                    ),
                    format!("give classes between 0 and {}", k - 1),
                ));
            }
            x.extend_from_slice(&r[..d]);
            labels.push(y as usize);
        }
        Ok((Matrix::new(batch.rows(), d, x)?, Some(labels)))
    }

    fn check_rows(&self, x: &Matrix, context: &str) -> Result<()> {
        x.ensure_cols(self.config.data_dim, context)?;
        x.ensure_finite(context)
    }

    /// One learning step (module docs); returns the loss.
    pub fn step(&mut self, batch: &Matrix, ctx: &mut StepContext<'_>) -> Result<f64> {
        let (batch, labels) = self.split_labels(batch)?;
        let batch = &batch;
        self.check_rows(batch, "DDPM training batch")?;
        let (n, d) = batch.shape();
        if n == 0 {
            return Err(GenError::input(
                "DDPM training batch",
                "0 rows",
                "use batches of at least 1 row (typically 256 to 1024)",
            ));
        }
        let big_t = self.schedule.steps();
        let ts: Vec<usize> = (0..n).map(|_| ctx.rng.random_range(0..big_t)).collect();
        let eps = standard_normals(n * d, ctx.rng);
        // Label dropout: ∅ (= K) with probability p_uncond, drawn after t and ε.
        let labels = labels.map(|l| {
            let (k, p) = (self.config.classes.unwrap_or(0), self.config.label_dropout);
            l.into_iter()
                .map(|y| if ctx.rng.random::<f64>() < p { k } else { y })
                .collect::<Vec<_>>()
        });
        let (p, w) = (self.config.prediction, self.config.loss);
        let mut xt = Vec::with_capacity(n * d);
        let mut target = Vec::with_capacity(n * d);
        let mut weight = Vec::with_capacity(n);
        for (i, &t) in ts.iter().enumerate() {
            let ab = self.schedule.alpha_bar(t);
            let (m, s) = (ab.sqrt(), (1.0 - ab).sqrt());
            for j in 0..d {
                let (x0, e) = (batch.get(i, j), eps[i * d + j]);
                xt.push((m * x0 + s * e) as f32);
                target.push(p.target(x0, e, ab) as f32);
            }
            weight.push(w.weight(p, self.schedule.snr(t)) as f32);
        }
        let dev = &self.device;
        let xt = Tensor::<2>::from_data(TensorData::new(xt, [n, d]), dev);
        let target = Tensor::<2>::from_data(TensorData::new(target, [n, d]), dev);
        let weight = Tensor::<1>::from_data(TensorData::new(weight, [n]), dev);
        let tt: Vec<f32> = ts.iter().map(|t| *t as f32).collect();
        let tt = Tensor::<1>::from_data(TensorData::new(tt, [n]), dev);
        let out = self
            .net
            .model
            .forward_with_classes(xt, tt, labels.as_deref());
        let per_row = (out - target).powi_scalar(2).mean_dim(1).reshape([n]);
        let loss = (per_row * weight).mean();
        let value = self.net.step(loss, ctx.lr)?;
        if value.is_finite()
            && let Some(ema) = &mut self.ema
        {
            ema.update(&self.net.model)?;
        }
        Ok(value)
    }

    /// `n` samples with sampler `opts` (x_T ~ N(0, τ² I), τ = its temperature).
    pub fn sample_with(&self, n: usize, opts: &SamplerOptions, rng: &mut Rng) -> Result<Matrix> {
        opts.validate(self.schedule.steps())?;
        let x_t = sampler::initial_noise(n, self.config.data_dim, opts.temperature, rng)?;
        sampler::sample(&self.denoiser(), &self.schedule, opts, x_t, rng)
    }

    /// Γ_t = E‖ε̂(x_t, t)‖²/D of the sampling network at the grid of `opts`
    /// over the data rows `x0` (the model's scale), for DDIM's analytic
    /// variance ([`sampler::score_moments`]). A conditional model takes the
    /// rows' `labels` and is asked at those classes (w = 0).
    pub fn score_moments(
        &self,
        x0: &Matrix,
        labels: Option<&[usize]>,
        opts: &SamplerOptions,
        rng: &mut Rng,
    ) -> Result<sampler::ScoreMoments> {
        self.check_rows(x0, "score moments data")?;
        match (labels, self.config.classes) {
            (Some(l), Some(_)) => {
                if l.len() != x0.rows() {
                    return Err(GenError::shape(
                        "score moments labels",
                        x0.rows(),
                        l.len(),
                        "give one class per data row",
                    ));
                }
                let den = self.guided_denoiser(l, 0.0)?;
                sampler::score_moments(&den, &self.schedule, opts, x0, rng)
            }
            (None, None) => sampler::score_moments(&self.denoiser(), &self.schedule, opts, x0, rng),
            (None, Some(k)) => Err(GenError::config(
                "score moments labels",
                "none",
                format!(
                    "this DDPM is conditional on {k} classes; Γ_t is of ε̂ at each row's own class"
                ),
                "pass the data rows' labels",
            )),
            (Some(_), None) => Err(GenError::config(
                "score moments labels",
                "labels",
                "this DDPM is unconditional: it takes no classes",
                "pass no labels",
            )),
        }
    }

    /// `n` samples of DDIM (steps, η, spacing of `opts`) with the analytic
    /// variance of Bao et al. ([`sampler::sample_analytic`]), Γ_t from
    /// `moments`; a conditional model draws at classes `labels` (w = 0,
    /// the model Γ_t was estimated of).
    pub fn sample_analytic(
        &self,
        n: usize,
        labels: Option<&[usize]>,
        opts: &SamplerOptions,
        moments: &sampler::ScoreMoments,
        rng: &mut Rng,
    ) -> Result<Matrix> {
        opts.validate(self.schedule.steps())?;
        if let Some(l) = labels.filter(|l| l.len() != n) {
            return Err(GenError::shape(
                "sample classes",
                n,
                l.len(),
                "give one class per sample",
            ));
        }
        let x_t = sampler::initial_noise(n, self.config.data_dim, opts.temperature, rng)?;
        match labels {
            Some(l) => {
                let den = self.guided_denoiser(l, 0.0)?;
                sampler::sample_analytic(&den, &self.schedule, opts, moments, x_t, rng)
            }
            None if self.config.classes.is_none() => {
                sampler::sample_analytic(&self.denoiser(), &self.schedule, opts, moments, x_t, rng)
            }
            None => Err(GenError::config(
                "class",
                "none",
                "this DDPM is conditional: each sample needs a class",
                "pass the classes to draw (e.g. 0..K−1 in turn)",
            )),
        }
    }

    /// Per row, −ln p(x) in nats under the probability-flow ODE of the
    /// sampling network (EMA when configured), with `steps` RK4 steps
    /// ([`crate::likelihood::ode_nll`]; at least 10).
    pub fn ode_nll(&self, x: &Matrix, steps: usize) -> Result<Vec<f64>> {
        self.check_rows(x, "ODE likelihood")?;
        if self.config.unet().is_some() {
            return Err(GenError::config(
                "--estimator ode",
                "a U-Net denoiser",
                "the exact trace needs one forward-mode tangent per data coordinate, C·H·W per image",
                "score image runs with the variational bound (the default estimator)",
            ));
        }
        if self.config.arch == DenoiserArch::AdaLnMlp {
            return Err(GenError::config(
                "--estimator ode",
                "an adaLN MLP denoiser",
                "the exact trace is implemented for the plain MLP only (forward-mode tangents through its layers)",
                "score with the variational bound (the default estimator), or train with --diffusion-arch mlp",
            ));
        }
        if steps < 10 {
            return Err(GenError::config(
                "ODE steps (--k)",
                steps,
                "too few RK4 steps for an accurate likelihood",
                "pass --k 100 (2-D toys converge by 50-100)",
            ));
        }
        crate::likelihood::ode_nll(&self.denoiser(), &self.schedule, x, steps)
    }

    /// The terms of the variational bound of every row (x_t draws seeded by
    /// `seed`), in nats per row; with [`DdpmConfig::levels`] the decoder is
    /// the discretised Gaussian and the rows must lie on the data's grid in
    /// [−1, 1] ([`crate::bound`]).
    pub fn bound(&self, x: &Matrix, seed: u64) -> Result<BoundTerms> {
        self.check_rows(x, "DDPM bound")?;
        variational_bound_with(
            &self.denoiser(),
            &self.schedule,
            self.config.variance,
            self.config.decoder(),
            x,
            &mut rng_from_seed(seed),
        )
    }

    /// The bound in bits per dimension of every row:
    /// [`Ddpm::bound`]'s total / (D ln 2).
    pub fn bound_bits_per_dim(&self, x: &Matrix, seed: u64) -> Result<Vec<f64>> {
        let d = self.config.data_dim as f64 * std::f64::consts::LN_2;
        Ok(self
            .bound(x, seed)?
            .nll()
            .into_iter()
            .map(|v| v / d)
            .collect())
    }

    /// `n` samples with sampler `opts` and the states x_t along the way:
    /// `frames` (≥ 2) snapshots, the first x_T, the last the sample, the
    /// others at evenly spaced steps of the grid, each labelled with its
    /// timestep (None: the final sample).
    pub fn sample_trajectory(
        &self,
        n: usize,
        opts: &SamplerOptions,
        frames: usize,
        rng: &mut Rng,
    ) -> Result<Vec<(Option<usize>, Matrix)>> {
        self.sample_trajectory_with(&self.denoiser(), n, opts, frames, rng)
    }

    /// [`Ddpm::sample_trajectory`] with denoiser `den` (e.g. a
    /// [`Ddpm::guided_denoiser`] built for `n` rows).
    pub fn sample_trajectory_with(
        &self,
        den: &NetDenoiser,
        n: usize,
        opts: &SamplerOptions,
        frames: usize,
        rng: &mut Rng,
    ) -> Result<Vec<(Option<usize>, Matrix)>> {
        opts.validate(self.schedule.steps())?;
        if frames < 2 {
            return Err(GenError::config(
                "trajectory frames",
                frames,
                "a trajectory shows at least x_T and the sample",
                "use 2 or more frames, e.g. 10",
            ));
        }
        let grid_len = sampler::timesteps(
            self.schedule.steps(),
            opts.grid_steps(self.schedule.steps()),
            opts.spacing,
        )?
        .len();
        // Grid positions 0..grid_len are states before each step; grid_len is the sample.
        let keep: Vec<usize> = (0..frames)
            .map(|f| (f * grid_len + (frames - 1) / 2) / (frames - 1))
            .collect();
        let x_t = sampler::initial_noise(n, self.config.data_dim, opts.temperature, rng)?;
        let mut out = Vec::with_capacity(frames);
        let mut pos = 0;
        let mut observe = |t: Option<usize>, x: &Matrix| {
            if keep.contains(&pos) {
                out.push((t, x.clone()));
            }
            pos += 1;
        };
        sampler::sample_observed(den, &self.schedule, opts, x_t, rng, &mut observe)?;
        Ok(out)
    }

    /// DDIM inversion of every row to x_T over `steps` trailing grid steps,
    /// each refined by [`ENCODE_REFINE`] fixed-point iterations
    /// ([`sampler::ddim_invert`]).
    pub fn encode(&self, x: &Matrix, steps: usize) -> Result<Matrix> {
        self.check_rows(x, "DDPM encode")?;
        sampler::ddim_invert(
            &self.denoiser(),
            &self.schedule,
            steps,
            Spacing::Trailing,
            x,
            ENCODE_REFINE,
        )
    }

    /// DDIM (η = 0) decoding of x_T over `steps` trailing grid steps: the
    /// inverse of [`Ddpm::encode`].
    pub fn decode(&self, z: &Matrix, steps: usize) -> Result<Matrix> {
        self.check_rows(z, "DDPM decode")?;
        let opts = SamplerOptions {
            steps: Some(steps),
            ..SamplerOptions::of(SamplerKind::Ddim)
        };
        sampler::sample(
            &self.denoiser(),
            &self.schedule,
            &opts,
            z.clone(),
            &mut rng_from_seed(0),
        )
    }
}

/// The capability row of the DDPM.
pub fn capabilities_row() -> Capabilities {
    Capabilities {
        model: NAME,
        family: "diffusion",
        learn: TaskSupport::approximate(
            "Adam on the denoising loss (simple or min-SNR-γ; a reweighted variational bound)",
        ),
        score: TaskSupport::approximate(
            "variational bound (fixed reverse variance), T network passes per row; images: discretised decoder, a bound on the discrete log-probability",
        ),
        sample: TaskSupport::exact(
            "ancestral, T sequential network passes; DDIM / ODE / Langevin with fewer",
        ),
        infer: TaskSupport::approximate(
            "~ DDIM inversion x₀ → x_T (deterministic, up to discretisation)",
        ),
    }
}

impl Model for Ddpm {
    fn capabilities(&self) -> Capabilities {
        capabilities_row()
    }
}

impl Learn for Ddpm {
    type Batch = Matrix;
    /// Rows split evenly over the ranks (data-parallel training).
    fn shard_batch(&self, batch: &Matrix, rank: usize, size: usize) -> Result<Matrix> {
        batch.shard_rows(rank, size)
    }

    /// `loss`: the weighted denoising loss.
    fn learn_step(&mut self, batch: &Matrix, ctx: &mut StepContext<'_>) -> Result<StepStats> {
        Ok(StepStats::loss(self.step(batch, ctx)?))
    }
}

impl Sample for Ddpm {
    type Output = Matrix;
    /// Ancestral DDPM over all T steps ([`DdpmConfig::default_sampler`]);
    /// the temperature scales x_T and every noise draw. A conditional model
    /// with no condition samples at the null class ∅ (its unconditional
    /// model); `genlab sample` draws the classes in turn instead.
    fn sample(&self, n: usize, options: &SampleOptions, rng: &mut Rng) -> Result<Matrix> {
        options.validate()?;
        let opts = SamplerOptions {
            temperature: options.temperature,
            ..self.config.default_sampler()
        };
        match &options.condition {
            // A class c (a 1 × 1 condition): every sample of class c, w = 0.
            Some(c) => self.sample_guided(&vec![condition_class(c)?; n], 0.0, &opts, rng),
            None => self.sample_with(n, &opts, rng),
        }
    }
}

/// The class of a sampling condition: a 1 × 1 matrix holding a
/// non-negative integer (the range is checked by the sampler).
pub(crate) fn condition_class(c: &Matrix) -> Result<usize> {
    let y = c.as_slice().first().copied().unwrap_or(-1.0);
    if c.as_slice().len() != 1 || y.fract() != 0.0 || y < 0.0 {
        return Err(GenError::config(
            "condition",
            format!("{:?}", c.as_slice()),
            "a DDPM's condition is one class index",
            "pass a 1 × 1 condition holding the class",
        ));
    }
    Ok(y as usize)
}

impl Score for Ddpm {
    type Input = Matrix;
    /// Minus the variational bound, in nats per row (a lower bound on
    /// log p_θ(x); x_t draws seeded by `options.seed`), or with
    /// `--estimator ode` the log-likelihood of the probability-flow ODE
    /// with `options.k` RK4 steps (an `integrated` score; see
    /// [`crate::likelihood`]).
    fn score(&self, x: &Matrix, options: &ScoreOptions) -> Result<Scores> {
        match options.estimator {
            ScoreEstimator::Ode => {
                let nll = self.ode_nll(x, options.k)?;
                Ok(Scores::integrated(
                    "probability-flow ODE, RK4 in ln σ̃, exact trace",
                    options.k,
                    nll.into_iter().map(|v| -v).collect(),
                ))
            }
            _ => {
                options.only_default(
                    NAME,
                    "the variational bound (default) or the probability-flow ODE (--estimator ode)",
                )?;
                let nll = self.bound(x, options.seed)?.nll();
                let label = match self.config.levels {
                    Some(_) => "vlb, discretised decoder (log-probability of the discrete image)",
                    None => "vlb",
                };
                Ok(Scores::bound(label, nll.into_iter().map(|v| -v).collect()))
            }
        }
    }
}

impl Infer for Ddpm {
    type Input = Matrix;
    type Posterior = Matrix;
    /// x_T by DDIM inversion over all T steps.
    fn infer(&self, x: &Matrix) -> Result<Matrix> {
        self.encode(x, self.schedule.steps())
    }
}

impl Checkpoint for Ddpm {
    /// Writes `ddpm_config.json`, the network with its Adam state
    /// (`ddpm.model.bpk`, `ddpm.optim.bpk`) and the EMA (`ddpm.ema.*`),
    /// each file atomically.
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        write_json_atomic(&dir.join("ddpm_config.json"), &self.config)?;
        self.net.save(dir, "ddpm")?;
        if let Some(ema) = &self.ema {
            ema.save(dir, "ddpm")?;
        }
        Ok(())
    }

    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        let path = dir.join("ddpm_config.json");
        let saved: DdpmConfig = read_json(&path)?;
        let c = &self.config;
        if saved.arch != c.arch || saved.levels != c.levels || saved.classes != c.classes {
            return Err(GenError::Format {
                path,
                problem: format!(
                    "the checkpoint is of a DDPM with a {} denoiser {:?} for levels {:?}, classes {:?}; this one has a {} denoiser {:?} for levels {:?}, classes {:?}",
                    saved.arch.name(),
                    saved.arch,
                    saved.levels,
                    saved.classes,
                    c.arch.name(),
                    c.arch,
                    c.levels,
                    c.classes
                ),
                fix: "build the DDPM with the checkpoint's ddpm_config.json".into(),
            });
        }
        if saved.hidden != c.hidden
            || saved.schedule != c.schedule
            || saved.prediction != c.prediction
            || saved.time_dim != c.time_dim
            || saved.x_embed != c.x_embed
            || saved.data_dim != c.data_dim
            || saved.ema.is_some() != c.ema.is_some()
        {
            return Err(GenError::Format {
                path,
                problem: format!(
                    "the checkpoint is of a DDPM with schedule {:?}, prediction {}, hidden {:?}, time_dim {}, data_dim {}, ema {:?}; this one has schedule {:?}, prediction {}, hidden {:?}, time_dim {}, data_dim {}, ema {:?}",
                    saved.schedule,
                    saved.prediction.name(),
                    saved.hidden,
                    saved.time_dim,
                    saved.data_dim,
                    saved.ema,
                    c.schedule,
                    c.prediction.name(),
                    c.hidden,
                    c.time_dim,
                    c.data_dim,
                    c.ema
                ),
                fix: "build the DDPM with the checkpoint's ddpm_config.json".into(),
            });
        }
        self.net.load(dir, "ddpm")?;
        if let Some(ema) = &mut self.ema {
            ema.load(dir, "ddpm")?;
        }
        Ok(())
    }
}
