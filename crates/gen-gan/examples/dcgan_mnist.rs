//! DCGAN and the conditional GAN on MNIST-5k (28×28) or UCI digits (8×8),
//! evaluated with gen-eval's extractor of that data set.
//!
//! Setup (DCGAN, Radford et al. 2016): non-saturating loss, Adam lr 2e-4,
//! β = (0.5, 0.999), batch 64, pixels scaled to [0, 1] (the networks work
//! in [−1, 1]: G ends in tanh, D starts with 2x − 1), N(0, 0.02²) weights.
//! Architecture from the image side: 7 → 14 → 28 with channels [64, 128]
//! and L = 100 on MNIST, 2 → 4 → 8 with [32, 64] and L = 32 on digits; the
//! cGAN adds the one-hot label to z and a projection term to D.
//!
//! After training: FID and precision / recall / density / coverage (k = 5)
//! of `--samples` generated images (default 5,000 on MNIST, the test-split
//! size on digits) against the test split, and the same numbers for the
//! training images against the test split (the floor a perfect generator
//! would reach with as many images); for the cGAN, the share of class-c
//! samples the extractor's classifier assigns to c (and its accuracy on the
//! real test split, the ceiling). Writes `samples.png`, `interpolation.png`
//! and `summary.json` to `--out`. With `--vae-epochs E` (MNIST-5k), the
//! reference VAE of gen-vae (784-400-20, tanh, Bernoulli decoder, batch 100,
//! Adam 1e-3, dynamic binarization, E × 45 steps, the same seed) is trained
//! too and its samples (decoder means, z ~ N(0, I)) are scored in the same
//! table, with the same extractor and sample count.
//!
//! ```text
//! cargo run --release -p gen-gan --example dcgan_mnist -- --model dcgan|cgan --steps N \
//!     --data mnist5k|digits --out DIR [--seed 0] [--batch 64] [--lr 2e-4] [--samples N] \
//!     [--spectral-norm] [--ema 0.999] [--backend flex] [--vae-epochs 50]
//! ```

use std::path::PathBuf;

use gen_core::train::{EpochBatcher, TrainConfig, Trainer};
use gen_core::{Backend, GenError, Matrix, Result, rng_from_seed};
use gen_data::Split;
use gen_gan::eval::{class_accuracy, extractor_for, image_quality};
use gen_gan::{DcGan, GanConfig, labelled_batch};
use serde_json::json;

struct Args {
    model: String,
    steps: u64,
    data: String,
    out: PathBuf,
    seed: u64,
    batch: usize,
    lr: f64,
    samples: Option<usize>,
    spectral_norm: bool,
    ema: Option<f64>,
    backend: Backend,
    vae_epochs: u64,
}

fn parse() -> Result<Args> {
    let mut a = Args {
        model: "dcgan".into(),
        steps: 500,
        data: "digits".into(),
        out: PathBuf::from("runs/dcgan"),
        seed: 0,
        batch: 64,
        lr: 2e-4,
        samples: None,
        spectral_norm: false,
        ema: None,
        backend: Backend::Flex,
        vae_epochs: 0,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let bad = |f: &str, v: &str| {
        GenError::config(f, v, "could not parse", "see the example's doc comment")
    };
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        let mut take = 2;
        match argv[i].as_str() {
            "--model" => a.model = v.clone(),
            "--steps" => a.steps = v.parse().map_err(|_| bad("--steps", &v))?,
            "--data" => a.data = v.clone(),
            "--out" => a.out = PathBuf::from(&v),
            "--seed" => a.seed = v.parse().map_err(|_| bad("--seed", &v))?,
            "--batch" => a.batch = v.parse().map_err(|_| bad("--batch", &v))?,
            "--lr" => a.lr = v.parse().map_err(|_| bad("--lr", &v))?,
            "--samples" => a.samples = Some(v.parse().map_err(|_| bad("--samples", &v))?),
            "--ema" => a.ema = Some(v.parse().map_err(|_| bad("--ema", &v))?),
            "--backend" => a.backend = v.parse()?,
            "--vae-epochs" => a.vae_epochs = v.parse().map_err(|_| bad("--vae-epochs", &v))?,
            "--spectral-norm" => {
                a.spectral_norm = true;
                take = 1;
            }
            other => return Err(bad("argument", other)),
        }
        i += take;
    }
    if !matches!(a.model.as_str(), "dcgan" | "cgan") {
        return Err(GenError::config(
            "--model",
            &a.model,
            "unknown model",
            "use dcgan or cgan",
        ));
    }
    Ok(a)
}

fn main() -> Result<()> {
    let a = parse()?;
    let (train, test) = match a.data.as_str() {
        "mnist5k" | "mnist" => (
            gen_data::mnist5k(Split::Train)?,
            gen_data::mnist5k(Split::Test)?,
        ),
        "digits" => (
            gen_data::digits8x8(Split::Train)?,
            gen_data::digits8x8(Split::Test)?,
        ),
        other => {
            return Err(GenError::config(
                "--data",
                other,
                "unknown image set",
                "use mnist5k or digits",
            ));
        }
    };
    let side = train.height;
    let (x, xt) = (train.scaled()?, test.scaled()?);
    let classes = if a.model == "cgan" {
        train.num_classes()
    } else {
        0
    };
    let config = GanConfig {
        spectral_norm: a.spectral_norm,
        ema: a.ema,
        ..GanConfig::dcgan(side, classes)
    };
    let rows = if classes > 0 {
        labelled_batch(&x, &train.labels)?
    } else {
        x.clone()
    };
    println!(
        "{} on {} ({} training images {side}×{side}): channels {:?}, L = {}, {} steps, batch {}, Adam {} β₁ 0.5, {} backend",
        a.model,
        a.data,
        x.rows(),
        config.hidden,
        config.latent,
        a.steps,
        a.batch,
        a.lr,
        a.backend
    );
    let mut gan = DcGan::build(config.clone(), &a.backend.device()?, a.seed)?;
    let batcher = EpochBatcher::new(rows.rows(), a.batch.min(rows.rows()), a.seed)?;
    let tc = TrainConfig {
        steps: a.steps,
        lr: a.lr,
        seed: a.seed,
        batch_size: a.batch,
        checkpoint_every: a.steps.max(1),
        log_every: 50,
        ..TrainConfig::default()
    };
    let report =
        Trainer::new(tc, &a.out)?.fit(&mut gan, |t, _| rows.select_rows(&batcher.indices(t)))?;
    let ms = 1e3 * report.seconds / report.steps.max(1) as f64;
    println!(
        "trained {} steps in {:.1} s: {ms:.1} ms/step, final G loss {:.3}",
        report.steps, report.seconds, report.final_loss
    );

    let ext = extractor_for(side)?.ok_or_else(|| {
        GenError::config(
            "--data",
            &a.data,
            "no extractor for this size",
            "use mnist5k or digits",
        )
    })?;
    let n = a
        .samples
        .unwrap_or(if side == 28 { 5000 } else { xt.rows() });
    let mut rng = rng_from_seed(a.seed ^ 0xe7a1);
    let fake = gan.sample_with(n, 1.0, None, &mut rng)?;
    let model = image_quality(&fake, &xt, &ext)?;
    let floor = image_quality(
        &x.select_rows(&(0..n.min(x.rows())).collect::<Vec<_>>())?,
        &xt,
        &ext,
    )?;
    let vae = if a.vae_epochs > 0 {
        Some(reference_vae(&a, &train, n, &xt, &ext)?)
    } else {
        None
    };
    println!(
        "| against the test split ({} images) | n | FID | precision | recall | density | coverage |",
        xt.rows()
    );
    println!("|---|---|---|---|---|---|---|");
    let vae_name = format!("reference VAE, {} epochs (decoder means)", a.vae_epochs);
    let mut rows = vec![
        (a.model.as_str(), &model),
        ("training images (floor)", &floor),
    ];
    if let Some((q, _)) = &vae {
        rows.insert(1, (vae_name.as_str(), q));
    }
    for (name, q) in rows {
        println!(
            "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            q.n_fake, q.fid, q.precision, q.recall, q.density, q.coverage
        );
    }
    let mut summary = json!({"model": a.model, "data": a.data, "config": config,
        "steps": report.steps, "seconds": report.seconds, "ms_per_step": ms,
        "final_g_loss": report.final_loss, "backend": a.backend.name(),
        "samples_vs_test": model, "train_vs_test_floor": floor,
        "extractor": ext.kind().name()});
    if let Some((q, secs)) = &vae {
        summary["reference_vae"] = json!({"epochs": a.vae_epochs, "train_seconds": secs,
            "samples_vs_test": q});
    }
    if let Some(per) = n.checked_div(classes) {
        let per = per.max(1);
        let acc = class_accuracy(&gan, per, &ext, &mut rng)?;
        let ceiling = ext.accuracy(&xt, &test.labels)?;
        println!(
            "class agreement: {:.3} of class-c samples classified as c ({} per class; the extractor's accuracy on the test split: {ceiling:.3}); per class {:?}",
            acc.overall,
            per,
            acc.per_class
                .iter()
                .map(|v| format!("{v:.2}"))
                .collect::<Vec<_>>()
        );
        summary["class_accuracy"] = json!(acc);
        summary["extractor_test_accuracy"] = json!(ceiling);
    }

    let scale = if side <= 8 { 6 } else { 2 };
    let grid = |m: &Matrix, cols: usize, name: &str| {
        gen_viz::image_grid(m, side, side, cols, scale)?.save_png(&a.out.join(name))
    };
    if classes > 0 {
        let labels: Vec<usize> = (0..classes)
            .flat_map(|c| std::iter::repeat_n(c, 10))
            .collect();
        grid(
            &gan.sample_classes(labels.len(), 1.0, None, Some(&labels), &mut rng)?,
            10,
            "samples.png",
        )?;
    } else {
        grid(&gan.sample_with(64, 1.0, None, &mut rng)?, 8, "samples.png")?;
    }
    grid(
        &gan.latent_interpolation(8, 8, None, &mut rng)?,
        8,
        "interpolation.png",
    )?;
    gen_core::checkpoint::write_json_atomic(&a.out.join("summary.json"), &summary)?;
    println!(
        "wrote samples.png, interpolation.png and summary.json to {}",
        a.out.display()
    );
    Ok(())
}

/// Trains gen-vae's reference MLP VAE on binarized MNIST-5k and scores `n`
/// of its samples (decoder means) against `test`; returns the scores and
/// the training seconds.
fn reference_vae(
    a: &Args,
    train: &gen_data::image::ImageDataset,
    n: usize,
    test: &Matrix,
    ext: &gen_eval::extractor::Extractor,
) -> Result<(gen_gan::eval::ImageQuality, f64)> {
    use gen_core::{Sample, SampleOptions};
    if train.height != 28 {
        return Err(GenError::config(
            "--vae-epochs",
            a.vae_epochs,
            "the reference VAE is the MNIST one",
            "use --data mnist5k",
        ));
    }
    let device = a.backend.device()?;
    let mut vae = gen_vae::Vae::new(gen_vae::VaeConfig::mlp_bernoulli(784, 20), &device, a.seed)?;
    let batcher = EpochBatcher::new(train.len(), 100, a.seed)?;
    let tc = TrainConfig {
        steps: a.vae_epochs * batcher.batches_per_epoch(),
        lr: 1e-3,
        seed: a.seed,
        batch_size: 100,
        log_every: 45,
        ..TrainConfig::default()
    };
    let report = Trainer::new(tc, a.out.join("vae"))?.fit(&mut vae, |t, rng| {
        train.select(&batcher.indices(t))?.binarized(rng)
    })?;
    let fake = vae.sample(
        n,
        &SampleOptions::default(),
        &mut rng_from_seed(a.seed ^ 0x7a3),
    )?;
    let side = train.height;
    gen_viz::image_grid(
        &fake.select_rows(&(0..64).collect::<Vec<_>>())?,
        side,
        side,
        8,
        2,
    )?
    .save_png(&a.out.join("vae_samples.png"))?;
    Ok((image_quality(&fake, test, ext)?, report.seconds))
}
