//! Exponential moving average (EMA) of a module's weights.
//!
//! After optimiser step k the averaged copy is updated by
//!
//! `θ_ema ← β_k · θ_ema + (1 − β_k) · θ`
//!
//! and sampled from instead of the raw weights (diffusion models, GAN
//! generators: the average is smoother than any single iterate).
//!
//! The decay β_k follows diffusers' `EMAModel.get_decay`: for the first
//! `update_after_step` updates β_k = 0 (the average copies the weights);
//! after that, with t = k − update_after_step − 1,
//!
//! - [`EmaWarmup::Off`]: β_k = β (the constant of the formula above),
//! - [`EmaWarmup::Power`]: β_k = 1 − (1 + t/γ)^(−p) (`use_ema_warmup`; t = 0 copies),
//! - [`EmaWarmup::Counter`]: β_k = (1 + t)/(10 + t) (diffusers' default; t = 0 copies),
//!
//! the warm-up forms clipped to `[min_decay, β]`.
//!
//! Every float tensor of the module is averaged, matched by its module path:
//! parameters and also buffers such as a spectral-norm `u` (as timm's
//! `ModelEmaV2` and BigGAN's EMA do). The average lives on the model's device
//! without autodiff (a [`Module::valid`] copy), ready for sampling.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, read_json, write_json_atomic};
use crate::error::{GenError, Result};
use crate::optim::{load_module, save_module};

/// How the decay warms up (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EmaWarmup {
    /// β_k = β from the first update.
    #[default]
    Off,
    /// β_k = 1 − (1 + t/γ)^(−p), diffusers' `use_ema_warmup` (γ = 1, p = 2/3
    /// suits runs of ~1M steps, p = 3/4 shorter runs).
    Power {
        /// γ (diffusers' `inv_gamma`).
        inv_gamma: f64,
        /// p.
        power: f64,
    },
    /// β_k = (1 + t)/(10 + t), diffusers' default without warm-up.
    Counter,
}

/// Settings of an [`Ema`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EmaConfig {
    /// β: the decay, and the ceiling of the warm-up forms (e.g. 0.999, 0.9999).
    pub decay: f64,
    /// Floor of the warm-up forms.
    #[serde(default)]
    pub min_decay: f64,
    /// Updates during which the average just copies the weights.
    #[serde(default)]
    pub update_after_step: u64,
    /// Warm-up of the decay.
    #[serde(default)]
    pub warmup: EmaWarmup,
}

impl EmaConfig {
    /// A constant decay β.
    pub fn new(decay: f64) -> Self {
        Self {
            decay,
            min_decay: 0.0,
            update_after_step: 0,
            warmup: EmaWarmup::Off,
        }
    }

    /// Errors unless 0 ≤ min_decay ≤ β < 1 and the warm-up constants are positive.
    pub fn validate(&self) -> Result<()> {
        if !(self.decay.is_finite() && (0.0..1.0).contains(&self.decay)) {
            return Err(GenError::config(
                "ema decay",
                self.decay,
                "must be in [0, 1)",
                "typical values are 0.999 or 0.9999",
            ));
        }
        if !(self.min_decay.is_finite() && (0.0..=self.decay).contains(&self.min_decay)) {
            return Err(GenError::config(
                "ema min_decay",
                self.min_decay,
                format!("must be in [0, decay = {}]", self.decay),
                "use 0",
            ));
        }
        if let EmaWarmup::Power { inv_gamma, power } = self.warmup
            && !(inv_gamma.is_finite() && inv_gamma > 0.0 && power.is_finite() && power > 0.0)
        {
            return Err(GenError::config(
                "ema warm-up",
                format!("inv_gamma {inv_gamma}, power {power}"),
                "both must be finite and > 0",
                "use inv_gamma 1 and power 2/3 (long runs) or 3/4 (short runs)",
            ));
        }
        Ok(())
    }

    /// β_k, the decay of the k-th update (k ≥ 1).
    pub fn decay_at(&self, k: u64) -> f64 {
        if k <= self.update_after_step {
            return 0.0;
        }
        let t = (k - self.update_after_step - 1) as f64;
        let warm = match self.warmup {
            EmaWarmup::Off => return self.decay,
            _ if t == 0.0 => return 0.0,
            EmaWarmup::Power { inv_gamma, power } => 1.0 - (1.0 + t / inv_gamma).powf(-power),
            EmaWarmup::Counter => (1.0 + t) / (10.0 + t),
        };
        warm.min(self.decay).max(self.min_decay)
    }
}

/// The moving average of a module's weights (see the module docs).
#[derive(Debug, Clone)]
pub struct Ema<M: Module> {
    model: M,
    config: EmaConfig,
    updates: u64,
}

/// What [`Ema::save`] writes beside the weights.
#[derive(Debug, Serialize, Deserialize)]
struct EmaState {
    updates: u64,
    config: EmaConfig,
}

impl<M: Module> Ema<M> {
    /// Starts the average at `model`'s current weights.
    pub fn new(model: &M, config: EmaConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            model: model.valid(),
            config,
            updates: 0,
        })
    }

    /// The averaged module (no autodiff): sample and evaluate with it.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The settings.
    pub fn config(&self) -> &EmaConfig {
        &self.config
    }

    /// Updates done so far.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Folds `model`'s current weights into the average with β_k of update
    /// k = [`Self::updates`] + 1; returns β_k. `model` must have the
    /// architecture the average was built from.
    pub fn update(&mut self, model: &M) -> Result<f64> {
        let k = self.updates + 1;
        let beta = self.config.decay_at(k);
        let live = flatten(model, true);
        let ours = flatten(&self.model, false);
        let shape_of = |m: &BTreeMap<String, (Vec<usize>, Option<Tensor<1>>)>| {
            m.iter()
                .map(|(k, (d, _))| (k.clone(), d.clone()))
                .collect::<Vec<_>>()
        };
        if shape_of(&live) != shape_of(&ours) {
            return Err(GenError::Other(format!(
                "EMA update: the module's tensors {:?} differ from the average's {:?}; \
                 update with the module the average was built from",
                shape_of(&live),
                shape_of(&ours)
            )));
        }
        let mut blend = Blend {
            path: Vec::new(),
            live: live
                .into_iter()
                .filter_map(|(k, (_, t))| t.map(|t| (k, t)))
                .collect(),
            beta,
        };
        self.model = self.model.clone().map(&mut blend);
        self.updates = k;
        Ok(beta)
    }

    /// Writes `<name>.ema.bpk` (the averaged weights) and `<name>.ema.json`
    /// (the update count and settings) into `dir`, atomically.
    pub fn save(&self, dir: &Path, name: &str) -> Result<()> {
        save_module(&self.model, &dir.join(format!("{name}.ema.bpk")))?;
        write_json_atomic(
            &dir.join(format!("{name}.ema.json")),
            &EmaState {
                updates: self.updates,
                config: self.config,
            },
        )
    }

    /// Restores what [`Ema::save`] wrote. The settings stay those this
    /// average was built with.
    pub fn load(&mut self, dir: &Path, name: &str) -> Result<()> {
        let state: EmaState = read_json(&dir.join(format!("{name}.ema.json")))?;
        self.model = load_module(self.model.clone(), &dir.join(format!("{name}.ema.bpk")))?;
        self.updates = state.updates;
        Ok(())
    }
}

impl<M: Module> Checkpoint for Ema<M> {
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        self.save(dir, "model")
    }
    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        self.load(dir, "model")
    }
}

/// Every float tensor of `m` by path: its shape and (if `values`) its
/// values, flattened and without autodiff.
fn flatten<M: Module>(m: &M, values: bool) -> BTreeMap<String, (Vec<usize>, Option<Tensor<1>>)> {
    let mut c = Collect {
        path: Vec::new(),
        values,
        out: BTreeMap::new(),
    };
    m.visit(&mut c);
    c.out
}

struct Collect {
    path: Vec<String>,
    values: bool,
    out: BTreeMap<String, (Vec<usize>, Option<Tensor<1>>)>,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let dims = t.dims().to_vec();
        let flat = self.values.then(|| {
            let n = dims.iter().product::<usize>();
            t.detach().without_autodiff().reshape([n])
        });
        self.out.insert(self.path.join("."), (dims, flat));
    }
}

struct Blend {
    path: Vec<String>,
    live: BTreeMap<String, Tensor<1>>,
    beta: f64,
}

impl ModuleMapper for Blend {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(live) = self.live.remove(&self.path.join(".")) else {
            return param;
        };
        let beta = self.beta;
        param.map(|ema| {
            let live: Tensor<D> = live.reshape(ema.dims()).to_device(&ema.device());
            if beta == 0.0 {
                live
            } else {
                ema.mul_scalar(beta) + live.mul_scalar(1.0 - beta)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::spectral_norm::{SpectralLinear, SpectralLinearConfig};
    use crate::rng_from_seed;
    use crate::tensor::to_vec;
    use burn::nn::Linear;
    use burn::tensor::{Device, TensorData};

    #[allow(deprecated)]
    fn dev() -> Device {
        Device::ndarray().autodiff()
    }

    fn layer(w: [f32; 4], b: [f32; 2], d: &Device) -> Linear {
        Linear {
            weight: Param::from_tensor(Tensor::from_data(TensorData::new(w.to_vec(), [2, 2]), d)),
            bias: Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(b.to_vec(), [2]),
                d,
            ))),
        }
    }

    fn values(l: &Linear) -> Vec<f32> {
        let mut v = to_vec(l.weight.val()).unwrap();
        v.extend(to_vec(l.bias.as_ref().unwrap().val()).unwrap());
        v
    }

    #[test]
    fn update_is_the_convex_combination_by_hand() {
        let d = dev();
        let start = layer([1.0, 2.0, 3.0, 4.0], [0.0, -1.0], &d);
        let mut ema = Ema::new(&start, EmaConfig::new(0.75)).unwrap();
        assert!(!ema.model().weight.val().is_autodiff());
        // θ moves; θ_ema ← 0.75 θ_ema + 0.25 θ (all values exact in f32).
        let moved = layer([5.0, 2.0, -1.0, 8.0], [4.0, 3.0], &d);
        assert_eq!(ema.update(&moved).unwrap(), 0.75);
        assert_eq!(values(ema.model()), vec![2.0, 2.0, 2.0, 5.0, 1.0, 0.0]);
        // Second update, same θ: 0.75·2 + 0.25·5 = 2.75, …
        ema.update(&moved).unwrap();
        assert_eq!(values(ema.model()), vec![2.75, 2.0, 1.25, 5.75, 1.75, 0.75]);
        assert_eq!(ema.updates(), 2);
        // The live module is untouched.
        assert_eq!(values(&moved), vec![5.0, 2.0, -1.0, 8.0, 4.0, 3.0]);
    }

    #[test]
    fn decay_schedules_follow_diffusers() {
        let off = EmaConfig {
            update_after_step: 2,
            ..EmaConfig::new(0.999)
        };
        let ks: Vec<f64> = (1..=4).map(|k| off.decay_at(k)).collect();
        assert_eq!(ks, vec![0.0, 0.0, 0.999, 0.999]);

        let power = EmaConfig {
            warmup: EmaWarmup::Power {
                inv_gamma: 1.0,
                power: 2.0 / 3.0,
            },
            ..EmaConfig::new(0.9999)
        };
        assert_eq!(power.decay_at(1), 0.0);
        // t = 1: 1 − 2^(−2/3); t = 7: 1 − 8^(−2/3) = 1 − 1/4.
        assert!((power.decay_at(2) - (1.0 - 2f64.powf(-2.0 / 3.0))).abs() < 1e-15);
        assert!((power.decay_at(8) - 0.75).abs() < 1e-15);
        // Capped at β late in training.
        assert_eq!(power.decay_at(10_000_000_000), 0.9999);

        let counter = EmaConfig {
            warmup: EmaWarmup::Counter,
            min_decay: 0.5,
            ..EmaConfig::new(0.99)
        };
        assert_eq!(counter.decay_at(1), 0.0);
        // t = 1: 2/11 raised to the floor 0.5; t = 80: 81/90 = 0.9; then capped.
        assert_eq!(counter.decay_at(2), 0.5);
        assert!((counter.decay_at(81) - 0.9).abs() < 1e-15);
        assert_eq!(counter.decay_at(100_000), 0.99);

        assert!(EmaConfig::new(1.0).validate().is_err());
        assert!(
            EmaConfig {
                min_decay: 0.9,
                ..EmaConfig::new(0.5)
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn a_copy_phase_tracks_the_weights_exactly() {
        let d = dev();
        let start = layer([1.0, 2.0, 3.0, 4.0], [0.0, -1.0], &d);
        let cfg = EmaConfig {
            update_after_step: 1,
            ..EmaConfig::new(0.9)
        };
        let mut ema = Ema::new(&start, cfg).unwrap();
        let moved = layer([0.1, 0.2, 0.3, 0.4], [0.5, 0.6], &d);
        assert_eq!(ema.update(&moved).unwrap(), 0.0);
        assert_eq!(values(ema.model()), values(&moved));
    }

    #[test]
    fn a_different_architecture_is_refused() {
        let d = dev();
        let a = SpectralLinearConfig::new(3, 2)
            .init(&mut rng_from_seed(1), &d)
            .unwrap();
        let b = SpectralLinearConfig::new(4, 2)
            .init(&mut rng_from_seed(1), &d)
            .unwrap();
        let mut ema = Ema::new(&a, EmaConfig::new(0.9)).unwrap();
        assert!(ema.update(&b).is_err());
        assert_eq!(ema.updates(), 0);
    }

    fn all_values(m: &SpectralLinear) -> Vec<f32> {
        let mut v = to_vec(m.inner.weight.val()).unwrap();
        v.extend(to_vec(m.inner.bias.as_ref().unwrap().val()).unwrap());
        v.extend(m.sn.u_values().unwrap());
        v
    }

    #[test]
    fn checkpoint_round_trip_restores_weights_and_count() {
        let d = dev();
        let mut rng = rng_from_seed(2);
        let cfg = EmaConfig {
            warmup: EmaWarmup::Counter,
            ..EmaConfig::new(0.99)
        };
        let live = SpectralLinearConfig::new(5, 3).init(&mut rng, &d).unwrap();
        let mut ema = Ema::new(&live, cfg).unwrap();
        for s in 0..4 {
            let next = SpectralLinearConfig::new(5, 3)
                .init(&mut rng_from_seed(10 + s), &d)
                .unwrap();
            ema.update(&next).unwrap();
        }
        let dir = std::env::temp_dir().join(format!("genlab-ema-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        ema.save(&dir, "g").unwrap();

        let other = SpectralLinearConfig::new(5, 3)
            .init(&mut rng_from_seed(77), &d)
            .unwrap();
        let mut restored = Ema::new(&other, cfg).unwrap();
        assert_ne!(all_values(restored.model()), all_values(ema.model()));
        restored.load(&dir, "g").unwrap();
        assert_eq!(all_values(restored.model()), all_values(ema.model()));
        assert_eq!(restored.updates(), 4);
        // Both continue identically (same count, so same β_k).
        let next = SpectralLinearConfig::new(5, 3)
            .init(&mut rng_from_seed(20), &d)
            .unwrap();
        let b1 = ema.update(&next).unwrap();
        let b2 = restored.update(&next).unwrap();
        assert_eq!(b1, b2);
        assert_eq!(b1, cfg.decay_at(5));
        assert_eq!(all_values(restored.model()), all_values(ema.model()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
