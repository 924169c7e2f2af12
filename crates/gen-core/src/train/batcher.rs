//! Stateless epoch batching: the batch of step t is a pure function of
//! (seed, t), so a resumed run sees exactly the batches an uninterrupted one would.

use rand::seq::SliceRandom;

use crate::error::{GenError, Result};
use crate::task::rng_from_seed;

/// Minibatches over `n` rows, reshuffled every epoch from `(seed, epoch)`.
#[derive(Debug, Clone)]
pub struct EpochBatcher {
    n: usize,
    batch_size: usize,
    seed: u64,
}

impl EpochBatcher {
    /// Batches of `batch_size` rows (the last partial batch of an epoch is dropped,
    /// so every step sees the same batch size).
    pub fn new(n: usize, batch_size: usize, seed: u64) -> Result<Self> {
        if batch_size == 0 || batch_size > n {
            return Err(GenError::config(
                "batch_size",
                batch_size,
                format!("must be between 1 and the number of training rows ({n})"),
                "choose a batch size no larger than the training set",
            ));
        }
        Ok(Self {
            n,
            batch_size,
            seed,
        })
    }

    /// Full batches per epoch.
    pub fn batches_per_epoch(&self) -> u64 {
        (self.n / self.batch_size) as u64
    }

    /// The permutation used in `epoch`.
    pub fn permutation(&self, epoch: u64) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.n).collect();
        // Mix epoch into the seed (splitmix-style constant) so epochs differ.
        let mut rng = rng_from_seed(self.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        idx.shuffle(&mut rng);
        idx
    }

    /// Row indices of the batch at zero-based `step`.
    pub fn indices(&self, step: u64) -> Vec<usize> {
        let per = self.batches_per_epoch();
        let epoch = step / per;
        let k = (step % per) as usize;
        let perm = self.permutation(epoch);
        perm[k * self.batch_size..(k + 1) * self.batch_size].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_epoch_covers_every_row_once() {
        let b = EpochBatcher::new(10, 3, 7).unwrap();
        for epoch in 0..3 {
            let mut seen: Vec<usize> = (0..3).flat_map(|k| b.indices(epoch * 3 + k)).collect();
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), 9);
        }
        assert_eq!(b.indices(4), b.indices(4));
        assert_ne!(b.permutation(0), b.permutation(1));
    }

    #[test]
    fn bad_batch_sizes_are_errors() {
        assert!(EpochBatcher::new(10, 0, 1).is_err());
        assert!(EpochBatcher::new(10, 11, 1).is_err());
    }
}
