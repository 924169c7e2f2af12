//! MADE (masked autoencoder for distribution estimation) on binarized 8×8
//! digits: an autoregressive model whose log-likelihood is exact.
//!
//! ```text
//! cargo run --example autoregressive_made
//! GENLAB_BACKEND=ndarray cargo run --example autoregressive_made   # another CPU backend
//! ```
//!
//! An autoregressive model factorises p(x) = Π_i p(x_i | x_<i) over the 64
//! pixels. MADE computes all 64 conditionals in one pass of an MLP whose
//! weights are masked so that output i only sees the inputs before it. This
//! one trains 8 pixel orderings with one set of weights (one random ordering
//! per step) and scores the uniform mixture of the 8, whose log-likelihood
//! log p(x) = logmeanexp_k log p_k(x) is still exact.
//!
//! The run here is short (10,000 steps, about 10 s on flex). Longer runs and the other
//! binary models (FVSBN, NADE, PixelCNN) on 28×28 MNIST:
//! `cargo run -p gen-ar --example binary_mnist`, or
//! `cargo run -p genlab -- train made --data mnist5k --steps 2000 --out runs/made`.

use std::time::Instant;

use gen_ar::binary::{Made, MadeConfig};
use gen_core::train::EpochBatcher;
use gen_core::{Learn, Matrix, Result, Sample, SampleOptions, StepContext, rng_from_seed};
use gen_data::{Split, digits8x8};

/// Training steps of 100 digits each (15 steps are one pass over the data).
const STEPS: u64 = 10_000;

fn main() -> Result<()> {
    let start = Instant::now();
    let backend = genlab_examples::backend()?;
    let device = backend.device()?;

    // 1. Data: UCI's 8×8 digits (1,500 train, 297 test), 17 grey levels.
    //    Binarization draws each pixel ~ Bernoulli(grey / 16): a fresh draw
    //    for every training batch ("dynamic"), one fixed draw for the test set
    //    so that test scores are comparable.
    let train = digits8x8(Split::Train)?;
    let test = digits8x8(Split::Test)?.binarized(&mut rng_from_seed(1234))?;
    let d = train.dims();

    // 2. The model: D = 64 inputs, one hidden layer of 256 ReLU units, 8
    //    orderings (0 is the raster order, the rest random), Adam. Weights
    //    come from the host RNG (seed 0), so every backend starts identical.
    let mut made = Made::new(MadeConfig::new(d, vec![256], 8), &device, 0)?;

    // 3. Learning, written out (the `Trainer` of `task_learn` wraps the same
    //    call with checkpoints and logs): each step gets a batch and a
    //    `StepContext` with the step index, the learning rate and the RNG
    //    that the step draws its ordering from.
    let batcher = EpochBatcher::new(train.len(), 100, 0)?;
    let mut rng = rng_from_seed(1);
    let t0 = Instant::now();
    let mut test_curve = Vec::new();
    for step in 0..STEPS {
        let batch = train.select(&batcher.indices(step))?.binarized(&mut rng)?;
        let mut ctx = StepContext {
            step,
            lr: 1e-3,
            rng: &mut rng,
        };
        let stats = made.learn_step(&batch, &mut ctx)?;
        if step % 2_000 == 0 || step + 1 == STEPS {
            // `nll` is the exact test NLL of the ensemble (nats per image).
            test_curve.push(made.nll(&test)?);
            println!(
                "step {step:>5}: train NLL {:6.2}, test NLL {:6.2} nats",
                stats.loss,
                test_curve[test_curve.len() - 1]
            );
        }
    }
    let train_s = t0.elapsed().as_secs_f64();

    // 4. Exact scores. Baselines computed here, on the same test digits:
    //    the uniform model (64 ln 2 nats) and independent pixels (each pixel
    //    Bernoulli with its training frequency: no dependence between pixels).
    let nll = made.nll(&test)?;
    let per_ordering = made.log_prob_per_ordering(&test)?;
    let single: Vec<f64> = (0..per_ordering.cols())
        .map(|k| -per_ordering.iter_rows().map(|r| r[k]).sum::<f64>() / test.rows() as f64)
        .collect();
    let independent = independent_pixels_nll(&train.binarized(&mut rng)?, &test);
    println!(
        "\n{STEPS} steps on {backend} in {train_s:.1} s ({:.1} ms/step)",
        1e3 * train_s / STEPS as f64
    );
    println!("test NLL, nats per image (exact):");
    println!(
        "  uniform pixels        {:6.2}",
        d as f64 * std::f64::consts::LN_2
    );
    println!("  independent pixels    {independent:6.2}");
    println!(
        "  MADE, one ordering    {:6.2} .. {:6.2} (best .. worst of the 8)",
        single.iter().cloned().fold(f64::INFINITY, f64::min),
        single.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
    );
    println!("  MADE, 8-order mixture {nll:6.2}");
    if let [.., before, last] = test_curve[..]
        && last < before
    {
        println!(
            "  the test NLL was still falling ({before:.2} -> {last:.2} over the last \
             stretch): train longer, e.g.\n  \
             cargo run -p genlab -- train made --data digits --steps 50000 --out runs/made-digits"
        );
    }

    // 5. Sampling is sequential: 64 passes, one pixel each, in the order of
    //    the ordering drawn for that sample.
    let samples = made.sample(8, &SampleOptions::default(), &mut rng_from_seed(7))?;
    println!("\n8 samples (# = 1):");
    print_digits(&samples, 8);
    println!("total {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// Exact mean NLL (nats) of `test` under independent Bernoulli pixels with
/// the pixel frequencies of `train` (smoothed by one pseudo-count each way).
fn independent_pixels_nll(train: &Matrix, test: &Matrix) -> f64 {
    let n = train.rows() as f64;
    let p: Vec<f64> = (0..train.cols())
        .map(|j| (train.iter_rows().map(|r| r[j]).sum::<f64>() + 1.0) / (n + 2.0))
        .collect();
    let total: f64 = test
        .iter_rows()
        .map(|r| {
            r.iter()
                .zip(&p)
                .map(|(&x, &p)| if x > 0.5 { -p.ln() } else { -(1.0 - p).ln() })
                .sum::<f64>()
        })
        .sum();
    total / test.rows() as f64
}

/// Prints 8×8 binary images side by side.
fn print_digits(x: &Matrix, side: usize) {
    for row in 0..side {
        let line: Vec<String> = x
            .iter_rows()
            .map(|img| {
                (0..side)
                    .map(|col| {
                        if img[row * side + col] > 0.5 {
                            '#'
                        } else {
                            '.'
                        }
                    })
                    .collect()
            })
            .collect();
        println!("  {}", line.join("  "));
    }
}
