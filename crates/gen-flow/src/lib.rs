//! # gen-flow: normalizing flows with exact likelihood and exact inversion
//!
//! A normalizing flow (tutorial, chapter 10) writes data as x = f(z) with
//! z ~ N(0, I) and f invertible with a tractable Jacobian determinant; the
//! change of variables formula
//!
//! ```text
//! log p(x) = log N(f⁻¹(x); 0, I) + log |det ∂f⁻¹/∂x|
//! ```
//!
//! gives an exact likelihood, f gives exact samples and f⁻¹ an exact encoding.
//!
//! - [`bijection::Bijection`]: forward (generative) / inverse (normalizing)
//!   maps returning per-row log|det J|, with an optional context.
//! - [`transforms`]: affine (RealNVP) and additive (NICE) coupling with
//!   half / alternating / checkerboard / channel masks ([`masks`]),
//!   permutations, ActNorm with data-dependent initialisation, LU invertible
//!   linear maps (Glow), MADE-based MAF and IAF, rational-quadratic spline
//!   coupling (NSF, Durkan et al. 2019) with identity tails and its MADE-based
//!   autoregressive variant (NSF-AR), logit pre-processing, and a continuous
//!   normalizing flow block (FFJORD: RK4 ODE solve, exact or Hutchinson trace),
//!   Glow's invertible 1×1 convolution.
//! - [`multiscale`]: the multi-scale image architecture of RealNVP and Glow
//!   (squeeze / split, factored-out coordinates go straight to the base).
//! - [`base`]: the base density: N(0, I), a learned Gaussian mixture, or a
//!   MADE mixture of Gaussians (MAF MoG, Papamakarios et al. 2017).
//! - [`config`]: [`FlowKind`] and [`FlowConfig`]; [`build`]: the layers of
//!   every family from a configuration ([`build_flow`]).
//! - [`Flow`]: base density + composed layers; [`FlowModel`]: the flow with its
//!   optimiser implementing gen-core's `Sample`, `Score` (exact), `Infer`,
//!   `Learn` and `Checkpoint`.
#![warn(missing_docs)]

pub mod base;
pub mod bijection;
pub mod build;
pub mod config;
pub mod flow;
pub mod masks;
pub mod model;
pub mod multiscale;
pub mod presets;
pub mod transforms;

pub use base::BaseKind;
pub use bijection::Bijection;
pub use build::build_flow;
pub use config::{FlowConfig, FlowKind};
pub use flow::{Flow, FlowLayer};
pub use masks::{MaskKind, Split};
pub use model::{FlowBatch, FlowModel, capabilities};
pub use multiscale::ImageLayout;
pub use transforms::PermutationKind;

#[cfg(test)]
pub(crate) mod test_util;
#[cfg(test)]
mod tests;
