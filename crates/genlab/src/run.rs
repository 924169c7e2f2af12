//! Run directories: what `genlab train` writes and `--checkpoint DIR` reads.
//!
//! ```text
//! DIR/run.json          model name, data set, options (enough to rebuild the model)
//! DIR/checkpoints/...   atomic checkpoints (LATEST names the newest)
//! DIR/metrics.jsonl     one JSON line per logged step
//! DIR/summary.json      final figures
//! DIR/*.png             pictures (samples, density, loss curve)
//! ```

use std::path::{Path, PathBuf};

use gen_core::checkpoint::{CheckpointDir, read_json, write_json_atomic};
use gen_core::{GenError, Result};
use serde::{Deserialize, Serialize};

/// What `run.json` holds. Each family stores its options as a typed struct
/// of its own ([`RunMeta::new`]) and reads them back as that type
/// ([`RunMeta::options_as`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunMeta {
    /// The model name (`genlab models`).
    pub model: String,
    /// The training data set name.
    pub data: String,
    /// The family's typed run options, serialised.
    pub options: serde_json::Value,
    /// World size and batches of a data-parallel run (`--distributed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributed: Option<DistributedMeta>,
}

impl RunMeta {
    /// Metadata of a run of `model` on `data` with the family's typed `options`.
    pub fn new(model: &str, data: &str, options: &impl Serialize) -> Result<Self> {
        Ok(Self {
            model: model.into(),
            data: data.into(),
            options: serde_json::to_value(options).map_err(|e| GenError::Other(e.to_string()))?,
            distributed: None,
        })
    }

    /// The options as the family's typed struct; a run.json that does not
    /// match it is reported, not half-read.
    pub fn options_as<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.options.clone()).map_err(|e| {
            GenError::config(
                "run.json",
                &self.model,
                format!("its options do not describe a {} run: {e}", self.model),
                "retrain with this version of genlab, or fix run.json",
            )
        })
    }

    /// Writes `run.json`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        write_json_atomic(&dir.join("run.json"), self)
    }

    /// Reads `run.json` of a run directory.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("run.json");
        if !path.exists() {
            return Err(GenError::config(
                "--checkpoint",
                dir.display(),
                "no run.json in this directory",
                "pass the --out directory of a `genlab train` run",
            ));
        }
        read_json(&path)
    }
}

/// The model folder of the newest checkpoint of a run.
pub fn latest_model_dir(run_dir: &Path) -> Result<PathBuf> {
    match CheckpointDir::new(run_dir, 1).latest()? {
        Some(d) => Ok(d.join("model")),
        None => Err(GenError::config(
            "--checkpoint",
            run_dir.display(),
            "the run has no completed checkpoint",
            "train first: genlab train MODEL --data DATA --out DIR",
        )),
    }
}

/// How a run was spread over processes, in `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistributedMeta {
    /// The collective engine ("mpi").
    pub engine: String,
    /// Number of ranks.
    pub world_size: usize,
    /// Rows per optimiser step over all ranks (the trainer's batch).
    pub global_batch: usize,
    /// Rows each rank trains on per step.
    pub per_rank_batch: usize,
}
