//! Backend parity and exact checkpoint resume (one test binary: every wgpu
//! kernel compiles once per process).

use std::path::{Path, PathBuf};

use gen_core::burn::tensor::{Device, Tensor, TensorData, activation};
use gen_core::nn::{Activation, Mlp, MlpConfig};
use gen_core::optim::{OptimConfig, Optimized};
use gen_core::parity::check_parity;
use gen_core::tensor::{to_tensor, to_vec};
use gen_core::train::{EpochBatcher, TrainConfig, Trainer};
use gen_core::{
    Capabilities, Checkpoint, Learn, Matrix, Model, Result, StepContext, StepStats, TaskSupport,
    rng_from_seed,
};
use rand::Rng as _;

fn host(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rng_from_seed(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn t2(v: Vec<f32>, shape: [usize; 2], d: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, shape), d)
}

const ATOL: f64 = 1e-5;
const RTOL: f64 = 1e-4;

#[test]
fn parity_matmul() {
    let r = check_parity("matmul", false, ATOL, RTOL, |d| {
        let a = t2(host(37 * 19, 1), [37, 19], d);
        let b = t2(host(19 * 23, 2), [19, 23], d);
        to_vec(a.matmul(b))
    })
    .unwrap();
    assert!(
        r.backends.len() >= 2,
        "parity needs two backends: {:?}",
        r.backends
    );
}

#[test]
fn parity_softmax_and_log_softmax() {
    check_parity("softmax", false, ATOL, RTOL, |d| {
        let x = t2(host(16 * 10, 3), [16, 10], d) * 5.0;
        let mut v = to_vec(activation::softmax(x.clone(), 1))?;
        v.extend(to_vec(activation::log_softmax(x, 1))?);
        Ok(v)
    })
    .unwrap();
}

#[test]
fn parity_conv2d() {
    use gen_core::burn::tensor::module::conv2d;
    use gen_core::burn::tensor::ops::ConvOptions;
    check_parity("conv2d", false, ATOL, RTOL, |d| {
        let x = Tensor::<4>::from_data(TensorData::new(host(2 * 3 * 9 * 9, 4), [2, 3, 9, 9]), d);
        let w = Tensor::<4>::from_data(TensorData::new(host(5 * 3 * 3 * 3, 5), [5, 3, 3, 3]), d);
        let b = Tensor::<1>::from_data(TensorData::new(host(5, 6), [5]), d);
        let y = conv2d(x, w, Some(b), ConvOptions::new([1, 1], [1, 1], [1, 1], 1));
        to_vec(y)
    })
    .unwrap();
}

fn mlp(d: &Device, seed: u64) -> Mlp {
    MlpConfig {
        d_in: 4,
        hidden: vec![16, 16],
        d_out: 2,
        activation: Activation::Tanh,
        zero_last: false,
    }
    .init(&mut rng_from_seed(seed), d)
    .unwrap()
}

#[test]
fn parity_adam_step_of_an_mlp() {
    check_parity("adam step", true, ATOL, RTOL, |d| {
        let mut state = Optimized::new(mlp(d, 7), &OptimConfig::default());
        let x = t2(host(32 * 4, 8), [32, 4], d);
        let y = t2(host(32 * 2, 9), [32, 2], d);
        let mut out = Vec::new();
        for _ in 0..3 {
            let loss = (state.model.forward(x.clone()) - y.clone())
                .powf_scalar(2.0)
                .mean();
            out.push(state.step(loss, 1e-2)? as f32);
        }
        for layer in &state.model.layers {
            out.extend(to_vec(layer.weight.val())?);
        }
        Ok(out)
    })
    .unwrap();
}

/// A small regression model driven by the trainer; its batches and the input
/// noise come from the run RNG, so exact resume needs RNG, optimiser and
/// parameters all restored.
#[derive(Debug)]
struct Regressor {
    state: Optimized<Mlp>,
    device: Device,
}

impl Model for Regressor {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            model: "test-regressor",
            family: "test",
            learn: TaskSupport::exact("Adam on MSE"),
            score: TaskSupport::none("none"),
            sample: TaskSupport::none("none"),
            infer: TaskSupport::none("none"),
        }
    }
}

impl Learn for Regressor {
    type Batch = (Matrix, Matrix);
    fn learn_step(&mut self, batch: &Self::Batch, ctx: &mut StepContext<'_>) -> Result<StepStats> {
        let noise: Vec<f64> = (0..batch.0.rows() * 4)
            .map(|_| ctx.rng.random_range(-0.01..0.01))
            .collect();
        let noisy = Matrix::new(
            batch.0.rows(),
            4,
            batch
                .0
                .as_slice()
                .iter()
                .zip(&noise)
                .map(|(a, b)| a + b)
                .collect(),
        )?;
        let x = to_tensor(&noisy, &self.device);
        let y = to_tensor(&batch.1, &self.device);
        let loss = (self.state.model.forward(x) - y).powf_scalar(2.0).mean();
        Ok(StepStats::loss(self.state.step(loss, ctx.lr)?))
    }
}

impl Checkpoint for Regressor {
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        self.state.save(dir, "regressor")
    }
    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        self.state.load(dir, "regressor")
    }
}

fn run(dir: &Path, steps: u64, resume: bool) -> Vec<f64> {
    #[allow(deprecated)]
    let device = Device::ndarray().autodiff();
    let mut model = Regressor {
        state: Optimized::new(mlp(&device, 3), &OptimConfig::default()),
        device,
    };
    let n = 64;
    let x: Vec<f64> = host(n * 4, 10).into_iter().map(f64::from).collect();
    let x = Matrix::new(n, 4, x).unwrap();
    let y = Matrix::new(
        n,
        2,
        x.iter_rows()
            .flat_map(|r| [r[0] * r[1], r[2] - r[3]])
            .collect(),
    )
    .unwrap();
    let batcher = EpochBatcher::new(n, 16, 5).unwrap();
    let cfg = TrainConfig {
        steps,
        lr: 1e-2,
        seed: 42,
        checkpoint_every: 10,
        progress: false,
        resume,
        batch_size: 16,
        ..TrainConfig::default()
    };
    let report = Trainer::new(cfg, dir)
        .unwrap()
        .fit(&mut model, |step, _rng| {
            let idx = batcher.indices(step);
            Ok((x.select_rows(&idx)?, y.select_rows(&idx)?))
        })
        .unwrap();
    report.losses
}

#[test]
fn resume_reproduces_an_uninterrupted_run_exactly_on_ndarray() {
    let root = std::env::temp_dir().join(format!("genlab-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let full = run(&root.join("full"), 40, false);
    // Interrupted after 25 steps (checkpoints at 10, 20 and the end: 25), then resumed.
    let part = run(&root.join("split"), 25, false);
    assert_eq!(part.len(), 25);
    let resumed = run(&root.join("split"), 40, true);
    assert_eq!(resumed.len(), 40);
    assert_eq!(
        full, resumed,
        "resumed loss sequence differs from the uninterrupted one"
    );
    assert!(full[39] < full[0], "training did not reduce the loss");
    let log = std::fs::read_to_string(root.join("split/metrics.jsonl")).unwrap();
    let steps: Vec<u64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    // Strictly increasing (nothing logged twice), every logging point present;
    // 25 is the interrupted run's final step.
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
    assert_eq!(steps, vec![10, 20, 25, 30, 40]);
    let _ = std::fs::remove_dir_all(&root);
}

/// A regressor whose loss at `bad_step` is replaced by `bad_loss`.
#[derive(Debug)]
struct Exploding {
    inner: Regressor,
    bad_step: u64,
    bad_loss: f64,
}
impl Model for Exploding {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}
impl Learn for Exploding {
    type Batch = (Matrix, Matrix);
    fn learn_step(&mut self, b: &Self::Batch, ctx: &mut StepContext<'_>) -> Result<StepStats> {
        if ctx.step == self.bad_step {
            return Ok(StepStats::loss(self.bad_loss));
        }
        self.inner.learn_step(b, ctx)
    }
}
impl Checkpoint for Exploding {
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        self.inner.save_checkpoint(dir)
    }
    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        self.inner.load_checkpoint(dir)
    }
}

/// Trains an [`Exploding`] regressor with checkpoints every 10 steps.
fn train_exploding(tag: &str, bad_step: u64, bad_loss: f64, steps: u64) -> (Result<f64>, PathBuf) {
    let dir = std::env::temp_dir().join(format!("genlab-diverge-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    #[allow(deprecated)]
    let device = Device::ndarray().autodiff();
    let mut m = Exploding {
        inner: Regressor {
            state: Optimized::new(mlp(&device, 3), &OptimConfig::default()),
            device,
        },
        bad_step,
        bad_loss,
    };
    let x = Matrix::new(8, 4, vec![0.5; 32]).unwrap();
    let y = Matrix::new(8, 2, vec![0.1; 16]).unwrap();
    let cfg = TrainConfig {
        steps,
        checkpoint_every: 10,
        progress: false,
        ..TrainConfig::default()
    };
    let out = Trainer::new(cfg, &dir)
        .unwrap()
        .fit(&mut m, |_, _| Ok((x.clone(), y.clone())))
        .map(|r| r.final_loss);
    (out, dir)
}

#[test]
fn divergence_stops_with_a_clear_error_and_keeps_the_last_checkpoint() {
    let (out, dir) = train_exploding("nan", 12, f64::NAN, 30);
    let err = out.unwrap_err().to_string();
    assert!(err.contains("diverged at step 12"), "{err}");
    assert!(err.contains("step-0000000010"), "{err}");
    assert!(
        dir.join("checkpoints/step-0000000010/model/regressor.model.bpk")
            .exists()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_finite_loss_explosion_also_stops_the_run_but_a_spike_does_not() {
    // 1e15 after 120 steps of losses below 1: stopped, last checkpoint kept.
    let (out, dir) = train_exploding("finite", 125, 1e15, 140);
    let err = out.unwrap_err().to_string();
    assert!(err.contains("diverged at step 125"), "{err}");
    assert!(err.contains("step-0000000120"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
    // A 100-fold spike is left alone: the run completes.
    let (out, dir) = train_exploding("spike", 125, 50.0, 140);
    assert!(out.is_ok(), "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn parameters_are_identical_across_devices_for_one_seed() {
    check_parity("init", false, 0.0, 0.0, |d| {
        let m = mlp(d, 99);
        let mut out = Vec::new();
        for l in m.layers {
            out.extend(to_vec(l.weight.val())?);
        }
        Ok(out)
    })
    .unwrap();
}
