//! Data-parallel training across processes (or threads): every rank holds
//! the same model, trains on its own shard of every batch, and the ranks
//! average their gradients before each optimiser step, so all of them take
//! the step one process would take on the whole batch.
//!
//! With R ranks and a global batch of B rows split into equal shards of
//! B/R, rank r's loss is the mean over its shard, L_r = (R/B) Σ_{i ∈ shard r} ℓ_i,
//! and the average of the ranks' gradients is the gradient of the global
//! mean: (1/R) Σ_r ∇L_r = (1/B) Σ_i ∇ℓ_i = ∇L. That is what
//! [`all_reduce_gradients`] computes (PyTorch's `DistributedDataParallel`
//! does the same with bucketed all-reduces).
//!
//! The engine is a [`Collective`]: MPI through rsmpi behind the `mpi`
//! feature ([`mpi::init`], one process per rank, launched by `mpirun`,
//! `srun` or any MPI launcher), or [`ThreadGroup`], ranks as threads of one
//! process ([`run_on_threads`]: one rank per core of one machine, and the
//! tests' way to check the mathematics without MPI).
//! A collective is installed per thread ([`install`]); the trainer uses it
//! when its [`TrainConfig::distributed`](crate::train::TrainConfig::distributed)
//! is on.
//!
//! What is synchronised, and how:
//! - **Gradients**, after backward and before the optimiser step, in
//!   [`Optimized::step`](crate::optim::Optimized::step) (so a GAN's two
//!   players are synchronised too): flattened in the module's visiting order
//!   (the same in every process, unlike burn's `ParamId`s), one f32
//!   all-reduce (sum, then ÷ R), put back. The buffer also carries one
//!   finiteness slot per rank, so a rank whose loss is not finite makes every
//!   rank skip the step together instead of leaving the others waiting.
//! - **The starting state**: rank 0 builds or restores the model, optimiser
//!   and trainer state and broadcasts its checkpoint files, so every rank
//!   starts identical without a shared file system.
//! - **Losses**: gathered every step; the trainer logs their mean and a
//!   non-finite loss stops every rank with a message that names the rank.
//!
//! Not synchronised: non-parameter state such as batch-norm running
//! statistics (each rank's follows its own shards; only rank 0's is
//! checkpointed).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::error::{GenError, Result};

#[cfg(feature = "cuda")]
pub mod burn_ddp;
#[cfg(feature = "mpi")]
pub mod mpi;
mod threads;

pub use crate::matrix::shard_range;
pub use threads::{ThreadGroup, run_on_threads};

/// The collective operations data-parallel training needs.
pub trait Collective {
    /// This process's rank, 0 ≤ rank < size.
    fn rank(&self) -> usize;
    /// The number of ranks.
    fn size(&self) -> usize;
    /// Element-wise sum over all ranks, in place (every rank gets the sum).
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Result<()>;
    /// Element-wise sum over all ranks, in place.
    fn all_reduce_sum_f64(&self, buf: &mut [f64]) -> Result<()>;
    /// Replaces `bytes` on every rank by `root`'s `bytes` (any length).
    fn broadcast_bytes(&self, root: usize, bytes: &mut Vec<u8>) -> Result<()>;
    /// The engine's name, recorded in run metadata ("mpi", "threads").
    fn engine(&self) -> &'static str;
}

thread_local! {
    static WORLD: RefCell<Option<Rc<dyn Collective>>> = const { RefCell::new(None) };
    static SYNCING: Cell<bool> = const { Cell::new(false) };
    static BAD_RANKS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    static TRAFFIC: Cell<Traffic> = const { Cell::new(Traffic { seconds: 0.0, bytes: 0, calls: 0 }) };
}

/// Gradient all-reduces since the last [`take_traffic`]: wall time spent in
/// them (including waiting for slower ranks), bytes sent per rank, count.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Traffic {
    /// Seconds inside the all-reduce calls.
    pub seconds: f64,
    /// Bytes of the reduced buffers.
    pub bytes: usize,
    /// Number of all-reduces.
    pub calls: usize,
}

#[cfg(feature = "burn")]
pub(crate) fn count_traffic(seconds: f64, bytes: usize) {
    TRAFFIC.with(|t| {
        let mut v = t.get();
        v.seconds += seconds;
        v.bytes += bytes;
        v.calls += 1;
        t.set(v);
    });
}

#[cfg(feature = "burn")]
pub(crate) fn note_bad_ranks(ranks: Vec<usize>) {
    BAD_RANKS.with(|b| {
        let mut b = b.borrow_mut();
        if b.is_empty() {
            *b = ranks;
        }
    });
}

/// The ranks whose loss was not finite at the first gradient all-reduce
/// that skipped an update since the last call (empty if none); resets.
pub fn take_bad_ranks() -> Vec<usize> {
    BAD_RANKS.with(|b| std::mem::take(&mut *b.borrow_mut()))
}

/// Returns and resets this thread's all-reduce counters; the trainer logs
/// them per step as `allreduce_ms` and `allreduce_mb`.
pub fn take_traffic() -> Traffic {
    TRAFFIC.with(|t| t.replace(Traffic::default()))
}

/// Makes `collective` this thread's world until the guard is dropped (the
/// previous world, if any, comes back then).
pub fn install(collective: impl Collective + 'static) -> WorldGuard {
    let new: Rc<dyn Collective> = Rc::new(collective);
    let prev = WORLD.with(|w| w.borrow_mut().replace(new));
    WorldGuard { prev }
}

/// Keeps a world installed; see [`install`].
pub struct WorldGuard {
    prev: Option<Rc<dyn Collective>>,
}

impl std::fmt::Debug for WorldGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorldGuard")
    }
}

impl Drop for WorldGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        WORLD.with(|w| *w.borrow_mut() = prev);
    }
}

/// This thread's world, if one is installed.
pub fn world() -> Option<Rc<dyn Collective>> {
    WORLD.with(|w| w.borrow().clone())
}

/// This thread's rank (0 without a world).
pub fn rank() -> usize {
    world().map_or(0, |w| w.rank())
}

/// The world size (1 without a world).
pub fn size() -> usize {
    world().map_or(1, |w| w.size())
}

/// The world whose gradients [`Optimized::step`](crate::optim::Optimized::step)
/// must average now: set only while the trainer runs a distributed learning
/// step, so optimisers stepped elsewhere (evaluation, a nested trainer that
/// fits a feature extractor on one rank) never wait for the other ranks.
pub fn syncing() -> Option<Rc<dyn Collective>> {
    if SYNCING.with(Cell::get) {
        world()
    } else {
        None
    }
}

/// Turns gradient synchronisation on until dropped: the trainer holds one
/// around each distributed learning step; a hand-written loop does the same
/// around its `learn_step` on a shard.
#[derive(Debug)]
pub struct SyncScope {
    prev: bool,
}

impl SyncScope {
    /// Synchronise [`Optimized::step`](crate::optim::Optimized::step) over
    /// this thread's world until the scope is dropped.
    pub fn enter() -> Self {
        Self {
            prev: SYNCING.with(|s| s.replace(true)),
        }
    }
}

impl Drop for SyncScope {
    fn drop(&mut self) {
        let prev = self.prev;
        SYNCING.with(|s| s.set(prev));
    }
}

/// Which ranks reported a loss that is not finite, given every rank's loss
/// (from [`gather_f64`]).
pub fn non_finite_ranks(losses: &[f64]) -> Vec<usize> {
    losses
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.is_finite())
        .map(|(r, _)| r)
        .collect()
}

/// Every rank's `value`, in rank order (an all-gather built from one sum:
/// each rank fills its own slot, the others are 0).
pub fn gather_f64(world: &dyn Collective, value: f64) -> Result<Vec<f64>> {
    let mut slots = vec![0.0; world.size()];
    slots[world.rank()] = value;
    world.all_reduce_sum_f64(&mut slots)?;
    Ok(slots)
}

/// Checks, once at start-up, that every rank runs the same thing: rank 0's
/// `fingerprint` is broadcast, every rank compares it with its own, and the
/// ranks that differ are gathered so that all of them return the same
/// [`GenError::RanksDisagree`] (none is left waiting in a collective).
/// `fingerprint` holds everything that must agree (the build, the model, its
/// options), one item per line; a differing rank names its first differing
/// line in the error's `detail`. `what` names the whole in the message.
pub fn check_agreement(world: &dyn Collective, what: &str, fingerprint: &str) -> Result<()> {
    let mut root = fingerprint.as_bytes().to_vec();
    world.broadcast_bytes(0, &mut root)?;
    let root = String::from_utf8_lossy(&root).into_owned();
    let differs = if root == fingerprint { 0.0 } else { 1.0 };
    let flags = gather_f64(world, differs)?;
    let ranks: Vec<usize> = flags
        .iter()
        .enumerate()
        .filter(|(_, f)| **f != 0.0)
        .map(|(r, _)| r)
        .collect();
    if ranks.is_empty() {
        return Ok(());
    }
    let mine = if root == fingerprint {
        String::new()
    } else {
        let (mut a, mut b) = (root.lines(), fingerprint.lines());
        let (ours, theirs) = loop {
            match (b.next(), a.next()) {
                (x, y) if x != y => break (x.unwrap_or("(nothing)"), y.unwrap_or("(nothing)")),
                (None, None) => break ("(same lines)", "(same lines)"),
                _ => {}
            }
        };
        format!(
            "rank {} has `{ours}` where rank 0 has `{theirs}`",
            world.rank()
        )
    };
    // Every rank learns every differing rank's first difference, so the
    // one message that gets printed says where, whichever rank prints it
    // (a launcher may stop the others as soon as one exits).
    let mut details = Vec::with_capacity(ranks.len());
    for &r in &ranks {
        let mut bytes = if r == world.rank() {
            mine.as_bytes().to_vec()
        } else {
            Vec::new()
        };
        world.broadcast_bytes(r, &mut bytes)?;
        details.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    let detail = format!(": {}", details.join("; "));
    Err(GenError::RanksDisagree {
        what: what.to_string(),
        ranks,
        size: world.size(),
        detail,
    })
}

/// Checks the device list of an in-process data-parallel job (burn's DDP:
/// one rank per listed GPU): not empty, no device twice.
pub fn check_device_list(indices: &[usize]) -> Result<()> {
    if indices.is_empty() {
        return Err(GenError::config(
            "--devices",
            "(none)",
            "burn's DDP needs at least one CUDA device",
            "list the GPUs, e.g. --devices 0,1",
        ));
    }
    let mut seen = indices.to_vec();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != indices.len() {
        return Err(GenError::config(
            "--devices",
            format!("{indices:?}"),
            "a GPU is listed twice",
            "list each GPU once, e.g. --devices 0,1",
        ));
    }
    Ok(())
}

/// Packs the files under `dir` (recursively) into one byte string:
/// for each file, its relative path and its bytes, length-prefixed.
pub fn pack_dir(dir: &std::path::Path) -> Result<Vec<u8>> {
    fn walk(
        root: &std::path::Path,
        dir: &std::path::Path,
        out: &mut Vec<(String, Vec<u8>)>,
    ) -> Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| GenError::io(dir, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, out)?;
            } else {
                let rel = p
                    .strip_prefix(root)
                    .map_err(|e| GenError::Other(e.to_string()))?
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read(&p).map_err(|e| GenError::io(&p, e))?));
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&(files.len() as u64).to_le_bytes());
    for (name, data) in files {
        bytes.extend_from_slice(&(name.len() as u64).to_le_bytes());
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(&(data.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&data);
    }
    Ok(bytes)
}

/// Writes the files packed by [`pack_dir`] under `dir`.
pub fn unpack_dir(bytes: &[u8], dir: &std::path::Path) -> Result<()> {
    struct Cursor<'a> {
        bytes: &'a [u8],
        at: usize,
        dir: &'a std::path::Path,
    }
    impl<'a> Cursor<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8]> {
            let end = self.at.checked_add(n);
            let s = end
                .and_then(|e| self.bytes.get(self.at..e))
                .ok_or_else(|| GenError::Format {
                    path: self.dir.to_path_buf(),
                    problem: "a broadcast checkpoint ended early".into(),
                    fix: "every rank must run the same build".into(),
                })?;
            self.at += n;
            Ok(s)
        }
        fn len(&mut self) -> Result<usize> {
            let mut le = [0u8; 8];
            le.copy_from_slice(self.take(8)?);
            usize::try_from(u64::from_le_bytes(le)).map_err(|e| GenError::Other(e.to_string()))
        }
    }
    let mut c = Cursor { bytes, at: 0, dir };
    let count = c.len()?;
    for _ in 0..count {
        let len = c.len()?;
        let name = String::from_utf8(c.take(len)?.to_vec())
            .map_err(|e| GenError::Other(format!("a broadcast file name is not UTF-8: {e}")))?;
        let len = c.len()?;
        let data = c.take(len)?;
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| GenError::io(parent, e))?;
        }
        std::fs::write(&path, data).map_err(|e| GenError::io(&path, e))?;
    }
    Ok(())
}

#[cfg(feature = "burn")]
mod grads;
#[cfg(feature = "burn")]
pub use grads::{all_reduce_gradients, average_params, flatten_params};

#[cfg(test)]
mod tests;
