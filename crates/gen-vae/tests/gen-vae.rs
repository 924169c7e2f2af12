//! Backend parity of the VAE (one test binary: wgpu kernels compile once).
//!
//! Weights and all noise come from the host RNG, so a training step must give
//! the same loss on ndarray, flex and wgpu (lavapipe) up to f32 round-off.

use gen_core::nn::Activation;
use gen_core::parity::check_parity;
use gen_core::{Learn, Matrix, Score, StepContext, rng_from_seed};
use gen_vae::{ConvSpec, Likelihood, Objective, Vae, VaeConfig, VqVae, VqVaeConfig};

fn batch() -> Matrix {
    let d = gen_data::digits8x8(gen_data::Split::Train).unwrap();
    let idx: Vec<usize> = (0..32).collect();
    d.select(&idx)
        .unwrap()
        .binarized(&mut rng_from_seed(9))
        .unwrap()
}

fn small(objective: Objective, likelihood: Likelihood) -> VaeConfig {
    VaeConfig {
        hidden: vec![32],
        objective,
        likelihood,
        ..VaeConfig::mlp_bernoulli(64, 4)
    }
}

fn two_steps_and_scores(
    cfg: &VaeConfig,
    x: &Matrix,
    d: &gen_core::burn::tensor::Device,
) -> gen_core::Result<Vec<f32>> {
    let mut vae = Vae::new(cfg.clone(), d, 3)?;
    let mut rng = rng_from_seed(5);
    let mut out = Vec::new();
    for step in 0..2 {
        let mut ctx = StepContext {
            step,
            lr: 1e-3,
            rng: &mut rng,
        };
        out.push(vae.learn_step(x, &mut ctx)?.loss as f32);
    }
    let (elbo, iwae) = vae.elbo_and_iwae(&x.select_rows(&[0, 1, 2])?, 8, &mut rng)?;
    out.extend(elbo.values.iter().chain(&iwae.values).map(|v| *v as f32));
    Ok(out)
}

#[test]
fn one_training_step_gives_the_same_loss_on_every_backend() {
    let x = batch();
    for (name, cfg) in [
        (
            "elbo bernoulli",
            small(Objective::Elbo, Likelihood::Bernoulli),
        ),
        (
            "iwae-5 bernoulli",
            small(Objective::Iwae { k: 5 }, Likelihood::Bernoulli),
        ),
        (
            "elbo gaussian learned variance",
            small(
                Objective::Elbo,
                Likelihood::Gaussian {
                    log_var: -2.0,
                    learned: true,
                },
            ),
        ),
        (
            "conv elbo bernoulli",
            VaeConfig {
                conv: Some(ConvSpec {
                    height: 8,
                    width: 8,
                    channels: vec![4, 8],
                }),
                activation: Activation::Relu,
                ..small(Objective::Elbo, Likelihood::Bernoulli)
            },
        ),
    ] {
        let r = check_parity(name, true, 2e-3, 1e-4, |d| {
            two_steps_and_scores(&cfg, &x, d)
        })
        .unwrap();
        eprintln!(
            "{name}: backends {:?}, max |diff| {:.2e}",
            r.backends, r.max_abs_diff
        );
        assert!(
            r.backends.len() >= 2,
            "parity needs two backends: {:?}",
            r.backends
        );
    }
}

#[test]
fn vq_vae_training_steps_give_the_same_loss_on_every_backend() {
    let x = batch();
    let cfg = VqVaeConfig {
        hidden: vec![32],
        codes: 4,
        code_dim: 4,
        codebook_size: 16,
        ..VqVaeConfig::mlp_bernoulli(64)
    };
    let r = check_parity("vq-vae", true, 2e-3, 1e-4, |d| {
        let mut m = VqVae::new(cfg.clone(), d, 3)?;
        let mut rng = rng_from_seed(5);
        let mut out = Vec::new();
        for step in 0..2 {
            let mut ctx = StepContext {
                step,
                lr: 1e-3,
                rng: &mut rng,
            };
            let s = m.learn_step(&x, &mut ctx)?;
            out.push(s.loss as f32);
            out.push(s.metrics["codes_used"] as f32);
        }
        let rows = x.select_rows(&[0, 1, 2])?;
        out.extend(
            m.score(&rows, &gen_core::ScoreOptions::default())?
                .values
                .iter()
                .map(|v| *v as f32),
        );
        out.extend(
            m.encode(&rows)?
                .indices
                .as_slice()
                .iter()
                .map(|v| *v as f32),
        );
        Ok(out)
    })
    .unwrap();
    eprintln!(
        "vq-vae: backends {:?}, max |diff| {:.2e}",
        r.backends, r.max_abs_diff
    );
    assert!(r.backends.len() >= 2, "{:?}", r.backends);
}
