//! A denoising diffusion model (DDPM) on the eight-gaussians toy: train the
//! noise predictor, sample with the full ancestral chain and with 50 DDIM
//! steps, and score with the variational bound and the probability-flow ODE.
//!
//! ```text
//! cargo run --example diffusion_toy
//! ```
//!
//! A fixed forward process adds Gaussian noise in T = 1,000 steps,
//! x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε, and an MLP ε̂(x_t, t) learns to predict the
//! noise (Ho et al. 2020). Sampling runs the learned reverse chain from
//! x_T ~ N(0, I): ancestral DDPM takes all T network passes, DDIM (Song et
//! al. 2021) a deterministic 50-step subsequence. The likelihood is not
//! available in closed form: the variational bound gives an upper bound on
//! −log p(x) (a *bound*), the probability-flow ODE a numerical solve of it
//! (*integrated*).
//!
//! This run is 4,000 steps (about 15 s); every sampler, schedule and
//! prediction target of the crate, with results, is in docs/diffusion.md;
//! the command line is
//! `cargo run -p genlab -- train ddpm --data eight-gaussians --steps 4000 --out runs/ddpm`.

use std::time::Instant;

use gen_core::train::{EpochBatcher, TrainConfig, Trainer};
use gen_core::{Matrix, Result, Score, ScoreEstimator, ScoreOptions, rng_from_seed};
use gen_data::Toy2d;
use gen_diffusion::{Ddpm, DdpmConfig, SamplerKind, SamplerOptions};

fn main() -> Result<()> {
    let start = Instant::now();
    let backend = genlab_examples::backend()?;
    let toy = Toy2d::EightGaussians;
    let train = toy.sample(10_000, 1);
    let test = toy.sample(500, 2);

    // 1. The model: `DdpmConfig::default()` is a linear β schedule over
    //    T = 1,000 steps, ε-prediction with the simple (unweighted) loss, an
    //    MLP 3 × 128 (SiLU) on [x_t, 64-d sinusoidal embedding of t], Adam,
    //    and an exponential moving average of the weights (decay 0.995)
    //    that sampling and scoring use.
    let mut ddpm = Ddpm::new(DdpmConfig::default(), &backend.device()?, 0)?;

    // 2. Learning: each step draws t and ε per row from the run's RNG and
    //    takes one Adam step on the mean squared error of ε̂.
    let batcher = EpochBatcher::new(train.rows(), 256, 0)?;
    let out = genlab_examples::output_dir("diffusion_toy")?;
    let config = TrainConfig {
        steps: 4_000,
        lr: 1e-3,
        batch_size: 256,
        log_every: 100,
        progress: false,
        ..TrainConfig::default()
    };
    let report = Trainer::new(config, &out)?
        .fit(&mut ddpm, |t, _rng| train.select_rows(&batcher.indices(t)))?;
    println!(
        "{} steps on {backend} in {:.1} s ({:.1} ms/step); denoising loss {:.3} -> {:.3} \
         (means of the first and last 100 steps)",
        report.steps,
        report.seconds,
        1e3 * report.seconds / report.steps as f64,
        mean(&report.losses[..100]),
        report.final_loss
    );

    // 3. Sampling. The same trained network, two samplers: ancestral DDPM
    //    over all 1,000 steps, and DDIM (η = 0, deterministic given x_T) over
    //    50 steps. Quality: the true log-density of the samples under the toy
    //    (the data's own points score the value printed first).
    let data_ll = mean(&toy.log_prob(&test)?.expect("closed-form density"));
    println!("mean true log-density (higher: nearer the modes): test data {data_ll:.3}");
    let mut rng = rng_from_seed(7);
    for (name, options) in [
        ("DDPM, 1,000 steps", SamplerOptions::of(SamplerKind::Ddpm)),
        (
            "DDIM,    50 steps",
            SamplerOptions {
                steps: Some(50),
                ..SamplerOptions::of(SamplerKind::Ddim)
            },
        ),
    ] {
        let t0 = Instant::now();
        let s = ddpm.sample_with(2_000, &options, &mut rng)?;
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "  {name}: samples {:.3}; {} of 2,000 within 3σ of each mode; {secs:.2} s",
            mean(&toy.log_prob(&s)?.expect("closed-form density")),
            per_mode(&s, toy)
        );
    }

    // 4. Scores, each labelled with what it is. The default is minus the
    //    variational bound (T network passes per row, one noise draw per
    //    term): a lower bound on log p(x). The ODE estimator integrates the
    //    exact log-density of the probability-flow ODE with 100 RK4 steps.
    let bound = ddpm.score(&test, &ScoreOptions::default())?;
    let ode = ddpm.score(&test, &ScoreOptions::with(ScoreEstimator::Ode, 100))?;
    let true_nll = -data_ll;
    println!("test NLL on 500 points, nats (truth {true_nll:.3}):");
    for (name, s) in [
        ("variational bound", &bound),
        ("probability-flow ODE", &ode),
    ] {
        println!("  {name:<21} {:.3}  ({})", s.mean_nll(), s.kind.name());
    }
    println!(
        "run folder: {}\ntotal {:.1} s",
        out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Samples within 3σ of each mode, as "min-max".
fn per_mode(s: &Matrix, toy: Toy2d) -> String {
    let (centres, sigma) = toy.mode_centres().expect("a mixture toy");
    let counts: Vec<usize> = centres
        .iter_rows()
        .map(|c| {
            s.iter_rows()
                .filter(|p| (p[0] - c[0]).hypot(p[1] - c[1]) < 3.0 * sigma)
                .count()
        })
        .collect();
    let (lo, hi) = (counts.iter().min(), counts.iter().max());
    format!("{}-{}", lo.unwrap_or(&0), hi.unwrap_or(&0))
}
