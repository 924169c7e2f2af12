//! DCGAN players (Radford et al. 2016) for square grey images in [0, 1],
//! with the conditional variants of a cGAN: the label concatenated to z in
//! G (Mirza & Osindero 2014) and a projection discriminator in D (Miyato &
//! Koyama 2018).
//!
//! # Geometry
//!
//! `hidden = [c₁, …, c_k]` lists the channel widths from the image inward;
//! the image side s must be s₀·2^k for an integer s₀ ≥ 1 (28 = 7·2² with
//! k = 2: 7 → 14 → 28; 8 = 2·2²: 2 → 4 → 8, or 4·2¹: 4 → 8). Every other
//! side is refused by [`dcgan_start_side`].
//!
//! # Generator
//!
//! ```text
//! h₀ = ReLU(BN(reshape(W₀ [z; y] + b₀)))        [c_k, s₀, s₀]
//! h_i = ReLU(BN(convT_i(h_{i−1})))              channels c_k → … → c₁, side doubling
//! x = (1 + tanh(convT_k(h_{k−1}))) / 2          [1, s, s], in [0, 1]
//! ```
//!
//! (k = 4, s = 2, p = 1 transposed convolutions.) The output is DCGAN's tanh
//! moved to the data's [0, 1] scale; the critic maps its input back with
//! 2x − 1, so both players work in DCGAN's [−1, 1].
//!
//! **Batch norm.** burn's `BatchNorm` (γ, β, running mean and variance,
//! momentum 0.1, ε = 1e-5) draws nothing from a device RNG, so host-RNG
//! parity holds; γ is then redrawn from N(1, 0.02²) on the host as DCGAN
//! initialises it. On the autodiff (training) device with the training flag
//! on it normalises by the batch's statistics and updates the running ones
//! (in both the critic's and the generator's updates, as PyTorch does);
//! on a [`Module::valid`] copy, which is what sampling uses, it normalises
//! by the running statistics (eval mode), so a sample does not depend on the
//! other rows of its batch. With an EMA the averaged generator's running
//! statistics are the averages of the live ones.
//!
//! # Discriminator
//!
//! ```text
//! h₀ = 2x − 1,  h_i = LeakyReLU₀.₂(conv_i(h_{i−1}))   channels 1 → c₁ → … → c_k, side halving
//! φ(x) = flatten(h_k) ∈ ℝ^F,  F = c_k s₀²
//! D(x) = ψ(φ(x)) = w·φ(x) + b
//! D(x, y) = ψ(φ(x)) + (V e_y)·φ(x)      (projection, V ∈ ℝ^{F×K})
//! ```
//!
//! (k = 4, s = 2, p = 1 convolutions.) With `spectral_norm` every layer
//! (the projection V included) is spectrally normalised. All weights start
//! from N(0, 0.02²), biases at 0 (DCGAN), drawn on the host.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{BatchNorm, BatchNormConfig, Linear};
use burn::tensor::activation::{leaky_relu, relu, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};
use gen_core::burn;
use gen_core::nn::conv::{ConvShape, conv2d};
use gen_core::nn::linear::normal;
use gen_core::nn::{
    ConvTranspose2dConfig, Init, SpectralConv2d, SpectralConv2dConfig, SpectralLinear,
    SpectralLinearConfig, linear,
};
use gen_core::tensor::to_vec;
use gen_core::{Result, Rng};

pub use crate::config::dcgan_start_side;
use crate::config::{GanArch, GanConfig};
use crate::nets::{CriticNet, GeneratorNet, arch_error};

/// DCGAN's initial standard deviation of every weight.
pub const DCGAN_STD: f64 = 0.02;

fn dcgan_side(config: &GanConfig, net: &str) -> Result<usize> {
    match config.arch {
        GanArch::Dcgan { side } => Ok(side),
        _ => Err(arch_error(net, "the dcgan arch", config)),
    }
}

/// A batch norm over `c` channels with γ ~ N(1, 0.02²) from `rng`, β = 0.
fn batch_norm(c: usize, rng: &mut Rng, device: &Device) -> BatchNorm {
    let mut bn = BatchNormConfig::new(c).init(device);
    let gamma: Vec<f32> = normal(c, DCGAN_STD, rng).iter().map(|g| 1.0 + g).collect();
    bn.gamma = Param::from_tensor(Tensor::from_data(TensorData::new(gamma, [c]), device));
    bn
}

/// The DCGAN generator (module docs).
#[derive(Module, Debug)]
pub struct ConvGenerator {
    /// [z; y] → c_k·s₀² features.
    pub project: Linear,
    /// Batch norm of the projected map.
    pub project_norm: BatchNorm,
    /// Side-doubling transposed convolutions, the last one to 1 channel.
    pub ups: Vec<ConvTranspose2d>,
    /// Batch norms after every transposed convolution but the last.
    pub norms: Vec<BatchNorm>,
    /// Latent width L.
    #[module(skip)]
    pub latent: usize,
    /// Classes K (0: unconditional).
    #[module(skip)]
    pub classes: usize,
    /// Start side s₀.
    #[module(skip)]
    pub start: usize,
    /// Image side s.
    #[module(skip)]
    pub side: usize,
}

impl ConvGenerator {
    /// The projected map h₀ (`[batch, c_k, s₀, s₀]`, after BN and ReLU).
    fn stem(&self, z: Tensor<2>, y: Option<Tensor<2>>) -> Tensor<4> {
        let input = match y {
            Some(y) => Tensor::cat(vec![z, y], 1),
            None => z,
        };
        let [n, _] = input.dims();
        let [_, f] = self.project.weight.dims();
        let c = f / (self.start * self.start);
        let h: Tensor<4> = self
            .project
            .forward(input)
            .reshape([n, c, self.start, self.start]);
        relu(self.project_norm.forward(h))
    }
}

impl GeneratorNet for ConvGenerator {
    fn init(config: &GanConfig, rng: &mut Rng, device: &Device) -> Result<Self> {
        let side = dcgan_side(config, "DCGAN generator")?;
        let start = dcgan_start_side(side, config.hidden.len())?;
        let top = *config.hidden.last().unwrap_or(&1);
        let project = linear(
            config.latent + config.classes,
            top * start * start,
            Init::Normal { std: DCGAN_STD },
            rng,
            device,
        );
        let project_norm = batch_norm(top, rng, device);
        let mut outs: Vec<usize> = config.hidden.iter().rev().skip(1).copied().collect();
        outs.push(1);
        let (mut ups, mut norms) = (Vec::new(), Vec::new());
        let mut c_in = top;
        let last = outs.len() - 1;
        for (i, c_out) in outs.into_iter().enumerate() {
            let cfg = ConvTranspose2dConfig {
                init: Init::Normal { std: DCGAN_STD },
                ..ConvTranspose2dConfig::doubling(c_in, c_out)
            };
            ups.push(cfg.init(rng, device)?);
            if i < last {
                norms.push(batch_norm(c_out, rng, device));
            }
            c_in = c_out;
        }
        Ok(Self {
            project,
            project_norm,
            ups,
            norms,
            latent: config.latent,
            classes: config.classes,
            start,
            side,
        })
    }

    fn latent(&self) -> usize {
        self.latent
    }

    fn generate_from(&self, z: Tensor<2>, y: Option<Tensor<2>>) -> Tensor<2> {
        let [n, _] = z.dims();
        let mut h = self.stem(z, y);
        let last = self.ups.len() - 1;
        for (i, up) in self.ups.iter().enumerate() {
            h = up.forward(h);
            if i < last {
                h = relu(self.norms[i].forward(h));
            }
        }
        // (1 + tanh h)/2 = σ(2h), one cheap op instead of libm's tanhf.
        sigmoid(h * 2.0).reshape([n, self.side * self.side])
    }
}

/// A convolution of the critic, plain or spectrally normalised.
#[derive(Module, Debug)]
pub enum CriticConv {
    /// W as trained.
    Plain(Conv2d),
    /// W / σ̂(W).
    Spectral(SpectralConv2d),
}

impl CriticConv {
    fn new(shape: ConvShape, sn: bool, rng: &mut Rng, device: &Device) -> Result<Self> {
        let init = Init::Normal { std: DCGAN_STD };
        Ok(if sn {
            CriticConv::Spectral(
                SpectralConv2dConfig {
                    shape,
                    init,
                    sn: Default::default(),
                }
                .init(rng, device)?,
            )
        } else {
            CriticConv::Plain(conv2d(shape, init, rng, device))
        })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            CriticConv::Plain(c) => c.forward(x),
            CriticConv::Spectral(c) => c.forward(x),
        }
    }
}

/// A linear layer of the critic, plain or spectrally normalised.
#[derive(Module, Debug)]
pub enum CriticLinear {
    /// W as trained.
    Plain(Linear),
    /// W / σ̂(W).
    Spectral(SpectralLinear),
}

impl CriticLinear {
    fn new(
        d_in: usize,
        d_out: usize,
        bias: bool,
        sn: bool,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Self> {
        let init = Init::Normal { std: DCGAN_STD };
        Ok(if sn {
            let mut l = SpectralLinearConfig {
                init,
                ..SpectralLinearConfig::new(d_in, d_out)
            }
            .init(rng, device)?;
            if !bias {
                l.inner.bias = None;
            }
            CriticLinear::Spectral(l)
        } else {
            let mut l = linear(d_in, d_out, init, rng, device);
            if !bias {
                l.bias = None;
            }
            CriticLinear::Plain(l)
        })
    }

    /// `x W + b` (`W` normalised when spectral).
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            CriticLinear::Plain(l) => l.forward(x),
            CriticLinear::Spectral(l) => l.forward(x),
        }
    }

    /// The raw layer.
    pub fn inner(&self) -> &Linear {
        match self {
            CriticLinear::Plain(l) => l,
            CriticLinear::Spectral(l) => &l.inner,
        }
    }

    /// The raw layer, mutably (hand-set weights in tests).
    pub fn inner_mut(&mut self) -> &mut Linear {
        match self {
            CriticLinear::Plain(l) => l,
            CriticLinear::Spectral(l) => &mut l.inner,
        }
    }
}

/// The DCGAN critic with an optional projection (module docs).
#[derive(Module, Debug)]
pub struct ConvDiscriminator {
    /// Side-halving strided convolutions.
    pub convs: Vec<CriticConv>,
    /// ψ: φ(x) → ℝ.
    pub out: CriticLinear,
    /// V: e_y → ℝ^F, the class embedding of the projection (conditional only).
    pub embed: Option<CriticLinear>,
    /// Image side s.
    #[module(skip)]
    pub side: usize,
}

impl ConvDiscriminator {
    /// φ(x), the flattened last convolution's activations.
    ///
    /// # Shapes
    /// - `x`: `[batch, s²]` in [0, 1] → `[batch, F]`
    pub fn features(&self, x: Tensor<2>) -> Tensor<2> {
        let [n, _] = x.dims();
        let mut h: Tensor<4> = (x * 2.0 - 1.0).reshape([n, 1, self.side, self.side]);
        for conv in &self.convs {
            h = leaky_relu(conv.forward(h), 0.2);
        }
        h.flatten(1, 3)
    }

    /// Every trainable value (raw weights and biases, layer by layer), on
    /// the host; excludes the power-iteration vectors.
    pub fn weights(&self) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        for c in &self.convs {
            let inner = match c {
                CriticConv::Plain(c) => c,
                CriticConv::Spectral(c) => &c.inner,
            };
            out.extend(to_vec(inner.weight.val())?);
            if let Some(b) = &inner.bias {
                out.extend(to_vec(b.val())?);
            }
        }
        for l in std::iter::once(&self.out).chain(self.embed.as_ref()) {
            out.extend(to_vec(l.inner().weight.val())?);
            if let Some(b) = &l.inner().bias {
                out.extend(to_vec(b.val())?);
            }
        }
        Ok(out)
    }
}

impl CriticNet for ConvDiscriminator {
    fn init(config: &GanConfig, rng: &mut Rng, device: &Device) -> Result<Self> {
        let side = dcgan_side(config, "DCGAN discriminator")?;
        let start = dcgan_start_side(side, config.hidden.len())?;
        let sn = config.spectral_norm;
        let mut convs = Vec::new();
        let mut c_in = 1;
        for &c_out in &config.hidden {
            let shape = ConvShape {
                c_in,
                c_out,
                kernel: 4,
                stride: 2,
                padding: 1,
            };
            convs.push(CriticConv::new(shape, sn, rng, device)?);
            c_in = c_out;
        }
        let f = c_in * start * start;
        let out = CriticLinear::new(f, 1, true, sn, rng, device)?;
        let embed = match config.classes {
            0 => None,
            k => Some(CriticLinear::new(k, f, false, sn, rng, device)?),
        };
        Ok(Self {
            convs,
            out,
            embed,
            side,
        })
    }

    fn critic(&self, x: Tensor<2>, _z: Option<Tensor<2>>, y: Option<Tensor<2>>) -> Tensor<1> {
        let phi = self.features(x);
        let psi: Tensor<1> = self.out.forward(phi.clone()).squeeze_dim(1);
        match (&self.embed, y) {
            (Some(v), Some(y)) => psi + (v.forward(y) * phi).sum_dim(1).squeeze_dim(1),
            _ => psi,
        }
    }
}

/// Every trainable value of a generator's layers (for tests: who moved).
pub fn generator_weights(g: &ConvGenerator) -> Result<Vec<f32>> {
    let mut out = to_vec(g.project.weight.val())?;
    for up in &g.ups {
        out.extend(to_vec(up.weight.val())?);
    }
    for bn in std::iter::once(&g.project_norm).chain(&g.norms) {
        out.extend(to_vec(bn.gamma.val())?);
        out.extend(to_vec(bn.beta.val())?);
    }
    Ok(out)
}
