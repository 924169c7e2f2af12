//! Shared neural building blocks. Family crates use these and never copy them.
//!
//! Every block is initialised from the run's host RNG ([`crate::Rng`]), so a
//! model built with the same seed is identical on ndarray, flex and wgpu.

pub mod activation;
pub mod adaln;
pub mod attention;
pub mod conv;
pub mod linear;
pub mod made;
pub mod masked_linear;
pub mod mlp;
pub mod mlp_residual;
pub mod norm;
pub mod ops;
pub mod spectral_norm;
#[cfg(test)]
mod test_util;
pub mod time_embedding;
pub mod token_embedding;
pub mod upsample;

pub use activation::Activation;
pub use adaln::AdaLnMlpBlock;
pub use attention::{CausalSelfAttention, CausalSelfAttentionConfig, KvCache};
pub use conv::ConvTranspose2dConfig;
pub use linear::{Init, linear};
pub use made::Made;
pub use masked_linear::MaskedLinear;
pub use mlp::{Mlp, MlpConfig};
pub use mlp_residual::MlpResidualBlock;
#[allow(deprecated)]
pub use mlp_residual::ResidualBlock;
pub use norm::{GroupNorm, GroupNormConfig, LayerNorm, LayerNormConfig};
pub use ops::bce_with_logits;
pub use spectral_norm::{
    SpectralConv2d, SpectralConv2dConfig, SpectralLinear, SpectralLinearConfig, SpectralNorm,
    SpectralNormConfig,
};
#[allow(deprecated)]
pub use time_embedding::sinusoidal_embedding;
pub use time_embedding::sinusoidal_time_embedding;
pub use token_embedding::{TokenEmbedding, TokenEmbeddingConfig};
pub use upsample::upsample_nearest;
