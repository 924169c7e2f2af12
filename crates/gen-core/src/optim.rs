//! Optimisers and the (model, optimizer) pair a learning step updates.
//!
//! One [`Optimized`] per player: a GAN holds two, each stepped with only the
//! gradients of its own module (`GradientsParams::from_grads(.., &module)`).

use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param, ParamGroup};
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
    /// Clip the global gradient norm (all gradients as one vector) to this value.
    pub grad_clip_norm: Option<f32>,
    /// Exempt 1-D parameters (biases, norm gains and shifts) from weight
    /// decay, as nanoGPT's `configure_optimizers` does: decay then only
    /// shrinks matrices and embeddings. AdamW only; `false` decays every
    /// parameter (PyTorch's `AdamW(model.parameters())`).
    #[serde(default)]
    pub decay_matrices_only: bool,
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
            decay_matrices_only: false,
        }
    }
}

impl OptimConfig {
    /// Builds the optimiser for `module`: [`OptimConfig::init`], plus a second
    /// parameter group without weight decay for the module's 1-D parameters
    /// when [`OptimConfig::decay_matrices_only`] is set. Groups match by
    /// parameter path, so a restored optimiser state finds its group again.
    pub fn init_for<M: Module>(&self, module: &M) -> ModuleOptimizer {
        let optim = self.init();
        if !(self.kind == OptimKind::AdamW && self.decay_matrices_only && self.weight_decay > 0.0) {
            return optim;
        }
        let paths = vector_param_paths(module);
        if paths.is_empty() {
            return optim;
        }
        let no_decay = AdamWConfig::new()
            .with_beta_1(self.beta1)
            .with_beta_2(self.beta2)
            .with_epsilon(self.eps)
            .with_weight_decay(0.0)
            .build();
        optim.with_group(ParamGroup::from_paths(paths), no_decay, None)
    }

    /// Builds the optimiser (one group: every parameter alike). Gradient
    /// clipping is not part of it: burn's clips each tensor by its own norm,
    /// while [`Optimized::step`] clips the global norm as PyTorch's
    /// `clip_grad_norm_` does.
    pub fn init(&self) -> ModuleOptimizer {
        match self.kind {
            OptimKind::Adam => AdamConfig::new()
                .with_beta_1(self.beta1)
                .with_beta_2(self.beta2)
                .with_epsilon(self.eps)
                .init(),
            OptimKind::AdamW => AdamWConfig::new()
                .with_beta_1(self.beta1)
                .with_beta_2(self.beta2)
                .with_epsilon(self.eps)
                .with_weight_decay(self.weight_decay)
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
    /// Clip the global gradient norm to this value before each step.
    pub clip_global_norm: Option<f32>,
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
            optim: config.init_for(&model),
            model,
            clip_global_norm: config.grad_clip_norm,
        }
    }

    /// Back-propagates `loss` (a one-element tensor) and steps the optimiser at
    /// learning rate `lr`; returns the loss value. Only this module's
    /// parameters are updated.
    ///
    /// Inside a distributed training step (see [`crate::distributed`]) the
    /// gradients are first averaged over every rank, and when any rank's
    /// loss is not finite every rank skips the update and returns NaN, so
    /// code that stops on a non-finite loss stops on every rank alike.
    pub fn step(&mut self, loss: Tensor<1>, lr: f64) -> Result<f64> {
        let value = scalar(loss.clone())?;
        if let Some(world) = crate::distributed::syncing() {
            let local = if value.is_finite() {
                GradientsParams::from_grads(loss.backward(), &self.model)
            } else {
                GradientsParams::new()
            };
            let Some(mut grads) = crate::distributed::all_reduce_gradients(
                &*world,
                &self.model,
                local,
                value.is_finite(),
            )?
            else {
                // Some rank's loss was not finite: every rank reports the
                // step as diverged, so all take the same branch after it.
                return Ok(f64::NAN);
            };
            if let Some(max_norm) = self.clip_global_norm {
                clip_global_norm(&self.model, &mut grads, max_norm)?;
            }
            self.model = self.optim.step(lr, self.model.clone(), grads);
            return Ok(value);
        }
        if !value.is_finite() {
            // Leave the parameters untouched: the trainer reports divergence.
            return Ok(value);
        }
        let mut grads = GradientsParams::from_grads(loss.backward(), &self.model);
        if let Some(max_norm) = self.clip_global_norm {
            clip_global_norm(&self.model, &mut grads, max_norm)?;
        }
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

/// Scales every gradient by min(1, c / (‖g‖ + 1e-6)), where ‖g‖ is the L2
/// norm of all the module's gradients stacked into one vector (PyTorch's
/// `clip_grad_norm_`); returns ‖g‖ before clipping.
pub fn clip_global_norm<M: Module>(
    module: &M,
    grads: &mut GradientsParams,
    max_norm: f32,
) -> Result<f64> {
    struct SumSquares<'a> {
        grads: &'a GradientsParams,
        total: Option<Tensor<1>>,
    }
    impl ModuleVisitor for SumSquares<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                let s = g.powi_scalar(2).sum();
                self.total = Some(match self.total.take() {
                    Some(t) => t + s,
                    None => s,
                });
            }
        }
    }
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        coef: f64,
    }
    impl ModuleVisitor for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(param.id) {
                self.grads.register::<D>(param.id, g.mul_scalar(self.coef));
            }
        }
    }
    let mut sum = SumSquares { grads, total: None };
    module.visit(&mut sum);
    let Some(total) = sum.total else {
        return Ok(0.0);
    };
    let norm = scalar(total)?.sqrt();
    let coef = f64::from(max_norm) / (norm + 1e-6);
    if coef < 1.0 {
        module.visit(&mut Scale { grads, coef });
    }
    Ok(norm)
}

/// Paths ("block.0.norm.gamma", as burn's optimiser names them) of the
/// module's 1-D float parameters.
pub fn vector_param_paths<M: Module>(module: &M) -> Vec<String> {
    struct Vectors {
        path: Vec<String>,
        out: Vec<String>,
    }
    impl ModuleVisitor for Vectors {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<D>>) {
            if D == 1 {
                self.out.push(self.path.join("."));
            }
        }
    }
    let mut v = Vectors {
        path: Vec::new(),
        out: Vec::new(),
    };
    module.visit(&mut v);
    v.out
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::to_vec;
    use burn::nn::Linear;
    use burn::tensor::{Device, TensorData};

    #[allow(deprecated)]
    fn dev() -> Device {
        Device::ndarray().autodiff()
    }

    fn layer(d: &Device) -> Linear {
        Linear {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]),
                d,
            )),
            bias: Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![1.0f32, -1.0], [2]),
                d,
            ))),
        }
    }

    /// A zero loss gives zero gradients, so Adam's step is pure decay:
    /// θ ← θ(1 − lr·λ) on the decayed parameters, θ unchanged on the others.
    fn one_decay_step(decay_matrices_only: bool) -> (Vec<f32>, Vec<f32>) {
        let d = dev();
        let config = OptimConfig {
            kind: OptimKind::AdamW,
            weight_decay: 0.5,
            decay_matrices_only,
            ..OptimConfig::default()
        };
        let mut opt = Optimized::new(layer(&d), &config);
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 1.0], [1, 2]), &d);
        let loss = opt.model.forward(x).sum().mul_scalar(0.0);
        opt.step(loss, 0.1).unwrap();
        let w = to_vec(opt.model.weight.val()).unwrap();
        let b = to_vec(opt.model.bias.as_ref().unwrap().val()).unwrap();
        (w, b)
    }

    #[test]
    fn vector_params_are_found_by_path() {
        assert_eq!(vector_param_paths(&layer(&dev())), vec!["bias".to_string()]);
    }

    #[test]
    fn decay_matrices_only_spares_biases() {
        let (w, b) = one_decay_step(true);
        for (got, want) in w.iter().zip([1.0f32, 2.0, 3.0, 4.0]) {
            assert!((got - want * 0.95).abs() < 1e-6, "{got} vs {}", want * 0.95);
        }
        assert_eq!(b, vec![1.0, -1.0]);
    }

    #[test]
    fn plain_adamw_decays_every_parameter() {
        let (w, b) = one_decay_step(false);
        assert!((w[3] - 3.8).abs() < 1e-6);
        assert!((b[0] - 0.95).abs() < 1e-6 && (b[1] + 0.95).abs() < 1e-6);
    }

    /// The no-decay group survives a save and load: two steps with a
    /// checkpoint between them equal two steps without.
    #[test]
    fn groups_survive_save_and_load() {
        let d = dev();
        let config = OptimConfig {
            kind: OptimKind::AdamW,
            weight_decay: 0.5,
            decay_matrices_only: true,
            ..OptimConfig::default()
        };
        let x = || Tensor::<2>::from_data(TensorData::new(vec![0.5f32, -1.0], [1, 2]), &d);
        let step = |o: &mut Optimized<Linear>| {
            let loss = o.model.forward(x()).powi_scalar(2).sum();
            o.step(loss, 0.1).unwrap();
        };
        let mut straight = Optimized::new(layer(&d), &config);
        step(&mut straight);
        step(&mut straight);
        let dir = std::env::temp_dir().join(format!("gen-core-optim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut first = Optimized::new(layer(&d), &config);
        step(&mut first);
        first.save(&dir, "m").unwrap();
        let mut resumed = Optimized::new(layer(&d), &config);
        resumed.load(&dir, "m").unwrap();
        step(&mut resumed);
        let a = to_vec(straight.model.bias.as_ref().unwrap().val()).unwrap();
        let b = to_vec(resumed.model.bias.as_ref().unwrap().val()).unwrap();
        assert_eq!(a, b);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod clip_tests {
    use super::*;
    use crate::tensor::to_vec;
    use burn::nn::Linear;
    use burn::tensor::{Device, TensorData};

    /// ‖g‖ over weight and bias together, then one common factor: the
    /// direction of the whole gradient is kept (PyTorch's `clip_grad_norm_`).
    #[test]
    fn clips_the_norm_of_all_gradients_together() {
        #[allow(deprecated)]
        let d = Device::ndarray().autodiff();
        let l = Linear {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![0.0f32; 2], [2, 1]),
                &d,
            )),
            bias: Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![0.0f32], [1]),
                &d,
            ))),
        };
        // Loss 4y with y = w·x + b at x = (3, 0): g_w = (12, 0), g_b = 4.
        let x = Tensor::<2>::from_data(TensorData::new(vec![3.0f32, 0.0], [1, 2]), &d);
        let loss = l.forward(x).sum().mul_scalar(4.0);
        let mut grads = GradientsParams::from_grads(loss.backward(), &l);
        // ‖g‖ = √(144 + 16) = √160.
        let norm = clip_global_norm(&l, &mut grads, 1.0).unwrap();
        assert!((norm - 160f64.sqrt()).abs() < 1e-4, "{norm}");
        let gw = to_vec(grads.get::<2>(l.weight.id).unwrap()).unwrap();
        let gb = to_vec(grads.get::<1>(l.bias.as_ref().unwrap().id).unwrap()).unwrap();
        let s = 1.0 / 160f32.sqrt();
        assert!(
            (gw[0] - 12.0 * s).abs() < 1e-5 && gw[1].abs() < 1e-7,
            "{gw:?}"
        );
        assert!((gb[0] - 4.0 * s).abs() < 1e-5, "{gb:?}");
        // Below the threshold nothing changes.
        let before = to_vec(grads.get::<2>(l.weight.id).unwrap()).unwrap();
        clip_global_norm(&l, &mut grads, 10.0).unwrap();
        assert_eq!(
            before,
            to_vec(grads.get::<2>(l.weight.id).unwrap()).unwrap()
        );
    }
}
