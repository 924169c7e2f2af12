//! # gen-core
//!
//! The task-first core of the genlab workspace.
//!
//! - [`task`]: the four tasks of a generative model (sample, score, infer,
//!   learn) as traits, and [`Model::capabilities`] stating how each is supported.
//! - [`score`]: [`Scores`], log-densities that say whether they are exact, a
//!   bound or an estimate.
//! - [`matrix`]: [`Matrix`], the host-side table all crates exchange.
//! - [`error`]: [`GenError`], messages with cause and fix.
//! - [`numerics`]: the one home of host numerics (log-sum-exp, ln 2π,
//!   Gaussian log-densities and KLs, Box–Muller draws, Cholesky, symmetric
//!   eigen-decomposition).
//!
//! - [`distributed`]: data-parallel training over MPI (feature `mpi`) or
//!   threads: sharded batches, averaged gradients, one starting state.
//!
//! With the `burn` feature (on by default through `ndarray`, `flex`, `wgpu`):
//! run-time device choice, the shared neural blocks, the one trainer and
//! checkpointing.
#![warn(missing_docs)]

pub mod capability;
pub mod checkpoint;
pub mod distributed;
pub mod error;
pub mod matrix;
pub mod numerics;
pub mod score;
pub mod task;
pub mod train;

pub use capability::{Capabilities, Support, TaskSupport, capability_table};
pub use checkpoint::Checkpoint;
pub use error::{GenError, Result, Task};
pub use matrix::Matrix;
pub use score::{ScoreEstimator, ScoreKind, ScoreOptions, Scores};
pub use task::{
    EncodingPart, Infer, Learn, Model, Rng, Sample, SampleOptions, Score, StepContext, StepStats,
    rng_from_seed,
};

#[cfg(feature = "burn")]
pub use burn;
#[cfg(feature = "burn")]
pub mod device;
#[cfg(feature = "burn")]
pub mod export;
#[cfg(feature = "burn")]
pub mod nn;
#[cfg(feature = "burn")]
pub mod optim;
#[cfg(feature = "burn")]
pub mod parity;
#[cfg(feature = "burn")]
pub mod tensor;
#[cfg(feature = "burn")]
pub use device::Backend;
