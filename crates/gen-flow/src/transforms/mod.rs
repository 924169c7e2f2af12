//! The invertible layers a [`crate::Flow`] composes.

pub mod actnorm;
pub mod autoregressive;
pub mod coupling;
pub mod logit;
pub mod lu;
pub mod permutation;
pub mod spline;

pub use actnorm::ActNorm;
pub use autoregressive::MaskedAutoregressive;
pub use coupling::{Coupling, CouplingKind};
pub use logit::Logit;
pub use lu::LuLinear;
pub use permutation::{Permutation, PermutationKind};
pub use spline::SplineCoupling;
