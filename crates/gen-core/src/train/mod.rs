//! Training: the shared loop, learning-rate schedules and stateless batching.

pub mod batcher;
pub mod schedule;
pub mod trainer;

pub use batcher::EpochBatcher;
pub use schedule::LrSchedule;
pub use trainer::{TrainConfig, TrainReport, Trainer};
