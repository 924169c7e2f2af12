//! Integration tests of gen-flow: backend parity of a training step for every
//! flow type, a trained density integrating to one, checkpoints, bad input.

use gen_core::train::{EpochBatcher, TrainConfig, Trainer};
use gen_core::{Backend, Checkpoint, Matrix, Sample, SampleOptions, Score, rng_from_seed};
use gen_data::toy2d::Toy2d;
use gen_flow::{FlowBatch, FlowConfig, FlowKind, FlowModel, MaskKind};

fn small(kind: FlowKind, dim: usize) -> FlowConfig {
    FlowConfig {
        layers: 3,
        hidden: vec![16, 16],
        ..FlowConfig::new(kind, dim)
    }
}

/// Trains `model` for `steps` Adam steps on shuffled batches of 256 rows of `x`.
fn fit_epochs(
    model: &mut FlowModel,
    x: &Matrix,
    steps: u64,
    lr: f64,
    dir: &std::path::Path,
) -> gen_core::train::TrainReport {
    let batcher = EpochBatcher::new(x.rows(), 256, 1).unwrap();
    let cfg = TrainConfig {
        steps,
        lr,
        batch_size: 256,
        progress: false,
        ..TrainConfig::default()
    };
    Trainer::new(cfg, dir)
        .unwrap()
        .fit(model, |t, _| {
            Ok(FlowBatch::from(x.select_rows(&batcher.indices(t))?))
        })
        .unwrap()
}

/// ∫∫ p over [lo, hi]² by the midpoint rule on n² cells.
fn mass_on_grid(model: &FlowModel, n: usize, lo: f64, hi: f64) -> f64 {
    let (grid, cell) = gen_data::toy2d::midpoint_grid(n, lo, hi);
    let scores = model
        .score(&grid, &gen_core::ScoreOptions::default())
        .unwrap();
    scores.values.iter().map(|l| l.exp() * cell).sum()
}

#[test]
fn one_training_step_agrees_across_backends() {
    let x = Toy2d::EightGaussians.sample(64, 3);
    let batch = FlowBatch::from(x.clone());
    for kind in FlowKind::ALL.into_iter().filter(|k| k.implemented()) {
        let report = gen_core::parity::check_parity(kind.name(), true, 1e-4, 1e-4, |device| {
            let mut m = FlowModel::new(small(kind, 2), device)?;
            // Data-dependent initialisation on another batch: initialised on
            // the step's own batch, ActNorm's gradients are exactly zero in
            // theory and rounding noise, which Adam's normalisation
            // (g/(√v + ε)) blows up to ±lr differently on every backend.
            m.initialize(&FlowBatch::from(Toy2d::EightGaussians.sample(64, 4)))?;
            let mut rng = rng_from_seed(0);
            let mut ctx = gen_core::StepContext {
                step: 0,
                lr: 1e-2,
                rng: &mut rng,
            };
            let s0 = gen_core::Learn::learn_step(&mut m, &batch, &mut ctx)?;
            let l1 = gen_core::tensor::scalar(m.loss(&batch)?)?;
            Ok(vec![s0.loss as f32, l1 as f32])
        })
        .unwrap();
        eprintln!(
            "parity {}: {:?} max |diff| {:e}",
            kind.name(),
            report.backends,
            report.max_abs_diff
        );
    }
}

#[test]
fn trained_2d_density_integrates_to_one() {
    let x = Toy2d::EightGaussians.sample(4096, 1);
    let cfg = FlowConfig {
        scale_clamp: Some(3.0),
        ..FlowConfig::normflows_realnvp()
    };
    let mut model = FlowModel::new(cfg, &Backend::Flex.device().unwrap()).unwrap();
    let dir = std::env::temp_dir().join(format!("gen-flow-int-{}", std::process::id()));
    let report = fit_epochs(&mut model, &x, 400, 1e-3, &dir);
    assert!(
        report.final_loss < report.losses[0],
        "training lowered the NLL"
    );
    // Riemann sum of exp(log p) over [-5, 5]² with 300² cells.
    let mass = mass_on_grid(&model, 300, -5.0, 5.0);
    assert!((mass - 1.0).abs() < 0.02, "density integrates to {mass}");

    // Checkpoint round trip reproduces the scores exactly.
    let ck = dir.join("ck");
    std::fs::create_dir_all(&ck).unwrap();
    model.save_checkpoint(&ck).unwrap();
    let loaded = FlowModel::load(&ck, &Backend::Flex.device().unwrap()).unwrap();
    let probe = Toy2d::EightGaussians.sample(50, 9);
    assert_eq!(
        model
            .score(&probe, &gen_core::ScoreOptions::default())
            .unwrap(),
        loaded
            .score(&probe, &gen_core::ScoreOptions::default())
            .unwrap()
    );
    // Lower temperature concentrates samples: smaller spread of the latent.
    let mut rng = rng_from_seed(1);
    let cold = model
        .sample(2000, &SampleOptions::with_temperature(0.3), &mut rng)
        .unwrap();
    let z = model.encode(&cold, None).unwrap();
    let var = z.as_slice().iter().map(|v| v * v).sum::<f64>() / z.as_slice().len() as f64;
    assert!(
        (var - 0.09).abs() < 0.01,
        "latent variance at τ = 0.3 is {var}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_gives_clear_errors() {
    let dev = Backend::Flex.device().unwrap();
    let m = FlowModel::new(small(FlowKind::RealNvp, 2), &dev).unwrap();
    let wrong = Matrix::zeros(3, 3);
    let e = m
        .score(&wrong, &gen_core::ScoreOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected 2 columns") && e.contains("Fix"), "{e}");
    let nan = Matrix::new(1, 2, vec![0.0, f64::NAN]).unwrap();
    let e = m
        .score(&nan, &gen_core::ScoreOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not finite") && e.contains("row 0, column 1"),
        "{e}"
    );
    let e = FlowModel::new(small(FlowKind::RealNvp, 1), &dev)
        .unwrap_err()
        .to_string();
    assert!(e.contains("D ≥ 2"), "{e}");
    let cfg = FlowConfig {
        mask: MaskKind::Checkerboard { h: 3, w: 3 },
        ..small(FlowKind::RealNvp, 4)
    };
    assert!(FlowModel::new(cfg, &dev).is_err());
    let e = "flowz".parse::<FlowKind>().unwrap_err().to_string();
    assert!(e.contains("realnvp"), "{e}");
    let mut rng = rng_from_seed(0);
    assert!(
        m.sample(3, &SampleOptions::with_temperature(f64::NAN), &mut rng)
            .is_err()
    );
    let img = FlowModel::new(
        FlowConfig {
            logit: Some(1e-6),
            ..small(FlowKind::RealNvp, 4)
        },
        &dev,
    )
    .unwrap();
    let e = img
        .score(
            &Matrix::new(1, 4, vec![0.1, 0.2, 1.5, 0.0]).unwrap(),
            &gen_core::ScoreOptions::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("outside [0, 1]"), "{e}");
}

/// MAF MoG and a Gaussian-mixture base: one step agrees across backends;
/// training on rings lowers the NLL; the trained density integrates to one;
/// sampled log-densities equal the scores of the samples; checkpoints round-trip.
#[test]
fn learned_base_densities_train_score_sample_and_checkpoint() {
    use gen_flow::BaseKind;
    let rings = Toy2d::Rings.sample(4096, 2);
    // Zero layers: the base alone (MADE MoG) is a model; N(0, I) alone is refused.
    let dev = Backend::Flex.device().unwrap();
    let alone = FlowConfig {
        layers: 0,
        base: BaseKind::MadeMog { components: 3 },
        ..small(FlowKind::Maf, 2)
    };
    let m = FlowModel::new(alone.clone(), &dev).unwrap();
    assert_eq!(
        m.score(&rings, &gen_core::ScoreOptions::default())
            .unwrap()
            .values
            .len(),
        rings.rows()
    );
    let e = FlowModel::new(
        FlowConfig {
            base: BaseKind::StandardNormal,
            ..alone
        },
        &dev,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("at least one layer"), "{e}");
    for base in [
        BaseKind::MadeMog { components: 4 },
        BaseKind::Gmm { components: 4 },
    ] {
        let cfg = FlowConfig {
            base,
            ..small(FlowKind::Maf, 2)
        };
        let batch = FlowBatch::from(Toy2d::Rings.sample(64, 3));
        gen_core::parity::check_parity(&base.name(), true, 1e-4, 1e-4, |device| {
            let mut m = FlowModel::new(cfg.clone(), device)?;
            let mut rng = rng_from_seed(0);
            let mut ctx = gen_core::StepContext {
                step: 0,
                lr: 1e-2,
                rng: &mut rng,
            };
            let s0 = gen_core::Learn::learn_step(&mut m, &batch, &mut ctx)?;
            let l1 = gen_core::tensor::scalar(m.loss(&batch)?)?;
            Ok(vec![s0.loss as f32, l1 as f32])
        })
        .unwrap();

        let dev = Backend::Flex.device().unwrap();
        let mut model = FlowModel::new(cfg, &dev).unwrap();
        let dir = std::env::temp_dir().join(format!(
            "gen-flow-base-{}-{}",
            base.name(),
            std::process::id()
        ));
        let report = fit_epochs(&mut model, &rings, 200, 3e-3, &dir);
        assert!(
            report.final_loss < report.losses[0] - 0.2,
            "{}: NLL {} → {}",
            base.name(),
            report.losses[0],
            report.final_loss
        );
        let mass = mass_on_grid(&model, 250, -5.0, 5.0);
        assert!((mass - 1.0).abs() < 0.02, "{}: mass {mass}", base.name());

        let (x, lp) = model
            .sample_and_log_prob(300, &SampleOptions::default(), &mut rng_from_seed(5))
            .unwrap();
        let scored = model.log_prob(&x, None).unwrap();
        for (a, b) in lp.iter().zip(&scored) {
            assert!((a - b).abs() < 1e-3 * (1.0 + b.abs()), "{a} vs {b}");
        }

        let ck = dir.join("ck");
        std::fs::create_dir_all(&ck).unwrap();
        model.save_checkpoint(&ck).unwrap();
        let loaded = FlowModel::load(&ck, &dev).unwrap();
        let probe = Toy2d::Rings.sample(50, 9);
        assert_eq!(
            model
                .score(&probe, &gen_core::ScoreOptions::default())
                .unwrap(),
            loaded
                .score(&probe, &gen_core::ScoreOptions::default())
                .unwrap()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
