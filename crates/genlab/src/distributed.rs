//! `genlab train --distributed`: joining the MPI world, stopping every rank
//! when one fails, and what `run.json` records (docs/distributed.md).

use std::path::Path;

use gen_core::distributed::WorldGuard;
use gen_core::{GenError, Result};

use crate::TrainArgs;
use crate::run::{DistributedMeta, RunMeta};

/// Joins the world `--distributed MODE` asks for (None for `none`).
pub fn join(mode: &str) -> Result<Option<WorldGuard>> {
    match mode {
        "none" => Ok(None),
        "mpi" => mpi_world().map(Some),
        "burn-ddp" => Err(GenError::Other(
            "--distributed burn-ddp runs its ranks as threads (distributed::burn_ddp), not \
             in a joined world"
                .into(),
        )),
        "threads" => Err(GenError::Other(
            "--distributed threads runs its ranks as threads (distributed::run_on_threads), \
             not in a joined world"
                .into(),
        )),
        other => Err(GenError::config(
            "--distributed",
            other,
            "unknown mode",
            "use none, mpi, burn-ddp or threads",
        )),
    }
}

#[cfg(feature = "mpi")]
fn mpi_world() -> Result<WorldGuard> {
    if !launched_by_mpi(|k| std::env::var_os(k).is_some()) {
        return Err(GenError::config(
            "--distributed",
            "mpi",
            "this process was not started by an MPI launcher, so it would train alone as a \
             world of one",
            "start every rank with the launcher: `mpirun -n 2 genlab train … --distributed mpi` \
             (or `srun`, or `mpiexec`); drop --distributed to train in one process",
        ));
    }
    gen_core::distributed::mpi::init()
}

/// Whether an MPI launcher started this process: OpenMPI (`OMPI_COMM_WORLD_SIZE`),
/// PMIx (`PMIX_RANK`), MPICH / Intel MPI's Hydra (`PMI_RANK`, `PMI_SIZE`)
/// and Slurm's `srun` (`SLURM_STEP_ID` with `PMI_FD` / `PMIX_RANK`) all set
/// one of these in every rank's environment.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
fn launched_by_mpi(is_set: impl Fn(&str) -> bool) -> bool {
    [
        "OMPI_COMM_WORLD_SIZE",
        "PMIX_RANK",
        "PMI_RANK",
        "PMI_SIZE",
        "PMI_FD",
        "MPI_LOCALNRANKS",
    ]
    .iter()
    .any(|k| is_set(k))
}

/// Checks at start-up that every rank runs the same build with the same
/// model and resolved options (`config`: the flags and configuration
/// files, as the run's config.toml records them), before any rank builds
/// anything; see [`gen_core::distributed::check_agreement`].
pub fn check_same_run(config: &str) -> Result<()> {
    let Some(world) = gen_core::distributed::world() else {
        return Ok(());
    };
    // One option per line, comments and blank lines left out.
    let options = config
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let fingerprint = std::iter::once(format!("genlab {}", env!("CARGO_PKG_VERSION")))
        .chain(options.map(String::from))
        .collect::<Vec<_>>()
        .join("\n");
    gen_core::distributed::check_agreement(
        &*world,
        "the genlab build, the model and its options",
        &fingerprint,
    )
}

#[cfg(not(feature = "mpi"))]
fn mpi_world() -> Result<WorldGuard> {
    Err(GenError::config(
        "--distributed",
        "mpi",
        "this genlab was built without MPI support",
        "install an MPI library (Debian: apt-get install libopenmpi-dev openmpi-bin \
         libclang-dev), build with `cargo build -p genlab --features mpi`, and launch \
         `mpirun -n 2 genlab train … --distributed mpi` (docs/distributed.md)",
    ))
}

/// `--distributed burn-ddp`: burn's in-process DDP, one rank per CUDA GPU
/// of `--devices`, each a thread running `train_rank` with its world
/// installed (gen_core::distributed::burn_ddp). A rank that fails (other
/// than a divergence, which every rank sees together) ends the process with
/// its error, since the others would wait in the all-reduce forever.
#[cfg(feature = "cuda")]
pub fn burn_ddp(
    a: TrainArgs,
    config: &str,
    train_rank: fn(TrainArgs, &str, usize) -> Result<()>,
) -> Result<()> {
    use gen_core::device::Backend;
    if a.common.backend != Backend::Cuda {
        return Err(GenError::config(
            "--backend",
            a.common.backend.name(),
            "burn's DDP (--distributed burn-ddp) trains on CUDA devices",
            "add --backend cuda, or use --distributed mpi on CPU backends",
        ));
    }
    let devices = a.common.run.devices.clone();
    let config = config.to_string();
    let a = std::sync::Arc::new(a);
    gen_core::distributed::burn_ddp::run_on_gpus(
        &devices,
        move |rank| train_rank((*a).clone(), &config, rank),
        |rank, e| {
            if !matches!(e, GenError::DivergedOnRank { .. }) {
                eprintln!("error on rank {rank}: {e}");
                std::process::exit(2);
            }
        },
    )
    .map(|_| ())
}

/// `--distributed threads`: `--ranks` ranks (default: the machine's cores)
/// as threads of this process, each running `train_rank` with its member of
/// one [`gen_core::distributed::ThreadGroup`] installed. A rank that fails
/// stops the others at their next collective, and its error is returned.
pub fn threads(
    a: TrainArgs,
    config: &str,
    train_rank: fn(TrainArgs, &str, usize) -> Result<()>,
) -> Result<()> {
    use gen_core::device::Backend;
    let ranks = match a.common.run.ranks {
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    if ranks == 0 {
        return Err(GenError::config(
            "--ranks",
            0,
            "data-parallel training needs at least one rank",
            "pass --ranks 2 (or leave it out: one rank per core)",
        ));
    }
    if matches!(a.common.backend, Backend::Cuda) {
        return Err(GenError::config(
            "--backend",
            "cuda",
            "--distributed threads runs every rank on the same device",
            "on several GPUs use --distributed burn-ddp --devices 0,1",
        ));
    }
    gen_core::distributed::run_on_threads(ranks, |rank| train_rank(a.clone(), config, rank))
        .map(|_| ())
}

/// `--distributed burn-ddp` in a build without CUDA: says how to get it.
#[cfg(not(feature = "cuda"))]
pub fn burn_ddp(
    _a: TrainArgs,
    _config: &str,
    _train_rank: fn(TrainArgs, &str, usize) -> Result<()>,
) -> Result<()> {
    Err(GenError::config(
        "--distributed",
        "burn-ddp",
        "burn 0.22's DDP (burn::tensor::distributed::all_reduce over NCCL) runs inside one \
         process on CUDA devices only, and this genlab was built without CUDA",
        "on a machine with NVIDIA GPUs, build with `cargo build -p genlab --features cuda` and \
         run `genlab train … --backend cuda --distributed burn-ddp --devices 0,1`; on CPUs use \
         --distributed mpi (docs/distributed.md)",
    ))
}

/// Ends this rank's part: success finalises MPI (dropping the world); a
/// failure on one rank stops the whole job (`MPI_Abort`) with a message
/// naming the rank, instead of leaving the others waiting in a collective.
/// A divergence stops every rank at the same step by itself, and every rank
/// learns of a disagreement (with every rank's difference) at start-up, so
/// rank 0 alone reports those.
pub fn or_abort(rank: usize, out: Result<()>, world: WorldGuard) -> Result<()> {
    match out {
        Ok(()) => {
            drop(world);
            Ok(())
        }
        Err(e @ GenError::DivergedOnRank { .. }) => {
            drop(world);
            if rank == 0 { Err(e) } else { Ok(()) }
        }
        Err(e @ GenError::RanksDisagree { .. }) => {
            // Every rank holds the whole story (which ranks, and where
            // each differs); rank 0 tells it.
            drop(world);
            if rank == 0 { Err(e) } else { Ok(()) }
        }
        Err(e) => {
            eprintln!("error on rank {rank}: {e}");
            abort(world)
        }
    }
}

#[cfg(feature = "mpi")]
fn abort(world: WorldGuard) -> Result<()> {
    if gen_core::distributed::size() > 1 {
        gen_core::distributed::mpi::abort(2);
    }
    drop(world);
    Err(GenError::Other("training failed (see above)".into()))
}

#[cfg(not(feature = "mpi"))]
fn abort(world: WorldGuard) -> Result<()> {
    drop(world);
    Err(GenError::Other("training failed (see above)".into()))
}

/// Adds the world size and the global and per-rank batch to `out/run.json`
/// (the batch from the trainer's `train_config.json`).
pub fn record(out: &Path) -> Result<()> {
    let Some(world) = gen_core::distributed::world() else {
        return Ok(());
    };
    let tc: gen_core::train::TrainConfig =
        gen_core::checkpoint::read_json(&out.join("train_config.json"))?;
    let mut meta = RunMeta::load(out)?;
    meta.distributed = Some(DistributedMeta {
        engine: world.engine().into(),
        world_size: world.size(),
        global_batch: tc.batch_size,
        per_rank_batch: tc.batch_size / world.size(),
    });
    meta.save(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launchers_are_recognised_by_their_environment() {
        assert!(!launched_by_mpi(|_| false));
        for k in ["OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMIX_RANK"] {
            assert!(launched_by_mpi(|v| v == k), "{k}");
        }
    }
}
