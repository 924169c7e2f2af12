//! The *sample* task: one trait, `Sample`, for every family, with the same
//! options (temperature) and the same rule for randomness (it all comes
//! from the RNG you pass, so a seed reproduces a sample exactly).
//!
//! ```text
//! cargo run --example task_sample
//! ```
//!
//! How a family samples differs, and its capability row says how:
//! ancestral sampling for a mixture (pick a component, then draw from it),
//! x = f(z) for a flow, x = G(z) for a GAN, a reverse chain of 1,000
//! denoising steps for a diffusion model, one symbol at a time for an
//! n-gram. The temperature τ means the same thing everywhere it can: noise
//! scaled by τ for models with a Gaussian base or latent, log-probabilities
//! divided by τ for categorical models. What it does to the samples differs:
//! a mixture's or a diffusion chain's colder samples sit nearer the modes,
//! while a flow or a GAN maps shrunken noise through a nonlinear function,
//! which can land between modes; the numbers printed show which.
//!
//! Each model is trained briefly on the eight-gaussians toy (text: fitted to
//! Shakespeare), then asked for samples through the same generic function.
//! Diffusion samplers other than the default (DDIM, ODE, Langevin) are in
//! `diffusion_toy`; text decoding strategies (top-k, top-p, beam) in
//! `ngram_text` and `char_gpt`.

use std::time::Instant;

use gen_classical::{CharNGram, Gmm, GmmConfig, Smoothing};
use gen_core::{
    Learn, Matrix, Model, Result, Rng, Sample, SampleOptions, StepContext, rng_from_seed,
};
use gen_data::{Split, Toy2d, shakespeare};
use gen_diffusion::{Ddpm, DdpmConfig};
use gen_flow::{FlowBatch, FlowConfig, FlowKind, FlowModel};
use gen_gan::{Gan, GanConfig, GanLoss};

/// Draws 500 points from any model that samples rows, at two temperatures,
/// and judges them by the toy's true log-density (higher: nearer the modes).
fn describe<M: Sample<Output = Matrix> + Model>(model: &M, toy: Toy2d) -> Result<()> {
    let row = model.capabilities();
    println!("{} ({}): {}", row.model, row.family, row.sample.how);
    for tau in [1.0, 0.5] {
        let options = SampleOptions::with_temperature(tau);
        let t0 = Instant::now();
        let x = model.sample(500, &options, &mut rng_from_seed(7))?;
        let secs = t0.elapsed().as_secs_f64();
        let ll = toy.log_prob(&x)?.expect("eight-gaussians has a density");
        println!(
            "  τ = {tau}: mean true log-density {:7.3}  ({:.3e} samples/s)",
            ll.iter().sum::<f64>() / ll.len() as f64,
            500.0 / secs
        );
    }
    // The same seed gives the same samples, on every call.
    let a = model.sample(5, &SampleOptions::default(), &mut rng_from_seed(3))?;
    let b = model.sample(5, &SampleOptions::default(), &mut rng_from_seed(3))?;
    println!("  seed 3 twice: identical samples: {}", a == b);
    Ok(())
}

fn main() -> Result<()> {
    let start = Instant::now();
    let device = genlab_examples::backend()?.device()?;
    let toy = Toy2d::EightGaussians;
    let train = toy.sample(10_000, 1);
    let mut rng = rng_from_seed(0);
    let truth = toy.log_prob(&toy.sample(500, 2))?.expect("a density");
    println!(
        "eight-gaussians: data points have mean true log-density {:.3}\n",
        truth.iter().sum::<f64>() / truth.len() as f64
    );

    // Training, kept short; see the family examples for proper runs.
    let mut gmm = Gmm::init(&train, GmmConfig::default(), &mut rng)?;
    steps(&mut gmm, 50, 0.0, |_| train.clone(), &mut rng)?;
    let mut flow = FlowModel::new(FlowConfig::new(FlowKind::RealNvp, 2), &device)?;
    steps(
        &mut flow,
        1_000,
        1e-3,
        |r| FlowBatch::from(toy.sample_with(512, r)),
        &mut rng,
    )?;
    let mut gan = Gan::new(GanConfig::with_loss(GanLoss::NonSaturating), &device, 0)?;
    steps(&mut gan, 2_000, 1e-3, |r| toy.sample_with(256, r), &mut rng)?;
    let mut ddpm = Ddpm::new(DdpmConfig::default(), &device, 0)?;
    steps(
        &mut ddpm,
        3_000,
        1e-3,
        |r| toy.sample_with(256, r),
        &mut rng,
    )?;
    println!("trained in {:.1} s\n", start.elapsed().as_secs_f64());

    describe(&gmm, toy)?;
    describe(&flow, toy)?;
    describe(&gan, toy)?;
    describe(&ddpm, toy)?;

    // Text models sample strings: `Sample::Output` is `Vec<String>` for the
    // n-gram (400-character passages; here the first 70 characters).
    let ngram = CharNGram::fit_text(&shakespeare(Split::Train)?, 5, Smoothing::KNESER_NEY)?;
    let row = ngram.capabilities();
    println!("{} ({}): {}", row.model, row.family, row.sample.how);
    for tau in [1.0, 0.5] {
        let text = ngram.sample(
            1,
            &SampleOptions::with_temperature(tau),
            &mut rng_from_seed(7),
        )?;
        let head: String = text[0].chars().take(70).collect();
        println!("  τ = {tau}: {:?}", head);
    }
    println!("\ntotal {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// `n` learning steps at rate `lr`, batches from `batch(rng)`.
fn steps<M: Learn>(
    model: &mut M,
    n: u64,
    lr: f64,
    mut batch: impl FnMut(&mut Rng) -> M::Batch,
    rng: &mut Rng,
) -> Result<()> {
    for step in 0..n {
        let b = batch(rng);
        model.learn_step(&b, &mut StepContext { step, lr, rng })?;
    }
    Ok(())
}
