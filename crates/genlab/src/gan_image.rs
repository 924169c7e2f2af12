//! The convolutional and encoder GANs (gen-gan) on the command line: dcgan
//! and cgan on the image sets (mnist5k, digits), bigan on images and 2-D
//! toys. Images are scaled to [0, 1]; the runs write `samples.png` (cgan:
//! one row per class), `interpolation.png` (the generator along latent
//! segments), `loss.png`, and for bigan `reconstructions.png`. The summary
//! reports FID and precision / recall / density / coverage against the test
//! split with gen-eval's extractor, and for cgan the share of class-c
//! samples its classifier assigns to c. `score` refuses: the discriminator
//! is not a density. `sample --class c` draws class c from a cgan run;
//! `encode` gives a bigan's approximate inverse z = E(x).

use std::path::Path;

use gen_core::train::{EpochBatcher, TrainConfig, Trainer};
use gen_core::{
    Capabilities, Checkpoint, EncodingPart, GenError, Matrix, Model, Result, Rng, Sample,
    SampleOptions, Scores, Task, rng_from_seed,
};
use gen_gan::eval::{class_accuracy, extractor_for, image_quality};
use gen_gan::{BiGan, DcGan, GanConfig, GanLoss, labelled_batch};
use serde_json::json;

use crate::data::Data;
use crate::registry::{Family, Input, LoadedRun, Samples};
use crate::run::{RunMeta, latest_model_dir};
use crate::{TrainArgs, output};

/// Default minibatch of the image GANs (64 for DCGAN-sized images).
const BATCH: usize = 64;
/// Default Adam learning rate (DCGAN: 2e-4, β₁ = 0.5).
const LR: f64 = 2e-4;

/// What `run.json` stores for an image-GAN run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ImageGanRunOptions {
    backend: String,
    seed: u64,
    steps: u64,
    batch_size: usize,
    lr: f64,
    config: GanConfig,
    /// Grey levels of the image set (None: 2-D points).
    levels: Option<u32>,
}

/// dcgan, cgan and bigan.
pub struct ImageGanFamily;

impl Family for ImageGanFamily {
    fn models(&self) -> Vec<Capabilities> {
        let rows = gen_gan::capabilities();
        rows.into_iter()
            .filter(|r| matches!(r.model, "dcgan" | "cgan" | "bigan"))
            .collect()
    }

    fn train(&self, a: &TrainArgs) -> Result<serde_json::Value> {
        train(a)
    }

    fn load(&self, meta: &RunMeta, dir: &Path) -> Result<Box<dyn LoadedRun>> {
        let o: ImageGanRunOptions = meta.options_as()?;
        let device = o.backend.parse::<gen_core::Backend>()?.device()?;
        let model_dir = latest_model_dir(dir)?;
        let gan = if meta.model == "bigan" {
            let mut g = BiGan::build(o.config, &device, o.seed)?;
            g.load_checkpoint(&model_dir)?;
            AnyGan::Bi(Box::new(g))
        } else {
            let mut g = DcGan::build(o.config, &device, o.seed)?;
            g.load_checkpoint(&model_dir)?;
            AnyGan::Dc(Box::new(g))
        };
        Ok(Box::new(LoadedImageGan {
            gan,
            levels: o.levels,
        }))
    }
}

/// A trained DCGAN / cGAN or BiGAN.
enum AnyGan {
    Dc(Box<DcGan>),
    Bi(Box<BiGan>),
}

impl AnyGan {
    fn capabilities(&self) -> Capabilities {
        match self {
            AnyGan::Dc(g) => g.capabilities(),
            AnyGan::Bi(g) => g.capabilities(),
        }
    }

    fn sample(&self, n: usize, opts: &SampleOptions, rng: &mut Rng) -> Result<Matrix> {
        match self {
            AnyGan::Dc(g) => g.sample(n, opts, rng),
            AnyGan::Bi(g) => g.sample(n, opts, rng),
        }
    }

    fn latent_interpolation(&self, pairs: usize, steps: usize, rng: &mut Rng) -> Result<Matrix> {
        match self {
            AnyGan::Dc(g) => g.latent_interpolation(pairs, steps, None, rng),
            AnyGan::Bi(g) => g.latent_interpolation(pairs, steps, None, rng),
        }
    }
}

/// The loss named by `--gan-loss` (WGAN with `--clip`), non-saturating by default.
fn loss_named(name: Option<&str>, clip: f64) -> Result<GanLoss> {
    let Some(name) = name else {
        return Ok(GanLoss::NonSaturating);
    };
    GanLoss::all()
        .into_iter()
        .find(|l| l.name() == name)
        .map(|l| match l {
            GanLoss::Wasserstein { .. } => GanLoss::Wasserstein { clip },
            other => other,
        })
        .ok_or_else(|| {
            GenError::config(
                "--gan-loss",
                name,
                "unknown loss",
                "use minimax, non-saturating, wasserstein, hinge, least-squares or mmd",
            )
        })
}

fn train(a: &TrainArgs) -> Result<serde_json::Value> {
    let (c, g, model) = (&a.common, &a.gan, a.model());
    if g.pack != 1 {
        return Err(GenError::config(
            "--gan-pack",
            g.pack,
            format!("packing is built for the MLP critics of the 2-D GANs, not for {model}"),
            "drop --gan-pack, or train gan / ns-gan / hinge-gan / lsgan / wgan on a 2-D toy",
        ));
    }
    let train = crate::data::load(a.data(), gen_data::Split::Train)?;
    let test = crate::data::load(a.data(), gen_data::Split::Test)?;
    let loss = loss_named(g.loss.as_deref(), g.clip)?;
    // Rows in the model's scale ([0, 1] pixels, or points), the image side
    // and grey levels, and the labels.
    let (x, xt, image, labels) = match (&train, &test) {
        (
            Data::Images {
                x,
                h,
                w,
                levels,
                labels,
            },
            Data::Images { x: raw_test, .. },
        ) => {
            if h != w {
                return Err(GenError::config(
                    "--data",
                    train.describe(),
                    format!("{model} takes square images"),
                    "use --data mnist5k or --data digits",
                ));
            }
            let scale = |m: &Matrix| gen_data::transforms::scale_unit(m, *levels);
            (
                scale(x)?,
                scale(raw_test)?,
                Some((*h, *levels)),
                labels.clone(),
            )
        }
        (Data::Points { x, .. }, Data::Points { x: xt, .. }) if model == "bigan" => {
            (x.clone(), xt.clone(), None, Vec::new())
        }
        _ => {
            return Err(GenError::config(
                "--data",
                train.describe(),
                format!(
                    "{model} models images{}",
                    if model == "bigan" {
                        " or 2-D points"
                    } else {
                        ""
                    }
                ),
                "use --data mnist5k or --data digits",
            ));
        }
    };
    let classes = if model == "cgan" {
        labels.iter().max().map_or(0, |&m| m as usize + 1)
    } else {
        0
    };
    let preset = match (model, image) {
        ("bigan", Some(_)) => GanConfig::bigan(x.cols(), true),
        ("bigan", None) => GanConfig::bigan(x.cols(), false),
        // (dcgan and cgan were refused points above.)
        (_, side) => GanConfig::dcgan(side.map_or(0, |(s, _)| s), classes),
    };
    let config = GanConfig {
        loss,
        n_critic: g.n_critic.unwrap_or(GanConfig::with_loss(loss).n_critic),
        spectral_norm: g.spectral_norm.unwrap_or(model != "bigan"),
        ema: g.ema,
        hidden: g.hidden.clone().unwrap_or(preset.hidden.clone()),
        latent: g.latent.unwrap_or(preset.latent),
        d_lr_mult: g.d_lr_mult,
        ..preset
    };
    config.validate()?;
    let toy = image.is_none();
    let batch_size = c.batch.unwrap_or(if toy { 256 } else { BATCH });
    let lr = c.lr.unwrap_or(if toy { 1e-3 } else { LR });
    let opts = ImageGanRunOptions {
        backend: c.backend.name().into(),
        seed: c.seed,
        steps: c.steps,
        batch_size,
        lr,
        config: config.clone(),
        levels: image.map(|(_, l)| l),
    };
    RunMeta::new(model, a.data(), &opts)?.save(&c.out)?;
    let device = c.backend.device()?;
    let rows = if classes > 0 {
        labelled_batch(&x, &labels)?
    } else {
        x.clone()
    };
    let batcher = EpochBatcher::new(rows.rows(), batch_size.min(rows.rows()), c.seed)?;
    let tc = c.run.apply(TrainConfig {
        steps: c.steps,
        lr,
        seed: c.seed,
        batch_size,
        log_every: 10,
        ..TrainConfig::default()
    });
    let trainer = Trainer::new(tc, &c.out)?;
    let next = |t: u64, _: &mut Rng| rows.select_rows(&batcher.indices(t));
    // During training, an FID proxy: 250 samples against the first 250 test
    // images in the embedded extractor's feature space (images only).
    let extractor = match image {
        Some((side, _)) => extractor_for(side)?,
        None => None,
    };
    let held_out = xt.select_rows(&(0..xt.rows().min(250)).collect::<Vec<_>>())?;
    let (gan, report) = if model == "bigan" {
        let mut gan = BiGan::build(config.clone(), &device, c.seed)?;
        let r = trainer.fit_with_eval(&mut gan, next, fid_proxy(extractor.as_ref(), &held_out))?;
        (AnyGan::Bi(Box::new(gan)), r)
    } else {
        let mut gan = DcGan::build(config.clone(), &device, c.seed)?;
        let r = trainer.fit_with_eval(&mut gan, next, fid_proxy(extractor.as_ref(), &held_out))?;
        (AnyGan::Dc(Box::new(gan)), r)
    };
    let mut summary = json!({"model": model, "data": a.data(), "backend": c.backend.name(),
        "train": train.describe(), "loss": config.loss.name(), "config": config,
        "steps": report.steps, "seconds": report.seconds,
        "ms_per_step": report.ms_per_step(),
        "final_loss": report.final_loss,
        "score": "none: the discriminator's output is not a density"});
    let mut rng = rng_from_seed(c.seed ^ 0x5eed);
    let mut written = vec!["loss.png"];
    output::loss_png(&report.losses, &c.out.join("loss.png"))?;
    match image {
        Some((side, _)) => {
            written.extend(image_pictures(&gan, &xt, side, classes, &c.out, &mut rng)?);
            if let Some(ext) = extractor_for(side)? {
                let s = gan.sample(xt.rows(), &SampleOptions::default(), &mut rng)?;
                summary["vs_test"] = json!(image_quality(&s, &xt, &ext)?);
                if let AnyGan::Dc(dc) = &gan
                    && classes > 0
                {
                    summary["class_accuracy"] = json!(class_accuracy(dc, 50, &ext, &mut rng)?);
                }
            }
            if let AnyGan::Bi(bi) = &gan {
                let r = bi.reconstruct(&xt)?;
                summary["reconstruction_mse"] = json!(mse(&xt, &r));
            }
        }
        None => {
            let s = gan.sample(x.rows().min(5000), &SampleOptions::default(), &mut rng)?;
            if let Data::Points { toy: Some(t), .. } = &train
                && let Some(m) = crate::data::toy_coverage(*t, &s)?
            {
                summary["modes_covered"] = json!(m.modes_covered);
                summary["modes"] = json!(m.modes);
                summary["high_quality_fraction"] = json!(m.high_quality_fraction);
            }
            output::scatter_png(&x, &s, &c.out.join("samples.png"))?;
            written.push("samples.png");
            if let AnyGan::Bi(bi) = &gan {
                summary["reconstruction_mse"] = json!(mse(&xt, &bi.reconstruct(&xt)?));
            }
        }
    }
    gen_core::checkpoint::write_json_atomic(&c.out.join("summary.json"), &summary)?;
    summary["pictures"] = json!(written);
    Ok(summary)
}

/// The evaluation hook of image GAN training: as many samples as `held_out`
/// has rows against them in the extractor's feature space (FID, precision,
/// recall); nothing without an extractor.
fn fid_proxy<'a, G: Sample<Output = Matrix>>(
    extractor: Option<&'a gen_eval::Extractor>,
    held_out: &'a Matrix,
) -> impl FnMut(&G, &mut gen_core::train::EvalContext<'_>) -> Result<gen_core::train::EvalMetrics> + 'a
{
    move |g, ctx| {
        let mut metrics = gen_core::train::EvalMetrics::new();
        if let Some(ext) = extractor {
            let s = g.sample(held_out.rows(), &SampleOptions::default(), ctx.rng)?;
            let q = image_quality(&s, held_out, ext)?;
            metrics.insert("fid_proxy".into(), q.fid);
            metrics.insert("precision".into(), q.precision);
            metrics.insert("recall".into(), q.recall);
        }
        Ok(metrics)
    }
}

/// Mean squared error per row, ‖x − r‖² averaged over rows.
fn mse(x: &Matrix, r: &Matrix) -> f64 {
    let total: f64 = x
        .as_slice()
        .iter()
        .zip(r.as_slice())
        .map(|(a, b)| (a - b).powi(2))
        .sum();
    total / x.rows().max(1) as f64
}

/// `samples.png` (64 samples; cgan: 10 of each class, one row per class),
/// `interpolation.png` (8 latent segments of 8 points, one per row; cgan:
/// class p on row p) and, for a BiGAN, `reconstructions.png`.
fn image_pictures(
    gan: &AnyGan,
    xt: &Matrix,
    side: usize,
    classes: usize,
    out: &Path,
    rng: &mut Rng,
) -> Result<Vec<&'static str>> {
    let scale = if side <= 8 { 6 } else { 2 };
    let grid = |m: &Matrix, cols: usize, name: &str| {
        gen_viz::image_grid(m, side, side, cols, scale)?.save_png(&out.join(name))
    };
    let mut written = vec!["samples.png", "interpolation.png"];
    match (gan, classes) {
        (AnyGan::Dc(dc), k) if k > 0 => {
            let per = 10;
            let labels: Vec<usize> = (0..k).flat_map(|c| std::iter::repeat_n(c, per)).collect();
            let s = dc.sample_classes(labels.len(), 1.0, None, Some(&labels), rng)?;
            grid(&s, per, "samples.png")?;
        }
        _ => grid(
            &gan.sample(64, &SampleOptions::default(), rng)?,
            8,
            "samples.png",
        )?,
    }
    grid(
        &gan.latent_interpolation(8, 8, rng)?,
        8,
        "interpolation.png",
    )?;
    if let AnyGan::Bi(bi) = gan {
        let x = output::spread_rows(xt, 32)?;
        let r = bi.reconstruct(&x)?;
        grid(&output::interleave(&x, &r, 8)?, 8, "reconstructions.png")?;
        written.push("reconstructions.png");
    }
    Ok(written)
}

/// A loaded dcgan / cgan / bigan run.
struct LoadedImageGan {
    gan: AnyGan,
    /// Grey levels of the training images (None: 2-D points).
    levels: Option<u32>,
}

impl LoadedImageGan {
    fn bigan(&self) -> Result<&BiGan> {
        match &self.gan {
            AnyGan::Bi(g) => Ok(g),
            AnyGan::Dc(_) => Err(self.unsupported(Task::Infer, "it has no encoder")),
        }
    }
}

impl LoadedRun for LoadedImageGan {
    fn capabilities(&self) -> Capabilities {
        self.gan.capabilities()
    }

    fn classes(&self) -> Option<usize> {
        match &self.gan {
            AnyGan::Dc(g) if g.classes() > 0 => Some(g.classes()),
            _ => None,
        }
    }

    fn sample(&self, n: usize, opts: &SampleOptions, rng: &mut Rng) -> Result<Samples> {
        self.gan.sample(n, opts, rng).map(Samples::Rows)
    }

    /// Images scaled to [0, 1] as in training; points as they are.
    fn prepare(&self, d: Data) -> Result<Input> {
        let model = self.capabilities().model;
        match (d, self.levels) {
            (Data::Points { x, .. }, None) => Ok(Input::Rows(x)),
            (Data::Images { x, levels, .. }, Some(_)) => {
                Ok(Input::Rows(gen_data::transforms::scale_unit(&x, levels)?))
            }
            (other, Some(_)) => Err(GenError::config(
                "--data",
                other.describe(),
                format!("this {model} run models images"),
                "use the image set it was trained on",
            )),
            (other, None) => Err(GenError::config(
                "--data",
                other.describe(),
                format!("this {model} run models 2-D points"),
                "use a 2-D toy",
            )),
        }
    }

    fn score(&self, _x: &Input, _opts: &gen_core::ScoreOptions) -> Result<Scores> {
        Err(self.unsupported(Task::Score, "a GAN has no density"))
    }

    fn encode(&self, x: &Matrix) -> Result<Vec<EncodingPart>> {
        Ok(vec![EncodingPart {
            key: "z",
            file_suffix: "z.npy",
            values: self.bigan()?.encode(x)?,
            integer: false,
            description: "encodings z = E(x) (BiGAN encoder: an approximate inverse of G, not a posterior)",
        }])
    }

    fn reconstruct(&self, x: &Matrix) -> Result<Matrix> {
        self.bigan()?.reconstruct(x)
    }

    /// G((1 − t) E(a) + t E(b)) at `steps` evenly spaced t.
    fn interpolate(&self, a: &[f64], b: &[f64], steps: usize) -> Result<Matrix> {
        let g = self.bigan()?;
        if steps < 2 {
            return Err(GenError::config(
                "--steps",
                steps,
                "a segment needs both end points",
                "use at least 2 steps",
            ));
        }
        let ends = g.encode(&Matrix::from_rows(&[a, b])?)?;
        let (za, zb) = (ends.row(0), ends.row(1));
        let rows: Vec<Vec<f64>> = (0..steps)
            .map(|s| {
                let t = s as f64 / (steps - 1) as f64;
                za.iter()
                    .zip(zb)
                    .map(|(p, q)| (1.0 - t) * p + t * q)
                    .collect()
            })
            .collect();
        g.decode(&Matrix::from_rows(&rows)?, None)
    }
}
