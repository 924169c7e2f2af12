//! # gen-classical
//!
//! The pre-neural generative models of the tutorial, implementing the
//! gen-core task traits. They are baselines for every neural family and the
//! first test of the traits:
//!
//! - [`Gaussian`]: multivariate normal, closed-form maximum likelihood.
//! - [`Gmm`]: Gaussian mixture fitted by EM; exact density, exact posterior
//!   over components (responsibilities) as inference.
//! - [`CharNGram`]: character n-gram with add-k or interpolated Kneser–Ney
//!   smoothing ([`Smoothing`]); exact log-likelihood by the chain rule,
//!   sampling with temperature.
//! - [`kl_fit`]: forward vs reverse KL — one Gaussian fitted to a mixture by
//!   moment matching (mode covering) or by reparameterised gradient descent
//!   on KL(q‖p) (mode seeking), with Monte Carlo KLs and a modes-covered count.
#![warn(missing_docs)]
// Dense linear algebra over covariance indices reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

pub mod gaussian;
pub mod gmm;
pub mod kl_fit;
pub mod ngram;
pub mod protocol;

pub use gaussian::{GAUSSIAN_CAPABILITIES, Gaussian};
pub use gmm::{GMM_CAPABILITIES, Gmm, GmmConfig};
pub use kl_fit::{
    GaussianFit, KlEstimate, ReverseKlConfig, eight_gaussians_target, fit_forward_kl,
    fit_reverse_kl,
};
pub use ngram::{CharNGram, Corpus, NGRAM_CAPABILITIES, NGramMode, Smoothing, SmoothingKind};

/// The capability rows of every model in this crate.
pub fn capabilities() -> Vec<gen_core::Capabilities> {
    vec![GAUSSIAN_CAPABILITIES, GMM_CAPABILITIES, NGRAM_CAPABILITIES]
}
