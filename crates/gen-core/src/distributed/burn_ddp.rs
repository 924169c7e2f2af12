//! burn's own data-parallel collectives (the `cuda` feature): ranks as
//! threads of one process, one CUDA device each, as burn-train's
//! `ExecutionStrategy::ddp` runs them. The gradient all-reduce — the one
//! collective whose size grows with the model — runs on the devices through
//! `burn::tensor::distributed::all_reduce` (NCCL) inside one
//! [`DistributedContext`]; the small ones (losses, the start-up broadcast of
//! rank 0's checkpoint, the agreement check) go over shared memory through
//! a [`ThreadGroup`].
//!
//! burn 0.22 implements these collectives for CUDA devices only: ndarray
//! and flex are catalogued without them and wgpu has no device transport,
//! so CPU training across processes uses MPI ([`super::mpi`]) instead.
//!
//! Not run in this project's CI, which has no GPU: CI type-checks this
//! module (`cargo check -p genlab --features cuda`); the threads, the
//! agreement check and the gradient flattening around it are the code the
//! CPU tests run through [`ThreadGroup`].

use burn::tensor::distributed::{
    DistributedConfig, DistributedContext, ReduceOperation, all_reduce,
};
use burn::tensor::{Device, Tensor, TensorData};

use crate::tensor::to_vec;

use super::{Collective, ThreadGroup};
use crate::device::{Backend, set_cuda_index};
use crate::error::{GenError, Result};

/// One rank: its thread's CUDA device, the whole job's devices (burn's
/// all-reduce names its participants) and the shared-memory group.
pub struct BurnDdpRank {
    group: ThreadGroup,
    device: Device,
    devices: Vec<Device>,
}

impl std::fmt::Debug for BurnDdpRank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BurnDdpRank(rank {} of {})",
            self.group.rank(),
            self.group.size()
        )
    }
}

impl Collective for BurnDdpRank {
    fn rank(&self) -> usize {
        self.group.rank()
    }

    fn size(&self) -> usize {
        self.group.size()
    }

    /// The sum over the ranks of `buf`, computed on the devices by burn's
    /// `all_reduce` (NCCL); the host copies in and out are the price of
    /// sharing the gradient flattening with the MPI engine.
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Result<()> {
        let n = buf.len();
        let local = Tensor::<1>::from_data(TensorData::new(buf.to_vec(), [n]), &self.device);
        let sum = all_reduce(local, ReduceOperation::Sum, self.devices.clone()).resolve();
        let host = to_vec(sum)?;
        if host.len() != n {
            return Err(GenError::Other(format!(
                "burn all-reduce returned {} values for {n}",
                host.len()
            )));
        }
        buf.copy_from_slice(&host);
        Ok(())
    }

    fn all_reduce_sum_f64(&self, buf: &mut [f64]) -> Result<()> {
        self.group.all_reduce_sum_f64(buf)
    }

    fn broadcast_bytes(&self, root: usize, bytes: &mut Vec<u8>) -> Result<()> {
        self.group.broadcast_bytes(root, bytes)
    }

    fn engine(&self) -> &'static str {
        "burn-ddp"
    }
}

/// Runs `f(rank)` on one thread per CUDA device in `indices` (rank r on GPU
/// `indices[r]`, which `Backend::Cuda` means on that thread), each with its
/// [`BurnDdpRank`] installed, inside one burn [`DistributedContext`].
/// Returns every rank's result in rank order once all have finished.
///
/// A rank that fails would leave the others waiting in a collective
/// forever, so `on_failure` is called with the rank and its error at once
/// (genlab prints it and ends the process, as `MPI_Abort` does for MPI).
pub fn run_on_gpus<T: Send + 'static>(
    indices: &[usize],
    f: impl Fn(usize) -> Result<T> + Send + Sync + 'static,
    on_failure: impl Fn(usize, &GenError) + Send + Sync + 'static,
) -> Result<Vec<T>> {
    super::check_device_list(indices)?;
    // Every device must start before the communication server does.
    let mut devices = Vec::with_capacity(indices.len());
    for &i in indices {
        set_cuda_index(i);
        devices.push(Backend::Cuda.device()?);
    }
    set_cuda_index(0);
    let _context = DistributedContext::init(
        devices.clone(),
        DistributedConfig {
            all_reduce_op: ReduceOperation::Sum,
        },
    );
    let f = std::sync::Arc::new(f);
    let on_failure = std::sync::Arc::new(on_failure);
    let handles: Vec<_> = ThreadGroup::create(indices.len())?
        .into_iter()
        .zip(indices.iter().copied())
        .enumerate()
        .map(|(rank, (group, gpu))| {
            let rank_state = BurnDdpRank {
                group,
                device: devices[rank].clone(),
                devices: devices.clone(),
            };
            let (f, on_failure) = (f.clone(), on_failure.clone());
            std::thread::spawn(move || {
                set_cuda_index(gpu);
                let _world = super::install(rank_state);
                let out = f(rank);
                if let Err(e) = &out {
                    on_failure(rank, e);
                }
                out
            })
        })
        .collect();
    let mut out = Vec::with_capacity(handles.len());
    for (rank, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(r) => out.push(r?),
            Err(_) => {
                return Err(GenError::Other(format!(
                    "the thread of rank {rank} panicked"
                )));
            }
        }
    }
    Ok(out)
}
