//! Ranks as threads of one process: a [`Collective`] over shared memory,
//! for tests and for checking data-parallel mathematics without MPI.

use std::sync::{Arc, Barrier, Mutex};

use super::Collective;
use crate::error::{GenError, Result};

struct Shared {
    size: usize,
    barrier: Barrier,
    slots: Mutex<Vec<Vec<f64>>>,
    bytes: Mutex<Vec<u8>>,
}

/// One rank of a group of threads; move each member into its own thread
/// and [`install`](super::install) it there.
pub struct ThreadGroup {
    rank: usize,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ThreadGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ThreadGroup(rank {} of {})", self.rank, self.size())
    }
}

impl ThreadGroup {
    /// The `size` members of a new group, in rank order.
    pub fn create(size: usize) -> Result<Vec<ThreadGroup>> {
        if size == 0 {
            return Err(GenError::config(
                "size",
                0,
                "a group needs at least one rank",
                "pass 1 or more",
            ));
        }
        let shared = Arc::new(Shared {
            size,
            barrier: Barrier::new(size),
            slots: Mutex::new(vec![Vec::new(); size]),
            bytes: Mutex::new(Vec::new()),
        });
        Ok((0..size)
            .map(|rank| ThreadGroup {
                rank,
                shared: shared.clone(),
            })
            .collect())
    }

    /// Sums every rank's `values` in rank order, so every rank gets the
    /// same, reproducible result.
    fn sum(&self, values: Vec<f64>) -> Result<Vec<f64>> {
        let poisoned = || GenError::Other("a rank thread panicked during a collective".into());
        self.shared.barrier.wait();
        self.shared.slots.lock().map_err(|_| poisoned())?[self.rank] = values;
        self.shared.barrier.wait();
        let out = {
            let slots = self.shared.slots.lock().map_err(|_| poisoned())?;
            let n = slots[0].len();
            if slots.iter().any(|s| s.len() != n) {
                return Err(GenError::Other(format!(
                    "ranks all-reduced buffers of different lengths ({:?})",
                    slots.iter().map(Vec::len).collect::<Vec<_>>()
                )));
            }
            let mut acc = vec![0.0; n];
            for s in slots.iter() {
                for (a, v) in acc.iter_mut().zip(s) {
                    *a += v;
                }
            }
            acc
        };
        self.shared.barrier.wait();
        Ok(out)
    }
}

impl Collective for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.size
    }

    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Result<()> {
        let sum = self.sum(buf.iter().map(|&v| f64::from(v)).collect())?;
        for (b, s) in buf.iter_mut().zip(sum) {
            *b = s as f32;
        }
        Ok(())
    }

    fn all_reduce_sum_f64(&self, buf: &mut [f64]) -> Result<()> {
        let sum = self.sum(buf.to_vec())?;
        buf.copy_from_slice(&sum);
        Ok(())
    }

    fn broadcast_bytes(&self, root: usize, bytes: &mut Vec<u8>) -> Result<()> {
        let poisoned = || GenError::Other("a rank thread panicked during a broadcast".into());
        self.shared.barrier.wait();
        if self.rank == root {
            *self.shared.bytes.lock().map_err(|_| poisoned())? = bytes.clone();
        }
        self.shared.barrier.wait();
        if self.rank != root {
            *bytes = self.shared.bytes.lock().map_err(|_| poisoned())?.clone();
        }
        self.shared.barrier.wait();
        Ok(())
    }

    fn engine(&self) -> &'static str {
        "threads"
    }
}
