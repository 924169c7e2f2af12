//! The GAN against its mathematics: who moves in each update, the optimal
//! discriminator, exact resume, stability of every loss, backend parity
//! (one test binary: wgpu kernels compile once per process). The image
//! GANs (DCGAN, cGAN, BiGAN) are in the `image_gans` module.

mod image_gans;

use std::path::Path;

use gen_core::burn::module::Module;
use gen_core::burn::tensor::{Device, Tensor, TensorData};
use gen_core::optim::{OptimConfig, Optimized};
use gen_core::parity::check_parity;
use gen_core::train::{TrainConfig, Trainer};
use gen_core::{GenError, Learn, Matrix, Model, Sample, SampleOptions, StepContext, Support};
use gen_core::{rng_from_seed, tensor::to_vec};
use gen_data::toy2d::Toy2d;
use gen_gan::losses::{lsgan_d_loss, minimax_d_loss};
use gen_gan::model::{critic_loss, generator_loss};
use gen_gan::{DiscriminatorConfig, Gan, GanConfig, GanLoss};

#[allow(deprecated)]
fn ndarray() -> Device {
    Device::ndarray()
}

fn small(loss: GanLoss) -> GanConfig {
    GanConfig {
        hidden: vec![32, 32],
        ..GanConfig::with_loss(loss)
    }
}

#[test]
fn a_critic_update_moves_only_d_and_a_generator_update_only_g() {
    for loss in [
        GanLoss::NonSaturating,
        GanLoss::Hinge,
        GanLoss::LeastSquares,
    ] {
        let mut gan = Gan::new(small(loss), &ndarray(), 1).unwrap();
        let dev = gan.device().clone();
        let real = Toy2d::EightGaussians.sample(64, 2);
        let x = gen_core::tensor::to_tensor(&real, &dev);
        let mut rng = rng_from_seed(3);
        let (d0, g0) = (
            gan.players().d.model.weights().unwrap(),
            gan.players().g.model.weights().unwrap(),
        );

        let p = gan.players_mut();
        let fake = p.g.model.generate(64, &mut rng, &dev).detach();
        let l = critic_loss(&loss, p.d.model.forward(x.clone()), p.d.model.forward(fake)).unwrap();
        p.d.step(l, 1e-3).unwrap();
        let d1 = p.d.model.weights().unwrap();
        assert_ne!(d1, d0, "{loss:?}: the critic update did not move D");
        assert_eq!(
            p.g.model.weights().unwrap(),
            g0,
            "{loss:?}: a critic update moved G"
        );

        // The generator loss back-propagates through D, but only G steps.
        let fake = p.g.model.generate(64, &mut rng, &dev);
        let l = generator_loss(&loss, p.d.model.forward(fake)).unwrap();
        p.g.step(l, 1e-3).unwrap();
        assert_eq!(
            p.d.model.weights().unwrap(),
            d1,
            "{loss:?}: the generator update moved D"
        );
        assert_ne!(p.g.model.weights().unwrap(), g0, "{loss:?}: G did not move");
    }
}

/// Fixed generator q = N(0, 1) and data p* = N(2, 1) in 1-D: the optimal
/// discriminator is D*(x) = p*/(p* + q) = σ(2x − 2). Training only D (fresh
/// samples of both every step) with the minimax loss (D = σ(logit)) and the
/// least-squares loss (D = output; LSGAN's optimum with a = 0, b = 1 is the
/// same ratio) approaches it on a grid over [−1, 3], where both densities
/// have mass, within 0.06 (the residual is sampling noise of batch 512 and
/// the finite MLP).
#[test]
fn training_only_the_discriminator_approaches_the_optimal_ratio() {
    let dev = Device::flex().autodiff();
    let grid: Vec<f32> = (0..=40).map(|i| -1.0 + 0.1 * i as f32).collect();
    let want: Vec<f64> = grid
        .iter()
        .map(|&x| 1.0 / (1.0 + (-(2.0 * x as f64 - 2.0)).exp()))
        .collect();
    for lsgan in [false, true] {
        let d = DiscriminatorConfig {
            d_in: 1,
            hidden: vec![32, 32],
            spectral_norm: false,
        }
        .init(&mut rng_from_seed(5), &dev)
        .unwrap();
        let mut d = Optimized::new(d, &OptimConfig::default());
        let mut rng = rng_from_seed(6);
        let n = 512;
        for _ in 0..1500 {
            let draw = |mu: f64, rng: &mut gen_core::Rng| {
                let v: Vec<f32> = gen_core::numerics::standard_normals(n, rng)
                    .into_iter()
                    .map(|e| (e + mu) as f32)
                    .collect();
                Tensor::<2>::from_data(TensorData::new(v, [n, 1]), &dev)
            };
            let real = d.model.forward(draw(2.0, &mut rng));
            let fake = d.model.forward(draw(0.0, &mut rng));
            let l = if lsgan {
                lsgan_d_loss(real, fake)
            } else {
                minimax_d_loss(real, fake)
            };
            d.step(l, 2e-3).unwrap();
        }
        let x = Tensor::<2>::from_data(TensorData::new(grid.clone(), [grid.len(), 1]), &dev);
        let out = d.model.valid().forward(x.inner());
        let got = if lsgan {
            to_vec(out).unwrap()
        } else {
            to_vec(gen_core::burn::tensor::activation::sigmoid(out)).unwrap()
        };
        let worst = got
            .iter()
            .zip(&want)
            .map(|(g, w)| (*g as f64 - w).abs())
            .fold(0.0, f64::max);
        eprintln!("D* check (lsgan {lsgan}): max |D − D*| on [−1, 3] = {worst:.4}");
        assert!(worst < 0.06, "lsgan {lsgan}: max |D − D*| = {worst}");
    }
}

fn train_run(
    dir: &Path,
    resume: bool,
    fail_at: Option<u64>,
    cfg: &GanConfig,
) -> Result<Vec<f64>, GenError> {
    let mut gan = Gan::new(cfg.clone(), &ndarray(), 11)?;
    let tc = TrainConfig {
        steps: 24,
        lr: 1e-3,
        seed: 4,
        checkpoint_every: 5,
        progress: false,
        resume,
        batch_size: 32,
        ..TrainConfig::default()
    };
    Trainer::new(tc, dir)?
        .fit(&mut gan, |step, rng| {
            if Some(step) == fail_at {
                return Err(GenError::Other("interrupted".into()));
            }
            Ok(Toy2d::EightGaussians.sample_with(32, rng))
        })
        .map(|r| r.losses)
}

/// Killed during step 13 (last checkpoint: step 10), resumed: the losses
/// equal those of the uninterrupted run, bit for bit. Covers both players'
/// Adam states, the spectral-norm vectors, the EMA and the run RNG.
#[test]
fn resuming_an_interrupted_run_reproduces_it_exactly() {
    let root = std::env::temp_dir().join(format!("genlab-gan-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (i, cfg) in [
        GanConfig {
            spectral_norm: true,
            ema: Some(0.9),
            n_critic: 2,
            ..small(GanLoss::Hinge)
        },
        GanConfig {
            n_critic: 2,
            ..small(GanLoss::Wasserstein { clip: 0.05 })
        },
    ]
    .iter()
    .enumerate()
    {
        let full = train_run(&root.join(format!("full{i}")), false, None, cfg).unwrap();
        assert_eq!(full.len(), 24);
        let split = root.join(format!("split{i}"));
        assert!(train_run(&split, false, Some(13), cfg).is_err());
        let resumed = train_run(&split, true, None, cfg).unwrap();
        assert_eq!(resumed, full, "{:?}: resumed losses differ", cfg.loss);
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// 300 steps of every loss (and the spectrally normalised hinge GAN with an
/// EMA) on eight-gaussians: every loss stays finite, samples are finite,
/// and every critic weight of the WGAN stays within its clip bound.
#[test]
fn every_loss_trains_on_eight_gaussians_without_nan() {
    let mut configs: Vec<GanConfig> = GanLoss::all().into_iter().map(small).collect();
    configs.push(GanConfig {
        spectral_norm: true,
        ema: Some(0.99),
        ..small(GanLoss::Hinge)
    });
    for cfg in configs {
        let mut gan = Gan::new(cfg.clone(), &Device::flex(), 1).unwrap();
        let mut rng = rng_from_seed(2);
        let mut last = None;
        for step in 0..300 {
            let batch = Toy2d::EightGaussians.sample_with(128, &mut rng);
            let mut ctx = StepContext {
                step,
                lr: 1e-3,
                rng: &mut rng,
            };
            let s = gan.learn_step(&batch, &mut ctx).unwrap();
            assert!(s.loss.is_finite(), "{:?} step {step}: {s:?}", cfg.loss);
            assert!(s.metrics.values().all(|v| v.is_finite()), "{s:?}");
            assert_eq!(
                s.metrics.contains_key("d_loss"),
                cfg.loss.has_discriminator()
            );
            last = Some(s);
        }
        let x = gan
            .sample(500, &SampleOptions::default(), &mut rng_from_seed(9))
            .unwrap();
        assert_eq!(x.shape(), (500, 2));
        x.ensure_finite("samples").unwrap();
        if let GanLoss::Wasserstein { clip } = cfg.loss {
            let w = gan.players().d.model.weights().unwrap();
            assert!(w.iter().all(|v| (v.abs() as f64) <= clip + 1e-7));
        }
        eprintln!(
            "{} (sn {}): last {:?}",
            cfg.loss.name(),
            cfg.spectral_norm,
            last.unwrap().metrics
        );
    }
}

/// The largest singular value of a row-major matrix by nalgebra's SVD.
fn sigma_max(w: &[f32], rows: usize, cols: usize) -> f64 {
    let m = nalgebra::DMatrix::from_row_iterator(rows, cols, w.iter().map(|&x| f64::from(x)));
    m.singular_values().max()
}

/// Spectral normalisation inside GAN training: every critic and generator
/// update runs a training forward of D on the autodiff device, so each
/// layer's `training` flag stays on, its `u` keeps moving, and after 200
/// steps (the raw weights having moved, σ_max of some layer by > 10 %)
/// each layer's σ̂ = uᵀWv is within 1 % of the exact σ_max of its current
/// weight, so the normalised weight W/σ̂ has spectral norm 1 within 1 %.
/// The critic output is then 1-Lipschitz: |D(x) − D(y)| ≤ ‖x − y‖ on random
/// pairs. (The SN hinge GAN's collapse at n_critic 1 is not a failure of any
/// of these: see docs/gans.md.)
#[test]
fn spectral_norm_tracks_the_exact_sigma_during_gan_training() {
    let cfg = GanConfig {
        spectral_norm: true,
        ..small(GanLoss::Hinge)
    };
    let mut gan = Gan::new(cfg, &Device::flex(), 5).unwrap();
    // Per layer: W (one row per output), rows, cols, σ̂, u, training flag.
    type LayerState = (Vec<f32>, usize, usize, f64, Vec<f32>, bool);
    let layers = |gan: &Gan| -> Vec<LayerState> {
        gan.players()
            .d
            .model
            .spectral
            .iter()
            .map(|l| {
                let w = l.inner.weight.val();
                let [d_in, d_out] = w.dims();
                (
                    to_vec(w.transpose()).unwrap(),
                    d_out,
                    d_in,
                    l.sigma().unwrap(),
                    l.sn.u_values().unwrap(),
                    l.sn.training.is_enabled(),
                )
            })
            .collect()
    };
    let before = layers(&gan);
    assert_eq!(before.len(), 3);
    let mut rng = rng_from_seed(6);
    for step in 0..200 {
        let batch = Toy2d::EightGaussians.sample_with(128, &mut rng);
        let mut ctx = StepContext {
            step,
            lr: 1e-3,
            rng: &mut rng,
        };
        gan.learn_step(&batch, &mut ctx).unwrap();
    }
    let after = layers(&gan);
    let mut moved = 0.0f64;
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        let (w, rows, cols, est, u, training) = a;
        assert!(
            *training,
            "layer {i}: training flag off during GAN training"
        );
        // (The output layer's u is the 1-vector [1]: nothing to update.)
        if *rows > 1 {
            assert_ne!(&b.4, u, "layer {i}: u never updated");
        }
        let exact = sigma_max(w, *rows, *cols);
        let exact_before = sigma_max(&b.0, *rows, *cols);
        moved = moved.max((exact / exact_before - 1.0).abs());
        // ‖W/σ̂‖₂ = σ_max/σ̂: the normalised layer is 1-Lipschitz within 1 %.
        assert!(
            (est / exact - 1.0).abs() < 1e-2,
            "layer {i}: σ̂ {est} vs SVD σ_max {exact}"
        );
    }
    assert!(
        moved > 0.1,
        "σ_max moved by at most {moved}: the test is vacuous"
    );

    let x = Toy2d::EightGaussians.sample(256, 7);
    let y = Toy2d::EightGaussians.sample(256, 8);
    let d = gan.discriminate(&x).unwrap();
    let e = gan.discriminate(&y).unwrap();
    for (i, (rx, ry)) in x.iter_rows().zip(y.iter_rows()).enumerate() {
        let dist = ((rx[0] - ry[0]).powi(2) + (rx[1] - ry[1]).powi(2)).sqrt();
        assert!(
            (d[i] - e[i]).abs() <= dist * 1.01 + 1e-5,
            "|D(x) − D(y)| = {} > ‖x − y‖ = {dist}",
            (d[i] - e[i]).abs()
        );
    }
}

/// One learning step (two critic updates then one generator update) gives
/// the same losses and weights on every backend (ndarray, flex, and wgpu
/// when a Vulkan device is present).
#[test]
fn one_step_agrees_across_backends() {
    for loss in [
        GanLoss::NonSaturating,
        GanLoss::Wasserstein { clip: 0.05 },
        GanLoss::Mmd {
            bandwidths: [0.1, 0.5, 2.0],
        },
    ] {
        let cfg = GanConfig {
            n_critic: 2,
            spectral_norm: !matches!(loss, GanLoss::Wasserstein { .. }),
            ..small(loss)
        };
        let batch = Toy2d::EightGaussians.sample(64, 8);
        let report = check_parity(loss.name(), false, 1e-5, 1e-4, |dev| {
            let mut gan = Gan::new(cfg.clone(), dev, 3)?;
            let mut rng = rng_from_seed(4);
            let mut ctx = StepContext {
                step: 0,
                lr: 1e-3,
                rng: &mut rng,
            };
            let l = gan.step(&batch, &mut ctx)?;
            let mut out: Vec<f32> = l.d.iter().map(|v| *v as f32).collect();
            out.push(l.g as f32);
            out.extend(gan.players().d.model.weights()?);
            out.extend(gan.players().d.model.spectral_u()?);
            out.extend(gan.players().g.model.weights()?);
            Ok(out)
        })
        .unwrap();
        eprintln!(
            "parity {}: {:?}, max |diff| {:e}",
            loss.name(),
            report.backends,
            report.max_abs_diff
        );
        assert!(report.backends.len() >= 2);
    }
}

#[test]
fn capabilities_config_errors_and_sampling_options() {
    let gan = Gan::new(small(GanLoss::Minimax), &ndarray(), 1).unwrap();
    let c = gan.capabilities();
    assert_eq!(c.score.support, Support::None);
    assert_eq!(c.score.how, "the discriminator's output is not a density");
    assert_eq!(c.sample.support, Support::Exact);
    assert_eq!(c.learn.support, Support::Approximate);
    assert_eq!(c.infer.support, Support::None);

    let err = |cfg: GanConfig| Gan::new(cfg, &ndarray(), 1).unwrap_err().to_string();
    let e = err(GanConfig {
        n_critic: 0,
        ..GanConfig::default()
    });
    assert!(e.contains("n_critic"), "{e}");
    let e = err(small(GanLoss::Wasserstein { clip: 0.0 }));
    assert!(e.contains("clip"), "{e}");
    let e = err(GanConfig {
        ema: Some(1.0),
        ..GanConfig::default()
    });
    assert!(e.contains("ema"), "{e}");

    // Temperature scales z: τ → 0 collapses every sample onto G(0).
    let mut rng = rng_from_seed(1);
    let cold = gan
        .sample(50, &SampleOptions::with_temperature(1e-6), &mut rng)
        .unwrap();
    let g0 = gan.sample_with(1, 1e-30, None, &mut rng).unwrap();
    for r in cold.iter_rows() {
        assert!((r[0] - g0.get(0, 0)).abs() < 1e-4 && (r[1] - g0.get(0, 1)).abs() < 1e-4);
    }
    // Truncation keeps |ε| ≤ t: with t = 0.5 the samples spread less than untruncated.
    let spread = |m: &Matrix| {
        let mu = m.column_means();
        m.iter_rows()
            .map(|r| (r[0] - mu[0]).powi(2) + (r[1] - mu[1]).powi(2))
            .sum::<f64>()
            / m.rows() as f64
    };
    let full = gan.sample_with(4000, 1.0, None, &mut rng).unwrap();
    let trunc = gan.sample_with(4000, 1.0, Some(0.5), &mut rng).unwrap();
    assert!(spread(&trunc) < spread(&full));
    let z = gen_gan::mlp::latent_noise(1000, 2, 1.0, Some(0.5), &mut rng);
    assert!(z.iter().all(|v| v.abs() <= 0.5));
    assert!(
        gan.sample(3, &SampleOptions::with_temperature(0.0), &mut rng)
            .is_err()
    );
}

/// Data-parallel training covers both players: two ranks (threads) train a
/// spectrally normalised hinge GAN with n_critic 2 (several synchronised
/// steps per learning step) on their shards of each batch, and end with the
/// same critic and generator, bit for bit; rank 1 started from other
/// weights, so rank 0's broadcast state is what both trained.
#[test]
fn data_parallel_training_keeps_both_players_identical_on_every_rank() {
    use gen_core::distributed::{ThreadGroup, flatten_params, install};
    let cfg = GanConfig {
        n_critic: 2,
        spectral_norm: true,
        ..small(GanLoss::Hinge)
    };
    let dir = std::env::temp_dir().join(format!("gen-gan-dist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let handles: Vec<_> = ThreadGroup::create(2)
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(rank, member)| {
            let (cfg, dir) = (cfg.clone(), dir.clone());
            std::thread::spawn(move || {
                let _world = install(member);
                let mut gan = Gan::new(cfg, &ndarray(), 11 + rank as u64).unwrap();
                let tc = TrainConfig {
                    steps: 12,
                    lr: 1e-3,
                    seed: 4,
                    progress: false,
                    batch_size: 64,
                    distributed: true,
                    ..TrainConfig::default()
                };
                let out = Trainer::new(tc, &dir).unwrap().fit(&mut gan, |_, rng| {
                    Ok(Toy2d::EightGaussians.sample_with(64, rng))
                });
                match (rank, out) {
                    (0, Ok(r)) => assert_eq!(r.steps, 12),
                    (1, Err(GenError::FollowerDone { rank: 1 })) => {}
                    (r, other) => panic!("rank {r}: {other:?}"),
                }
                let p = gan.players();
                (
                    flatten_params(&p.d.model).unwrap(),
                    flatten_params(&p.g.model).unwrap(),
                )
            })
        })
        .collect();
    let out: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(out[0].0, out[1].0, "critics differ between ranks");
    assert_eq!(out[0].1, out[1].1, "generators differ between ranks");
    let fresh = Gan::new(cfg, &ndarray(), 11).unwrap();
    let g0 = flatten_params(&fresh.players().g.model).unwrap();
    assert!(
        g0.iter().zip(&out[0].1).any(|(a, b)| (a - b).abs() > 1e-4),
        "G did not train"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// PacGAN packing: the critic sees m samples per input (width m·D), every
/// point of `discriminate` is judged as m copies of itself, a step trains,
/// and batches that do not divide by m, packing of non-MLP players and
/// pack 0 are refused with a fix.
#[test]
fn packing_feeds_the_critic_m_samples_at_once() {
    let cfg = GanConfig {
        pack: 4,
        ..small(GanLoss::NonSaturating)
    };
    let mut gan = Gan::new(cfg.clone(), &ndarray(), 3).unwrap();
    let p = gan.players();
    assert_eq!(p.d.model.pack, 4);
    let first = p.d.model.plain.as_ref().unwrap().layers[0]
        .weight
        .val()
        .dims();
    assert_eq!(first, [8, 32], "input width is pack × D");
    // One packed input of four copies of x is what discriminate reports for x.
    let x = Matrix::new(2, 2, vec![0.5, -1.0, 2.0, 0.25]).unwrap();
    let d = gan.discriminate(&x).unwrap();
    assert_eq!(d.len(), 2);
    let dev = ndarray();
    let copies: Vec<f32> = [0.5f32, -1.0].repeat(4);
    let logit = gan
        .players()
        .d
        .model
        .valid()
        .forward(Tensor::from_data(TensorData::new(copies, [1, 8]), &dev));
    let sig = 1.0 / (1.0 + (-(to_vec(logit).unwrap()[0] as f64)).exp());
    assert!((d[0] - sig).abs() < 1e-6, "{} vs {sig}", d[0]);
    // A training step on a batch divisible by 4 runs; 30 rows are refused.
    let mut rng = rng_from_seed(1);
    let mut ctx = StepContext {
        step: 0,
        lr: 1e-3,
        rng: &mut rng,
    };
    let stats = gan
        .learn_step(&Toy2d::EightGaussians.sample(32, 0), &mut ctx)
        .unwrap();
    assert!(stats.loss.is_finite());
    let e = gan
        .learn_step(&Toy2d::EightGaussians.sample(30, 0), &mut ctx)
        .unwrap_err()
        .to_string();
    assert!(e.contains("divisible by the packing"), "{e}");
    for bad in [
        GanConfig {
            pack: 0,
            ..cfg.clone()
        },
        GanConfig {
            pack: 2,
            ..GanConfig::dcgan(8, 0)
        },
    ] {
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("pack"), "{e}");
    }
}

/// A run that diverges (an absurd learning rate drives the losses to
/// NaN/Inf) stops with `Diverged`, naming the last good checkpoint, and
/// that checkpoint loads into a GAN that still samples finite points.
#[test]
fn a_diverged_run_stops_and_keeps_the_last_good_checkpoint() {
    use gen_core::Checkpoint;
    let dir = std::env::temp_dir().join(format!("gen-gan-diverge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = small(GanLoss::Wasserstein { clip: 1e30 });
    let mut gan = Gan::new(cfg.clone(), &ndarray(), 5).unwrap();
    let tc = TrainConfig {
        steps: 200,
        lr: 1e30,
        seed: 1,
        checkpoint_every: 1,
        progress: false,
        batch_size: 32,
        explosion_factor: None,
        ..TrainConfig::default()
    };
    let err = Trainer::new(tc, &dir)
        .unwrap()
        .fit(&mut gan, |_, rng| {
            Ok(Toy2d::EightGaussians.sample_with(32, rng))
        })
        .unwrap_err();
    let GenError::Diverged {
        step, checkpoint, ..
    } = err
    else {
        panic!("expected a divergence, got {err:?}");
    };
    assert!(step < 200);
    let mut restored = Gan::new(cfg, &ndarray(), 99).unwrap();
    restored
        .load_checkpoint(&std::path::Path::new(&checkpoint).join("model"))
        .unwrap();
    let x = restored
        .sample(64, &SampleOptions::default(), &mut rng_from_seed(2))
        .unwrap();
    assert!(
        x.as_slice().iter().all(|v| v.is_finite()),
        "the kept checkpoint samples finite points"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
