//! BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017): a generator
//! G: z → x and an encoder E: x → z trained together against a joint
//! critic D(x, z) that tells data pairs (x, E(x)), x ~ p*, from generated
//! pairs (G(z), z), z ~ N(0, I).
//!
//! With the non-saturating loss the critic minimises
//!
//! ```text
//! L_D = E_x softplus(−D(x, E(x))) + E_z softplus(D(G(z), z))
//! ```
//!
//! and the generator player (G and E together) minimises the same loss with
//! the two sides swapped,
//!
//! ```text
//! L_GE = E_z softplus(−D(G(z), z)) + E_x softplus(D(x, E(x)))
//! ```
//!
//! (for every loss here: the critic loss with real and fake exchanged). At
//! the game's optimum the joint distributions p*(x) δ(z − E(x)) and
//! p(z) δ(x − G(z)) coincide, so E inverts G (Donahue et al., Thm. 2). In
//! practice the inverse is approximate: x ≈ G(E(x)) only as far as training
//! got, and E(x) is a point, not a posterior over z.
//!
//! All three networks are MLPs (gen-core's [`Mlp`]): G as
//! [`crate::mlp::Generator`] does (with the output squashed to [0, 1] by
//! (1 + tanh)/2 for images), E with the same hidden widths and a linear
//! output, and the critic a [`crate::Discriminator`] on [x; z] (LeakyReLU,
//! optionally spectrally normalised).

use burn::module::Module;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use gen_core::burn;
use gen_core::nn::{Activation, Mlp, MlpConfig};
use gen_core::tensor::to_vec;
use gen_core::{Result, Rng};

use crate::config::{GanArch, GanConfig};
use crate::nets::{GeneratorNet, arch_error};

/// The BiGAN generator player: G and E.
#[derive(Module, Debug)]
pub struct BiganGenerator {
    /// x = G(z).
    pub g: Mlp,
    /// ẑ = E(x).
    pub e: Mlp,
    /// Latent width L.
    #[module(skip)]
    pub latent: usize,
    /// G's output is (1 + tanh(a))/2 ∈ [0, 1] (images) instead of a.
    #[module(skip)]
    pub unit_interval: bool,
}

impl GeneratorNet for BiganGenerator {
    /// G's weights, then E's, from `rng`.
    fn init(config: &GanConfig, rng: &mut Rng, device: &Device) -> Result<Self> {
        let GanArch::Bigan { unit_interval } = config.arch else {
            return Err(arch_error("BiGAN generator", "the bigan arch", config));
        };
        let g = MlpConfig {
            d_in: config.latent,
            hidden: config.hidden.clone(),
            d_out: config.data_dim,
            activation: Activation::Relu,
            zero_last: false,
        }
        .init(rng, device)?;
        let e = MlpConfig {
            d_in: config.data_dim,
            hidden: config.hidden.clone(),
            d_out: config.latent,
            activation: Activation::LeakyRelu,
            zero_last: false,
        }
        .init(rng, device)?;
        Ok(Self {
            g,
            e,
            latent: config.latent,
            unit_interval,
        })
    }

    fn latent(&self) -> usize {
        self.latent
    }

    fn generate_from(&self, z: Tensor<2>, _y: Option<Tensor<2>>) -> Tensor<2> {
        let a = self.g.forward(z);
        if self.unit_interval {
            // (1 + tanh a)/2 = σ(2a).
            sigmoid(a * 2.0)
        } else {
            a
        }
    }

    fn encode(&self, x: Tensor<2>) -> Option<Tensor<2>> {
        Some(self.e.forward(x))
    }
}

impl BiganGenerator {
    /// Every trainable value of G, then of E, on the host.
    pub fn weights(&self) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        for l in self.g.layers.iter().chain(&self.e.layers) {
            out.extend(to_vec(l.weight.val())?);
            if let Some(b) = &l.bias {
                out.extend(to_vec(b.val())?);
            }
        }
        Ok(out)
    }
}
