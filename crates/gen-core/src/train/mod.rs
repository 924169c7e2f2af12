//! Training: the shared loop, learning-rate schedules, stateless batching,
//! and (with `burn`) weight averaging and multi-player steps.

pub mod batcher;
#[cfg(feature = "burn")]
pub mod ema;
#[cfg(feature = "burn")]
pub mod players;
pub mod schedule;
pub mod trainer;

pub use batcher::EpochBatcher;
#[cfg(feature = "burn")]
pub use ema::{Ema, EmaConfig, EmaWarmup};
#[cfg(feature = "burn")]
pub use players::{PlayerLosses, TwoPlayer, TwoPlayerConfig, alternating_step};
pub use schedule::LrSchedule;
pub use trainer::{EvalContext, EvalMetrics, TrainConfig, TrainReport, Trainer, held_out_nll};
