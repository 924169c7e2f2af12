//! Class-conditional DDPMs and classifier-free guidance: the guided output
//! is Ho & Salimans' combination, label dropout teaches the null class, a
//! conditional model learns where each class lives (and guidance keeps it
//! there), backend parity of a conditional step (MLP and U-Net), and the
//! errors. Part of the one diffusion test binary.

use gen_core::burn::tensor::Device;
use gen_core::parity::check_parity;
use gen_core::train::{TrainConfig, Trainer};
use gen_core::{
    Checkpoint, GenError, Matrix, Rng, Sample, SampleOptions, StepContext, rng_from_seed,
};
use gen_diffusion::{
    Ddpm, DdpmConfig, Denoiser, SamplerKind, SamplerOptions, ScheduleConfig, UNetConfig,
};
use rand::Rng as _;

fn cpu() -> Device {
    gen_core::Backend::Flex.device().unwrap()
}

fn conditional(classes: usize, dropout: f64, hidden: Vec<usize>) -> DdpmConfig {
    DdpmConfig {
        schedule: ScheduleConfig {
            steps: 100,
            ..ScheduleConfig::default()
        },
        hidden,
        classes: Some(classes),
        label_dropout: dropout,
        ..DdpmConfig::default()
    }
}

/// Rows [x, y, class]: class 0 near (−2, 0), class 1 near (+2, 0), σ = 0.3.
fn two_blobs(n: usize, rng: &mut Rng) -> Matrix {
    let mut v = Vec::with_capacity(3 * n);
    for i in 0..n {
        let c = i % 2;
        let centre = if c == 0 { -2.0 } else { 2.0 };
        let z = gen_core::numerics::standard_normals(2, rng);
        v.extend([centre + 0.3 * z[0], 0.3 * z[1], c as f64]);
    }
    Matrix::new(n, 3, v).unwrap()
}

/// The guided denoiser returns (1 + w)·out(x, y) − w·out(x, ∅), with
/// out(x, y) the conditional denoiser (w = 0) and out(x, ∅) the model's
/// plain denoiser, for every parameterisation's output.
#[test]
fn guided_output_is_the_ho_salimans_combination() {
    let m = Ddpm::new(conditional(3, 0.1, vec![32, 32]), &cpu(), 1).unwrap();
    let mut rng = rng_from_seed(2);
    let n = 6;
    let x = Matrix::new(n, 2, gen_core::numerics::standard_normals(2 * n, &mut rng)).unwrap();
    let t: Vec<usize> = (0..n).map(|i| 10 + 15 * i).collect();
    let labels = [0, 1, 2, 2, 1, 0];
    let cond = m
        .guided_denoiser(&labels, 0.0)
        .unwrap()
        .predict(&x, &t)
        .unwrap();
    let uncond = m.denoiser().predict(&x, &t).unwrap();
    let w = 1.5;
    let guided = m
        .guided_denoiser(&labels, w)
        .unwrap()
        .predict(&x, &t)
        .unwrap();
    let mut moved = 0.0f64;
    for i in 0..n * 2 {
        let (c, u, g) = (
            cond.as_slice()[i],
            uncond.as_slice()[i],
            guided.as_slice()[i],
        );
        assert!(
            ((1.0 + w) * c - w * u - g).abs() < 1e-5,
            "{g} vs {}",
            (1.0 + w) * c - w * u
        );
        moved = moved.max((c - u).abs());
    }
    // The class changes the output (the embeddings are N(0, 1) at init).
    assert!(
        moved > 1e-3,
        "class and null outputs differ by at most {moved}"
    );
    let a = m
        .guided_denoiser(&[0; 6], 0.0)
        .unwrap()
        .predict(&x, &t)
        .unwrap();
    let b = m
        .guided_denoiser(&[1; 6], 0.0)
        .unwrap()
        .predict(&x, &t)
        .unwrap();
    assert!(
        a.as_slice()
            .iter()
            .zip(b.as_slice())
            .any(|(p, q)| (p - q).abs() > 1e-4)
    );
}

/// Two classes on opposite sides of the plane: after training with label
/// dropout 0.2, samples of class c land on c's side (≥ 95%, with and
/// without guidance), and the null class (the unconditional model) puts
/// mass on both sides.
#[test]
fn a_conditional_model_learns_each_class_and_the_null_class_both() {
    let cfg = conditional(2, 0.2, vec![64, 64]);
    let mut m = Ddpm::new(cfg, &cpu(), 3).unwrap();
    let data = two_blobs(2000, &mut rng_from_seed(4));
    let dir = std::env::temp_dir().join(format!("gen-diffusion-cfg-{}", std::process::id()));
    let tc = TrainConfig {
        steps: 1200,
        lr: 3e-3,
        seed: 5,
        batch_size: 256,
        log_every: 100,
        ..TrainConfig::default()
    };
    Trainer::new(tc, &dir)
        .unwrap()
        .fit(&mut m, |_, rng: &mut Rng| {
            let idx: Vec<usize> = (0..256).map(|_| rng.random_range(0..2000)).collect();
            data.select_rows(&idx)
        })
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let ddim = SamplerOptions {
        steps: Some(25),
        ..SamplerOptions::of(SamplerKind::Ddim)
    };
    let n = 300;
    for w in [0.0, 2.0] {
        for c in 0..2 {
            let s = m
                .sample_guided(&vec![c; n], w, &ddim, &mut rng_from_seed(6))
                .unwrap();
            let right_side =
                s.iter_rows().filter(|r| (r[0] > 0.0) == (c == 1)).count() as f64 / n as f64;
            assert!(
                right_side >= 0.95,
                "class {c}, w {w}: {right_side} on its side"
            );
        }
    }
    let s = m.sample_with(n, &ddim, &mut rng_from_seed(7)).unwrap();
    let right = s.iter_rows().filter(|r| r[0] > 0.0).count() as f64 / n as f64;
    assert!(
        (0.25..=0.75).contains(&right),
        "null class: {right} on the right"
    );
    // Sample::sample with a 1 × 1 condition draws that class.
    let opts = SampleOptions {
        condition: Some(Matrix::new(1, 1, vec![1.0]).unwrap()),
        ..SampleOptions::default()
    };
    let s = Sample::sample(&m, 50, &opts, &mut rng_from_seed(8)).unwrap();
    let right = s.iter_rows().filter(|r| r[0] > 0.0).count();
    assert!(right >= 45, "{right} of 50 class-1 samples on the right");
}

/// One conditional training step (loss, live and EMA weights) agrees on
/// every backend, for the MLP and the U-Net.
#[test]
fn one_conditional_step_agrees_across_backends() {
    let mlp = conditional(3, 0.5, vec![16, 16]);
    let unet = DdpmConfig {
        schedule: ScheduleConfig {
            steps: 50,
            ..ScheduleConfig::default()
        },
        classes: Some(3),
        label_dropout: 0.5,
        ema: Some(0.9),
        ..DdpmConfig::image(
            UNetConfig {
                widths: vec![8, 16],
                groups: 4,
                heads: 2,
                time_dim: 8,
                ..UNetConfig::for_image(1, 8, 8)
            },
            17,
        )
    };
    for (name, cfg, d) in [("mlp", mlp, 2), ("unet", unet, 64)] {
        let n = 4;
        let mut v = Vec::new();
        for i in 0..n {
            v.extend((0..d).map(|j| (((i * 7 + j * 3) % 17) as f64) / 8.0 - 1.0));
            v.push((i % 3) as f64);
        }
        let batch = Matrix::new(n, d + 1, v).unwrap();
        let report = check_parity(name, false, 2e-5, 1e-4, |dev| {
            let mut m = Ddpm::new(cfg.clone(), dev, 3)?;
            let mut rng = rng_from_seed(4);
            let mut ctx = StepContext {
                step: 0,
                lr: 1e-3,
                rng: &mut rng,
            };
            let l = m.step(&batch, &mut ctx)?;
            let mut out = vec![l as f32];
            out.extend(m.net().model.weights()?);
            out.extend(m.ema().unwrap().model().weights()?);
            Ok(out)
        })
        .unwrap();
        eprintln!(
            "conditional {name} parity: {:?}, max |diff| {:e}",
            report.backends, report.max_abs_diff
        );
        assert!(report.backends.len() >= 2);
    }
}

fn config_error(e: GenError, what: &str) {
    let msg = e.to_string();
    assert!(msg.contains(what), "{msg}");
}

/// Clear errors: guidance or a class on an unconditional model, a class
/// out of range, a negative or NaN weight, guidance without label dropout,
/// bad labels in a batch, zero classes, p_uncond = 1, and a conditional
/// checkpoint loaded into an unconditional model.
#[test]
fn guidance_errors_say_what_is_wrong() {
    let plain = Ddpm::new(DdpmConfig::default(), &cpu(), 0).unwrap();
    config_error(
        plain.guided_denoiser(&[0], 1.0).unwrap_err(),
        "unconditional",
    );
    let opts = SampleOptions {
        condition: Some(Matrix::new(1, 1, vec![0.0]).unwrap()),
        ..SampleOptions::default()
    };
    config_error(
        Sample::sample(&plain, 2, &opts, &mut rng_from_seed(0)).unwrap_err(),
        "unconditional",
    );
    let m = Ddpm::new(conditional(3, 0.1, vec![8]), &cpu(), 0).unwrap();
    config_error(m.guided_denoiser(&[0, 3], 0.0).unwrap_err(), "3 classes");
    config_error(m.guided_denoiser(&[0], -0.5).unwrap_err(), "≥ 0");
    config_error(m.guided_denoiser(&[0], f64::NAN).unwrap_err(), "≥ 0");
    let no_drop = Ddpm::new(conditional(3, 0.0, vec![8]), &cpu(), 0).unwrap();
    assert!(no_drop.guided_denoiser(&[1], 0.0).is_ok());
    config_error(
        no_drop.guided_denoiser(&[1], 1.0).unwrap_err(),
        "label dropout 0",
    );
    let mut m = m;
    let mut rng = rng_from_seed(0);
    let mut ctx = StepContext {
        step: 0,
        lr: 1e-3,
        rng: &mut rng,
    };
    for bad in [3.0, 1.5, -1.0] {
        let batch = Matrix::new(1, 3, vec![0.0, 0.0, bad]).unwrap();
        config_error(m.step(&batch, &mut ctx).unwrap_err(), "last column");
    }
    let no_class = Matrix::new(1, 2, vec![0.0, 0.0]).unwrap();
    assert!(m.step(&no_class, &mut ctx).is_err());
    for (classes, p) in [(0, 0.1), (3, 1.0), (3, -0.1)] {
        let e = Ddpm::new(conditional(classes, p, vec![8]), &cpu(), 0).unwrap_err();
        assert!(matches!(e, GenError::InvalidConfig { .. }), "{e}");
    }
    let dir = std::env::temp_dir().join(format!("gen-diffusion-cfg-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    m.save_checkpoint(&dir).unwrap();
    let mut again = Ddpm::new(conditional(3, 0.1, vec![8]), &cpu(), 9).unwrap();
    again.load_checkpoint(&dir).unwrap();
    let x = Matrix::new(1, 2, vec![0.1, 0.2]).unwrap();
    let a = m
        .guided_denoiser(&[2], 1.0)
        .unwrap()
        .predict(&x, &[5])
        .unwrap();
    let b = again
        .guided_denoiser(&[2], 1.0)
        .unwrap()
        .predict(&x, &[5])
        .unwrap();
    assert_eq!(a.as_slice(), b.as_slice());
    let mut plain = Ddpm::new(
        DdpmConfig {
            hidden: vec![8],
            schedule: conditional(3, 0.1, vec![8]).schedule,
            ..DdpmConfig::default()
        },
        &cpu(),
        0,
    )
    .unwrap();
    let e = plain.load_checkpoint(&dir).unwrap_err().to_string();
    assert!(e.contains("classes Some(3)"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
