//! The registered families: the one place `genlab` learns which models
//! exist. `train`, `sample`, `score`, `encode`, `reconstruct` and
//! `interpolate` dispatch through [`FAMILIES`]; adding a family is one entry
//! there and its own argument group in `train`.

use std::path::Path;

use gen_core::{Backend, Capabilities, GenError, Result};

use crate::choices::Choices;
use crate::registry::{Family, LoadedRun};
use crate::run::RunMeta;

/// Every family, in the order `genlab models` prints them.
pub static FAMILIES: &[&dyn Family] = &[
    &crate::classical::Classical,
    &crate::ngram::NGramFamily,
    &crate::vae::VaeFamily,
    &crate::flow::FlowFamily,
    &crate::autoregressive::ArFamily,
    &crate::text::TextFamily,
    &crate::gan::GanFamily,
    &crate::diffusion::DiffusionFamily,
    &crate::latent_diffusion::LatentDiffusionFamily,
    &crate::gan_image::ImageGanFamily,
];

/// Every model's capability row.
pub fn all_capabilities() -> Vec<Capabilities> {
    FAMILIES.iter().flat_map(|f| f.models()).collect()
}

/// Every model name, in table order.
pub fn model_names() -> Vec<&'static str> {
    all_capabilities().iter().map(|c| c.model).collect()
}

/// The family that owns `model`.
pub fn family_of(model: &str) -> Result<&'static dyn Family> {
    FAMILIES
        .iter()
        .copied()
        .find(|f| f.models().iter().any(|c| c.model == model))
        .ok_or_else(|| {
            GenError::config(
                "model",
                model,
                "unknown model",
                format!(
                    "use one of: {} (see `genlab models`)",
                    model_names().join(", ")
                ),
            )
        })
}

/// Loads the run in `dir` through its family.
pub fn load(dir: &Path) -> Result<(RunMeta, Box<dyn LoadedRun>)> {
    load_on(dir, None)
}

/// Loads the run in `dir` on `backend` instead of the one it was trained
/// on (`None`: that one). Weights are plain numbers in the checkpoint, so a
/// run trained on a CPU backend samples on a GPU and back; only runs of
/// burn models (whose run.json names a backend) can move.
pub fn load_on(dir: &Path, backend: Option<Backend>) -> Result<(RunMeta, Box<dyn LoadedRun>)> {
    let mut meta = RunMeta::load(dir)?;
    if let Some(b) = backend {
        match meta.options.get_mut("backend") {
            Some(v) if v.is_string() => *v = serde_json::Value::String(b.name().into()),
            _ => {
                return Err(GenError::config(
                    "--backend",
                    b.name(),
                    format!(
                        "the {} run in {} is not a burn model: it runs on the host whatever the backend",
                        meta.model,
                        dir.display()
                    ),
                    "drop --backend",
                ));
            }
        }
    }
    let run = family_of(&meta.model)?.load(&meta, dir)?;
    Ok((meta, run))
}

/// The model argument of `train`: every registered model, listed by `--help`.
pub fn model_choice() -> Choices<String> {
    let names = model_names().into_iter().map(|n| vec![n]).collect();
    Choices::new(names, |s| family_of(s).map(|_| s.to_string()))
}
