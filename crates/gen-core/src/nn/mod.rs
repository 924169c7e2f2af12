//! Shared neural building blocks. Family crates use these and never copy them.
//!
//! Every block is initialised from the run's host RNG ([`crate::Rng`]), so a
//! model built with the same seed is identical on ndarray, flex and wgpu.

pub mod activation;
pub mod conv;
pub mod embedding;
pub mod linear;
pub mod made;
pub mod masked_linear;
pub mod mlp;
pub mod ops;
pub mod residual;

pub use activation::Activation;
pub use embedding::sinusoidal_embedding;
pub use linear::{Init, linear};
pub use made::Made;
pub use masked_linear::MaskedLinear;
pub use mlp::{Mlp, MlpConfig};
pub use residual::ResidualBlock;
