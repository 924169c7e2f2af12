//! A variational autoencoder on binarized MNIST digits: train with the ELBO,
//! score with the bound and the importance-weighted estimate, encode,
//! reconstruct and sample.
//!
//! ```text
//! cargo run --example vae_mnist
//! ```
//!
//! The model is the classic MLP VAE: encoder 784-400-(2×20) giving the
//! posterior q(z | x) = N(μ(x), diag σ²(x)), decoder 20-400-784 giving a
//! Bernoulli per pixel, prior N(0, I). Training maximises the evidence lower
//! bound ELBO(x) = E_q[log p(x | z)] − KL(q(z | x) ‖ p(z)) ≤ log p(x); the
//! likelihood itself is intractable, so a VAE scores with a *bound* (the
//! ELBO) or an *estimate* (IWAE with K importance samples, which tightens
//! towards log p(x) as K grows).
//!
//! This run is 20 passes over 4,500 digits (about 15 s). The PyTorch-reference
//! run of 50 passes, timed on each backend, is
//! `cargo run -p gen-vae --example vae_mnist_reference`; the command line
//! `cargo run -p genlab -- train vae --data mnist5k --steps 2250 --out runs/vae`.

use std::time::Instant;

use gen_core::train::{EpochBatcher, TrainConfig, Trainer};
use gen_core::{
    Infer, Matrix, Result, Sample, SampleOptions, Score, ScoreEstimator, ScoreOptions,
    rng_from_seed,
};
use gen_data::{Split, mnist5k};
use gen_vae::{Vae, VaeConfig};

/// Passes over the training digits (45 steps of 100 digits each).
const EPOCHS: u64 = 20;

fn main() -> Result<()> {
    let start = Instant::now();
    let backend = genlab_examples::backend()?;
    let out = genlab_examples::output_dir("vae_mnist")?;

    // 1. Data: 4,500 training and 500 test digits (28 × 28, 256 grey
    //    levels). Training batches are binarized afresh each time (each pixel
    //    ~ Bernoulli(grey / 255)); the test set once, with a fixed seed.
    let train = mnist5k(Split::Train)?;
    let test = mnist5k(Split::Test)?.binarized(&mut rng_from_seed(1234))?;

    // 2. The model: `VaeConfig::mlp_bernoulli(784, 20)` is the reference
    //    architecture (tanh hidden layer of 400, 20 latents, Adam).
    let mut vae = Vae::new(VaeConfig::mlp_bernoulli(784, 20), &backend.device()?, 0)?;

    // 3. Learning with the workspace's `Trainer`: the batch closure gets the
    //    step and the run's RNG, so batches are reproducible and a resumed run
    //    sees the same ones (see `task_learn`). The loss is −ELBO per digit.
    let batcher = EpochBatcher::new(train.len(), 100, 0)?;
    let steps = EPOCHS * batcher.batches_per_epoch();
    let config = TrainConfig {
        steps,
        lr: 1e-3,
        batch_size: 100,
        log_every: 45,
        progress: false,
        ..TrainConfig::default()
    };
    let report = Trainer::new(config, out.join("run"))?.fit(&mut vae, |t, rng| {
        train.select(&batcher.indices(t))?.binarized(rng)
    })?;
    println!(
        "{steps} steps on {backend}: {:.1} s ({:.1} ms/step); train −ELBO {:.1} → {:.1} nats \
         (means of the first and last 45 steps)",
        report.seconds,
        1e3 * report.seconds / steps as f64,
        mean(&report.losses[..45]),
        mean(&report.losses[report.losses.len() - 45..]),
    );

    // 4. Scores. The default is the ELBO, labelled a bound; IWAE-K is an
    //    estimate of log p(x), which on average lies above the ELBO.
    let elbo = vae.score(&test, &ScoreOptions::default())?;
    let iwae = vae.score(&test, &ScoreOptions::with(ScoreEstimator::Iwae, 100))?;
    println!("test log-likelihood, nats per digit:");
    for (name, s) in [("ELBO", &elbo), ("IWAE, K = 100", &iwae)] {
        println!("  {name:<14} {:8.2}  ({})", s.mean(), s.kind.name());
    }

    // 5. Inference: the posterior of each test digit, and what the latent
    //    space is used for (dimensions whose posterior mean varies across
    //    digits are "active"; the rest collapsed to the prior).
    let posterior = vae.infer(&test)?;
    let diag = vae.diagnostics(&test)?;
    println!(
        "posterior of test digit 0: μ[..3] = {:+.2?}, σ[..3] = {:.2?}",
        &posterior.mean.row(0)[..3],
        posterior.log_var.row(0)[..3]
            .iter()
            .map(|lv| (0.5 * lv).exp())
            .collect::<Vec<_>>()
    );
    println!(
        "active latent units {}/20, KL(q ‖ p) {:.1} nats per digit",
        diag.active_units, diag.kl_total
    );

    // 6. Reconstructions (decoder mean at the posterior mean) and samples
    //    (decoder means at z ~ N(0, I)): pixel probabilities in [0, 1].
    let originals = test.select_rows(&(0..8).collect::<Vec<_>>())?;
    let recon = vae.reconstruct(&originals)?;
    let samples = vae.sample(32, &SampleOptions::default(), &mut rng_from_seed(7))?;
    gen_viz::image_grid(&stack(&originals, &recon)?, 28, 28, 8, 2)?
        .save_png(&out.join("reconstructions.png"))?;
    gen_viz::image_grid(&samples, 28, 28, 8, 2)?.save_png(&out.join("samples.png"))?;
    println!("\ntest digit 0 and its reconstruction (2×2 pixels per character):");
    print_pair(originals.row(0), recon.row(0));
    println!(
        "\npictures: {}/{{reconstructions,samples}}.png\ntotal {:.1} s",
        out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// The rows of `a` followed by those of `b`.
fn stack(a: &Matrix, b: &Matrix) -> Result<Matrix> {
    let rows: Vec<&[f64]> = a.iter_rows().chain(b.iter_rows()).collect();
    Matrix::from_rows(&rows)
}

/// Two 28 × 28 images side by side, each 2 × 2 block as one character.
fn print_pair(a: &[f64], b: &[f64]) {
    let shade = |img: &[f64], r: usize, c: usize| {
        let v = (img[2 * r * 28 + 2 * c]
            + img[2 * r * 28 + 2 * c + 1]
            + img[(2 * r + 1) * 28 + 2 * c]
            + img[(2 * r + 1) * 28 + 2 * c + 1])
            / 4.0;
        [' ', '.', ':', '#'][((v * 4.0) as usize).min(3)]
    };
    for r in 0..14 {
        let left: String = (0..14).map(|c| shade(a, r, c)).collect();
        let right: String = (0..14).map(|c| shade(b, r, c)).collect();
        println!("  |{left}|   |{right}|");
    }
}
