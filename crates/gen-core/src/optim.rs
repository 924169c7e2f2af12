//! Optimisers and the (model, optimizer) pair a learning step updates.
//!
//! One [`Optimized`] per player: a GAN holds two, each stepped with only the
//! gradients of its own module (`GradientsParams::from_grads(.., &module)`).

use std::path::Path;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Bytes, Tensor};

use crate::checkpoint::write_atomic;
use crate::error::{GenError, Result};
use crate::tensor::scalar;

/// Which optimiser.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimKind {
    /// Adam (Kingma & Ba 2015).
    Adam,
    /// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019).
    AdamW,
}

/// Optimiser settings (defaults match PyTorch's Adam: β = (0.9, 0.999), ε = 1e-8).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OptimConfig {
    /// Adam or AdamW.
    pub kind: OptimKind,
    /// β₁.
    pub beta1: f32,
    /// β₂.
    pub beta2: f32,
    /// ε.
    pub eps: f32,
    /// Decoupled weight decay (AdamW only).
    pub weight_decay: f32,
    /// Clip the global gradient norm to this value.
    pub grad_clip_norm: Option<f32>,
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            kind: OptimKind::Adam,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            grad_clip_norm: None,
        }
    }
}

impl OptimConfig {
    /// Builds the optimiser.
    pub fn init(&self) -> ModuleOptimizer {
        let clip = self.grad_clip_norm.map(GradientClippingConfig::Norm);
        match self.kind {
            OptimKind::Adam => AdamConfig::new()
                .with_beta_1(self.beta1)
                .with_beta_2(self.beta2)
                .with_epsilon(self.eps)
                .with_grad_clipping(clip)
                .init(),
            OptimKind::AdamW => AdamWConfig::new()
                .with_beta_1(self.beta1)
                .with_beta_2(self.beta2)
                .with_epsilon(self.eps)
                .with_weight_decay(self.weight_decay)
                .with_grad_clipping(clip)
                .init(),
        }
    }
}

/// A module and its optimiser state.
#[derive(Clone)]
pub struct Optimized<M: Module> {
    /// The module being trained (on an autodiff device).
    pub model: M,
    /// Its optimiser.
    pub optim: ModuleOptimizer,
}

impl<M: Module> std::fmt::Debug for Optimized<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Optimized")
            .field("model", &self.model)
            .finish()
    }
}

impl<M: Module> Optimized<M> {
    /// Pairs `model` with a fresh optimiser from `config`.
    pub fn new(model: M, config: &OptimConfig) -> Self {
        Self {
            model,
            optim: config.init(),
        }
    }

    /// Back-propagates `loss` (a one-element tensor) and steps the optimiser at
    /// learning rate `lr`; returns the loss value. Only this module's
    /// parameters are updated.
    pub fn step(&mut self, loss: Tensor<1>, lr: f64) -> Result<f64> {
        let value = scalar(loss.clone())?;
        if !value.is_finite() {
            // Leave the parameters untouched: the trainer reports divergence.
            return Ok(value);
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.optim.step(lr, self.model.clone(), grads);
        Ok(value)
    }

    /// Writes `<name>.model.bpk` and `<name>.optim.bpk` into `dir` atomically.
    pub fn save(&self, dir: &Path, name: &str) -> Result<()> {
        save_module(&self.model, &dir.join(format!("{name}.model.bpk")))?;
        let bytes = self.optim.into_bytes().map_err(|e| record_err(dir, e))?;
        write_atomic(&dir.join(format!("{name}.optim.bpk")), &bytes)
    }

    /// Restores both files written by [`Optimized::save`].
    pub fn load(&mut self, dir: &Path, name: &str) -> Result<()> {
        self.model = load_module(self.model.clone(), &dir.join(format!("{name}.model.bpk")))?;
        let path = dir.join(format!("{name}.optim.bpk"));
        let bytes = std::fs::read(&path).map_err(|e| GenError::io(&path, e))?;
        self.optim = self
            .optim
            .clone()
            .from_bytes(Bytes::from_bytes_vec(bytes))
            .map_err(|e| record_err(&path, e))?;
        Ok(())
    }
}

fn record_err(path: &Path, e: impl std::fmt::Debug) -> GenError {
    GenError::Format {
        path: path.to_path_buf(),
        problem: format!("not a valid burn record: {e:?}"),
        fix: "point to a checkpoint written by this version of genlab for the same model".into(),
    }
}

/// Saves a module's parameters (burnpack) atomically.
pub fn save_module<M: Module>(module: &M, path: &Path) -> Result<()> {
    let bytes = module
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| record_err(path, e))?;
    write_atomic(path, &bytes)
}

/// Loads parameters saved by [`save_module`] into `module` (same architecture).
pub fn load_module<M: Module>(module: M, path: &Path) -> Result<M> {
    let bytes = std::fs::read(path).map_err(|e| GenError::io(path, e))?;
    let record = burn::store::ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| record_err(path, e))?;
    module
        .try_load_record(record)
        .map_err(|e| record_err(path, e))
}
