//! Trains FVSBN, NADE, MADE and PixelCNN on dynamically binarized MNIST-5k
//! (4,500 training digits, 28 × 28) and prints the exact test NLL in nats
//! (500 test digits, one fixed binarization).
//!
//! ```text
//! cargo run --release -p gen-ar --example binary_mnist -- \
//!     [--steps 2000] [--lr 1e-3] [--models fvsbn,nade,made,pixelcnn] [--backend flex] [--batch 100]
//! ```
//!
//! D ln 2 = 543.4 nats is the NLL of the uniform distribution; published
//! binarized-MNIST figures (full 60k training set, many epochs) are about 97
//! (FVSBN), 88 (NADE), 86 (MADE, ensemble) and 81 (PixelCNN) nats.

use std::time::Instant;

use gen_ar::binary::{
    ArNet, BinaryAr, FvsbnConfig, FvsbnNet, MadeConfig, MadeNet, NadeConfig, NadeNet,
    PixelCnnConfig, PixelCnnNet,
};
use gen_core::train::EpochBatcher;
use gen_core::{Backend, Learn, Matrix, Result, StepContext, rng_from_seed};

struct Args {
    steps: u64,
    batch: usize,
    lr: f64,
    models: Vec<String>,
    backend: Backend,
}

fn parse() -> Result<Args> {
    let mut args = Args {
        steps: 200,
        batch: 100,
        lr: 1e-3,
        models: ["fvsbn", "nade", "made", "pixelcnn"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        backend: Backend::Flex,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| {
            gen_core::GenError::config(&flag, "(missing)", "needs a value", "e.g. --steps 100")
        })?;
        let bad = |what: &str| {
            gen_core::GenError::config(&flag, &value, format!("not {what}"), "see the file's docs")
        };
        match flag.as_str() {
            "--steps" => args.steps = value.parse().map_err(|_| bad("an integer"))?,
            "--batch" => args.batch = value.parse().map_err(|_| bad("an integer"))?,
            "--lr" => args.lr = value.parse().map_err(|_| bad("a number"))?,
            "--models" => args.models = value.split(',').map(|s| s.trim().to_string()).collect(),
            "--backend" => args.backend = value.parse()?,
            _ => {
                return Err(gen_core::GenError::config(
                    &flag,
                    &value,
                    "unknown flag",
                    "use --steps, --batch, --lr, --models or --backend",
                ));
            }
        }
    }
    Ok(args)
}

/// Trains one model and returns its test NLL (nats per image).
fn run<N: ArNet>(config: N::Config, args: &Args, test: &Matrix) -> Result<f64> {
    let train = gen_data::mnist5k(gen_data::Split::Train)?;
    let device = args.backend.device()?;
    let mut model = BinaryAr::<N>::new(config, &device, 0)?;
    let batcher = EpochBatcher::new(train.len(), args.batch, 0)?;
    let mut bin_rng = rng_from_seed(1);
    let mut rng = rng_from_seed(2);
    let mut x = train.binarized(&mut bin_rng)?;
    let start = Instant::now();
    for t in 0..args.steps {
        if t > 0 && t % batcher.batches_per_epoch() == 0 {
            x = train.binarized(&mut bin_rng)?;
        }
        let batch = x.select_rows(&batcher.indices(t))?;
        let mut ctx = StepContext {
            step: t,
            lr: args.lr,
            rng: &mut rng,
        };
        let stats = model.learn_step(&batch, &mut ctx)?;
        if t % 100 == 0 || t + 1 == args.steps {
            eprintln!(
                "{:>8} step {t:>6}: train NLL {:.2} nats",
                N::NAME,
                stats.loss
            );
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let nll = model.nll(test)?;
    println!(
        "{:>8}: test NLL {nll:.2} nats ({:.4} bits/dim) after {} steps of {} ({secs:.1} s)",
        N::NAME,
        nll / (784.0 * std::f64::consts::LN_2),
        args.steps,
        args.batch
    );
    Ok(nll)
}

fn main() -> Result<()> {
    let args = parse()?;
    let test_ds = gen_data::mnist5k(gen_data::Split::Test)?;
    let test = test_ds.binarized(&mut rng_from_seed(3))?;
    println!(
        "binarized MNIST-5k: {} test images, D = 784, uniform NLL = {:.1} nats",
        test.rows(),
        784.0 * std::f64::consts::LN_2
    );
    for name in &args.models {
        match name.as_str() {
            "fvsbn" => run::<FvsbnNet>(FvsbnConfig::new(784), &args, &test)?,
            "nade" => run::<NadeNet>(NadeConfig::new(784, 500), &args, &test)?,
            "made" => run::<MadeNet>(MadeConfig::new(784, vec![500], 8), &args, &test)?,
            "pixelcnn" => run::<PixelCnnNet>(PixelCnnConfig::new(28, 28, 32, 2), &args, &test)?,
            other => {
                return Err(gen_core::GenError::config(
                    "--models",
                    other,
                    "unknown model",
                    "choose from fvsbn, nade, made, pixelcnn",
                ));
            }
        };
    }
    Ok(())
}
