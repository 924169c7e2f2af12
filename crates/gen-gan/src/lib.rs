//! # gen-gan: generative adversarial networks (tutorial, chapter 9)
//!
//! A GAN learns a distribution without a density: a generator G_θ maps noise
//! z ~ N(0, I) to samples, and a discriminator (critic) D_φ learns to tell
//! them from data, a learned two-sample test (Goodfellow et al. 2014). The
//! game is
//!
//! ```text
//! min_θ max_φ V(φ, θ) = E_{x~p*}[log D_φ(x)] + E_{z~p(z)}[log(1 − D_φ(G_θ(z)))]
//! ```
//!
//! whose inner maximum over all functions is D*(x) = p*(x) / (p*(x) + q_θ(x)).
//!
//! - [`losses`]: the losses as functions of logits / critic values (minimax,
//!   non-saturating, Wasserstein with weight clipping, hinge, least squares)
//!   and the kernel MMD² of a generative moment-matching network.
//! - [`mlp`]: MLP generator and (optionally spectrally normalised)
//!   discriminator for low-dimensional data.
//! - [`conv`]: DCGAN players for square images (transposed convolutions
//!   with batch norm; strided LeakyReLU convolutions), and the conditional
//!   GAN's label input and projection discriminator.
//! - [`bigan`]: BiGAN / ALI, a generator with an encoder against a joint
//!   critic D(x, z).
//! - [`nets`]: the player traits every pair of networks implements.
//! - [`eval`]: FID, precision / recall / density / coverage and class
//!   accuracy of image samples with gen-eval's MNIST / digits extractor.
//! - [`Gan`]: the model, generic over the two networks ([`DcGan`],
//!   [`BiGan`]), trained by gen-core's alternating two-player step
//!   (n_critic critic updates, then one generator update), with an optional
//!   EMA of the generator. It samples in one pass and *cannot score*: the
//!   discriminator's output is not a density, so [`gen_core::Score`] is not
//!   implemented.
//!
//! Every random draw (weights, noise) comes from the host RNG, so one seed
//! gives the same model and numbers on ndarray, flex and wgpu.
#![warn(missing_docs)]

pub mod bigan;
pub mod config;
pub mod conv;
pub mod eval;
pub mod losses;
pub mod mlp;
pub mod model;
pub mod nets;

pub use bigan::BiganGenerator;
pub use conv::{ConvDiscriminator, ConvGenerator};
pub use losses::GanLoss;
pub use mlp::{Discriminator, DiscriminatorConfig, Generator, GeneratorConfig};
pub use model::{BiGan, DcGan, Gan, GanArch, GanConfig, labelled_batch};
pub use nets::{CriticNet, GeneratorNet};

/// The capability rows of this crate's models: the MLP GAN first, then
/// dcgan, cgan and bigan.
pub fn capabilities() -> Vec<gen_core::Capabilities> {
    vec![
        model::capabilities_row(),
        model::dcgan_row(),
        model::cgan_row(),
        model::bigan_row(),
    ]
}
