//! DCGAN, the conditional GAN and BiGAN against their definitions: shapes
//! and ranges, who moves in each update, the projection discriminator's
//! formula, batch norm's train and eval modes, label and size errors, exact
//! resume and backend parity. (A module of the `gan` test binary, so the
//! wgpu kernels compile once.)

use std::path::Path;

use gen_core::burn::module::{Module, Param};
use gen_core::burn::tensor::{Device, Tensor, TensorData};
use gen_core::nn::linear::normal;
use gen_core::parity::check_parity;
use gen_core::tensor::{to_matrix, to_tensor, to_vec};
use gen_core::train::{TrainConfig, Trainer};
use gen_core::{
    GenError, Learn, Matrix, Model, Sample, SampleOptions, StepContext, Support, rng_from_seed,
};
use gen_data::Split;
use gen_gan::conv::generator_weights;
use gen_gan::model::critic_loss;
use gen_gan::nets::{CriticNet, GeneratorNet, one_hot};
use gen_gan::{BiGan, DcGan, Gan, GanConfig, GanLoss, labelled_batch};

/// A small DCGAN on `side`×`side` images (two doublings, few channels).
fn small_dcgan(side: usize, classes: usize) -> GanConfig {
    GanConfig {
        hidden: vec![4, 8],
        latent: 6,
        ..GanConfig::dcgan(side, classes)
    }
}

fn small_bigan(data_dim: usize, unit: bool) -> GanConfig {
    GanConfig {
        hidden: vec![16, 16],
        latent: 3,
        ..GanConfig::bigan(data_dim, unit)
    }
}

/// `n` digits (8×8) scaled to [0, 1], and their labels.
fn digits(n: usize) -> (Matrix, Vec<u8>) {
    let d = gen_data::digits8x8(Split::Train).unwrap();
    let idx: Vec<usize> = (0..n).collect();
    let d = d.select(&idx).unwrap();
    (d.scaled().unwrap(), d.labels)
}

fn latents(n: usize, l: usize, seed: u64, dev: &Device) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(normal(n * l, 1.0, &mut rng_from_seed(seed)), [n, l]),
        dev,
    )
}

#[test]
fn dcgan_generator_output_shape_and_range_for_both_image_sizes() {
    for (side, start) in [(28, 7), (8, 2)] {
        for classes in [0, 10] {
            let gan = DcGan::build(small_dcgan(side, classes), &Device::flex(), 1).unwrap();
            let g = &gan.players().g.model;
            assert_eq!(g.start, start, "side {side}");
            assert_eq!(g.ups.len(), 2);
            // Training mode (autodiff device, batch statistics) and the
            // sampling copy (eval mode, running statistics).
            let dev = gan.device().clone();
            let y = (classes > 0).then(|| one_hot(&[3; 5], classes, &dev));
            let x = to_vec(g.generate_from(latents(5, 6, 2, &dev), y)).unwrap();
            assert_eq!(x.len(), 5 * side * side);
            assert!(x.iter().all(|v| (0.0..=1.0).contains(v)), "side {side}");
            let s = gan
                .sample(7, &SampleOptions::default(), &mut rng_from_seed(3))
                .unwrap();
            assert_eq!(s.shape(), (7, side * side));
            assert!(s.as_slice().iter().all(|v| (0.0..=1.0).contains(v)));
            // The critic gives one value per row.
            let d = gan.discriminate(&if classes > 0 {
                labelled_batch(&s, &[1; 7]).unwrap()
            } else {
                s.clone()
            });
            assert_eq!(d.unwrap().len(), 7);
        }
    }
}

#[test]
fn wrong_image_sizes_classes_and_archs_are_clear_errors() {
    let dev = Device::flex();
    let err = |cfg: GanConfig| DcGan::build(cfg, &dev, 1).unwrap_err().to_string();
    // 10 = 2.5 · 2²: no integer start side.
    let e = err(small_dcgan(10, 0));
    assert!(e.contains("10×10") && e.contains("2^2"), "{e}");
    // 28 = 3.5 · 2³ with three widths; the fix names the widths that fit.
    let e = err(GanConfig {
        hidden: vec![4, 8, 16],
        ..small_dcgan(28, 0)
    });
    assert!(e.contains("2 channel widths (7 → 28)"), "{e}");
    let e = err(GanConfig {
        data_dim: 63,
        ..small_dcgan(8, 0)
    });
    assert!(e.contains("64 pixels"), "{e}");
    let e = err(small_dcgan(8, 1));
    assert!(e.contains("at least 2 classes"), "{e}");
    // Classes belong to the DCGAN arch; the network types must match the arch.
    let e = Gan::new(
        GanConfig {
            classes: 3,
            ..GanConfig::default()
        },
        &dev,
        1,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("only the DCGAN arch is conditional"), "{e}");
    let e = Gan::new(small_dcgan(8, 0), &dev, 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("mlp arch"), "{e}");
    let e = BiGan::build(
        GanConfig {
            loss: GanLoss::Mmd {
                bandwidths: [0.1, 0.5, 2.0],
            },
            ..small_bigan(2, false)
        },
        &dev,
        1,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("MMD"), "{e}");

    // Classes out of range, or for an unconditional model.
    let cgan = DcGan::build(small_dcgan(8, 10), &dev, 1).unwrap();
    let mut rng = rng_from_seed(1);
    let e = cgan
        .sample_classes(2, 1.0, None, Some(&[3, 10]), &mut rng)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("10 classes") && e.contains("between 0 and 9"),
        "{e}"
    );
    let cond = |c: f64| SampleOptions {
        condition: Some(Matrix::new(1, 1, vec![c]).unwrap()),
        ..SampleOptions::default()
    };
    assert!(cgan.sample(2, &cond(-1.0), &mut rng).is_err());
    assert!(cgan.sample(2, &cond(2.5), &mut rng).is_err());
    assert_eq!(cgan.sample(2, &cond(9.0), &mut rng).unwrap().rows(), 2);
    let dcgan = DcGan::build(small_dcgan(8, 0), &dev, 1).unwrap();
    let e = dcgan
        .sample(2, &cond(1.0), &mut rng)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unconditional"), "{e}");
    // A training batch with a label outside 0..K, or without the label column.
    let (x, mut y) = digits(8);
    y[5] = 12;
    let mut cgan = cgan;
    let mut ctx = StepContext {
        step: 0,
        lr: 1e-3,
        rng: &mut rng,
    };
    let e = cgan
        .learn_step(&labelled_batch(&x, &y).unwrap(), &mut ctx)
        .unwrap_err()
        .to_string();
    assert!(e.contains("12") && e.contains("between 0 and 9"), "{e}");
    let e = cgan.learn_step(&x, &mut ctx).unwrap_err().to_string();
    assert!(e.contains("65"), "{e}");
}

/// Trainable weights of each player before and after one critic update and
/// one generator update built by hand (gradients of the generator loss reach
/// D, of a BiGAN's critic loss reach E, but only the stepped player moves).
fn only_the_stepped_player_moves<D: CriticNet, G: GeneratorNet>(
    gan: &mut Gan<D, G>,
    x: &Matrix,
    labels: Option<&[usize]>,
    wd: impl Fn(&D) -> Vec<f32>,
    wg: impl Fn(&G) -> Vec<f32>,
) {
    let loss = gan.config().loss;
    let k = gan.config().classes;
    let dev = gan.device().clone();
    let real = to_tensor(x, &dev);
    let n = x.rows();
    let l = gan.config().latent;
    let y = labels.map(|c| one_hot(c, k, &dev));
    let p = gan.players_mut();
    let (d0, g0) = (wd(&p.d.model), wg(&p.g.model));

    let z = latents(n, l, 5, &dev);
    let fake = p.g.model.generate_from(z.clone(), y.clone());
    let zr = p.g.model.encode(real.clone());
    let zf = zr.as_ref().map(|_| z.clone());
    let lr = p.d.model.critic(real.clone(), zr, y.clone());
    let lf = p.d.model.critic(fake, zf, y.clone());
    p.d.step(critic_loss(&loss, lr, lf).unwrap(), 1e-3).unwrap();
    let d1 = wd(&p.d.model);
    assert_ne!(d1, d0, "the critic update did not move D");
    assert_eq!(wg(&p.g.model), g0, "a critic update moved G");

    let fake = p.g.model.generate_from(z.clone(), y.clone());
    let zf = p.g.model.encode(real.clone()).map(|_| z);
    let l = gen_gan::model::generator_loss(&loss, p.d.model.critic(fake, zf, y)).unwrap();
    p.g.step(l, 1e-3).unwrap();
    assert_eq!(wd(&p.d.model), d1, "the generator update moved D");
    assert_ne!(wg(&p.g.model), g0, "the generator update did not move G");
}

#[test]
fn image_gan_updates_move_only_their_own_player() {
    let (x, y) = digits(16);
    let y: Vec<usize> = y.iter().map(|&c| c as usize).collect();
    for (classes, sn) in [(0, false), (0, true), (10, false), (10, true)] {
        let cfg = GanConfig {
            spectral_norm: sn,
            ..small_dcgan(8, classes)
        };
        let mut gan = DcGan::build(cfg, &Device::flex(), 2).unwrap();
        let labels = (classes > 0).then_some(&y[..]);
        only_the_stepped_player_moves(
            &mut gan,
            &x,
            labels,
            |d| d.weights().unwrap(),
            |g| generator_weights(g).unwrap(),
        );
    }
    let mut bigan = BiGan::build(small_bigan(64, true), &Device::flex(), 2).unwrap();
    only_the_stepped_player_moves(
        &mut bigan,
        &x,
        None,
        |d| d.weights().unwrap(),
        |g| g.weights().unwrap(),
    );
}

/// D(x, y) = ψ(φ(x)) + (V e_y)·φ(x) with ψ(φ) = w·φ + b, on hand-set w, b
/// and V, against the same sum on the host from the critic's own φ(x).
#[test]
fn projection_discriminator_equals_its_formula_on_hand_set_weights() {
    let dev = Device::flex();
    let k = 3;
    let gan = DcGan::build(small_dcgan(8, k), &dev, 4).unwrap();
    let mut d = gan.players().d.model.valid();
    let f = 8 * 2 * 2;
    let w = normal(f, 0.3, &mut rng_from_seed(7));
    let v = normal(k * f, 0.3, &mut rng_from_seed(8));
    let b = 0.25f32;
    let param = |vals: Vec<f32>, shape: [usize; 2]| {
        Param::from_tensor(Tensor::from_data(TensorData::new(vals, shape), &dev))
    };
    d.out.inner_mut().weight = param(w.clone(), [f, 1]);
    d.out.inner_mut().bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(vec![b], [1]),
        &dev,
    )));
    d.embed.as_mut().unwrap().inner_mut().weight = param(v.clone(), [k, f]);
    let (x, _) = digits(6);
    let labels = [0usize, 1, 2, 2, 1, 0];
    let xt = to_tensor(&x, &dev);
    let phi = to_matrix(d.features(xt.clone())).unwrap();
    assert_eq!(phi.cols(), f);
    let got = to_vec(d.critic(xt.clone(), None, Some(one_hot(&labels, k, &dev)))).unwrap();
    let plain = to_vec(d.critic(xt, None, None)).unwrap();
    for (i, &y) in labels.iter().enumerate() {
        let p = phi.row(i);
        let psi: f64 = p.iter().zip(&w).map(|(a, b)| a * *b as f64).sum::<f64>() + b as f64;
        let proj: f64 = p
            .iter()
            .zip(&v[y * f..(y + 1) * f])
            .map(|(a, b)| a * *b as f64)
            .sum();
        assert!((plain[i] as f64 - psi).abs() < 1e-4, "ψ row {i}");
        assert!(
            (got[i] as f64 - psi - proj).abs() < 1e-4,
            "row {i}: D = {}, ψ + proj = {}",
            got[i],
            psi + proj
        );
    }
}

/// With z fixed, the class changes a cGAN's output and the same class
/// reproduces it; `SampleOptions::condition` and explicit classes agree.
#[test]
fn cgan_samples_follow_the_class_input() {
    let cgan = DcGan::build(small_dcgan(8, 10), &Device::flex(), 5).unwrap();
    let z = Matrix::new(
        2,
        6,
        normal(12, 1.0, &mut rng_from_seed(1))
            .iter()
            .map(|&v| v as f64)
            .collect(),
    )
    .unwrap();
    let a = cgan.decode(&z, Some(&[0, 0])).unwrap();
    let b = cgan.decode(&z, Some(&[7, 7])).unwrap();
    let a2 = cgan.decode(&z, Some(&[0, 0])).unwrap();
    assert_eq!(a, a2);
    let diff: f64 = a
        .as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(p, q)| (p - q).abs())
        .sum();
    assert!(diff > 1e-3, "the label did not change the output: {diff}");
    let opts = SampleOptions {
        condition: Some(Matrix::new(1, 1, vec![7.0]).unwrap()),
        ..SampleOptions::default()
    };
    let s = cgan.sample(4, &opts, &mut rng_from_seed(9)).unwrap();
    let t = cgan
        .sample_classes(4, 1.0, None, Some(&[7; 4]), &mut rng_from_seed(9))
        .unwrap();
    assert_eq!(s, t);
    // The latent interpolation keeps the class along each pair and ends at
    // the two decoded end points.
    let m = cgan
        .latent_interpolation(3, 5, None, &mut rng_from_seed(2))
        .unwrap();
    assert_eq!(m.shape(), (15, 64));
}

/// Sampling uses batch norm's running statistics (eval mode): a row's sample
/// does not depend on the other rows; in training mode it does.
#[test]
fn dcgan_samples_use_running_statistics_so_rows_are_independent() {
    let gan = DcGan::build(small_dcgan(8, 0), &Device::flex(), 6).unwrap();
    let zs = normal(4 * 6, 1.0, &mut rng_from_seed(3));
    let z = |rows: usize| {
        Matrix::new(rows, 6, zs[..rows * 6].iter().map(|&v| v as f64).collect()).unwrap()
    };
    let one = gan.decode(&z(1), None).unwrap();
    let four = gan.decode(&z(4), None).unwrap();
    assert_eq!(one.row(0), four.row(0));
    let g = &gan.players().g.model;
    let dev = gan.device().clone();
    let t = |rows: usize| {
        let zt = Tensor::from_data(TensorData::new(zs[..rows * 6].to_vec(), [rows, 6]), &dev);
        to_vec(g.generate_from(zt, None)).unwrap()
    };
    let (a, b) = (t(2), t(4));
    assert_ne!(
        a[..64],
        b[..64],
        "training mode should use batch statistics"
    );
}

#[test]
fn bigan_encoder_shape_and_encode_decode_run() {
    let dev = Device::flex();
    let (x, _) = digits(10);
    let gan = BiGan::build(small_bigan(64, true), &dev, 3).unwrap();
    let z = gan.encode(&x).unwrap();
    assert_eq!(z.shape(), (10, 3));
    let r = gan.reconstruct(&x).unwrap();
    assert_eq!(r.shape(), (10, 64));
    assert!(r.as_slice().iter().all(|v| (0.0..=1.0).contains(v)));
    assert_eq!(gan.decode(&z, None).unwrap(), r);
    let c = gan.capabilities();
    assert_eq!(c.model, "bigan");
    assert_eq!(c.infer.support, Support::Approximate);
    assert_eq!(c.score.support, Support::None);
    assert!(gan.encode(&Matrix::zeros(2, 5)).is_err());
    // On 2-D points, with an unbounded output, a few steps keep it finite.
    let mut toy = BiGan::build(small_bigan(2, false), &dev, 3).unwrap();
    let mut rng = rng_from_seed(4);
    for step in 0..20 {
        let batch = gen_data::Toy2d::EightGaussians.sample_with(64, &mut rng);
        let mut ctx = StepContext {
            step,
            lr: 1e-3,
            rng: &mut rng,
        };
        let s = toy.learn_step(&batch, &mut ctx).unwrap();
        assert!(s.loss.is_finite() && s.metrics["d_loss"].is_finite());
    }
    let pts = gen_data::Toy2d::EightGaussians.sample(7, 1);
    assert_eq!(toy.encode(&pts).unwrap().shape(), (7, 3));
    assert_eq!(
        DcGan::build(small_dcgan(8, 10), &dev, 1)
            .unwrap()
            .capabilities()
            .model,
        "cgan"
    );
    assert_eq!(
        DcGan::build(small_dcgan(8, 0), &dev, 1)
            .unwrap()
            .capabilities()
            .model,
        "dcgan"
    );
}

fn dcgan_run(
    dir: &Path,
    resume: bool,
    fail_at: Option<u64>,
    cfg: &GanConfig,
) -> Result<Vec<f64>, GenError> {
    let mut gan = DcGan::build(cfg.clone(), &Device::flex(), 11)?;
    let (x, y) = digits(64);
    let batch = if cfg.classes > 0 {
        labelled_batch(&x, &y)?
    } else {
        x
    };
    let tc = TrainConfig {
        steps: 16,
        lr: 2e-4,
        seed: 4,
        checkpoint_every: 5,
        progress: false,
        resume,
        batch_size: 16,
        ..TrainConfig::default()
    };
    Trainer::new(tc, dir)?
        .fit(&mut gan, |step, _| {
            if Some(step) == fail_at {
                return Err(GenError::Other("interrupted".into()));
            }
            let s = (step as usize * 16) % 64;
            batch.select_rows(&(s..s + 16).collect::<Vec<_>>())
        })
        .map(|r| r.losses)
}

/// Killed during step 12 (last checkpoint: step 10), resumed: the same
/// losses bit for bit; covers batch norm's running statistics, spectral
/// norm's vectors, the EMA and both Adam states.
#[test]
fn resuming_an_interrupted_dcgan_run_reproduces_it_exactly() {
    let root = std::env::temp_dir().join(format!("genlab-dcgan-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let cfg = GanConfig {
        spectral_norm: true,
        ema: Some(0.9),
        ..small_dcgan(8, 10)
    };
    let full = dcgan_run(&root.join("full"), false, None, &cfg).unwrap();
    assert_eq!(full.len(), 16);
    let split = root.join("split");
    assert!(dcgan_run(&split, false, Some(12), &cfg).is_err());
    assert_eq!(dcgan_run(&split, true, None, &cfg).unwrap(), full);
    let _ = std::fs::remove_dir_all(&root);
}

/// One learning step of DCGAN, the cGAN and BiGAN gives the same losses and
/// weights on every backend (ndarray, flex, and wgpu when present).
#[test]
fn one_image_gan_step_agrees_across_backends() {
    let (x, y) = digits(16);
    let labelled = labelled_batch(&x, &y).unwrap();
    let run = |name: &str, body: &dyn Fn(&Device) -> Result<Vec<f32>, GenError>| {
        let report = check_parity(name, false, 2e-5, 2e-4, body).unwrap();
        eprintln!(
            "parity {name}: {:?}, max |diff| {:e}",
            report.backends, report.max_abs_diff
        );
        assert!(report.backends.len() >= 2);
    };
    for (name, classes) in [("dcgan", 0), ("cgan", 10)] {
        let batch = if classes > 0 { &labelled } else { &x };
        let cfg = GanConfig {
            spectral_norm: classes > 0,
            ..small_dcgan(8, classes)
        };
        run(name, &|dev| {
            let mut gan = DcGan::build(cfg.clone(), dev, 3)?;
            let mut rng = rng_from_seed(4);
            let mut ctx = StepContext {
                step: 0,
                lr: 2e-4,
                rng: &mut rng,
            };
            let l = gan.step(batch, &mut ctx)?;
            let mut out = vec![l.d[0] as f32, l.g as f32];
            out.extend(gan.players().d.model.weights()?);
            out.extend(generator_weights(&gan.players().g.model)?);
            out.extend(
                gan.sample_with(3, 1.0, None, &mut rng_from_seed(5))?
                    .to_f32(),
            );
            Ok(out)
        });
    }
    run("bigan", &|dev| {
        let mut gan = BiGan::build(small_bigan(64, true), dev, 3)?;
        let mut rng = rng_from_seed(4);
        let mut ctx = StepContext {
            step: 0,
            lr: 2e-4,
            rng: &mut rng,
        };
        let l = gan.step(&x, &mut ctx)?;
        let mut out = vec![l.d[0] as f32, l.g as f32];
        out.extend(gan.players().d.model.weights()?);
        out.extend(gan.players().g.model.weights()?);
        out.extend(gan.encode(&x)?.to_f32());
        Ok(out)
    });
}
