//! Ranks as threads of one process: a [`Collective`] over shared memory.
//! The tests use it to check data-parallel mathematics without MPI, and
//! [`run_on_threads`] trains on the cores of one machine with it
//! (`genlab train --distributed threads`): a CPU backend that leaves a
//! core idle on small matrices gets one rank per core instead.

use std::sync::{Arc, Condvar, Mutex, RwLock};

use super::Collective;
use crate::error::{GenError, Result};

/// A barrier that a failing rank can break, so the others get an error at
/// their next collective instead of waiting forever (std's `Barrier`
/// cannot be broken).
struct Gate {
    size: usize,
    state: Mutex<GateState>,
    turned: Condvar,
}

#[derive(Default)]
struct GateState {
    arrived: usize,
    generation: u64,
    /// The first rank that gave up, if any.
    broken_by: Option<usize>,
}

impl Gate {
    fn stopped(rank: usize) -> GenError {
        GenError::Other(format!(
            "rank {rank} of the thread group stopped with an error, so the other ranks stop too"
        ))
    }

    fn wait(&self) -> Result<()> {
        let poisoned = || GenError::Other("a rank thread panicked during a collective".into());
        let mut s = self.state.lock().map_err(|_| poisoned())?;
        if let Some(r) = s.broken_by {
            return Err(Self::stopped(r));
        }
        let generation = s.generation;
        s.arrived += 1;
        if s.arrived == self.size {
            s.arrived = 0;
            s.generation += 1;
            self.turned.notify_all();
            return Ok(());
        }
        while s.generation == generation && s.broken_by.is_none() {
            s = self.turned.wait(s).map_err(|_| poisoned())?;
        }
        match (s.generation == generation, s.broken_by) {
            (true, Some(r)) => Err(Self::stopped(r)),
            _ => Ok(()),
        }
    }

    fn break_by(&self, rank: usize) {
        let mut s = match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        s.broken_by.get_or_insert(rank);
        self.turned.notify_all();
    }
}

struct Shared {
    gate: Gate,
    /// One slot per rank, so ranks copy their buffers in at the same time.
    slots_f32: Vec<RwLock<Vec<f32>>>,
    slots_f64: Vec<RwLock<Vec<f64>>>,
    bytes: Mutex<Vec<u8>>,
}

/// One rank of a group of threads; move each member into its own thread
/// and [`install`](super::install) it there, or let [`run_on_threads`] do
/// both.
pub struct ThreadGroup {
    rank: usize,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ThreadGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ThreadGroup(rank {} of {})", self.rank, self.size())
    }
}

fn poisoned() -> GenError {
    GenError::Other("a rank thread panicked during a collective".into())
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
            gate: Gate {
                size,
                state: Mutex::new(GateState::default()),
                turned: Condvar::new(),
            },
            slots_f32: (0..size).map(|_| RwLock::new(Vec::new())).collect(),
            slots_f64: (0..size).map(|_| RwLock::new(Vec::new())).collect(),
            bytes: Mutex::new(Vec::new()),
        });
        Ok((0..size)
            .map(|rank| ThreadGroup {
                rank,
                shared: shared.clone(),
            })
            .collect())
    }

    /// Gives up this rank's part: every other rank's current or next
    /// collective returns an error naming this rank.
    pub fn abandon(&self) {
        self.shared.gate.break_by(self.rank);
    }

    /// Another handle on the same rank (to [`abandon`](Self::abandon) it
    /// from outside the thread that installed it).
    fn handle(&self) -> ThreadGroup {
        ThreadGroup {
            rank: self.rank,
            shared: self.shared.clone(),
        }
    }

    /// Sums every rank's `buf` in rank order into `buf`, so every rank gets
    /// the same, reproducible result.
    fn sum<T: Copy + std::ops::AddAssign>(
        &self,
        slots: &[RwLock<Vec<T>>],
        buf: &mut [T],
    ) -> Result<()> {
        {
            let mut mine = slots[self.rank].write().map_err(|_| poisoned())?;
            mine.clear();
            mine.extend_from_slice(buf);
        }
        self.shared.gate.wait()?;
        {
            let all = slots
                .iter()
                .map(|s| s.read().map_err(|_| poisoned()))
                .collect::<Result<Vec<_>>>()?;
            if all.iter().any(|s| s.len() != buf.len()) {
                let lens: Vec<usize> = all.iter().map(|s| s.len()).collect();
                drop(all);
                // The others must not wait for this rank at the next gate.
                self.abandon();
                return Err(GenError::Other(format!(
                    "ranks all-reduced buffers of different lengths ({lens:?})"
                )));
            }
            buf.copy_from_slice(&all[0]);
            for s in &all[1..] {
                for (b, v) in buf.iter_mut().zip(s.iter()) {
                    *b += *v;
                }
            }
        }
        // No rank may overwrite its slot before every rank has read them.
        self.shared.gate.wait()
    }
}

impl Collective for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.gate.size
    }

    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Result<()> {
        self.sum(&self.shared.slots_f32, buf)
    }

    fn all_reduce_sum_f64(&self, buf: &mut [f64]) -> Result<()> {
        self.sum(&self.shared.slots_f64, buf)
    }

    fn broadcast_bytes(&self, root: usize, bytes: &mut Vec<u8>) -> Result<()> {
        self.shared.gate.wait()?;
        if self.rank == root {
            *self.shared.bytes.lock().map_err(|_| poisoned())? = bytes.clone();
        }
        self.shared.gate.wait()?;
        if self.rank != root {
            *bytes = self.shared.bytes.lock().map_err(|_| poisoned())?.clone();
        }
        self.shared.gate.wait()
    }

    fn engine(&self) -> &'static str {
        "threads"
    }
}

/// Breaks the group if its rank's thread ends without disarming it (an
/// error or a panic), so no other rank waits for it forever.
struct AbandonUnlessDone(Option<ThreadGroup>);

impl AbandonUnlessDone {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbandonUnlessDone {
    fn drop(&mut self) {
        if let Some(g) = self.0.take() {
            g.abandon();
        }
    }
}

/// Runs `f(rank)` for ranks 0..`size`, each on its own thread with its
/// member of one [`ThreadGroup`] installed as that thread's world, and
/// returns every rank's result in rank order once all have finished: the
/// engine of `genlab train --distributed threads`.
///
/// A rank that fails or panics breaks the group, so the others stop at
/// their next collective; the error returned is then the failing rank's
/// own (not the others' "rank r stopped").
pub fn run_on_threads<T: Send>(
    size: usize,
    f: impl Fn(usize) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let group = ThreadGroup::create(size)?;
    let shared = group[0].shared.clone();
    let f = &f;
    let results: Vec<std::thread::Result<Result<T>>> = std::thread::scope(|s| {
        let handles: Vec<_> = group
            .into_iter()
            .enumerate()
            .map(|(rank, member)| {
                let guard = AbandonUnlessDone(Some(member.handle()));
                std::thread::Builder::new()
                    .name(format!("rank {rank}"))
                    .spawn_scoped(s, move || {
                        let _world = super::install(member);
                        let out = f(rank);
                        if out.is_ok() {
                            guard.disarm();
                        }
                        out
                    })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h.join(),
                Err(e) => Ok(Err(GenError::Other(format!(
                    "could not start a rank thread: {e}"
                )))),
            })
            .collect()
    });
    // The rank that broke the group first failed on its own; the others
    // only stopped because of it.
    let first = match shared.gate.state.lock() {
        Ok(s) => s.broken_by,
        Err(p) => p.into_inner().broken_by,
    };
    let mut results: Vec<Option<std::thread::Result<Result<T>>>> =
        results.into_iter().map(Some).collect();
    if let Some(r) = first {
        return Err(match results[r].take() {
            Some(Ok(Err(e))) => e,
            _ => GenError::Other(format!("the thread of rank {r} panicked")),
        });
    }
    let mut out = Vec::with_capacity(size);
    for (rank, r) in results.into_iter().enumerate() {
        match r {
            Some(Ok(Ok(v))) => out.push(v),
            Some(Ok(Err(e))) => return Err(e),
            _ => {
                return Err(GenError::Other(format!(
                    "the thread of rank {rank} panicked"
                )));
            }
        }
    }
    Ok(out)
}
