//! The invertible layers a [`crate::Flow`] composes.

pub mod actnorm;
pub mod autoregressive;
pub mod cnf;
pub mod conv1x1;
pub mod coupling;
pub mod logit;
pub mod lu;
pub mod permutation;
pub mod spline;
pub mod spline_autoregressive;

pub use actnorm::ActNorm;
pub use autoregressive::MaskedAutoregressive;
pub use cnf::{Cnf, CnfConfig, TraceEstimator};
pub use conv1x1::Conv1x1;
pub use coupling::{Coupling, CouplingKind};
pub use logit::Logit;
pub use lu::LuLinear;
pub use permutation::{Permutation, PermutationKind};
pub use spline::SplineCoupling;
pub use spline_autoregressive::SplineAutoregressive;
