//! `genlab export`: a run's newest checkpoint as a file Python reads.
//!
//! ```text
//! genlab export --checkpoint RUN_DIR [--format safetensors] [--out FILE]
//! ```
//!
//! Writes the model weights (not the optimiser state) of the run's newest
//! checkpoint to a safetensors file, `RUN_DIR/model.safetensors` by default,
//! with burn module paths as tensor names (`encoder.fc1.weight`; prefixed
//! with the weight file, `gan_g.` / `gan_g_ema.`, when a checkpoint holds
//! several) and the run's model, data set, options and checkpoint in the
//! header's `__metadata__`. The conversion reads burn's burnpack files
//! directly ([`gen_core::export`]), so it covers every neural model. Prints
//! one JSON object: the file, the tensor names with shapes and dtypes, the
//! parameter count.

use std::collections::BTreeMap;
use std::path::PathBuf;

use gen_core::export::{checkpoint_tensors, write_safetensors};
use gen_core::{GenError, Result};
use serde_json::json;

use crate::run::{RunMeta, latest_model_dir};

/// The formats of `genlab export`.
const FORMATS: [&str; 1] = ["safetensors"];

/// Arguments of `genlab export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Run directory written by `genlab train` (its newest checkpoint is exported).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// File format.
    #[arg(long, default_value = "safetensors",
          value_parser = crate::choices::listed("format", &FORMATS))]
    pub format: String,
    /// Output file (default: RUN_DIR/model.safetensors).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs `genlab export` and returns the JSON object to print.
pub fn run(a: &ExportArgs) -> Result<serde_json::Value> {
    if a.format != "safetensors" {
        return Err(GenError::config(
            "--format",
            &a.format,
            "unknown export format",
            "use --format safetensors",
        ));
    }
    let meta = RunMeta::load(&a.checkpoint)?;
    let model_dir = latest_model_dir(&a.checkpoint)?;
    let tensors = checkpoint_tensors(&model_dir).map_err(|e| match e {
        GenError::Format { path, problem, .. } if problem.contains("no burn weights") => {
            GenError::config(
                "--checkpoint",
                a.checkpoint.display(),
                format!(
                    "export covers the checkpoints of neural models (burn weights); this {} run's checkpoint holds none",
                    meta.model
                ),
                format!(
                    "its fitted parameters are the files in {} (JSON; ngram.bin for the n-gram); export a run of a neural model (vae, realnvp, made, ddpm, gan, char-gpt, ...)",
                    path.display()
                ),
            )
        }
        other => other,
    })?;
    let checkpoint = model_dir
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let options =
        serde_json::to_string(&meta.options).map_err(|e| GenError::Other(e.to_string()))?;
    let metadata = BTreeMap::from([
        ("model".to_string(), meta.model.clone()),
        ("data".to_string(), meta.data.clone()),
        ("options".to_string(), options),
        ("checkpoint".to_string(), checkpoint.clone()),
        (
            "layout".to_string(),
            "burn: Linear weights are [d_in, d_out] (transpose for torch.nn.Linear)".to_string(),
        ),
        (
            "producer".to_string(),
            format!("genlab {}", env!("CARGO_PKG_VERSION")),
        ),
    ]);
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| a.checkpoint.join("model.safetensors"));
    write_safetensors(&out, &tensors, &metadata)?;
    let parameters: usize = tensors
        .iter()
        .map(|t| t.shape.iter().product::<usize>())
        .sum();
    eprintln!(
        "wrote {} tensors ({parameters} parameters) of {} to {}",
        tensors.len(),
        meta.model,
        out.display()
    );
    Ok(json!({
        "out": out.display().to_string(),
        "format": a.format,
        "model": meta.model,
        "data": meta.data,
        "checkpoint": checkpoint,
        "parameters": parameters,
        "tensors": tensors
            .iter()
            .map(|t| json!({"name": t.name, "shape": t.shape, "dtype": t.dtype.to_string()}))
            .collect::<Vec<_>>(),
    }))
}
