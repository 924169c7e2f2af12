//! A generative adversarial network (non-saturating loss) on the
//! eight-gaussians toy, judged by how many of the eight modes its samples
//! cover.
//!
//! ```text
//! cargo run --example gan_toy
//! ```
//!
//! Two players: a generator G maps noise z ~ N(0, I₂) to points, a
//! discriminator D tells data points from generated ones. Each step takes
//! one Adam step of D on a data batch and a (detached) generated batch,
//! then one of G through D, with the non-saturating generator loss
//! −log σ(D(G(z))) (Goodfellow et al. 2014). A GAN defines no density, so it
//! cannot be scored: it is judged by its samples, here by *mode coverage*
//! (modes with enough samples within 3σ of their centre) and the fraction
//! of samples that land near any mode.
//!
//! This run is 3,000 steps (about 20 s). Mode collapse over many seeds,
//! the other losses (minimax, WGAN, hinge, LSGAN, MMD) and the harder
//! 25-mode grid: `cargo run -p gen-gan --example modes` (docs/gans.md); the
//! command line is `cargo run -p genlab -- train ns-gan --data eight-gaussians --steps 3000 --out runs/gan`.

use std::time::Instant;

use gen_core::train::{EpochBatcher, EvalContext, EvalMetrics, TrainConfig, Trainer};
use gen_core::{Model, Result, Sample, SampleOptions, rng_from_seed};
use gen_data::Toy2d;
use gen_eval::toy::{ModeCoverageOptions, mode_coverage};
use gen_gan::{Gan, GanConfig, GanLoss};

fn main() -> Result<()> {
    let start = Instant::now();
    let backend = genlab_examples::backend()?;
    let toy = Toy2d::EightGaussians;
    // The command line's training split: 10,000 points (seed 1).
    let train = toy.sample(10_000, 1);
    let (centres, sigma) = toy.mode_centres().expect("eight-gaussians has modes");

    // 1. The model: MLP players with hidden widths 128-128 (ReLU in G,
    //    LeakyReLU(0.2) in D), latent width 2, Adam with β₁ = 0.5 for both;
    //    weights drawn from the host RNG with seed 0.
    let config = GanConfig::with_loss(GanLoss::NonSaturating);
    let mut gan = Gan::new(config, &backend.device()?, 0)?;
    println!(
        "score: {} (a GAN has no density)",
        gan.capabilities().score.how
    );

    // 2. Learning: minibatches of 256 from the fixed training set, shuffled
    //    every epoch. The evaluation hook samples 1,000 points every 500
    //    steps with its own RNG, so watching does not change training.
    let batcher = EpochBatcher::new(train.rows(), 256, 0)?;
    let out = genlab_examples::output_dir("gan_toy")?;
    let config = TrainConfig {
        steps: 3_000,
        lr: 1e-3,
        batch_size: 256,
        eval_every: 500,
        progress: false,
        ..TrainConfig::default()
    };
    let coverage_options = ModeCoverageOptions::default();
    let report = Trainer::new(config, &out)?.fit_with_eval(
        &mut gan,
        |t, _rng| train.select_rows(&batcher.indices(t)),
        |g: &Gan, ctx: &mut EvalContext<'_>| {
            let s = g.sample(1_000, &SampleOptions::default(), ctx.rng)?;
            let m = mode_coverage(&s, &centres, sigma, &coverage_options)?;
            println!(
                "  step {:>5}: {} / {} modes covered, {:.1}% of samples near a mode",
                ctx.step,
                m.modes_covered,
                m.modes,
                100.0 * m.high_quality_fraction
            );
            Ok(EvalMetrics::from([(
                "modes_covered".to_string(),
                m.modes_covered as f64,
            )]))
        },
    )?;
    println!(
        "{} steps on {backend} in {:.1} s ({:.1} ms/step, both players)",
        report.steps,
        report.seconds,
        1e3 * report.seconds / report.steps as f64
    );

    // 3. Judge the final generator on 5,000 fresh samples: per-mode counts
    //    show collapse (a mode with no samples) or imbalance.
    let samples = gan.sample(5_000, &SampleOptions::default(), &mut rng_from_seed(7))?;
    let m = mode_coverage(&samples, &centres, sigma, &coverage_options)?;
    println!(
        "final: {} / {} modes covered (a mode counts with ≥ {} of 5,000 samples within 3σ), \
         {:.1}% of samples near a mode",
        m.modes_covered,
        m.modes,
        m.min_count,
        100.0 * m.high_quality_fraction
    );
    println!(
        "samples per mode: {:?} (625 each if balanced with every sample near a mode)",
        m.counts
    );

    // 4. The discriminator at the end: σ(D(x)) near 1/2 on both data and
    //    samples means it can no longer tell them apart.
    let d_real = gan.discriminate(&train.select_rows(&(0..1_000).collect::<Vec<_>>())?)?;
    let d_fake = gan.discriminate(&samples.select_rows(&(0..1_000).collect::<Vec<_>>())?)?;
    println!(
        "mean σ(D(x)): {:.3} on data, {:.3} on samples",
        mean(&d_real),
        mean(&d_fake)
    );
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
