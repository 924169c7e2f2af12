//! `latent-ddpm` on the command line: latent diffusion (tutorial 11.19) in
//! the latent space of a trained VAE run.
//!
//! ```text
//! genlab train vae --data mnist5k --steps 10000 --out runs/vae
//! genlab train latent-ddpm --data mnist5k --vae runs/vae --steps 20000 --out runs/ldm
//! genlab sample --checkpoint runs/ldm --sampler ddim --sample-steps 50 --n 64 --out s.npy
//! ```
//!
//! The DDPM options (`--schedule`, `--prediction`, `--diffusion-hidden`,
//! …, and `--conditional` with `--label-dropout`) are the `ddpm` ones. A
//! conditional latent DDPM learns p(z | y) on the image labels and samples
//! like the pixel one: `sample --guidance w [--class c]`, classes in turn
//! without `--class`; its summary reports the share of class-balanced
//! DDIM-50 samples (w = 0) that gen-eval's classifier assigns to the class
//! asked for. The run keeps a copy of the VAE, so it needs
//! nothing outside its own directory once trained.

use std::path::{Path, PathBuf};

use gen_core::train::{EpochBatcher, TrainConfig, Trainer};
use gen_core::{
    Capabilities, EncodingPart, GenError, Matrix, Result, Rng, SampleOptions, ScoreEstimator,
    ScoreOptions, Scores, rng_from_seed,
};
use gen_data::prep::Prep;
use gen_diffusion::latent::{self, LatentDdpm};
use gen_diffusion::{DdpmConfig, SamplerKind, SamplerOptions};
use gen_vae::Vae;
use serde_json::json;

use crate::data::Data;
use crate::registry::{Family, Input, LoadedRun, Samples, rows_of};
use crate::run::{RunMeta, latest_model_dir};
use crate::{TrainArgs, output};

/// VAE runs whose latent space a latent DDPM can use (continuous latents).
const VAE_MODELS: [&str; 4] = ["vae", "beta-vae", "iwae", "conv-vae"];

/// Latent diffusion options of `genlab train`.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Latent diffusion (latent-ddpm)")]
pub struct LatentArgs {
    /// The VAE run (a `genlab train vae|beta-vae|iwae|conv-vae` directory)
    /// whose latent space the DDPM learns; its newest checkpoint is used.
    #[arg(id = "vae-run", long = "vae", value_name = "DIR")]
    pub vae: Option<PathBuf>,
    /// What the DDPM learns from each training image: `mean`, its
    /// posterior mean, or `sample`, a fresh draw of q(z | x) every time the
    /// image is in a batch (Rombach et al.'s latent diffusion).
    #[arg(id = "latent-posterior", long = "latent-posterior", default_value = "mean",
          value_parser = ["mean", "sample"])]
    pub posterior: String,
}

/// What `run.json` stores for a latent DDPM run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct LatentRunOptions {
    backend: String,
    seed: u64,
    steps: u64,
    batch_size: usize,
    lr: f64,
    config: DdpmConfig,
    /// The VAE run it was trained in, and that run's model and preparation.
    vae_run: String,
    vae_model: String,
    prep: Prep,
    /// `mean` or `sample` (`--latent-posterior`; runs before it: mean).
    #[serde(default = "posterior_mean")]
    posterior: String,
}

fn posterior_mean() -> String {
    "mean".into()
}

/// The latent diffusion family.
pub struct LatentDiffusionFamily;

impl Family for LatentDiffusionFamily {
    fn models(&self) -> Vec<Capabilities> {
        vec![latent::capabilities_row()]
    }

    fn train(&self, a: &TrainArgs) -> Result<serde_json::Value> {
        train(a)
    }

    fn load(&self, meta: &RunMeta, dir: &Path) -> Result<Box<dyn LoadedRun>> {
        let o: LatentRunOptions = meta.options_as()?;
        let device = o.backend.parse::<gen_core::Backend>()?.device()?;
        let model = LatentDdpm::load(&latest_model_dir(dir)?, o.config, &device, o.seed)?;
        Ok(Box::new(LoadedLatent {
            model,
            prep: o.prep,
        }))
    }
}

/// The VAE of run `dir` trained on `data`, with its model name and data
/// preparation, or a clear error saying what is wrong with it.
fn vae_of(
    dir: Option<&Path>,
    data: &str,
    device: &gen_core::burn::tensor::Device,
) -> Result<(Vae, String, Prep)> {
    let Some(dir) = dir else {
        return Err(GenError::config(
            "--vae",
            "missing",
            "latent-ddpm diffuses in the latent space of a trained VAE",
            format!(
                "train one first (genlab train vae --data {data} --out runs/vae) and pass --vae runs/vae"
            ),
        ));
    };
    if !dir.join("run.json").exists() {
        return Err(GenError::config(
            "--vae",
            dir.display(),
            "no run.json: not a genlab run directory",
            "pass the --out directory of a `genlab train vae` run",
        ));
    }
    let meta = RunMeta::load(dir)?;
    if !VAE_MODELS.contains(&meta.model.as_str()) {
        return Err(GenError::config(
            "--vae",
            dir.display(),
            format!("is a {} run", meta.model),
            format!(
                "pass a run of one of {} (continuous latents)",
                VAE_MODELS.join(", ")
            ),
        ));
    }
    let (theirs, ours) = (
        crate::data::canonical_name(&meta.data)?,
        crate::data::canonical_name(data)?,
    );
    if theirs != ours {
        return Err(GenError::config(
            "--vae",
            dir.display(),
            format!("its VAE was trained on {theirs}, not {ours}"),
            format!("pass --data {theirs}, or a VAE trained on {ours}"),
        ));
    }
    let prep: Prep = serde_json::from_value(meta.options["prep"].clone()).map_err(|e| {
        GenError::config(
            "--vae",
            dir.display(),
            format!("its run.json has no data preparation this version reads ({e})"),
            "retrain the VAE with this version of genlab",
        )
    })?;
    let vae = Vae::load(&latest_model_dir(dir)?, device)?;
    Ok((vae, meta.model, prep))
}

fn train(a: &TrainArgs) -> Result<serde_json::Value> {
    let c = &a.common;
    let device = c.backend.device()?;
    let (vae, vae_model, prep) = vae_of(a.latent.vae.as_deref(), a.data(), &device)?;
    let train_data = crate::data::load(a.data(), gen_data::Split::Train)?;
    let (raw, h, w, levels) = train_data.images(a.model())?;
    let (raw_t, ..) = crate::data::load(a.data(), gen_data::Split::Test)?.images(a.model())?;
    let x = prep.evaluation(&raw, levels)?;
    let xt = prep.evaluation(&raw_t, levels)?;
    vae.check_input(&x, "latent-ddpm training images")?;
    // Conditional: the classes of the labels, as the pixel DDPM's.
    let labels = match (a.diffusion.conditional, &train_data) {
        (false, _) => None,
        (true, Data::Images { labels, .. }) => Some(labels.clone()),
        (true, _) => {
            return Err(GenError::config(
                "--conditional",
                a.data(),
                "a class-conditional latent DDPM trains on labelled images",
                "use --data digits or --data mnist5k, or drop --conditional",
            ));
        }
    };
    let config = crate::diffusion::config_of(
        &a.diffusion,
        vae.config().latent,
        labels
            .as_ref()
            .map(|l| l.iter().max().map_or(0, |&m| m as usize + 1)),
    )?;
    let (batch_size, lr) = (c.batch.unwrap_or(256), c.lr.unwrap_or(1e-3));
    let opts = LatentRunOptions {
        backend: c.backend.name().into(),
        seed: c.seed,
        steps: c.steps,
        batch_size,
        lr,
        config: config.clone(),
        vae_run: a
            .latent
            .vae
            .as_deref()
            .unwrap_or(Path::new(""))
            .display()
            .to_string(),
        vae_model,
        prep,
        posterior: a.latent.posterior.clone(),
    };
    RunMeta::new(a.model(), a.data(), &opts)?.save(&c.out)?;
    let (mut model, post) = LatentDdpm::new(vae, &x, config.clone(), &device, c.seed)?;
    let z = &post.mean;
    let draws = opts.posterior == "sample";
    let batcher = EpochBatcher::new(z.rows(), batch_size.min(z.rows()), c.seed)?;
    let tc = c.run.apply(TrainConfig {
        steps: c.steps,
        lr,
        seed: c.seed,
        batch_size,
        log_every: 10,
        schedule: crate::diffusion::lr_schedule(&a.diffusion),
        ..TrainConfig::default()
    });
    let report = Trainer::new(tc, &c.out)?.fit(&mut model, |t, rng| {
        let rows = batcher.indices(t);
        let z = match draws {
            true => post.draw(&rows, rng)?,
            false => z.select_rows(&rows)?,
        };
        // A conditional batch carries each row's label in its last column.
        match &labels {
            Some(l) => gen_gan::labelled_batch(&z, &rows.iter().map(|&i| l[i]).collect::<Vec<_>>()),
            None => Ok(z),
        }
    })?;
    let mut summary = json!({"model": a.model(), "data": a.data(), "backend": c.backend.name(),
        "config": config, "latent_dim": z.cols(), "steps": report.steps,
        "seconds": report.seconds, "ms_per_step": report.ms_per_step(),
        "final_loss": report.final_loss, "lr_schedule": crate::diffusion::lr_schedule(&a.diffusion), "vae_run": opts.vae_run,
        "latent_posterior": opts.posterior});
    // Sampling time per image: ancestral over all T steps and DDIM-50
    // (conditional: classes 0..K−1 in turn, w = 0).
    let n = 64;
    let classes = model.classes();
    let turn = |n: usize| -> Option<Vec<usize>> {
        classes.map(|k| (0..n).map(|i| i % k.max(1)).collect())
    };
    let draw = |n: usize, sampler: &SamplerOptions, seed: u64| -> Result<Matrix> {
        let mut rng = rng_from_seed(seed);
        match turn(n) {
            Some(l) => model.sample_guided(&l, 0.0, sampler, &mut rng),
            None => model.sample_with(n, sampler, &mut rng),
        }
    };
    let mut grid = None;
    for (name, sampler) in [
        ("ddpm", config.default_sampler()),
        (
            "ddim50",
            SamplerOptions {
                steps: Some(50.min(config.schedule.steps)),
                ..SamplerOptions::of(SamplerKind::Ddim)
            },
        ),
    ] {
        let start = std::time::Instant::now();
        let s = draw(n, &sampler, c.seed ^ 0x5eed)?;
        summary[format!("sample_{name}_ms_per_image")] =
            json!(1e3 * start.elapsed().as_secs_f64() / n as f64);
        grid.get_or_insert(s);
    }
    if let Some(s) = grid {
        output::grid_png(&output::clip_unit(&s)?, h, w, &c.out.join("samples.png"))?;
    }
    // Conditional: does a sample of class c look like a c to gen-eval's
    // classifier? 20 DDIM-50 samples per class at w = 0.
    if let (Some(k), Some(ext)) = (classes, gen_gan::eval::extractor_for(h)?.filter(|_| h == w)) {
        let per = 20;
        let sampler = SamplerOptions {
            steps: Some(50.min(config.schedule.steps)),
            ..SamplerOptions::of(SamplerKind::Ddim)
        };
        let s = output::clip_unit(&draw(k * per, &sampler, c.seed ^ 0xc1a55)?)?;
        let probs = ext.probabilities(&s)?;
        let hits = probs
            .iter_rows()
            .enumerate()
            .filter(|(i, r)| {
                let top = (0..r.len()).fold(0, |b, j| if r[j] > r[b] { j } else { b });
                top == i % k
            })
            .count();
        summary["class_accuracy"] = json!({"samples": k * per, "sampler": "ddim50 (η = 0), w = 0",
            "share_classified_as_asked": hits as f64 / (k * per) as f64,
            "classifier": format!("gen-eval's {h}x{w} extractor")});
    }
    // The bound on test images, in nats per image and bits per pixel.
    let rows = xt.rows().min(200);
    let xb = xt.select_rows(&(0..rows).collect::<Vec<_>>())?;
    let lp = model.log_prob_bound(&xb, 0)?;
    let nll = -lp.iter().sum::<f64>() / rows.max(1) as f64;
    summary["test_bound_nll"] = json!(nll);
    summary["test_bound_bits_per_dim"] = json!(nll / (xb.cols() as f64 * std::f64::consts::LN_2));
    summary["test_bound_rows"] = json!(rows);
    if classes.is_some() {
        summary["test_bound_model"] = json!("the null class (the unconditional model)");
    }
    output::loss_png(&report.losses, &c.out.join("loss.png"))?;
    gen_core::checkpoint::write_json_atomic(&c.out.join("summary.json"), &summary)?;
    Ok(summary)
}

/// A loaded latent DDPM run.
struct LoadedLatent {
    model: LatentDdpm,
    prep: Prep,
}

impl LoadedRun for LoadedLatent {
    fn capabilities(&self) -> Capabilities {
        latent::capabilities_row()
    }

    fn sample(&self, n: usize, opts: &SampleOptions, rng: &mut Rng) -> Result<Samples> {
        if opts.condition.is_some() && self.model.classes().is_none() {
            return Err(GenError::config(
                "--class",
                "given",
                "this latent DDPM is unconditional",
                "sample without --class, or train one with --conditional",
            ));
        }
        gen_core::Sample::sample(&self.model, n, opts, rng).map(Samples::Rows)
    }

    fn sample_guided(
        &self,
        n: usize,
        sampler: &SamplerOptions,
        class: Option<usize>,
        guidance: f64,
        rng: &mut Rng,
    ) -> Result<Samples> {
        let labels = crate::diffusion::guided_labels(n, class, self.model.classes());
        let opts = SamplerOptions {
            variance: self.model.ddpm().config().variance,
            ..*sampler
        };
        self.model
            .sample_guided(&labels, guidance, &opts, rng)
            .map(Samples::Rows)
    }

    fn classes(&self) -> Option<usize> {
        self.model.classes()
    }

    fn sample_diffusion(
        &self,
        n: usize,
        sampler: &SamplerOptions,
        rng: &mut Rng,
    ) -> Result<Samples> {
        let opts = SamplerOptions {
            variance: self.model.ddpm().config().variance,
            ..*sampler
        };
        self.model.sample_with(n, &opts, rng).map(Samples::Rows)
    }

    fn diffusion_steps(&self) -> Option<usize> {
        Some(self.model.ddpm().schedule().steps())
    }

    fn prepare(&self, d: Data) -> Result<Input> {
        let (raw, .., levels) = d.images(latent::NAME)?;
        Ok(Input::Rows(self.prep.evaluation(&raw, levels)?))
    }

    fn score(&self, x: &Input, opts: &ScoreOptions) -> Result<Scores> {
        if opts.estimator != ScoreEstimator::Default {
            opts.only_default(latent::NAME, "its bound (the default)")?;
        }
        let x = rows_of(x, latent::NAME)?;
        self.model.vae().check_input(x, "latent-ddpm score")?;
        Ok(Scores::bound(
            "vae-elbo-with-ddpm-prior",
            self.model.log_prob_bound(x, opts.seed)?,
        ))
    }

    fn encode(&self, x: &Matrix) -> Result<Vec<EncodingPart>> {
        let steps = self.model.ddpm().schedule().steps();
        Ok(vec![EncodingPart {
            key: "z_T",
            file_suffix: "",
            values: self.model.encode(x, steps)?,
            integer: false,
            description: "DDIM inversions z_T of the normalised VAE posterior means (all T steps)",
        }])
    }

    fn reconstruct(&self, x: &Matrix) -> Result<Matrix> {
        let steps = self.model.ddpm().schedule().steps();
        self.model.decode(&self.model.encode(x, steps)?, steps)
    }
}
