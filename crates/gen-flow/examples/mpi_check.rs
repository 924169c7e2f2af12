//! Data-parallel training over MPI, checked against one process: run under
//! an MPI launcher (`.ci/run` does, on loopback):
//!
//! ```text
//! cargo build -p gen-flow --features mpi --example mpi_check
//! mpirun --allow-run-as-root --oversubscribe -n 2 target/debug/examples/mpi_check
//! ```
//!
//! Every rank trains a RealNVP on its shard of the same eight-Gaussian
//! batches, with gradients all-reduced over MPI; after **every** step the
//! ranks' parameters must be identical (rank 0's are broadcast and compared
//! bit for bit), and after the last step they must equal, within float
//! tolerance, the parameters of one process (rank 0, outside the world)
//! trained on the combined batches. A Glow (whose ActNorm layers are
//! initialised from each rank's shard and then averaged) must keep its
//! ranks identical too. Exits non-zero, naming the step and rank, otherwise.

use gen_core::distributed::{self, Collective, SyncScope, flatten_params};
use gen_core::{GenError, Learn, Result, StepContext, rng_from_seed};
use gen_data::Toy2d;
use gen_flow::{FlowBatch, FlowConfig, FlowKind, FlowModel};

const STEPS: u64 = 8;
const BATCH: usize = 64;

fn batch(t: u64) -> FlowBatch {
    FlowBatch::from(Toy2d::EightGaussians.sample_with(BATCH, &mut rng_from_seed(1000 + t)))
}

fn model(kind: FlowKind) -> Result<FlowModel> {
    let mut config = FlowConfig::new(kind, 2);
    config.layers = 4;
    FlowModel::new(config, &gen_core::Backend::Flex.device()?)
}

/// The largest |a − b| between this rank's parameters and rank 0's.
fn gap_to_root(world: &dyn Collective, params: &[f32]) -> Result<f32> {
    let mut bytes: Vec<u8> = params.iter().flat_map(|v| v.to_le_bytes()).collect();
    world.broadcast_bytes(0, &mut bytes)?;
    let root: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if root.len() != params.len() {
        return Err(GenError::Other("ranks hold different models".into()));
    }
    Ok(params
        .iter()
        .zip(&root)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max))
}

/// Trains `m` for STEPS steps: on this rank's shard, synchronised, when
/// `world` is given; on the whole batch otherwise. Checks the ranks agree
/// after every step.
fn train(m: &mut FlowModel, world: Option<&dyn Collective>) -> Result<()> {
    for t in 0..STEPS {
        let mut rng = rng_from_seed(t);
        let mut ctx = StepContext {
            step: t,
            lr: 1e-2,
            rng: &mut rng,
        };
        let b = batch(t);
        match world {
            None => {
                m.learn_step(&b, &mut ctx)?;
            }
            Some(w) => {
                let shard = m.shard_batch(&b, w.rank(), w.size())?;
                {
                    let _sync = SyncScope::enter();
                    m.learn_step(&shard, &mut ctx)?;
                }
                let gap = gap_to_root(w, &flatten_params(&m.train.model)?)?;
                if gap != 0.0 {
                    return Err(GenError::Other(format!(
                        "rank {} differs from rank 0 by {gap} after step {}",
                        w.rank(),
                        t + 1
                    )));
                }
            }
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let guard = match distributed::mpi::init() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let Some(world) = distributed::world() else {
        return std::process::ExitCode::FAILURE;
    };
    match run(&*world) {
        Ok(()) => {
            drop(world);
            drop(guard);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error on rank {}: {e}", world.rank());
            distributed::mpi::abort(1)
        }
    }
}

fn run(world: &dyn Collective) -> Result<()> {
    let (rank, size) = (world.rank(), world.size());
    if size < 2 {
        return Err(GenError::Other(
            "launch with at least 2 ranks: mpirun -n 2 …".into(),
        ));
    }
    let mut m = model(FlowKind::RealNvp)?;
    train(&mut m, Some(world))?;
    let dist = flatten_params(&m.train.model)?;

    let mut glow = model(FlowKind::Glow)?;
    train(&mut glow, Some(world))?;

    if rank == 0 {
        let mut single = model(FlowKind::RealNvp)?;
        train(&mut single, None)?;
        let one = flatten_params(&single.train.model)?;
        let start = flatten_params(&model(FlowKind::RealNvp)?.train.model)?;
        let max = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max)
        };
        let (gap, moved) = (max(&dist, &one), max(&start, &one));
        println!(
            "{size} ranks × {} rows vs 1 process × {BATCH} rows, {STEPS} steps of RealNVP: \
             max |Δθ| = {gap:.3e} (training moved θ by up to {moved:.3e}); \
             ranks identical after every step (RealNVP and Glow)",
            BATCH / size
        );
        if gap > 1e-4 || moved < 1e-3 {
            return Err(GenError::Other(format!(
                "data-parallel parameters differ from one process by {gap} (moved {moved})"
            )));
        }
    }
    Ok(())
}
