//! `genlab samplers`: one diffusion run's samplers side by side — the
//! step-count trade-off the DDIM paper's Table 1 measures. For every sampler
//! of the grid (ancestral DDPM over all T steps; DDIM at each `--steps` and
//! each `--etas` η; the probability-flow ODE with DPM-Solver++(2M) at each
//! `--ode-steps`) it draws the same number of samples from the same seed,
//! times them, and scores them against the test split of the run's data:
//!
//! - images: FID, precision, recall, density and coverage (k = 5) in
//!   gen-eval's extractor space (the extractor of the image size);
//! - 2-D toys with known modes (Gaussian mixtures, rings, two moons): modes
//!   covered and the high-quality share.
//!
//! A class-conditional run samples its classes in turn, at each
//! classifier-free guidance weight of `--guidance` (default w = 0, the
//! conditional model without guidance; a row per sampler and w). A run of another family has one
//! sampler, its own (`genlab sample`'s), scored and timed the same way, so
//! the table of a VAE or a flow sits next to a diffusion run's. `--floor`
//! adds `--n` training images scored the same way (what a perfect sampler
//! would reach at this sample count); `--merge` joins the rows of earlier
//! calls on the same run (a grid split over processes). `--against` adds
//! more runs on the same data, drawn with the same grid, seed and sample
//! count in the same process and scored against the same test images: one
//! table, and each run's best sampler set against the first run's (the FID
//! ratio and the speed-up, e.g. a latent DDPM against the pixel DDPM it
//! should beat on time). Writes `samplers.json`, `samplers.md` (the table)
//! and `samplers.png` (quality against ms per sample, one line per η and
//! run) in `--out`.
//!
//! ```text
//! genlab samplers --checkpoint runs/ddpm-digits --out runs/ddpm-digits/samplers
//!                 [--n 297] [--steps 10,20,50,100,1000] [--etas 0,0.5,1]
//!                 [--ode-steps 10,20 | --no-ode] [--no-ddpm] [--no-ddim] [--seed 0]
//!                 [--clipped-eps] [--floor] [--merge OTHER/samplers.json,...]
//!                 [--against OTHER-RUN,...] [--guidance 0,0.5,1]
//!                 [--chunk 100 [--shard i/k] [--chunk-dir DIR]]
//!                 [--ddim-variance eta|analytic|both [--analytic-rows 500]]
//!                 [--spacing trailing|leading|linspace|quadratic]
//! ```
//!
//! `--ddim-variance analytic` draws the DDIM rows with the analytic
//! variance of Bao et al. (2022) in place of σ_t(η)²
//! ([`gen_diffusion::sampler::sample_analytic`]); Γ_t = E‖ε̂‖²/D is
//! estimated once per run and step count (η does not enter it) on
//! `--analytic-rows` training rows, from a stream of the seed's own, so
//! every row, chunk and shard of that grid uses the same Γ_t.
//!
//! `--spacing` picks the timestep grid of the DDIM and ODE rows (default
//! trailing, as diffusers recommends; `quadratic` is the DDIM paper's
//! selection for its CIFAR-10 table, dense near the data). Rows on another
//! grid than trailing carry it in their name (`DDIM-50 η=1, quadratic`),
//! their `spacing` field and their chunk key; DDPM-T visits every step.
//!
//! Long grids (the issue's 2,000 samples of DDPM-1000 on a CPU) go in
//! chunks (`--chunk`, [`crate::sampler_chunks`]): each chunk is kept on
//! disk as it finishes, a rerun draws only what is missing, and `--shard
//! i/k` lets k processes (or sessions) share the draws before a last call
//! scores them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use gen_core::{GenError, Matrix, Result, rng_from_seed};
use gen_data::Toy2d;
use gen_diffusion::{SamplerKind, SamplerOptions, ScoreMoments, Spacing};
use gen_viz::chart::{Chart, Legend, Scale, Series};
use serde_json::{Value, json};

use crate::data::Data;
use crate::registry::{LoadedRun, Samples};
use crate::sampler_chunks::{Chunking, RowCache};
use crate::{families, print_json};

/// Options of `genlab samplers`.
#[derive(clap::Args, Debug)]
pub struct SamplersArgs {
    /// A run directory: a diffusion run (ddpm, latent-ddpm), or any other
    /// run of images or 2-D toy points (its own sampler only).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Where samplers.json, samplers.md and samplers.png go.
    #[arg(long)]
    out: PathBuf,
    /// Samples per sampler (default: as many as test rows, at most 2000).
    #[arg(long)]
    n: Option<usize>,
    /// DDIM step counts (those above the run's T are skipped).
    #[arg(long, value_delimiter = ',', default_value = "10,20,50,100,1000")]
    steps: Vec<usize>,
    /// DDIM η values, each in [0, 1].
    #[arg(long, value_delimiter = ',', default_value = "0,0.5,1")]
    etas: Vec<f64>,
    /// Probability-flow ODE (DPM-Solver++ 2M) step counts.
    #[arg(long = "ode-steps", value_delimiter = ',', default_value = "10,20")]
    ode_steps: Vec<usize>,
    /// Skip the probability-flow ODE.
    #[arg(long = "no-ode")]
    no_ode: bool,
    /// Skip ancestral DDPM over all T steps.
    #[arg(long = "no-ddpm")]
    no_ddpm: bool,
    /// Skip the DDIM rows (e.g. to run DDPM-T alone in another process).
    #[arg(long = "no-ddim")]
    no_ddim: bool,
    /// Add a row scoring `--n` training images (evenly spaced over the
    /// split) the same way: the floor a perfect sampler would reach at this
    /// sample count (images only).
    #[arg(long)]
    floor: bool,
    /// samplers.json files of earlier `genlab samplers` runs of the same
    /// checkpoint, seed and sample count: their rows join this run's table
    /// and figure (a grid split over processes, one per core).
    #[arg(long, value_delimiter = ',')]
    merge: Vec<PathBuf>,
    /// Seed of every sampler's draws (the same x_T for all).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// DDIM rows re-derive ε̂ from the clipped x̂₀ (GLIDE; diffusers'
    /// `use_clipped_model_output`) and ODE rows step on the clipped x̂₀
    /// (static thresholding), on runs that clip x̂₀ (images). Default: off,
    /// as diffusers.
    #[arg(long = "clipped-eps")]
    clipped_eps: bool,
    /// More run directories on the same data, each drawn with the same grid
    /// (or its own sampler), seed and sample count in this process and
    /// scored against the same test images; samplers.json's `comparison`
    /// and samplers.md set each run's best sampler against the first's.
    #[arg(long, value_delimiter = ',')]
    against: Vec<PathBuf>,
    /// Classifier-free guidance weights w ≥ 0 (Ho & Salimans) at which
    /// class-conditional runs draw every sampler (classes in turn);
    /// unconditional runs draw once.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0",
        allow_negative_numbers = true
    )]
    guidance: Vec<f64>,
    /// Draw each row in chunks of this many samples, each from its own
    /// seed and kept under `--out/chunks`: a killed call resumes where it
    /// stopped, and `--shard` splits a grid over processes (a multiple of
    /// the classes for a conditional run).
    #[arg(long)]
    chunk: Option<usize>,
    /// `i/k`: draw only the chunks j with j mod k = i and score nothing
    /// (needs --chunk); a last call without --shard scores the rows.
    #[arg(long)]
    shard: Option<String>,
    /// Where the chunks are kept (default: `--out/chunks`): a scoring call
    /// with another `--out` (e.g. a subset of the rows) reads the same ones.
    #[arg(long = "chunk-dir")]
    chunk_dir: Option<PathBuf>,
    /// The DDIM rows' variance: `eta` (DDIM's σ_t(η)²), `analytic` (Bao et
    /// al. 2022, Analytic-DPM: DDIM's mean with the variance that best
    /// matches the reverse process given Γ_t = E‖ε̂‖²/D, estimated per grid
    /// on `--analytic-rows` training rows; DDPM runs, w = 0), or `both`.
    #[arg(long = "ddim-variance", default_value = "eta",
          value_parser = clap::builder::PossibleValuesParser::new(["eta", "analytic", "both"]))]
    ddim_variance: String,
    /// Training rows (evenly spaced over the split) Γ_t is estimated on.
    #[arg(long = "analytic-rows", default_value_t = 500)]
    analytic_rows: usize,
    /// Draw on this backend instead of the one each run was trained on
    /// (e.g. a run trained on flex, sampled on a GPU with wgpu); the
    /// chunks record it.
    #[arg(long, value_parser = crate::choices::backend())]
    backend: Option<gen_core::Backend>,
    /// Timestep grid of the DDIM and ODE rows: trailing (diffusers'
    /// recommendation), leading, linspace, or quadratic (the DDIM paper's
    /// CIFAR-10 grid, ⌊c i²⌋ up to 0.8 T).
    #[arg(long, default_value = "trailing",
          value_parser = crate::choices::names::<Spacing>(&Spacing::NAMES))]
    spacing: Spacing,
}

/// One sampler of the grid.
struct Entry {
    name: String,
    kind: &'static str,
    steps: usize,
    eta: Option<f64>,
    /// None: the run's own sampler (`genlab sample`).
    opts: Option<SamplerOptions>,
    /// DDIM with the analytic variance (`--ddim-variance analytic`).
    analytic: bool,
}

impl Entry {
    /// The grid of a DDIM or ODE row (None for the others).
    fn spacing(&self) -> Option<Spacing> {
        self.opts
            .as_ref()
            .filter(|o| matches!(o.kind, SamplerKind::Ddim | SamplerKind::Ode))
            .map(|o| o.spacing)
    }
}

fn grid(a: &SamplersArgs, big_t: usize) -> Result<Vec<Entry>> {
    if let Some(eta) = a.etas.iter().find(|e| !(0.0..=1.0).contains(*e)) {
        return Err(GenError::config(
            "--etas",
            eta,
            "DDIM's η interpolates between deterministic DDIM (0) and DDPM's posterior variance (1)",
            "use values in [0, 1], e.g. --etas 0,0.5,1",
        ));
    }
    if let Some(s) = a.steps.iter().chain(&a.ode_steps).find(|s| **s == 0) {
        return Err(GenError::config(
            "--steps / --ode-steps",
            s,
            "a sampler takes at least one step",
            "use step counts between 1 and the run's T",
        ));
    }
    let mut out = Vec::new();
    if !a.no_ddpm {
        out.push(Entry {
            name: format!("DDPM-{big_t}"),
            kind: "ddpm",
            steps: big_t,
            eta: None,
            opts: Some(SamplerOptions::of(SamplerKind::Ddpm)),
            analytic: false,
        });
    }
    // Rows on another grid than the default say so in their name.
    let grid_tag = match a.spacing {
        Spacing::Trailing => String::new(),
        other => format!(", {}", other.name()),
    };
    let variances: &[bool] = match a.ddim_variance.as_str() {
        "analytic" => &[true],
        "both" => &[false, true],
        _ => &[false],
    };
    for &analytic in variances {
        for &eta in a.etas.iter().filter(|_| !a.no_ddim) {
            for &steps in a.steps.iter().filter(|s| **s <= big_t) {
                let tag = if analytic { ", analytic σ" } else { "" };
                out.push(Entry {
                    name: format!("DDIM-{steps} η={eta}{tag}{grid_tag}"),
                    kind: "ddim",
                    steps,
                    eta: Some(eta),
                    opts: Some(SamplerOptions {
                        steps: Some(steps),
                        eta,
                        clipped_eps: a.clipped_eps,
                        spacing: a.spacing,
                        ..SamplerOptions::of(SamplerKind::Ddim)
                    }),
                    analytic,
                });
            }
        }
    }
    for &steps in a.ode_steps.iter().filter(|s| **s <= big_t && !a.no_ode) {
        out.push(Entry {
            name: format!("ODE-{steps} (DPM-Solver++ 2M){grid_tag}"),
            kind: "ode",
            steps,
            eta: None,
            opts: Some(SamplerOptions {
                steps: Some(steps),
                clipped_eps: a.clipped_eps,
                spacing: a.spacing,
                ..SamplerOptions::of(SamplerKind::Ode)
            }),
            analytic: false,
        });
    }
    if out.is_empty() {
        return Err(if a.no_ddpm && a.no_ddim && a.no_ode {
            GenError::config(
                "--no-ddpm --no-ddim --no-ode",
                "all three",
                "no sampler is left to run",
                "drop one of them",
            )
        } else {
            GenError::config(
                "--steps",
                format!("{:?}", a.steps),
                format!("every step count exceeds the run's T = {big_t}"),
                format!("use step counts up to {big_t}"),
            )
        });
    }
    Ok(out)
}

/// How samples are scored: against test images in an extractor's space,
/// or against a toy's modes.
enum Judge {
    Images {
        test: Matrix,
        extractor: Box<gen_eval::Extractor>,
    },
    Modes(Toy2d),
}

impl Judge {
    fn of(data: &str) -> Result<(Self, usize)> {
        let test = crate::data::load(data, gen_data::Split::Test)?;
        match test {
            Data::Images {
                x, h, w, levels, ..
            } => {
                let extractor = gen_gan::eval::extractor_for(h)?
                    .filter(|_| h == w)
                    .ok_or_else(|| {
                        GenError::config(
                            "run data",
                            format!("{h}x{w} images"),
                            "gen-eval has feature extractors for 8x8 (digits) and 28x28 (mnist5k) images only",
                            "compare samplers of a digits or mnist5k run",
                        )
                    })?;
                let test = gen_data::transforms::scale_unit(&x, levels)?;
                let n = test.rows();
                let extractor = Box::new(extractor);
                Ok((Self::Images { test, extractor }, n))
            }
            Data::Points { toy: Some(t), x } if crate::data::has_modes(t) => {
                Ok((Self::Modes(t), x.rows()))
            }
            _ => Err(toy_error(data)),
        }
    }

    fn score(&self, s: &Matrix) -> Result<Value> {
        match self {
            // Pixel samples clipped to [0, 1], as the tour and `genlab eval`
            // score them (a flow's inverse logit can overshoot slightly).
            Self::Images { test, extractor } => Ok(json!(gen_gan::eval::image_quality(
                &crate::output::clip_unit(s)?,
                test,
                extractor
            )?)),
            Self::Modes(t) => {
                let m = crate::data::toy_coverage(*t, s)?.ok_or_else(|| toy_error(t.name()))?;
                Ok(json!({"modes_covered": m.modes_covered, "modes": m.modes,
                    "high_quality_fraction": m.high_quality_fraction}))
            }
        }
    }

    /// The headline quality number and its name (lower is better for FID).
    fn headline(&self) -> (&'static str, &'static str) {
        match self {
            Self::Images { .. } => ("fid", "FID"),
            Self::Modes(_) => ("high_quality_fraction", "high-quality share"),
        }
    }
}

fn toy_error(data: &str) -> GenError {
    GenError::config(
        "run data",
        data,
        "samplers are judged on images (FID, PRDC) or on 2-D toys with known modes (Gaussian mixtures, rings, two moons)",
        "compare samplers of a digits, mnist5k, eight-gaussians, twenty-five-gaussians, rings or two-moons run",
    )
}

/// One run of the table: its directory, label and loaded model.
struct Run {
    dir: PathBuf,
    label: String,
    model: String,
    /// The backend it draws on (None: not a burn model).
    backend: Option<String>,
    loaded: Box<dyn LoadedRun>,
}

/// The run's samplers: the grid for a diffusion run, its own sampler
/// otherwise; none when this call only merges or scores the floor.
fn entries_of(a: &SamplersArgs, run: &dyn LoadedRun, model: &str) -> Result<Vec<Entry>> {
    Ok(match run.diffusion_steps() {
        // Merging or the floor alone (every sampler skipped) writes the table.
        Some(_) if (!a.merge.is_empty() || a.floor) && a.no_ddpm && a.no_ddim && a.no_ode => {
            Vec::new()
        }
        Some(big_t) => grid(a, big_t)?,
        None => vec![Entry {
            name: format!("{model} (its own sampler)"),
            kind: "model",
            steps: 1,
            eta: None,
            opts: None,
            analytic: false,
        }],
    })
}

/// The runs of this call: `--checkpoint`, then `--against`, all on one data set.
fn load_runs(a: &SamplersArgs) -> Result<(String, Vec<Run>)> {
    let mut data = None::<String>;
    let mut runs = Vec::new();
    for dir in std::iter::once(&a.checkpoint).chain(&a.against) {
        let (meta, loaded) = families::load_on(dir, a.backend)?;
        let model = loaded.capabilities().model.to_string();
        match &data {
            Some(d) if *d != meta.data => {
                return Err(GenError::config(
                    "--against",
                    dir.display(),
                    format!(
                        "runs compared in one table share their test images; this run is on {}, {} on {d}",
                        meta.data,
                        a.checkpoint.display()
                    ),
                    format!("compare runs trained on {d}"),
                ));
            }
            Some(_) => {}
            None => data = Some(meta.data.clone()),
        }
        let name = dir
            .file_name()
            .map_or_else(|| dir.display().to_string(), |f| f.to_string_lossy().into());
        // Runs in folders of the same name stay apart by their place in the call.
        let mut label = format!("{model} ({name})");
        if runs.iter().any(|r: &Run| r.label == label) {
            label = format!("{model} ({name}, run {})", runs.len() + 1);
        }
        let backend = meta
            .options
            .get("backend")
            .and_then(|v| v.as_str())
            .map(String::from);
        runs.push(Run {
            dir: dir.clone(),
            label,
            model,
            backend,
            loaded,
        });
    }
    let data = data.ok_or_else(|| GenError::Other("no run to compare".into()))?;
    Ok((data, runs))
}

/// `genlab samplers`.
pub fn run(a: SamplersArgs) -> Result<()> {
    let (data, runs) = load_runs(&a)?;
    let model = runs[0].model.clone();
    let entries = runs
        .iter()
        .map(|r| entries_of(&a, &*r.loaded, &r.model))
        .collect::<Result<Vec<_>>>()?;
    let weights = guidance_weights(&a, &runs)?;
    if a.ddim_variance != "eta"
        && let Some(w) = weights.iter().find(|w| **w != 0.0)
    {
        return Err(GenError::config(
            "--ddim-variance",
            format!("{} with --guidance {w}", a.ddim_variance),
            "the analytic variance is derived for the model's own ε̂, not a guided ε̃",
            "use --guidance 0 with it, or --ddim-variance eta",
        ));
    }
    let (judge, test_rows) = Judge::of(&data)?;
    let n = a.n.unwrap_or(test_rows.min(2000));
    if n < 2 {
        return Err(GenError::config(
            "--n",
            n,
            "quality metrics need at least 2 samples",
            "use --n 500 or more for stable FID",
        ));
    }
    let chunking = Chunking::of(a.chunk, a.shard.as_deref())?;
    if let Some(c) = &chunking {
        for r in &runs {
            c.check_classes(r.loaded.classes())?;
        }
        if c.shard.is_some() && (a.floor || !a.merge.is_empty()) {
            return Err(GenError::config(
                "--shard",
                a.shard.as_deref().unwrap_or(""),
                "a shard only draws its chunks; the floor and merged rows belong to the scoring call",
                "give --floor / --merge to the last call, the one without --shard",
            ));
        }
    }
    let mut rows = merged_rows(&a, &data, &model, n)?;
    for r in &mut rows {
        if r.get("run").is_none() {
            r["run"] = json!(runs[0].label);
        }
    }
    std::fs::create_dir_all(&a.out).map_err(|e| GenError::io(&a.out, e))?;
    if a.floor {
        let Judge::Images { .. } = judge else {
            return Err(GenError::config(
                "--floor",
                &data,
                "the floor row scores training images; toys are judged by their modes",
                "drop --floor on a 2-D run",
            ));
        };
        let train = crate::data::load(&data, gen_data::Split::Train)?;
        let (x, _, _, levels) = train.images("--floor")?;
        if n > x.rows() {
            return Err(GenError::config(
                "--n",
                n,
                format!(
                    "--floor needs n training images and the split has {}",
                    x.rows()
                ),
                format!("use --n {} or fewer with --floor", x.rows()),
            ));
        }
        let picked: Vec<usize> = (0..n).map(|i| i * x.rows() / n).collect();
        let s = gen_data::transforms::scale_unit(&x.select_rows(&picked)?, levels)?;
        let mut row = judge.score(&s)?;
        row["sampler"] = json!("training images (floor)");
        row["kind"] = json!("data");
        row["steps"] = json!(0);
        row["eta"] = json!(null);
        row["samples"] = json!(n);
        row["seconds"] = json!(0.0);
        row["ms_per_sample"] = json!(null);
        rows.push(row);
    }
    // A conditional run's samplers at every w; another's once (w: None).
    let weights_of = |run: &Run, e: &Entry| -> Vec<Option<f64>> {
        match (run.loaded.classes(), &e.opts) {
            (Some(_), Some(_)) => weights.iter().copied().map(Some).collect(),
            _ => vec![None],
        }
    };
    let total: usize = runs
        .iter()
        .zip(&entries)
        .map(|(run, es)| es.iter().map(|e| weights_of(run, e).len()).sum::<usize>())
        .sum();
    let mut cmp = json!([]);
    let sharded = chunking.is_some_and(|c| c.shard.is_some());
    let mut shard_rows = Vec::new();
    if total == 0 && !sharded {
        cmp = write_outputs(&a, &data, &model, &judge, &rows)?;
    }
    let mut done = 0;
    // Γ_t depends on the run and the grid, not on η: one estimate per
    // (run, steps), made only when a chunk is still to be drawn.
    let moments_of: std::cell::RefCell<HashMap<(String, usize), Rc<ScoreMoments>>> =
        Default::default();
    // Rows name their w when the call asks for more than w = 0.
    let name_w = weights != [0.0];
    for (run, entries) in runs.iter().zip(&entries) {
        for e in entries {
            for w in weights_of(run, e) {
                done += 1;
                let who = match runs.len() {
                    1 => String::new(),
                    _ => format!("{}: ", run.label),
                };
                let name = match (w, name_w) {
                    (Some(w), true) => format!("{} w={w}", e.name),
                    _ => e.name.clone(),
                };
                eprintln!("[{done}/{total}] {who}{name} ({n} samples)");
                let guidance = w.unwrap_or(0.0);
                let grid_key = (run.label.clone(), e.steps);
                let draw_n = |rows: usize, seed: u64| match (&e.opts, e.analytic) {
                    (Some(opts), true) => {
                        let known = moments_of.borrow().get(&grid_key).cloned();
                        let m = match known {
                            Some(m) => m,
                            None => {
                                let m = Rc::new(analytic_moments(&a, &data, run, opts)?);
                                moments_of.borrow_mut().insert(grid_key.clone(), m.clone());
                                m
                            }
                        };
                        draw_analytic(&*run.loaded, rows, opts, &m, seed)
                    }
                    _ => draw(&*run.loaded, rows, e.opts.as_ref(), guidance, seed),
                };
                let (s, seconds, chunks) = match &chunking {
                    None => {
                        let start = Instant::now();
                        let s = draw_n(n, a.seed)?;
                        (s, start.elapsed().as_secs_f64(), None)
                    }
                    Some(c) => {
                        let cache = row_cache(&a, run, e, w, c)?;
                        let r = cache.draw(c, n, a.seed, &name, draw_n)?;
                        match r.samples {
                            Some(s) if !sharded => (s, r.seconds, Some((r.total, r.cpu_seconds))),
                            _ => {
                                shard_rows.push(json!({"run": run.label, "sampler": name,
                                    "chunks_done": r.done, "chunks": r.total,
                                    "drawn_now": r.drawn, "seconds": r.seconds,
                                    "cpu_seconds": r.cpu_seconds}));
                                continue;
                            }
                        }
                    }
                };
                let mut row = judge.score(&s)?;
                row["sampler"] = json!(name);
                row["kind"] = json!(e.kind);
                row["steps"] = json!(e.steps);
                row["eta"] = json!(e.eta);
                row["guidance"] = json!(w);
                row["samples"] = json!(n);
                row["run"] = json!(run.label);
                row["checkpoint"] = json!(run.dir);
                row["backend"] = json!(run.backend);
                if let Some(spacing) = e.spacing() {
                    row["spacing"] = json!(spacing.name());
                }
                if e.analytic {
                    row["ddim_variance"] = json!("analytic");
                    row["analytic_rows"] = json!(a.analytic_rows);
                    if let Some(m) = moments_of.borrow().get(&grid_key) {
                        row["analytic_gamma"] = json!(m.gamma);
                    }
                }
                if e.kind == "ddim" || e.kind == "ode" {
                    // Guided samplers step on the clipped x̂₀ (Ddpm::sample_guided).
                    let clipped = a.clipped_eps || w.is_some_and(|w| w > 0.0);
                    row["clipped_eps"] = json!(clipped && run.loaded.clips_x0());
                }
                row["seconds"] = json!(seconds);
                row["ms_per_sample"] = json!(1e3 * seconds / n as f64);
                if let Some((k, cpu)) = chunks {
                    row["chunks"] = json!(k);
                    row["cpu_seconds"] = json!(cpu);
                    // The draws' CPU time is their cost whatever shared the
                    // cores, on a CPU backend; a GPU's driver thread's is not.
                    let on_cpu = matches!(run.backend.as_deref(), Some("flex" | "ndarray"));
                    row["cpu_ms_per_sample"] =
                        json!(cpu.filter(|_| on_cpu).map(|c| 1e3 * c / n as f64));
                }
                rows.push(row);
                // Partial results survive an interruption.
                cmp = write_outputs(&a, &data, &model, &judge, &rows)?;
            }
        }
    }
    if sharded {
        // The scoring call (the same arguments without --shard) reads these.
        return print_json(&json!({"model": model, "data": data, "shard": a.shard,
            "chunk": a.chunk, "n": n, "rows": shard_rows}));
    }
    print_json(&json!({"model": model, "data": data, "samplers": rows,
        "ddim_clipped_eps": a.clipped_eps, "comparison": cmp}))
}

/// The chunk folder of one row: keyed by the run's latest checkpoint and
/// everything the draw depends on.
fn row_cache(
    a: &SamplersArgs,
    run: &Run,
    e: &Entry,
    w: Option<f64>,
    c: &Chunking,
) -> Result<RowCache> {
    let model_dir = crate::run::latest_model_dir(&run.dir)?;
    let model_dir = std::fs::canonicalize(&model_dir).unwrap_or(model_dir);
    // Only DDIM and the ODE read the flag; ancestral draws are the same with or without it.
    let clipped = a.clipped_eps && (e.kind == "ddim" || e.kind == "ode");
    let mut key = json!({"model_dir": model_dir, "sampler": e.name, "kind": e.kind,
        "steps": e.steps, "eta": e.eta, "guidance": w, "clipped_eps": clipped,
        "seed": a.seed, "chunk": c.size, "backend": a.backend.map(|b| b.name())});
    if e.analytic {
        key["analytic_rows"] = json!(a.analytic_rows);
    }
    // Trailing rows keep the key they had before grids were a choice.
    if let Some(spacing) = e.spacing().filter(|s| *s != Spacing::Trailing) {
        key["spacing"] = json!(spacing.name());
    }
    let who = match a.against.is_empty() {
        true => String::new(),
        false => format!("{} ", run.label),
    };
    let dir = a.chunk_dir.clone().unwrap_or_else(|| a.out.join("chunks"));
    RowCache::new(&dir, &format!("{who}{}", e.name), &key)
}

/// The distinct runs of the rows, in order of appearance (the floor row has none).
fn run_labels(rows: &[Value]) -> Vec<&str> {
    let mut labels: Vec<&str> = Vec::new();
    for l in rows.iter().filter_map(|r| r["run"].as_str()) {
        if !labels.contains(&l) {
            labels.push(l);
        }
    }
    labels
}

/// Each run's best row (lowest FID; highest high-quality share on toys)
/// against the first run's best: the quality ratio (this ÷ first) and the
/// speed-up (first's ms per sample ÷ this one's). Empty for one run.
fn comparison(judge: &Judge, rows: &[Value]) -> Value {
    let labels = run_labels(rows);
    if labels.len() < 2 {
        return json!([]);
    }
    let (key, _) = judge.headline();
    let lower_is_better = key == "fid";
    let best = |label: &str| {
        rows.iter()
            .filter(|r| r["run"] == label && r["ms_per_sample"].is_number())
            .filter_map(|r| Some((r, r[key].as_f64().filter(|v| v.is_finite())?)))
            .min_by(|(_, x), (_, y)| match lower_is_better {
                true => x.total_cmp(y),
                false => y.total_cmp(x),
            })
    };
    let Some((first, q0)) = best(labels[0]) else {
        return json!([]);
    };
    let ms0 = first["ms_per_sample"].as_f64().unwrap_or(f64::NAN);
    let out: Vec<Value> = labels
        .iter()
        .filter_map(|l| {
            let (r, q) = best(l)?;
            let ms = r["ms_per_sample"].as_f64()?;
            Some(
                json!({"run": l, "sampler": r["sampler"], key: q, "ms_per_sample": ms,
                "ratio_to_first": q / q0, "speedup_over_first": ms0 / ms}),
            )
        })
        .collect();
    json!(out)
}

/// The rows of the `--merge` files, checked to come from the same run,
/// seed and sample count as this call.
fn merged_rows(a: &SamplersArgs, data: &str, model: &str, n: usize) -> Result<Vec<Value>> {
    let same_run = |p: &Path| {
        let canon = |q: &Path| std::fs::canonicalize(q).unwrap_or_else(|_| q.to_path_buf());
        canon(p) == canon(&a.checkpoint)
    };
    let mut rows = Vec::new();
    for file in &a.merge {
        let text = std::fs::read_to_string(file).map_err(|e| GenError::io(file, e))?;
        let bad = |problem: String| GenError::Format {
            path: file.clone(),
            problem,
            fix: format!(
                "merge the samplers.json of a `genlab samplers --checkpoint {} --seed {} --n {n}` call",
                a.checkpoint.display(),
                a.seed
            ),
        };
        let v: Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("not a samplers.json ({e})")))?;
        let checkpoint = v["checkpoint"].as_str().map(PathBuf::from);
        if v["data"] != data || v["model"] != model || !checkpoint.is_some_and(|c| same_run(&c)) {
            return Err(bad(format!(
                "its rows are of {} ({} on {}), not of {}",
                v["checkpoint"],
                v["model"],
                v["data"],
                a.checkpoint.display()
            )));
        }
        if v["seed"].as_u64() != Some(a.seed) {
            return Err(bad(format!(
                "seed {} where this call uses {}",
                v["seed"], a.seed
            )));
        }
        let Some(those) = v["samplers"].as_array() else {
            return Err(bad("no samplers array".into()));
        };
        for r in those {
            if r["samples"].as_u64() != Some(n as u64) {
                return Err(bad(format!(
                    "row {} has {} samples where this call draws {n}",
                    r["sampler"], r["samples"]
                )));
            }
            // Rows written before DDIM rows carried it.
            let mut r = r.clone();
            if r["kind"] == "ddim" && r.get("clipped_eps").is_none() {
                r["clipped_eps"] = v["ddim_clipped_eps"].clone();
            }
            rows.push(r);
        }
    }
    Ok(rows)
}

/// The `--guidance` weights, checked: each w ≥ 0 and finite, and w ≠ 0
/// only when some run of the call is class-conditional.
fn guidance_weights(a: &SamplersArgs, runs: &[Run]) -> Result<Vec<f64>> {
    if let Some(w) = a.guidance.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
        return Err(GenError::config(
            "--guidance",
            w,
            "guidance weights are Ho & Salimans' w ≥ 0 (0: the conditional model alone)",
            "use e.g. --guidance 0,0.5,1",
        ));
    }
    if a.guidance.iter().any(|w| *w != 0.0) && runs.iter().all(|r| r.loaded.classes().is_none()) {
        return Err(GenError::config(
            "--guidance",
            format!("{:?}", a.guidance),
            "no run of this call is class-conditional: classifier-free guidance needs one",
            "drop --guidance, or compare a run trained with --conditional",
        ));
    }
    let mut w = a.guidance.clone();
    w.dedup();
    Ok(match w.is_empty() {
        true => vec![0.0],
        false => w,
    })
}

/// Γ_t of DDIM's analytic variance for `opts`'s grid over `--analytic-rows`
/// training rows, from a stream of its own (the seed's), so that every
/// chunk and shard of a row uses the same Γ_t.
fn analytic_moments(
    a: &SamplersArgs,
    data: &str,
    run: &Run,
    opts: &SamplerOptions,
) -> Result<ScoreMoments> {
    let train = crate::data::load(data, gen_data::Split::Train)?;
    let mut rng = rng_from_seed(a.seed ^ 0x616e_616c_7974_6963);
    let start = Instant::now();
    let m = run
        .loaded
        .score_moments(train, a.analytic_rows, opts, &mut rng)?;
    eprintln!(
        "  Γ_t over {} training rows at {} steps in {:.1} s",
        m.rows,
        m.steps.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(m)
}

fn draw_analytic(
    run: &dyn LoadedRun,
    n: usize,
    opts: &SamplerOptions,
    moments: &ScoreMoments,
    seed: u64,
) -> Result<Matrix> {
    let mut rng = rng_from_seed(seed);
    match run.sample_analytic(n, opts, moments, &mut rng)? {
        Samples::Rows(m) => Ok(m),
        Samples::Strings(_) => Err(GenError::input(
            "samples",
            "strings",
            "samplers compare numeric samples",
        )),
    }
}

fn draw(
    run: &dyn LoadedRun,
    n: usize,
    opts: Option<&SamplerOptions>,
    guidance: f64,
    seed: u64,
) -> Result<Matrix> {
    let mut rng = rng_from_seed(seed);
    let s = match (opts, run.classes()) {
        (None, _) => run.sample(n, &gen_core::SampleOptions::default(), &mut rng)?,
        (Some(opts), Some(_)) => run.sample_guided(n, opts, None, guidance, &mut rng)?,
        (Some(opts), None) => run.sample_diffusion(n, opts, &mut rng)?,
    };
    match s {
        Samples::Rows(m) => Ok(m),
        Samples::Strings(_) => Err(GenError::input(
            "samples",
            "strings",
            "samplers compare numeric samples",
        )),
    }
}

/// Writes samplers.json, samplers.md and samplers.png of `rows`; returns
/// the runs' comparison.
fn write_outputs(
    a: &SamplersArgs,
    data: &str,
    model: &str,
    judge: &Judge,
    rows: &[Value],
) -> Result<Value> {
    let cmp = comparison(judge, rows);
    let table = markdown(data, model, judge, rows, &cmp);
    let summary = json!({"model": model, "data": data, "checkpoint": a.checkpoint,
        "against": a.against, "seed": a.seed, "samplers": rows,
        "ddim_clipped_eps": a.clipped_eps, "comparison": cmp,
        "guidance": a.guidance,
        "conditional": "class-conditional runs sample classes 0..K-1 in turn at each guidance weight w"});
    gen_core::checkpoint::write_json_atomic(&a.out.join("samplers.json"), &summary)?;
    gen_core::checkpoint::write_atomic(&a.out.join("samplers.md"), table.as_bytes())?;
    chart(judge, rows, &a.out.join("samplers.png"))?;
    Ok(cmp)
}

fn num2(v: &Value, key: &str) -> String {
    v[key].as_f64().map_or("–".into(), |x| format!("{x:.2}"))
}

fn num(v: &Value, key: &str) -> String {
    v[key].as_f64().map_or("–".into(), |x| format!("{x:.3}"))
}

/// A row's sampler, marked when it stepped on the clipped x̂₀ (merged
/// tables can hold both kinds), after its run's label in a table of
/// several runs.
fn row_name(r: &Value, several_runs: bool) -> String {
    let name = r["sampler"].as_str().unwrap_or("");
    let name = if r["clipped_eps"] == true {
        format!("{name}, clipped x̂₀")
    } else {
        name.to_string()
    };
    match (several_runs, r["run"].as_str()) {
        (true, Some(run)) => format!("{run}: {name}"),
        _ => name,
    }
}

fn markdown(data: &str, model: &str, judge: &Judge, rows: &[Value], cmp: &Value) -> String {
    let runs = run_labels(rows).len();
    let several = runs > 1;
    let mut s = match several {
        true => format!("# Samplers of {runs} runs on {data}\n\n"),
        false => format!("# Samplers of a {model} run on {data}\n\n"),
    };
    // Timings mean little without the device they were taken on.
    let mut backends: Vec<&str> = Vec::new();
    for b in rows.iter().filter_map(|r| r["backend"].as_str()) {
        if !backends.contains(&b) {
            backends.push(b);
        }
    }
    if !backends.is_empty() {
        s.push_str(&format!(
            "Drawn on {}; ms / sample is wall time there.\n\n",
            backends.join(", ")
        ));
    }
    // Chunked draws also know their CPU time: one more column.
    let cpu = rows.iter().any(|r| r["cpu_ms_per_sample"].is_number());
    let (cpu_head, cpu_rule) = match cpu {
        true => (" CPU ms / sample |", "---:|"),
        false => ("", ""),
    };
    let cpu_ms = |r: &Value| match cpu {
        true => format!(" {} |", num2(r, "cpu_ms_per_sample")),
        false => String::new(),
    };
    match judge {
        Judge::Images { .. } => {
            s.push_str(&format!("| sampler | steps | η | FID | precision | recall | density | coverage | ms / sample |{cpu_head}\n|---|---:|---:|---:|---:|---:|---:|---:|---:|{cpu_rule}\n"));
            for r in rows {
                let cpu_ms = cpu_ms(r);
                s.push_str(&format!(
                    "| {} | {} | {} | {:.2} | {} | {} | {} | {} | {} |{cpu_ms}\n",
                    row_name(r, several),
                    r["steps"],
                    r["eta"].as_f64().map_or("–".into(), |e| e.to_string()),
                    r["fid"].as_f64().unwrap_or(f64::NAN),
                    num(r, "precision"),
                    num(r, "recall"),
                    num(r, "density"),
                    num(r, "coverage"),
                    r["ms_per_sample"]
                        .as_f64()
                        .map_or("–".into(), |m| format!("{m:.2}"))
                ));
            }
        }
        Judge::Modes(_) => {
            s.push_str(&format!("| sampler | steps | η | modes covered | high-quality share | ms / sample |{cpu_head}\n|---|---:|---:|---:|---:|---:|{cpu_rule}\n"));
            for r in rows {
                let cpu_ms = cpu_ms(r);
                s.push_str(&format!(
                    "| {} | {} | {} | {}/{} | {} | {} |{cpu_ms}\n",
                    row_name(r, several),
                    r["steps"],
                    r["eta"].as_f64().map_or("–".into(), |e| e.to_string()),
                    r["modes_covered"],
                    r["modes"],
                    num(r, "high_quality_fraction"),
                    r["ms_per_sample"]
                        .as_f64()
                        .map_or("–".into(), |m| format!("{m:.2}"))
                ));
            }
        }
    }
    if let Some(cmp) = cmp.as_array().filter(|c| !c.is_empty()) {
        let (key, label) = judge.headline();
        s.push_str(&format!(
            "\n## Each run's best sampler against the first run's\n\n\
             | run | best sampler | {label} | ms / sample | {label} ÷ first's | speed-up |\n\
             |---|---|---:|---:|---:|---:|\n"
        ));
        for c in cmp {
            s.push_str(&format!(
                "| {} | {} | {} | {:.2} | {:.3} | {:.1}× |\n",
                c["run"].as_str().unwrap_or(""),
                c["sampler"].as_str().unwrap_or(""),
                num(c, key),
                c["ms_per_sample"].as_f64().unwrap_or(f64::NAN),
                c["ratio_to_first"].as_f64().unwrap_or(f64::NAN),
                c["speedup_over_first"].as_f64().unwrap_or(f64::NAN),
            ));
        }
    }
    s
}

/// The time axis of the chart: CPU ms per sample when every timed row
/// has it (chunked draws: their cost whatever else shared the cores), wall
/// ms per sample otherwise.
fn timing_key(rows: &[Value]) -> (&'static str, &'static str) {
    let timed = rows.iter().filter(|r| r["ms_per_sample"].is_number());
    let mut cpu = timed.clone().filter(|r| r["cpu_ms_per_sample"].is_number());
    match cpu.next().is_some() && timed.count() == 1 + cpu.count() {
        true => ("cpu_ms_per_sample", "CPU ms per sample (log)"),
        false => ("ms_per_sample", "ms per sample (log)"),
    }
}

/// Quality against ms per sample: one line per DDIM η (over its step
/// counts), the ODE sampler as a line, ancestral DDPM as a point.
fn chart(judge: &Judge, rows: &[Value], path: &Path) -> Result<()> {
    let (key, label) = judge.headline();
    let (time, time_label) = timing_key(rows);
    let points = |keep: &dyn Fn(&Value) -> bool| -> Vec<(f64, f64)> {
        rows.iter()
            .filter(|r| keep(r))
            .filter_map(|r| Some((r[time].as_f64()?, r[key].as_f64()?)))
            .collect()
    };
    let mut etas: Vec<f64> = rows.iter().filter_map(|r| r["eta"].as_f64()).collect();
    etas.sort_by(f64::total_cmp);
    etas.dedup();
    let labels = run_labels(rows);
    // The grids of the DDIM and ODE rows (rows from before the choice: trailing).
    let grid_of = |r: &Value| r["spacing"].as_str().unwrap_or("trailing").to_string();
    let mut grids: Vec<String> = Vec::new();
    for g in rows
        .iter()
        .filter(|r| r["kind"] == "ddim" || r["kind"] == "ode")
        .map(grid_of)
    {
        if !grids.contains(&g) {
            grids.push(g);
        }
    }
    // A line per run and guidance weight (w: null for unconditional rows).
    let mut groups: Vec<(&str, Value)> = Vec::new();
    for r in rows {
        if let Some(run) = r["run"].as_str() {
            let w = r.get("guidance").cloned().unwrap_or(Value::Null);
            if !groups.iter().any(|(l, g)| *l == run && *g == w) {
                groups.push((run, w));
            }
        }
    }
    let weighted = groups
        .iter()
        .any(|(_, w)| w.as_f64().is_some_and(|w| w != 0.0));
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for (run, w) in &groups {
        let prefix = match (labels.len(), weighted, w.as_f64()) {
            (1, false, _) | (1, true, None) => String::new(),
            (1, true, Some(w)) => format!("w={w}: "),
            (_, true, Some(w)) => format!("{run}, w={w}: "),
            _ => format!("{run}: "),
        };
        let mine =
            |r: &Value| r["run"] == *run && r.get("guidance").cloned().unwrap_or(Value::Null) == *w;
        // Analytic-variance rows, and rows on other grids, are their own
        // lines beside σ_t(η)²'s on the trailing grid.
        for g in &grids {
            let on = |r: &Value| grid_of(r) == *g;
            let grid_tag = match g.as_str() {
                "trailing" => String::new(),
                other => format!(", {other} grid"),
            };
            for (analytic, tag) in [(false, ""), (true, ", analytic σ")] {
                for &eta in &etas {
                    let keep = |r: &Value| {
                        mine(r)
                            && on(r)
                            && r["kind"] == "ddim"
                            && r["eta"].as_f64() == Some(eta)
                            && (r["ddim_variance"] == "analytic") == analytic
                    };
                    let name = format!("{prefix}DDIM η = {eta}{tag}{grid_tag}");
                    series.push((name, points(&keep)));
                }
            }
            series.push((
                format!("{prefix}probability-flow ODE{grid_tag}"),
                points(&|r: &Value| {
                    mine(r) && on(r) && r["kind"] == "ode" && r["clipped_eps"] != true
                }),
            ));
            series.push((
                format!("{prefix}probability-flow ODE, clipped x̂₀{grid_tag}"),
                points(&|r: &Value| {
                    mine(r) && on(r) && r["kind"] == "ode" && r["clipped_eps"] == true
                }),
            ));
        }
        series.push((
            format!("{prefix}ancestral DDPM"),
            points(&|r: &Value| mine(r) && r["kind"] == "ddpm"),
        ));
        series.push((
            format!("{prefix}the model's sampler"),
            points(&|r: &Value| mine(r) && r["kind"] == "model"),
        ));
    }
    let mut chart = Chart::new(format!("{label} against sampling time"))
        .x_label(time_label)
        .y_label(label)
        .x_scale(Scale::Log)
        // Beside the plot: a point at the largest FID would sit under it.
        .legend(Legend::Outside);
    let palette = gen_viz::PALETTE;
    for (k, (name, pts)) in series
        .into_iter()
        .filter(|(_, p)| !p.is_empty())
        .enumerate()
    {
        // Past the palette the colours come round again with a dashed (then
        // thin) line, each point still marked (an unnamed dot series).
        let color = palette[k % palette.len()];
        let (line, dots) = match (k / palette.len()) % 3 {
            0 => (Series::line_points(name, pts.clone()), None),
            1 => (Series::dashed(name, pts.clone()), Some(3.0)),
            _ => (Series::line(name, pts.clone()).size(1.0), Some(4.5)),
        };
        chart = chart.series(line.color(color));
        if let Some(r) = dots {
            chart = chart.series(Series::points("", pts).size(r).color(color));
        }
    }
    chart.figure(820, 380).save_png(path)
}
