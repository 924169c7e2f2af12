//! # gen-diffusion: denoising diffusion probabilistic models (tutorial, chapter 11)
//!
//! A fixed forward process adds Gaussian noise in T steps,
//! q(x_t | x_{t−1}) = N(√(1 − β_t) x_{t−1}, β_t I), until x_T ≈ N(0, I); a
//! network learns to undo one step at a time, and sampling runs the learned
//! reverse chain from noise (Sohl-Dickstein et al. 2015; Ho et al. 2020).
//!
//! - [`schedule`]: β schedules (linear, scaled-linear, cosine; zero terminal
//!   SNR), ᾱ_t, SNR(t), q(x_t | x_0) and the posterior q(x_{t−1} | x_t, x_0),
//!   matched to diffusers' schedulers.
//! - [`param`]: ε-, x₀- and v-prediction with the conversions between them;
//!   the simple and min-SNR-γ losses.
//! - [`denoiser`]: the [`Denoiser`] interface every sampler takes (a trained
//!   network, a closure, or the exact optimum for Gaussian data).
//! - [`sampler`]: timestep grids (leading / trailing / linspace as diffusers),
//!   ancestral DDPM, DDIM with η, the probability-flow ODE (Heun),
//!   predictor–corrector Langevin, and DDIM inversion.
//! - [`bound`]: the variational bound on −log p_θ(x₀) in nats, with a
//!   Gaussian decoder for continuous data or Ho et al.'s discretised one for
//!   images.
//! - [`unet`]: a small U-Net denoiser for images (residual blocks with
//!   GroupNorm and time scale/shift, strided down-sampling, nearest
//!   up-sampling, skips, self-attention at the lowest resolution).
//! - [`latent`]: latent diffusion, a DDPM in the latent space of a trained
//!   gen-vae VAE, decoded by its decoder ([`LatentDdpm`]).
//! - [`Ddpm`]: the model, a denoiser ([`DenoiserArch`]: an MLP with a
//!   sinusoidal time embedding for vectors, the U-Net for images) and an
//!   EMA of its weights, implementing gen-core's Learn, Sample, Score (the
//!   bound), Infer (DDIM inversion) and Checkpoint.
//!
//! Every random draw (weights, t, ε, sampler noise) comes from the host RNG,
//! so one seed gives the same model and numbers on ndarray, flex and wgpu.
#![warn(missing_docs)]

pub mod adaln_mlp;
pub mod bound;
pub mod denoiser;
pub mod latent;
pub mod likelihood;
pub mod model;
pub mod param;
pub mod sampler;
pub mod schedule;
pub mod unet;

pub use bound::{BoundTerms, Decoder, variational_bound, variational_bound_with};
pub use denoiser::{Denoiser, FnDenoiser, GaussianData, GaussianOracle};
pub use latent::{LatentDdpm, LatentNormaliser, PosteriorLatents};
pub use likelihood::{TraceDenoiser, ode_nll};
pub use model::{Ddpm, DdpmConfig, DenoiserArch, DenoiserNet, NetDenoiser, capabilities_row};
pub use param::{LossWeighting, Prediction};
pub use sampler::{SamplerKind, SamplerOptions, ScoreMoments, Spacing, VarianceKind};
pub use schedule::{BetaSchedule, NoiseSchedule, ScheduleConfig};
pub use unet::{UNet, UNetConfig};

/// The capability rows of this crate's models.
pub fn capabilities() -> Vec<gen_core::Capabilities> {
    vec![model::capabilities_row()]
}
