//! # gen-vae: variational autoencoders and their exact linear-Gaussian baseline
//!
//! - [`Vae`]: MLP VAE (Kingma & Welling 2014; Rezende, Mohamed & Wierstra
//!   2014) with an N(0, I) prior, a diagonal-Gaussian encoder q_φ(z | x) and a
//!   Bernoulli or Gaussian (fixed or learned variance) decoder; β-VAE (Higgins
//!   et al. 2017), linear KL annealing (Bowman et al. 2016), free bits (Kingma
//!   et al. 2016), and the IWAE objective (Burda, Grosse & Salakhutdinov 2016).
//! - Scoring: the ELBO (a bound) and the importance-weighted estimate IWAE_K
//!   (K up to [`vae::MAX_IWAE_K`], batched): see [`vae`] for the equations.
//! - Inference: encode, reconstruct, interpolate, traverse; [`Diagnostics`]
//!   (KL per dimension, active units, posterior-collapse flag).
//! - [`VqVae`]: VQ-VAE (van den Oord et al. 2017): a codebook of K vectors,
//!   nearest-codeword quantisation, straight-through gradients, the
//!   codebook + commitment loss; scored by the bound log p(x | z_q) − L log K
//!   under a uniform prior over codes, sampled from that uniform prior.
//! - [`Ppca`]: probabilistic PCA (Tipping & Bishop 1999) with the exact
//!   log-likelihood, posterior and a VAE embedding ([`Ppca::to_vae`]) used to
//!   check the estimators against the exact marginal.
//!
//! Every random draw (weights, ε, prior samples) comes from the host RNG, so
//! one seed gives the same model and numbers on ndarray, flex and wgpu.
#![warn(missing_docs)]

pub mod config;
pub mod diagnostics;
pub mod input;
pub mod net;
pub mod ppca;
pub mod presets;
pub mod vae;
pub mod vqvae;

pub use config::{ConvSpec, Likelihood, Objective, VaeConfig};
pub use diagnostics::{ACTIVE_UNIT_THRESHOLD, Diagnostics};
pub use net::VaeNet;
pub use ppca::Ppca;
pub use vae::{Posterior, Vae};
pub use vqvae::{CodeUsage, VqCodes, VqNet, VqVae, VqVaeConfig};

/// The capability rows of this crate's models (`vae`, `beta-vae`, `iwae`,
/// `conv-vae`, `vq-vae`, `ppca`).
pub fn capabilities() -> Vec<gen_core::Capabilities> {
    let mut rows = vae::capabilities_rows();
    rows.push(vqvae::capabilities_row());
    rows.push(Ppca::capabilities_row());
    rows
}
