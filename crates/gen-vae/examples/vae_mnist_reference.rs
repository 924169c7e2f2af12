//! The PyTorch-reference MLP VAE on dynamically binarized MNIST-5k, timed on
//! each CPU backend.
//!
//! Configuration (as the reference): 784-400-20, tanh hidden layer, Bernoulli
//! decoder, batch 100, Adam 1e-3, 50 epochs of the 4,500 training digits
//! (45 steps per epoch, 2,250 steps), a fresh binarization every batch. The
//! test split (500 digits) is binarized once with seed 1234 and scored with
//! the ELBO (one draw, closed-form KL) and IWAE-K (default K = 1000).
//!
//! PyTorch reference: test ELBO −114.2, IWAE-1000 −109.0 nats, 3.9 ms/step (2 threads).
//!
//! ```text
//! cargo run -p gen-vae --example vae_mnist_reference -- [--epochs 50] [--k 1000] [--backends ndarray,flex] [--out runs/vae-mnist]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use gen_core::train::{EpochBatcher, TrainConfig, Trainer};
use gen_core::{Backend, GenError, Matrix, Result, Sample, SampleOptions, rng_from_seed};
use gen_data::Split;
use gen_vae::{Vae, VaeConfig};

struct Args {
    epochs: u64,
    k: usize,
    backends: Vec<Backend>,
    out: PathBuf,
    seed: u64,
}

fn parse() -> Result<Args> {
    let mut a = Args {
        epochs: 50,
        k: 1000,
        backends: vec![Backend::Ndarray, Backend::Flex],
        out: PathBuf::from("runs/vae-mnist"),
        seed: 0,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let bad = |f: &str, v: &str| {
        GenError::config(f, v, "could not parse", "see the example's doc comment")
    };
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--epochs" => a.epochs = v.parse().map_err(|_| bad("--epochs", &v))?,
            "--k" => a.k = v.parse().map_err(|_| bad("--k", &v))?,
            "--seed" => a.seed = v.parse().map_err(|_| bad("--seed", &v))?,
            "--out" => a.out = PathBuf::from(&v),
            "--backends" => a.backends = v.split(',').map(str::parse).collect::<Result<_>>()?,
            other => return Err(bad("argument", other)),
        }
        i += 2;
    }
    Ok(a)
}

fn main() -> Result<()> {
    let args = parse()?;
    let train = gen_data::mnist5k(Split::Train)?;
    let test = gen_data::mnist5k(Split::Test)?;
    let test_bin = test.binarized(&mut rng_from_seed(1234))?;
    let batch = 100;
    let batcher = EpochBatcher::new(train.len(), batch, args.seed)?;
    let steps = args.epochs * batcher.batches_per_epoch();
    println!(
        "MLP VAE 784-400-20 tanh, Bernoulli, batch {batch}, Adam 1e-3, {} epochs = {steps} steps on {} binarized MNIST-5k digits",
        args.epochs,
        train.len()
    );
    println!(
        "| backend | ms/step | train s | test ELBO | test IWAE-{} | eval s |",
        args.k
    );
    println!("|---|---|---|---|---|---|");
    for &backend in &args.backends {
        let device = backend.device()?;
        let mut vae = Vae::new(VaeConfig::mlp_bernoulli(784, 20), &device, args.seed)?;
        let run_dir = args.out.join(backend.name());
        let cfg = TrainConfig {
            steps,
            lr: 1e-3,
            seed: args.seed,
            log_every: 45,
            batch_size: batch,
            progress: false,
            ..TrainConfig::default()
        };
        let report = Trainer::new(cfg, &run_dir)?.fit(&mut vae, |t, rng| {
            train.select(&batcher.indices(t))?.binarized(rng)
        })?;
        let t0 = Instant::now();
        let mut rng = rng_from_seed(99);
        let elbo = vae.elbo(&test_bin, 1, &mut rng)?.mean();
        let iwae = vae.iwae(&test_bin, args.k, &mut rng)?.mean();
        let eval = t0.elapsed().as_secs_f64();
        println!(
            "| {} | {:.2} | {:.1} | {:.2} | {:.2} | {:.1} |",
            backend,
            1e3 * report.seconds / steps as f64,
            report.seconds,
            elbo,
            iwae,
            eval
        );
        pictures(&vae, &test_bin, &run_dir)?;
        let diag = vae.diagnostics(&test_bin)?;
        println!(
            "  {}: active units {}/20, KL {:.2} nats, collapse {}, reconstruction MSE {:.4}; pictures in {}",
            backend,
            diag.active_units,
            diag.kl_total,
            diag.posterior_collapse,
            diag.reconstruction_mse,
            run_dir.display()
        );
    }
    Ok(())
}

fn pictures(vae: &Vae, test: &Matrix, dir: &std::path::Path) -> Result<()> {
    let s = vae.sample(64, &SampleOptions::default(), &mut rng_from_seed(7))?;
    gen_viz::image_grid(&s, 28, 28, 8, 2)?.save_png(&dir.join("samples.png"))?;
    let idx: Vec<usize> = (0..32).map(|i| i * 15).collect();
    let x = test.select_rows(&idx)?;
    let r = vae.reconstruct(&x)?;
    // Originals and reconstructions in alternating rows of 8.
    let mut rows = Vec::new();
    for blk in 0..4 {
        for i in 0..8 {
            rows.push(x.row(blk * 8 + i).to_vec());
        }
        for i in 0..8 {
            rows.push(r.row(blk * 8 + i).to_vec());
        }
    }
    gen_viz::image_grid(&Matrix::from_rows(&rows)?, 28, 28, 8, 2)?
        .save_png(&dir.join("reconstructions.png"))?;
    let mut rows = Vec::new();
    for p in 0..6 {
        let m = vae.interpolate(test.row(p * 40), test.row(p * 40 + 250), 10)?;
        rows.extend(m.iter_rows().map(<[f64]>::to_vec));
    }
    gen_viz::image_grid(&Matrix::from_rows(&rows)?, 28, 28, 10, 2)?
        .save_png(&dir.join("interpolation.png"))
}
