//! The *infer* task: from data x back to the latent variables of the model,
//! exactly where the model allows it, approximately where it does not, and
//! round trips x → z → x̂ to see what the latents keep.
//!
//! ```text
//! cargo run --example task_infer
//! ```
//!
//! `Infer::infer(x)` returns each family's own posterior type:
//!
//! | model | latent | what `infer` gives | kind |
//! |---|---|---|---|
//! | Gaussian mixture | component z | p(z \| x), the responsibilities | exact |
//! | flow | z = f⁻¹(x) | the point itself (a bijection) | exact |
//! | VAE | z ~ q(z \| x) | mean and log-variance of q | approximate (amortised) |
//! | DDPM | x_T | DDIM inversion of the sampler | approximate (discretised ODE) |
//!
//! GANs and autoregressive models have no inference (their capability rows
//! say so); BiGAN adds an encoder
//! (`cargo run -p genlab -- train bigan --data eight-gaussians --out runs/bigan`).
//! Each model is trained briefly here; the numbers show the kind of
//! inference, not the best a longer run reaches.

use std::time::Instant;

use gen_classical::{Gmm, GmmConfig};
use gen_core::{Infer, Learn, Matrix, Model, Result, Rng, StepContext, rng_from_seed};
use gen_data::{Split, Toy2d, digits8x8};
use gen_diffusion::{Ddpm, DdpmConfig};
use gen_flow::{FlowBatch, FlowConfig, FlowKind, FlowModel};
use gen_vae::{Vae, VaeConfig};

fn main() -> Result<()> {
    let start = Instant::now();
    let device = genlab_examples::backend()?.device()?;
    let toy = Toy2d::EightGaussians;
    let train = toy.sample(10_000, 1);
    // Four test points.
    let x = toy.sample(4, 2);
    let mut rng = rng_from_seed(0);

    // 1. Mixture: the exact posterior over the 8 components of each point.
    let mut gmm = Gmm::init(&train, GmmConfig::default(), &mut rng)?;
    steps(&mut gmm, 50, 0.0, |_| train.clone(), &mut rng)?;
    let resp = gmm.infer(&x)?;
    headline(&gmm);
    for (p, r) in x.iter_rows().zip(resp.iter_rows()) {
        let (k, pk) = argmax(r);
        println!(
            "  x = ({:+.2}, {:+.2}) → component {k} with p = {pk:.3}",
            p[0], p[1]
        );
    }

    // 2. Flow: z = f⁻¹(x) is exact, and x = f(z) inverts it to float precision.
    let mut flow = FlowModel::new(FlowConfig::new(FlowKind::RealNvp, 2), &device)?;
    steps(
        &mut flow,
        1_000,
        1e-3,
        |r| FlowBatch::from(toy.sample_with(512, r)),
        &mut rng,
    )?;
    let z = flow.infer(&x)?;
    headline(&flow);
    print_pairs("z", &x, &z);
    println!(
        "  round trip |f(f⁻¹(x)) − x| ≤ {:.1e}",
        max_abs(&flow.decode(&z, None)?, &x)
    );

    // 3. VAE on binarized 8×8 digits: q(z | x) is a Gaussian per digit whose
    //    mean is the code; decoding it reconstructs pixel probabilities.
    let digits = digits8x8(Split::Train)?;
    let test = digits8x8(Split::Test)?.binarized(&mut rng_from_seed(1234))?;
    let mut vae = Vae::new(VaeConfig::mlp_bernoulli(64, 8), &device, 0)?;
    steps(
        &mut vae,
        3_000,
        1e-3,
        |r| sample_digits(&digits, r),
        &mut rng,
    )?;
    let posterior = vae.infer(&test)?;
    headline(&vae);
    let sd: Vec<f64> = posterior
        .log_var
        .row(0)
        .iter()
        .map(|lv| (0.5 * lv).exp())
        .collect();
    println!(
        "  test digit 0 (label {}): μ = {:+.2?}\n                       σ = {:.2?}",
        digits8x8(Split::Test)?.labels[0],
        posterior.mean.row(0),
        sd
    );
    let recon = vae.reconstruct(&test)?;
    let wrong = recon
        .as_slice()
        .iter()
        .zip(test.as_slice())
        .filter(|(p, x)| (**p > 0.5) != (**x > 0.5))
        .count();
    println!(
        "  reconstructions: {:.1}% of test pixels on the wrong side of 1/2 \
         (an 8-number code for 64 pixels)",
        100.0 * wrong as f64 / test.as_slice().len() as f64
    );

    // 4. DDPM: DDIM inversion runs the deterministic sampler backwards to x_T;
    //    decoding x_T with DDIM returns close to x, up to the discretisation
    //    error of the 1,000-step grid.
    let mut ddpm = Ddpm::new(DdpmConfig::default(), &device, 0)?;
    steps(
        &mut ddpm,
        2_000,
        1e-3,
        |r| toy.sample_with(256, r),
        &mut rng,
    )?;
    let x_t = ddpm.infer(&x)?;
    headline(&ddpm);
    print_pairs("x_T", &x, &x_t);
    let steps_t = ddpm.schedule().steps();
    println!(
        "  round trip |decode(encode(x)) − x| ≤ {:.1e} over {steps_t} DDIM steps",
        max_abs(&ddpm.decode(&x_t, steps_t)?, &x)
    );
    println!("\ntotal {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// Prints the model's name and how its capability row says it infers.
fn headline<M: Model>(m: &M) {
    let row = m.capabilities();
    println!(
        "\n{} ({:?}): {}",
        row.model, row.infer.support, row.infer.how
    );
}

/// 100 digits drawn at random, freshly binarized.
fn sample_digits(d: &gen_data::ImageDataset, rng: &mut Rng) -> Matrix {
    use rand::Rng as _;
    let idx: Vec<usize> = (0..100).map(|_| rng.random_range(0..d.len())).collect();
    d.select(&idx)
        .and_then(|b| b.binarized(rng))
        .expect("indices are in range")
}

fn print_pairs(name: &str, x: &Matrix, z: &Matrix) {
    for (p, q) in x.iter_rows().zip(z.iter_rows()) {
        println!(
            "  x = ({:+.2}, {:+.2}) → {name} = ({:+.2}, {:+.2})",
            p[0], p[1], q[0], q[1]
        );
    }
}

fn argmax(v: &[f64]) -> (usize, f64) {
    v.iter().copied().enumerate().fold(
        (0, f64::NEG_INFINITY),
        |a, (i, p)| if p > a.1 { (i, p) } else { a },
    )
}

fn max_abs(a: &Matrix, b: &Matrix) -> f64 {
    a.as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
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
