//! The *score* task: log p(x) for held-out data, from every family that can
//! give one, each value labelled with what it is.
//!
//! ```text
//! cargo run --example task_score
//! ```
//!
//! Families differ in how well they can evaluate log p(x), so a score in
//! genlab is never a bare number: `Score::score` returns `Scores`, whose
//! `kind` is one of
//!
//! - `exact`: the log-density itself (mixtures, flows, autoregressive models);
//! - `bound`: a lower bound on it (a VAE's ELBO, a diffusion model's
//!   variational bound), so the NLL it implies is too high;
//! - `estimate`: a Monte-Carlo estimate (a VAE's importance-weighted IWAE-K,
//!   which rises towards log p(x) as K grows);
//! - `integrated`: a numerical solve (a diffusion model's probability-flow ODE).
//!
//! and the capability table (`cargo run -p genlab -- models`) states which
//! kind each model owes; `Capabilities::check_score` holds a result to it.
//! A GAN has no density at all: it does not implement `Score`.
//!
//! Every model here is trained briefly on the same 2-D toy, whose true
//! density is known, and scored on the same 500 test points, so the numbers
//! are comparable with each other and with the truth (short runs: the
//! per-family examples and docs/ give the longer ones).

use std::time::Instant;

use gen_classical::{Gmm, GmmConfig};
use gen_core::{
    Learn, Model, Result, Score, ScoreEstimator, ScoreOptions, Scores, StepContext, rng_from_seed,
};
use gen_data::Toy2d;
use gen_diffusion::{Ddpm, DdpmConfig};
use gen_flow::{FlowBatch, FlowConfig, FlowKind, FlowModel};
use gen_gan::{Gan, GanConfig, GanLoss};
use gen_vae::{Likelihood, Vae, VaeConfig};

fn main() -> Result<()> {
    let start = Instant::now();
    let device = genlab_examples::backend()?.device()?;
    let toy = Toy2d::EightGaussians;
    let train = toy.sample(10_000, 1);
    let test = toy.sample(500, 2);
    let truth = toy.log_prob(&test)?.expect("eight-gaussians has a density");
    let true_nll = -truth.iter().sum::<f64>() / truth.len() as f64;
    let mut rng = rng_from_seed(0);

    // Each `learn_step` needs a `StepContext`; `train_steps` runs `steps` of
    // them with batches from `batch(rng)` (the `Trainer` of `task_learn` adds
    // checkpoints and logs to the same loop).
    fn train_steps<M: Learn>(
        model: &mut M,
        steps: u64,
        lr: f64,
        mut batch: impl FnMut(&mut gen_core::Rng) -> M::Batch,
        rng: &mut gen_core::Rng,
    ) -> Result<()> {
        for step in 0..steps {
            let b = batch(rng);
            model.learn_step(&b, &mut StepContext { step, lr, rng })?;
        }
        Ok(())
    }
    let minibatch = |n: usize| move |rng: &mut gen_core::Rng| toy.sample_with(n, rng);

    // 1. Exact: a Gaussian mixture (50 EM iterations) and a RealNVP flow.
    let mut gmm = Gmm::init(&train, GmmConfig::default(), &mut rng)?;
    train_steps(&mut gmm, 50, 0.0, |_| train.clone(), &mut rng)?;
    let mut flow = FlowModel::new(FlowConfig::new(FlowKind::RealNvp, 2), &device)?;
    train_steps(
        &mut flow,
        1_500,
        1e-3,
        |r| FlowBatch::from(minibatch(512)(r)),
        &mut rng,
    )?;

    // 2. Bound and estimate: a VAE with a Gaussian decoder (learned variance)
    //    on the 2-D points, 2 latents, MLP 64-64.
    let vae_config = VaeConfig {
        hidden: vec![64, 64],
        likelihood: Likelihood::Gaussian {
            log_var: (0.01f64).ln(),
            learned: true,
        },
        ..VaeConfig::mlp_bernoulli(2, 2)
    };
    let mut vae = Vae::new(vae_config, &device, 0)?;
    train_steps(&mut vae, 3_000, 1e-3, minibatch(256), &mut rng)?;

    // 3. Bound and integrated: a DDPM (T = 1,000, MLP 3 × 128).
    let mut ddpm = Ddpm::new(DdpmConfig::default(), &device, 0)?;
    train_steps(&mut ddpm, 3_000, 1e-3, minibatch(256), &mut rng)?;

    // 4. A GAN trains and samples, but has nothing to score with: its
    //    capability row says so, and `Score` is not implemented for it, so
    //    `gan.score(..)` does not compile.
    let gan = Gan::new(GanConfig::with_loss(GanLoss::NonSaturating), &device, 0)?;
    println!(
        "trained on {} in {:.1} s\n",
        genlab_examples::backend()?,
        start.elapsed().as_secs_f64()
    );

    // Scoring. `ScoreOptions::default()` asks for the model's own default;
    // `ScoreOptions::with(estimator, k)` for another estimator with K samples
    // (IWAE) or K solver steps (ODE).
    let default = ScoreOptions::default();
    let mut rows: Vec<(String, &dyn Model, Result<Scores>)> = vec![
        ("gmm".into(), &gmm, gmm.score(&test, &default)),
        ("realnvp".into(), &flow, flow.score(&test, &default)),
        ("vae: ELBO".into(), &vae, vae.score(&test, &default)),
    ];
    for k in [10, 100, 1_000] {
        let opts = ScoreOptions::with(ScoreEstimator::Iwae, k);
        rows.push((format!("vae: IWAE-{k}"), &vae, vae.score(&test, &opts)));
    }
    rows.push(("ddpm: bound".into(), &ddpm, ddpm.score(&test, &default)));
    let ode = ScoreOptions::with(ScoreEstimator::Ode, 100);
    rows.push((
        "ddpm: ODE, 100 steps".into(),
        &ddpm,
        ddpm.score(&test, &ode),
    ));

    println!("test NLL of 500 points (nats); the true density gives {true_nll:.3}\n");
    println!("| model | kind | NLL | NLL − truth | agrees with the capability table |");
    println!("|---|---|---:|---:|---|");
    for (name, model, result) in rows {
        let check = model.capabilities().check_score(&result);
        let scores = result?;
        println!(
            "| {name} | {} | {:.3} | {:+.3} | {} |",
            scores.kind.name(),
            scores.mean_nll(),
            scores.mean_nll() - true_nll,
            match check {
                Ok(()) => "yes".to_string(),
                Err(why) => why,
            }
        );
    }
    let gan_row = gan.capabilities();
    println!(
        "| gan | {} | – | – | {} |",
        format!("{:?}", gan_row.score.support).to_lowercase(),
        gan_row.score.how
    );
    println!(
        "\nAn exact NLL can fall below the truth on a finite test set only by chance;\n\
         a bound's NLL is an upper bound of the model's own NLL, and IWAE-K moves\n\
         from the ELBO towards it as K grows.\ntotal {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
