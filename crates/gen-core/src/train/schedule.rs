//! Learning-rate schedules: lr(t) for step t of T.

use serde::{Deserialize, Serialize};

/// A learning-rate schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    /// lr(t) = lr₀.
    #[default]
    Constant,
    /// Linear warm-up over `warmup` steps, then cosine decay to `min_factor`·lr₀:
    /// lr(t) = lr₀ (m + (1 − m)(1 + cos(π (t − w)/(T − w)))/2).
    Cosine {
        /// Warm-up steps.
        warmup: u64,
        /// Final learning rate as a fraction of lr₀.
        min_factor: f64,
    },
    /// lr(t) = lr₀ · γ^⌊t / every⌋.
    Step {
        /// Steps between decays.
        every: u64,
        /// Multiplicative decay γ.
        gamma: f64,
    },
}

impl LrSchedule {
    /// The learning rate at zero-based step `t` of `total` steps, from base `lr0`.
    pub fn lr(&self, lr0: f64, t: u64, total: u64) -> f64 {
        match *self {
            LrSchedule::Constant => lr0,
            LrSchedule::Cosine { warmup, min_factor } => {
                if t < warmup {
                    return lr0 * (t + 1) as f64 / warmup as f64;
                }
                let span = total.saturating_sub(warmup).max(1) as f64;
                let progress = ((t - warmup) as f64 / span).min(1.0);
                lr0 * (min_factor
                    + (1.0 - min_factor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
            }
            LrSchedule::Step { every, gamma } => {
                lr0 * gamma.powi((t / every.max(1)).min(i32::MAX as u64) as i32)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_warms_up_then_decays_to_floor() {
        let s = LrSchedule::Cosine {
            warmup: 10,
            min_factor: 0.1,
        };
        assert!((s.lr(1.0, 0, 110) - 0.1).abs() < 1e-12);
        assert!((s.lr(1.0, 9, 110) - 1.0).abs() < 1e-12);
        assert!((s.lr(1.0, 10, 110) - 1.0).abs() < 1e-12);
        assert!((s.lr(1.0, 60, 110) - 0.55).abs() < 1e-12);
        assert!((s.lr(1.0, 110, 110) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn step_decay() {
        let s = LrSchedule::Step {
            every: 100,
            gamma: 0.5,
        };
        assert_eq!(s.lr(1.0, 99, 1000), 1.0);
        assert_eq!(s.lr(1.0, 250, 1000), 0.25);
    }
}
