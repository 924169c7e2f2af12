//! The two players as traits, so one [`crate::Gan`] trains every pair of
//! networks with the same losses and the same alternating step.
//!
//! A generator maps noise z ∈ ℝ^L (and, for a conditional GAN, a one-hot
//! label y ∈ {0, 1}^K) to a data row x = G(z, y); a BiGAN's generator player
//! also holds an encoder ẑ = E(x). A critic maps a row (with the latent it is
//! paired with, for a joint BiGAN critic, and the label, for a conditional
//! one) to one real number D(x, z, y): a logit, critic value or regression
//! output, as the loss reads it.
//!
//! Networks are built from a [`GanConfig`] with weights from the host RNG, so
//! one seed gives one model on every device.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use gen_core::burn;
use gen_core::{GenError, Result, Rng};

use crate::config::{GanArch, GanConfig};
use crate::mlp::{Discriminator, DiscriminatorConfig, Generator, GeneratorConfig};

/// The generator player: x = G(z, y).
pub trait GeneratorNet: Module + Sized {
    /// Builds the network `config` describes, weights drawn from `rng`.
    fn init(config: &GanConfig, rng: &mut Rng, device: &Device) -> Result<Self>;

    /// Latent width L.
    fn latent(&self) -> usize;

    /// x = G(z, y) in the data's scale.
    ///
    /// # Shapes
    /// - `z`: `[batch, L]`, `y`: `[batch, K]` one-hot (conditional GANs
    ///   only) → `[batch, D]`
    fn generate_from(&self, z: Tensor<2>, y: Option<Tensor<2>>) -> Tensor<2>;

    /// ẑ = E(x) when the player has an encoder (BiGAN), else `None`.
    ///
    /// # Shapes
    /// - `x`: `[batch, D]` → `[batch, L]`
    fn encode(&self, _x: Tensor<2>) -> Option<Tensor<2>> {
        None
    }
}

/// The critic player: D(x, z, y) ∈ ℝ per row.
pub trait CriticNet: Module + Sized {
    /// Builds the network `config` describes, weights drawn from `rng`.
    fn init(config: &GanConfig, rng: &mut Rng, device: &Device) -> Result<Self>;

    /// D(x, z, y): `z` is the latent paired with `x` (joint BiGAN critics
    /// only), `y` the one-hot label (conditional critics only).
    ///
    /// # Shapes
    /// - `x`: `[batch, D]`, `z`: `[batch, L]`, `y`: `[batch, K]` → `[batch]`
    fn critic(&self, x: Tensor<2>, z: Option<Tensor<2>>, y: Option<Tensor<2>>) -> Tensor<1>;
}

/// One-hot rows e_{y_i} ∈ {0, 1}^K, built on the host.
///
/// # Shapes
/// - `labels`: `n` class indices, each `< k` → `[n, k]`
pub fn one_hot(labels: &[usize], k: usize, device: &Device) -> Tensor<2> {
    let mut v = vec![0.0f32; labels.len() * k];
    for (i, &y) in labels.iter().enumerate() {
        if y < k {
            v[i * k + y] = 1.0;
        }
    }
    Tensor::from_data(TensorData::new(v, [labels.len(), k]), device)
}

pub(crate) fn arch_error(net: &str, want: &str, config: &GanConfig) -> GenError {
    GenError::config(
        "gan arch",
        format!("{:?}", config.arch),
        format!("the {net} is built for {want}"),
        "build the GAN type that matches the config: Gan (mlp), DcGan (dcgan), BiGan (bigan)",
    )
}

impl GeneratorNet for Generator {
    fn init(config: &GanConfig, rng: &mut Rng, device: &Device) -> Result<Self> {
        if config.arch != GanArch::Mlp {
            return Err(arch_error("MLP generator", "the mlp arch", config));
        }
        GeneratorConfig {
            latent: config.latent,
            hidden: config.hidden.clone(),
            d_out: config.data_dim,
        }
        .init(rng, device)
    }

    fn latent(&self) -> usize {
        self.latent
    }

    fn generate_from(&self, z: Tensor<2>, _y: Option<Tensor<2>>) -> Tensor<2> {
        self.forward(z)
    }
}

impl CriticNet for Discriminator {
    /// The MLP critic of the mlp arch on x, and the joint critic of the
    /// bigan arch on the concatenation [x, z].
    fn init(config: &GanConfig, rng: &mut Rng, device: &Device) -> Result<Self> {
        let d_in = match config.arch {
            GanArch::Mlp => config.data_dim * config.pack,
            GanArch::Bigan { .. } => config.data_dim + config.latent,
            GanArch::Dcgan { .. } => {
                return Err(arch_error("MLP discriminator", "mlp or bigan", config));
            }
        };
        let mut d = DiscriminatorConfig {
            d_in,
            hidden: config.hidden.clone(),
            spectral_norm: config.spectral_norm,
        }
        .init(rng, device)?;
        d.pack = config.pack;
        Ok(d)
    }

    /// With packing m > 1, rows i·m … i·m + m − 1 form the i-th packed
    /// input (`[batch, D]` → `[batch/m, m·D]` → `[batch/m]`).
    fn critic(&self, x: Tensor<2>, z: Option<Tensor<2>>, _y: Option<Tensor<2>>) -> Tensor<1> {
        match z {
            Some(z) => self.forward(Tensor::cat(vec![x, z], 1)),
            None if self.pack > 1 => {
                let [n, d] = x.dims();
                self.forward(x.reshape([n / self.pack, self.pack * d]))
            }
            None => self.forward(x),
        }
    }
}
