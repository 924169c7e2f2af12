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

/// What `run.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunMeta {
    /// The model name (`genlab models`).
    pub model: String,
    /// The training data set name.
    pub data: String,
    /// Model-specific options as given on the command line.
    pub options: serde_json::Value,
}

impl RunMeta {
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
