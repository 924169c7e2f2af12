//! Data-parallel training with ranks as threads (`ThreadGroup`): the
//! mathematics of gradient averaging, the Trainer's distributed mode
//! (identical ranks, equality with one process, divergence named by rank,
//! exact resume) and parameter averaging. The same code under MPI is
//! checked by `.ci/run` (gen-flow's `mpi_check` example on 2 ranks).

/// Runs `f(rank)` on `size` threads, each with its member of one group installed.
pub fn on_threads<T: Send + 'static>(
    size: usize,
    f: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let f = std::sync::Arc::new(f);
    let handles: Vec<_> = gen_core::distributed::ThreadGroup::create(size)
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(rank, member)| {
            let f = f.clone();
            std::thread::spawn(move || {
                let _world = gen_core::distributed::install(member);
                f(rank)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

mod training {
    use std::path::Path;

    use burn::optim::GradientsParams;
    use burn::tensor::{Device, Tensor};

    use super::on_threads;
    use gen_core::distributed::{all_reduce_gradients, flatten_params, world};
    use gen_core::error::{GenError, Result};
    use gen_core::matrix::Matrix;
    use gen_core::nn::Activation;
    use gen_core::nn::{Mlp, MlpConfig};
    use gen_core::optim::{OptimConfig, Optimized};
    use gen_core::task::{Learn, Model, StepContext, StepStats, rng_from_seed};
    use gen_core::tensor::{to_tensor, to_vec};
    use gen_core::train::{TrainConfig, Trainer};
    use gen_core::{Capabilities, Checkpoint, TaskSupport};

    #[allow(deprecated)]
    fn dev() -> Device {
        Device::ndarray().autodiff()
    }

    /// Regression y = f(x) with an MLP 3-8-1 (tanh), mean squared error:
    /// a model whose loss has no noise, so data-parallel training must
    /// equal one process on the whole batch up to float rounding. It
    /// records its parameters after every step.
    struct Regressor {
        opt: Optimized<Mlp>,
        trace: Vec<Vec<f32>>,
    }

    impl Regressor {
        fn new(seed: u64) -> Self {
            let mlp = MlpConfig {
                d_in: 3,
                hidden: vec![8],
                d_out: 1,
                activation: Activation::Tanh,
                zero_last: false,
            }
            .init(&mut rng_from_seed(seed), &dev())
            .unwrap();
            let config = OptimConfig {
                grad_clip_norm: Some(1.0),
                ..OptimConfig::default()
            };
            Self {
                opt: Optimized::new(mlp, &config),
                trace: Vec::new(),
            }
        }
    }

    impl Model for Regressor {
        fn capabilities(&self) -> Capabilities {
            Capabilities {
                model: "regressor",
                family: "test",
                learn: TaskSupport::exact("Adam on the squared error"),
                score: TaskSupport::none("none"),
                sample: TaskSupport::none("none"),
                infer: TaskSupport::none("none"),
            }
        }
    }

    impl Learn for Regressor {
        type Batch = Matrix;
        fn learn_step(&mut self, b: &Matrix, ctx: &mut StepContext<'_>) -> Result<StepStats> {
            let x = to_tensor(&cols(b, &[0, 1, 2]), &dev());
            let y = to_tensor(&cols(b, &[3]), &dev());
            let loss: Tensor<1> = (self.opt.model.forward(x) - y).powi_scalar(2).mean();
            let value = self.opt.step(loss, ctx.lr)?;
            self.trace.push(flatten_params(&self.opt.model)?);
            Ok(StepStats::loss(value))
        }
        fn shard_batch(&self, b: &Matrix, rank: usize, size: usize) -> Result<Matrix> {
            b.shard_rows(rank, size)
        }
    }

    impl Checkpoint for Regressor {
        fn save_checkpoint(&self, dir: &Path) -> Result<()> {
            self.opt.save(dir, "net")
        }
        fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
            self.opt.load(dir, "net")
        }
    }

    /// Batch t: 8 rows [x1, x2, x3, y] from the run RNG, y = sin(x1) + x2·x3;
    /// `poison` puts a NaN in row 7 (rank 1's shard at 2 ranks) at step 3.
    fn batch(rng: &mut gen_core::Rng, t: u64, poison: bool) -> Result<Matrix> {
        use rand::Rng as _;
        let mut data = Vec::new();
        for i in 0..8 {
            let x: [f64; 3] = [rng.random(), rng.random(), rng.random()];
            let mut y = x[0].sin() + x[1] * x[2];
            if poison && t == 3 && i == 7 {
                y = f64::NAN;
            }
            data.extend(x);
            data.push(y);
        }
        Matrix::new(8, 4, data)
    }

    /// The given columns of `m`.
    fn cols(m: &Matrix, which: &[usize]) -> Matrix {
        let data = m
            .iter_rows()
            .flat_map(|r| which.iter().map(|&j| r[j]).collect::<Vec<_>>())
            .collect();
        Matrix::new(m.rows(), which.len(), data).unwrap()
    }

    fn config(steps: u64, distributed: bool) -> TrainConfig {
        TrainConfig {
            steps,
            lr: 0.05,
            batch_size: 8,
            progress: false,
            distributed,
            ..TrainConfig::default()
        }
    }

    fn run_dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("gen-core-dist-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// The averaged gradient of the shards is the gradient of the whole
    /// batch: (1/R) Σ_r ∇ mean_{shard r} = ∇ mean_{batch}.
    #[test]
    fn averaged_shard_gradients_equal_the_whole_batch_gradient() {
        let b = batch(&mut rng_from_seed(5), 0, false).unwrap();
        let grad_of = |m: &Matrix| -> Vec<f32> {
            let r = Regressor::new(1);
            let x = to_tensor(&cols(m, &[0, 1, 2]), &dev());
            let y = to_tensor(&cols(m, &[3]), &dev());
            let loss: Tensor<1> = (r.opt.model.forward(x) - y).powi_scalar(2).mean();
            let mut g = GradientsParams::from_grads(loss.backward(), &r.opt.model);
            to_vec(g.remove::<2>(r.opt.model.layers[0].weight.id).unwrap()).unwrap()
        };
        let whole = grad_of(&b);
        let bb = b.clone();
        let shards = on_threads(2, move |rank| {
            let r = Regressor::new(1);
            let m = bb.shard_rows(rank, 2).unwrap();
            let x = to_tensor(&cols(&m, &[0, 1, 2]), &dev());
            let y = to_tensor(&cols(&m, &[3]), &dev());
            let loss: Tensor<1> = (r.opt.model.forward(x) - y).powi_scalar(2).mean();
            let g = GradientsParams::from_grads(loss.backward(), &r.opt.model);
            let w = world().unwrap();
            let mut g = all_reduce_gradients(&*w, &r.opt.model, g, true)
                .unwrap()
                .unwrap();
            to_vec(g.remove::<2>(r.opt.model.layers[0].weight.id).unwrap()).unwrap()
        });
        for got in shards {
            for (a, b) in got.iter().zip(&whole) {
                assert!((a - b).abs() < 1e-6, "{a} vs {b}");
            }
        }
    }

    /// Two ranks training on shards end with the parameters of one process
    /// trained on the whole batch, and the ranks agree after every step.
    #[test]
    fn two_ranks_train_like_one_process_on_the_whole_batch() {
        let steps = 12;
        let mut single = Regressor::new(3);
        Trainer::new(config(steps, false), run_dir("single"))
            .unwrap()
            .fit(&mut single, |t, rng| batch(rng, t, false))
            .unwrap();
        let dir = run_dir("pair");
        let traces = on_threads(2, move |rank| {
            // Rank 1 starts from other weights: rank 0's broadcast fixes that.
            let mut m = Regressor::new(3 + rank as u64);
            let out = Trainer::new(config(steps, true), &dir)
                .unwrap()
                .fit(&mut m, |t, rng| batch(rng, t, false));
            match (rank, out) {
                (0, Ok(report)) => assert_eq!(report.steps, steps),
                (1, Err(GenError::FollowerDone { rank: 1 })) => {}
                (r, other) => panic!("rank {r}: {other:?}"),
            }
            m.trace
        });
        assert_eq!(traces[0].len(), steps as usize);
        for (t, (a, b)) in traces[0].iter().zip(&traces[1]).enumerate() {
            assert_eq!(a, b, "ranks differ after step {}", t + 1);
        }
        let last = single.trace.last().unwrap();
        let dist = traces[0].last().unwrap();
        let max = last
            .iter()
            .zip(dist)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max < 1e-5, "max |single − distributed| = {max}");
        // And it moved: the comparison is not between two untrained models.
        let start = flatten_params(&Regressor::new(3).opt.model).unwrap();
        assert!(start.iter().zip(dist).any(|(a, b)| (a - b).abs() > 1e-2));
    }

    /// A NaN in rank 1's shard stops both ranks at that step, naming rank 1,
    /// with neither having taken the bad step.
    #[test]
    fn a_diverging_rank_stops_every_rank_and_is_named() {
        let dir = run_dir("nan");
        let out = on_threads(2, move |_| {
            let mut m = Regressor::new(3);
            let e = Trainer::new(config(10, true), &dir)
                .unwrap()
                .fit(&mut m, |t, rng| batch(rng, t, true))
                .unwrap_err();
            (e, m.trace)
        });
        for (e, trace) in out {
            match e {
                GenError::DivergedOnRank {
                    step, ranks, size, ..
                } => assert_eq!((step, ranks, size), (3, vec![1], 2)),
                other => panic!("{other:?}"),
            }
            // Steps 0-2 updated, step 3 was skipped: its parameters equal step 2's.
            assert_eq!(trace.len(), 4);
            assert_eq!(trace[3], trace[2]);
        }
    }

    /// A step that stops early on a non-finite loss (as a GAN's critic
    /// loop does) stops early on every rank: the skipped update reports NaN
    /// everywhere, so no rank goes on to a second all-reduce alone; the
    /// message still names the rank whose loss was bad.
    #[test]
    fn an_early_return_on_a_bad_loss_is_taken_by_every_rank() {
        struct TwoSteps(Regressor);
        impl Model for TwoSteps {
            fn capabilities(&self) -> Capabilities {
                self.0.capabilities()
            }
        }
        impl Learn for TwoSteps {
            type Batch = Matrix;
            fn learn_step(&mut self, b: &Matrix, ctx: &mut StepContext<'_>) -> Result<StepStats> {
                let first = self.0.learn_step(b, ctx)?;
                if !first.loss.is_finite() {
                    return Ok(first);
                }
                let clean = Matrix::new(1, 4, vec![0.1, 0.2, 0.3, 0.4])?;
                self.0.learn_step(&clean, ctx)
            }
            fn shard_batch(&self, b: &Matrix, rank: usize, size: usize) -> Result<Matrix> {
                b.shard_rows(rank, size)
            }
        }
        impl Checkpoint for TwoSteps {
            fn save_checkpoint(&self, dir: &Path) -> Result<()> {
                self.0.save_checkpoint(dir)
            }
            fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
                self.0.load_checkpoint(dir)
            }
        }
        let dir = run_dir("early");
        let out = on_threads(2, move |_| {
            let mut m = TwoSteps(Regressor::new(3));
            Trainer::new(config(10, true), &dir)
                .unwrap()
                .fit(&mut m, |t, rng| batch(rng, t, true))
                .unwrap_err()
        });
        for e in out {
            match e {
                GenError::DivergedOnRank { step, ranks, .. } => {
                    assert_eq!((step, ranks), (3, vec![1]))
                }
                other => panic!("{other:?}"),
            }
        }
    }

    /// Without a world, distributed training says how to get one.
    #[test]
    fn distributed_without_a_world_says_how_to_launch() {
        let mut m = Regressor::new(3);
        let e = Trainer::new(config(2, true), run_dir("noworld"))
            .unwrap()
            .fit(&mut m, |t, rng| batch(rng, t, false))
            .unwrap_err()
            .to_string();
        assert!(e.contains("mpirun") && e.contains("--features mpi"), "{e}");
    }

    /// Resuming a distributed run: rank 0 restores the checkpoint and every
    /// rank continues from it; the end equals an uninterrupted run.
    #[test]
    fn a_distributed_run_resumes_exactly() {
        let whole = run_dir("resume-whole");
        let full = on_threads(2, move |_| {
            let mut m = Regressor::new(3);
            let _ = Trainer::new(config(10, true), &whole)
                .unwrap()
                .fit(&mut m, |t, rng| batch(rng, t, false));
            m.trace.last().cloned().unwrap()
        });
        let split = run_dir("resume-split");
        let s1 = split.clone();
        on_threads(2, move |_| {
            let mut m = Regressor::new(3);
            let cfg = TrainConfig {
                checkpoint_every: 4,
                ..config(6, true)
            };
            let _ = Trainer::new(cfg, &s1)
                .unwrap()
                .fit(&mut m, |t, rng| batch(rng, t, false));
        });
        let resumed = on_threads(2, move |rank| {
            // Different starting weights everywhere: the restored state wins.
            let mut m = Regressor::new(100 + rank as u64);
            let cfg = TrainConfig {
                resume: true,
                ..config(10, true)
            };
            let out = Trainer::new(cfg, &split)
                .unwrap()
                .fit(&mut m, |t, rng| batch(rng, t, false));
            if let Ok(r) = &out {
                assert_eq!(r.resumed_from, Some(6));
            }
            m.trace.last().cloned().unwrap()
        });
        assert_eq!(resumed[0], resumed[1]);
        assert_eq!(resumed[0], full[0]);
    }

    #[test]
    fn models_refuse_sharding_unless_they_opt_in() {
        struct Whole;
        impl Model for Whole {
            fn capabilities(&self) -> Capabilities {
                Capabilities {
                    model: "em-thing",
                    family: "test",
                    learn: TaskSupport::exact("EM"),
                    score: TaskSupport::none("none"),
                    sample: TaskSupport::none("none"),
                    infer: TaskSupport::none("none"),
                }
            }
        }
        impl Learn for Whole {
            type Batch = ();
            fn learn_step(&mut self, _: &(), _: &mut StepContext<'_>) -> Result<StepStats> {
                Ok(StepStats::loss(0.0))
            }
        }
        let e = Whole.shard_batch(&(), 0, 2).unwrap_err().to_string();
        assert!(e.contains("em-thing") && e.contains("one"), "{e}");
    }
}

mod averaging {
    use burn::tensor::Device;

    use super::on_threads;
    use gen_core::distributed::{SyncScope, average_params, flatten_params};
    use gen_core::nn::Activation;
    use gen_core::nn::MlpConfig;
    use gen_core::rng_from_seed;

    /// Inside a step, ranks that set their parameters from their own shards
    /// end with the mean of them, still trainable; outside, nothing changes.
    #[test]
    fn averaging_parameters_gives_every_rank_the_mean() {
        let out = on_threads(2, |rank| {
            #[allow(deprecated)]
            let d = Device::ndarray().autodiff();
            let cfg = MlpConfig {
                d_in: 2,
                hidden: vec![3],
                d_out: 1,
                activation: Activation::Tanh,
                zero_last: false,
            };
            let m = cfg.init(&mut rng_from_seed(rank as u64), &d).unwrap();
            let own = flatten_params(&m).unwrap();
            let untouched = flatten_params(&average_params(m.clone()).unwrap()).unwrap();
            assert_eq!(own, untouched);
            let _sync = SyncScope::enter();
            let avg = average_params(m).unwrap();
            assert!(avg.layers[0].weight.val().is_require_grad());
            (own, flatten_params(&avg).unwrap())
        });
        let (a, b) = (&out[0].0, &out[1].0);
        for (r, (_, avg)) in out.iter().enumerate() {
            for i in 0..a.len() {
                assert!(
                    (avg[i] - 0.5 * (a[i] + b[i])).abs() < 1e-6,
                    "rank {r} param {i}"
                );
            }
        }
    }
}
