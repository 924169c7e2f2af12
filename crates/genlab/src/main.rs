//! `genlab`: train, sample, score and compare generative models from the command line.
//!
//! The commands are thin glue over [`registry`]: each family registers its
//! models, trains them from the parsed arguments and loads their run
//! directories; model knowledge (presets, evaluation protocols) lives in the
//! family crates.

mod autoregressive;
mod choices;
mod classical;
mod config;
mod data;
mod diffusion;
mod distributed;
mod eval;
mod export;
mod families;
mod flow;
mod gan;
mod gan_image;
mod infer;
mod km;
mod latent_diffusion;
mod ngram;
mod output;
mod registry;
mod run;
mod sample;
mod sampler_chunks;
mod samplers;
mod text;
mod tour;
mod vae;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use gen_core::{Backend, GenError, Result, ScoreEstimator, ScoreOptions, capability_table};

/// Train, sample, score and compare generative models on one backend-generic stack.
#[derive(Parser, Debug)]
#[command(name = "genlab", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the embedded data sets with sizes and provenance.
    Datasets,
    /// Print the capability table: how every model supports sample, score, infer, learn.
    Models {
        /// Print JSON instead of a Markdown table.
        #[arg(long)]
        json: bool,
    },
    /// Train a model; the output directory holds checkpoints, summary.json and pictures.
    Train(Box<TrainArgs>),
    /// Draw samples from a trained run.
    Sample(sample::SampleArgs),
    /// Score data under a trained run: per-row log-densities that say what they are.
    Score(ScoreArgs),
    /// Compare two samples with a metric (fid, kid, mmd, prdc, energy, wasserstein, swd,
    /// c2st, authenticity, copying, is); prints one JSON object.
    Eval(eval::EvalArgs),
    /// The Kleinberg–Mullainathan generation game.
    #[command(subcommand)]
    Km(km::KmCommand),
    /// Latent codes of rows: exact z = f⁻¹(x) (flows), posterior means and
    /// log-variances of q(z|x) (VAEs), code indices and z_q (VQ-VAE).
    Encode(infer::InferArgs),
    /// Reconstruct rows through the latent space (.npy or .png grid).
    Reconstruct(infer::InferArgs),
    /// Decode the latent segment between two rows (.png grid).
    Interpolate(infer::InferArgs),
    /// Write a run's newest checkpoint (model weights) as a safetensors file
    /// for Python; prints the tensor names and shapes as JSON.
    Export(export::ExportArgs),
    /// The main job: train one model of every family on embedded real data
    /// and the 2-D toys, measure sampling, scoring, inference, learning and
    /// sample quality the same way for all, run the tutorial's claims as
    /// experiments, play the KM game; writes report.html, report.md and
    /// summary.json (quick: within 10 minutes on 2 cores).
    Tour(tour::TourArgs),
    /// Compare a diffusion run's samplers (DDPM, DDIM over steps and η, the
    /// probability-flow ODE; other runs: their own sampler): quality against
    /// the test split (FID / PRDC on images, modes on 2-D toys) and ms per
    /// sample; writes samplers.json, samplers.md and samplers.png.
    Samplers(samplers::SamplersArgs),
    /// Print a shell completion script, e.g.
    /// `genlab completions bash > ~/.local/share/bash-completion/completions/genlab`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `genlab train MODEL --data NAME`: the shared options, then one group per family.
///
/// Every option may also come from a TOML file (`--config exp.toml`, keys
/// are the flag names); flags given here win over the file.
#[derive(clap::Args, Debug, Clone)]
#[command(args_override_self = true)]
pub struct TrainArgs {
    /// Model name (see `genlab models`); may come from --config instead.
    #[arg(value_parser = families::model_choice())]
    pub model: Option<String>,
    /// Data set name (see `genlab datasets`); may come from --config instead.
    #[arg(long, value_parser = choices::dataset())]
    pub data: Option<String>,
    /// Options every family shares.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Classical baselines.
    #[command(flatten)]
    pub classical: classical::ClassicalArgs,
    /// The character n-gram.
    #[command(flatten)]
    pub ngram: ngram::NGramArgs,
    /// The VAE family.
    #[command(flatten)]
    pub vae: vae::VaeArgs,
    /// Normalizing flows.
    #[command(flatten)]
    pub flow: flow::FlowArgs,
    /// Autoregressive models.
    #[command(flatten)]
    pub ar: autoregressive::ArArgs,
    /// GANs.
    #[command(flatten)]
    pub gan: gan::GanArgs,
    /// Diffusion models.
    #[command(flatten)]
    pub diffusion: diffusion::DiffusionArgs,
    /// Latent diffusion.
    #[command(flatten)]
    pub latent: latent_diffusion::LatentArgs,
    /// The character GPT.
    #[command(flatten)]
    pub text: text::TextArgs,
}

/// Options every family shares.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Shared options")]
pub struct CommonArgs {
    /// Compute backend for neural models.
    #[arg(long, default_value = "flex", value_parser = choices::backend())]
    pub backend: Backend,
    /// Optimisation steps (EM iterations for gmm).
    #[arg(long, default_value_t = 100)]
    pub steps: u64,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output run directory.
    #[arg(long, default_value = "runs/latest")]
    pub out: PathBuf,
    /// Learning rate. Default: the model's preset (VAEs 1e-3; flows 1e-3, on
    /// images 5e-4 for realnvp and 2e-4 for glow). Old spellings: --vae-lr, --flow-lr.
    #[arg(long, aliases = ["vae-lr", "flow-lr"])]
    pub lr: Option<f64>,
    /// Minibatch size. Default: the model's preset (VAEs 100; flows 512 on
    /// toys, 64 on images). Old spellings: --vae-batch, --flow-batch.
    #[arg(long, aliases = ["vae-batch", "flow-batch"])]
    pub batch: Option<usize>,
    /// Mixture components (gmm; the mixture base of a flow with --base gmm / made-mog).
    #[arg(long, default_value_t = 8)]
    pub components: usize,
    /// Runs, configs and checkpoints.
    #[command(flatten)]
    pub run: RunArgs,
}

impl TrainArgs {
    /// The model name (checked present before any family sees the args).
    pub fn model(&self) -> &str {
        self.model.as_deref().unwrap_or_default()
    }

    /// The data set name (checked present before any family sees the args).
    pub fn data(&self) -> &str {
        self.data.as_deref().unwrap_or_default()
    }
}

/// Where a run lives, where its options come from, and how often it is saved.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Runs, configs and checkpoints")]
pub struct RunArgs {
    /// Read options from a TOML file whose keys are these flags' names
    /// (e.g. the config.toml every run writes); flags on the command line win.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Continue the run in DIR from its newest checkpoint with its
    /// config.toml (same losses as an uninterrupted run); flags given too
    /// override its options, e.g. --steps to train longer.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Replace a different run already in --out instead of refusing.
    #[arg(long)]
    pub overwrite: bool,
    /// Write a checkpoint every N steps (and at the end).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub checkpoint_every: u64,
    /// Also write one whenever this many minutes have passed since the last,
    /// so a kill loses at most that much work (0: by steps only).
    #[arg(long, default_value_t = 5.0, value_name = "MIN")]
    pub checkpoint_minutes: f64,
    /// Log the held-out score (test NLL: exact, or the model's bound) every N
    /// steps and after the last, in metrics.jsonl and loss.png (0: after the
    /// last only): the exact NLL or the bound where the model has one, an
    /// estimate for char-gpt and lstm, modes covered for 2-D GANs, an FID
    /// proxy for image GANs.
    #[arg(long, default_value_t = 500, value_name = "N")]
    pub eval_every: u64,
    /// Data-parallel training: `mpi` under an MPI launcher (`mpirun -n N
    /// genlab train …`; genlab built with `--features mpi`); each rank
    /// trains on 1/N of every --batch (the global batch) and gradients are
    /// averaged. `burn-ddp`: burn's in-process DDP, one thread per CUDA
    /// GPU listed in --devices (genlab built with `--features cuda`,
    /// `--backend cuda`). `threads`: --ranks ranks as threads of this
    /// process, one per core (no MPI needed; CPU backends, which leave a
    /// core idle on small matrices, train faster this way; see
    /// docs/performance.md). See docs/distributed.md.
    #[arg(long, default_value = "none", value_parser = ["none", "mpi", "burn-ddp", "threads"])]
    pub distributed: String,
    /// The ranks of `--distributed threads` (default: this machine's
    /// cores).
    #[arg(long, value_name = "N")]
    pub ranks: Option<usize>,
    /// The CUDA GPUs of `--distributed burn-ddp`, one rank each (e.g.
    /// `--devices 0,1`).
    #[arg(long, value_delimiter = ',', value_name = "GPUS")]
    pub devices: Vec<usize>,
}

impl RunArgs {
    /// Whether this run trains data-parallel (any `--distributed` but none).
    pub fn is_distributed(&self) -> bool {
        self.distributed != "none"
    }

    /// `tc` with this run's checkpointing and resume settings.
    pub fn apply(&self, tc: gen_core::train::TrainConfig) -> gen_core::train::TrainConfig {
        gen_core::train::TrainConfig {
            checkpoint_every: self.checkpoint_every,
            checkpoint_secs: (self.checkpoint_minutes > 0.0)
                .then_some(self.checkpoint_minutes * 60.0),
            resume: self.resume.is_some(),
            eval_every: self.eval_every,
            distributed: self.is_distributed(),
            ..tc
        }
    }
}

#[derive(clap::Args, Debug)]
struct ScoreArgs {
    /// Run directory written by `genlab train`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Rows to score: .npy / .npz / .csv (vectors) or .txt (one string per line).
    #[arg(long, conflicts_with = "data")]
    input: Option<PathBuf>,
    /// The array of an .npz --input (default: the archive's first).
    #[arg(long)]
    key: Option<String>,
    /// Score a data set instead of a file (prepared as in training).
    #[arg(long, value_parser = choices::dataset())]
    data: Option<String>,
    /// Which split of --data.
    #[arg(long, default_value = "test", value_parser = choices::split())]
    split: gen_data::Split,
    /// How to score: default (the model's own: exact, or its bound), elbo (a
    /// lower bound), iwae (an importance-weighted estimate; VAE runs) or ode
    /// (the probability-flow ODE's likelihood; ddpm runs).
    #[arg(long, default_value = "default", value_parser = choices::estimator())]
    estimator: ScoreEstimator,
    /// Importance samples K of the iwae estimator; RK4 steps of ode (100
    /// suffices on 2-D toys).
    #[arg(long, default_value_t = 1000)]
    k: usize,
    /// Seed of the estimator's noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> ExitCode {
    keep_default_device_on_cpu();
    let (cli, config) = match parse_command_line() {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match dispatch(cli.command, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// burn puts tensors that no code placed (an optimiser state being restored,
/// for one) on its default device, which is wgpu whenever wgpu is compiled
/// in: a `--backend flex` run would open the Vulkan loader for nothing, and
/// Mesa prints warnings that read like failures. Pin the default to a CPU
/// device unless the user chose one with `BURN_DEVICE`; every model still
/// runs on the device its `--backend` names (burn moves restored optimiser
/// state to each parameter's device at the next step).
fn keep_default_device_on_cpu() {
    if std::env::var_os("BURN_DEVICE").is_some() {
        return;
    }
    let cpu = if Backend::enabled().contains(&Backend::Flex) {
        "flex"
    } else {
        "ndarray"
    };
    // SAFETY: called first thing in `main`, before any thread exists.
    unsafe { std::env::set_var("BURN_DEVICE", cpu) };
}

/// Parses the command line, with `train --config` / `--resume` files
/// spliced in (clap's own errors exit here as usual). For `train`, also
/// returns the resolved options as config-file text.
fn parse_command_line() -> Result<(Cli, Option<String>)> {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let root = Cli::command();
    let first = root.clone().get_matches_from(argv.clone());
    let matches = match config::expand(&argv, &first, &root)? {
        Some(expanded) => root.clone().get_matches_from(expanded),
        None => first,
    };
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let resolved = match matches.subcommand() {
        Some(("train", m)) => Some(config::resolved(&config::train_command(&root)?, m)),
        _ => None,
    };
    Ok((cli, resolved))
}

fn dispatch(cmd: Command, config: Option<String>) -> Result<()> {
    match cmd {
        Command::Datasets => datasets(),
        Command::Models { json } => models(json),
        Command::Train(a) => train(*a, config.as_deref().unwrap_or_default()),
        Command::Sample(a) => sample::run(a),
        Command::Score(a) => score(a),
        Command::Eval(a) => print_json(&eval::run(&a)?),
        Command::Km(c) => km::run(&c),
        Command::Encode(a) => infer::encode(&a),
        Command::Reconstruct(a) => infer::reconstruct(&a),
        Command::Interpolate(a) => infer::interpolate(&a),
        Command::Export(a) => print_json(&export::run(&a)?),
        Command::Tour(a) => tour::run(&a),
        Command::Samplers(a) => samplers::run(a),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "genlab", &mut script);
            emit(&String::from_utf8_lossy(&script))
        }
    }
}

pub(crate) fn print_json(v: &serde_json::Value) -> Result<()> {
    let s = serde_json::to_string_pretty(v).map_err(|e| GenError::Other(e.to_string()))?;
    emit(&format!("{s}\n"))
}

/// Writes `text` to stdout. A reader that closed the pipe early
/// (`genlab … | head`) ends the output quietly instead of a panic.
pub(crate) fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(GenError::Other(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

fn datasets() -> Result<()> {
    let mut text = String::from(
        "| name | kind | size | train | test | source | licence |\n|---|---|---|---|---|---|---|\n",
    );
    for d in gen_data::catalog() {
        text.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            d.name, d.kind, d.size, d.train, d.test, d.source, d.licence
        ));
    }
    emit(&text)
}

fn models(as_json: bool) -> Result<()> {
    let rows = families::all_capabilities();
    if as_json {
        return print_json(
            &serde_json::to_value(&rows).map_err(|e| GenError::Other(e.to_string()))?,
        );
    }
    emit(&capability_table(&rows))
}

fn train(a: TrainArgs, config: &str) -> Result<()> {
    if a.common.run.distributed == "burn-ddp" {
        return distributed::burn_ddp(a, config, train_rank);
    }
    if a.common.run.distributed == "threads" {
        return distributed::threads(a, config, train_rank);
    }
    if let Some(n) = a.common.run.ranks {
        return Err(GenError::config(
            "--ranks",
            n,
            "--ranks sets the ranks of --distributed threads",
            "add --distributed threads, or drop --ranks (under MPI the launcher's -n sets them)",
        ));
    }
    if !a.common.run.devices.is_empty() {
        return Err(GenError::config(
            "--devices",
            format!("{:?}", a.common.run.devices),
            "--devices lists the GPUs of --distributed burn-ddp",
            "add --distributed burn-ddp --backend cuda, or drop --devices",
        ));
    }
    let Some(world) = distributed::join(&a.common.run.distributed)? else {
        return train_here(&a, config);
    };
    let rank = gen_core::distributed::rank();
    let out = distributed::check_same_run(config).and_then(|()| train_rank(a, config, rank));
    distributed::or_abort(rank, out, world)
}

/// One rank's part of data-parallel training (its world installed on this
/// thread): rank 0 trains, evaluates and writes the run; the other ranks
/// write nothing of the run's — their copy of the options points into a
/// scratch directory, and their trainer stops after the last step
/// (FollowerDone) while rank 0 evaluates and writes.
fn train_rank(mut a: TrainArgs, config: &str, rank: usize) -> Result<()> {
    if rank == 0 {
        train_here(&a, config)?;
        return distributed::record(&a.common.out);
    }
    let scratch = std::env::temp_dir().join(format!("genlab-rank{rank}-{}", std::process::id()));
    a.common.out = scratch.clone();
    a.common.run.resume = None;
    let out = match train_here_quietly(&a, config) {
        Err(GenError::FollowerDone { .. }) => Ok(()),
        other => other,
    };
    let _ = std::fs::remove_dir_all(&scratch);
    out
}

/// A follower rank's training: no summary on stdout.
fn train_here_quietly(a: &TrainArgs, config: &str) -> Result<()> {
    std::fs::create_dir_all(&a.common.out).map_err(|e| GenError::io(&a.common.out, e))?;
    gen_core::checkpoint::write_atomic(&a.common.out.join(config::CONFIG_FILE), config.as_bytes())?;
    families::family_of(a.model())?.train(a).map(|_| ())
}

fn train_here(a: &TrainArgs, config: &str) -> Result<()> {
    let c = &a.common;
    let (Some(model), Some(data)) = (&a.model, &a.data) else {
        return Err(GenError::config(
            "train",
            if a.model.is_none() { "MODEL" } else { "--data" },
            "is missing",
            "give a model name and --data (see `genlab models`, `genlab datasets`), \
             or --config FILE with `model` and `data` keys",
        ));
    };
    claim_run_dir(&c.out, config, &c.run)?;
    std::fs::create_dir_all(&c.out).map_err(|e| GenError::io(&c.out, e))?;
    gen_core::checkpoint::write_atomic(&c.out.join(config::CONFIG_FILE), config.as_bytes())?;
    eprintln!(
        "genlab train {model} --data {data} --backend {} --steps {} --seed {} --out {}{}",
        c.backend,
        c.steps,
        c.seed,
        c.out.display(),
        if c.run.resume.is_some() {
            " (resuming)"
        } else {
            ""
        }
    );
    let summary = families::family_of(model)?.train(a)?;
    print_json(&summary)
}

/// Refuses to train into a directory that holds a different run, unless
/// the user asked to resume it or to overwrite it. A run with the same
/// resolved options (a replay) may run again in its own directory.
fn claim_run_dir(out: &std::path::Path, config: &str, run: &RunArgs) -> Result<()> {
    // run.json is written once a family has accepted the options, so a
    // directory left by a run refused for bad input holds no run.
    let has_run = out.join("run.json").exists();
    if !has_run || run.resume.is_some() || run.overwrite {
        return Ok(());
    }
    let same =
        std::fs::read_to_string(out.join(config::CONFIG_FILE)).is_ok_and(|old| old == config);
    if same {
        return Ok(());
    }
    let what = run::RunMeta::load(out)
        .map(|m| format!("a `{}` run on {}", m.model, m.data))
        .unwrap_or_else(|_| "a run".into());
    Err(GenError::config(
        "--out",
        out.display(),
        format!("already holds {what} with other options"),
        format!(
            "choose another --out, continue it with --resume {0}, or replace it with --overwrite",
            out.display()
        ),
    ))
}

fn score(a: ScoreArgs) -> Result<()> {
    let (_, run) = families::load(&a.checkpoint)?;
    let x = infer::input_of(
        &*run,
        a.input.as_deref(),
        a.key.as_deref(),
        a.data.as_deref(),
        a.split,
    )?;
    let opts = ScoreOptions {
        estimator: a.estimator,
        k: a.k,
        seed: a.seed,
    };
    print_json(&run.score(&x, &opts)?.to_json())
}
