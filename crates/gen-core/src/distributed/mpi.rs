//! MPI as the [`Collective`], through rsmpi on the system's MPI library
//! (OpenMPI or MPICH). One process per rank, started by `mpirun -n N`,
//! `srun` or any MPI launcher; MPI is called from the thread that
//! initialised it only (`MPI_THREAD_SINGLE`).

use ::mpi::collective::SystemOperation;
use ::mpi::environment::Universe;
use ::mpi::traits::{Communicator, CommunicatorCollectives, Root};

use super::{Collective, WorldGuard, install};
use crate::error::{GenError, Result};

/// `MPI_COMM_WORLD` of an initialised MPI environment (finalised when the
/// last handle is dropped).
pub struct MpiWorld {
    universe: Universe,
}

impl std::fmt::Debug for MpiWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MpiWorld(rank {} of {})", self.rank(), self.size())
    }
}

/// Initialises MPI and installs `MPI_COMM_WORLD` as this thread's world;
/// MPI is finalised when the guard (and every other handle) is dropped.
pub fn init() -> Result<WorldGuard> {
    let universe = ::mpi::initialize()
        .ok_or_else(|| GenError::Other("MPI was already initialised in this process".into()))?;
    Ok(install(MpiWorld { universe }))
}

/// Stops every rank of the job (`MPI_Abort`), for a rank that failed: the
/// others would otherwise wait for it in their next collective.
pub fn abort(code: i32) -> ! {
    ::mpi::topology::SimpleCommunicator::world().abort(code)
}

impl Collective for MpiWorld {
    fn rank(&self) -> usize {
        self.universe.world().rank() as usize
    }

    fn size(&self) -> usize {
        self.universe.world().size() as usize
    }

    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Result<()> {
        let send = buf.to_vec();
        self.universe
            .world()
            .all_reduce_into(&send[..], buf, SystemOperation::sum());
        Ok(())
    }

    fn all_reduce_sum_f64(&self, buf: &mut [f64]) -> Result<()> {
        let send = buf.to_vec();
        self.universe
            .world()
            .all_reduce_into(&send[..], buf, SystemOperation::sum());
        Ok(())
    }

    fn broadcast_bytes(&self, root: usize, bytes: &mut Vec<u8>) -> Result<()> {
        let world = self.universe.world();
        let root = world.process_at_rank(root as i32);
        let mut len = bytes.len() as u64;
        root.broadcast_into(&mut len);
        let len = usize::try_from(len).map_err(|e| GenError::Other(e.to_string()))?;
        bytes.resize(len, 0);
        root.broadcast_into(&mut bytes[..]);
        Ok(())
    }

    fn engine(&self) -> &'static str {
        "mpi"
    }
}
