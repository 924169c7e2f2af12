//! `genlab`: train, sample, score and compare generative models from the command line.
//!
//! The commands are thin glue over [`registry`]: each family registers its
//! models, trains them from the parsed arguments and loads their run
//! directories; model knowledge (presets, evaluation protocols) lives in the
//! family crates.

mod autoregressive;
mod choices;
mod classical;
mod data;
mod diffusion;
mod eval;
mod families;
mod flow;
mod gan;
mod gan_image;
mod infer;
mod km;
mod ngram;
mod output;
mod registry;
mod run;
mod sample;
mod text;
mod vae;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
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
}

/// `genlab train MODEL --data NAME`: the shared options, then one group per family.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Model name (see `genlab models`).
    #[arg(value_parser = families::model_choice())]
    pub model: String,
    /// Data set name (see `genlab datasets`).
    #[arg(long, value_parser = choices::dataset())]
    pub data: String,
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
}

#[derive(clap::Args, Debug)]
struct ScoreArgs {
    /// Run directory written by `genlab train`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Rows to score: .npy / .csv (vectors) or .txt (one string per line).
    #[arg(long, conflicts_with = "data")]
    input: Option<PathBuf>,
    /// Score a data set instead of a file (prepared as in training).
    #[arg(long, value_parser = choices::dataset())]
    data: Option<String>,
    /// Which split of --data.
    #[arg(long, default_value = "test", value_parser = choices::split())]
    split: gen_data::Split,
    /// How to score: default (the model's own: exact, or its bound), elbo (a
    /// lower bound) or iwae (an importance-weighted estimate; VAE runs).
    #[arg(long, default_value = "default", value_parser = choices::estimator())]
    estimator: ScoreEstimator,
    /// Importance samples K of the iwae estimator.
    #[arg(long, default_value_t = 1000)]
    k: usize,
    /// Seed of the estimator's noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> ExitCode {
    keep_default_device_on_cpu();
    let cli = Cli::parse();
    match dispatch(cli.command) {
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

fn dispatch(cmd: Command) -> Result<()> {
    match cmd {
        Command::Datasets => datasets(),
        Command::Models { json } => models(json),
        Command::Train(a) => train(&a),
        Command::Sample(a) => sample::run(a),
        Command::Score(a) => score(a),
        Command::Eval(a) => print_json(&eval::run(&a)?),
        Command::Km(c) => km::run(&c),
        Command::Encode(a) => infer::encode(&a),
        Command::Reconstruct(a) => infer::reconstruct(&a),
        Command::Interpolate(a) => infer::interpolate(&a),
    }
}

pub(crate) fn print_json(v: &serde_json::Value) -> Result<()> {
    let s = serde_json::to_string_pretty(v).map_err(|e| GenError::Other(e.to_string()))?;
    println!("{s}");
    Ok(())
}

fn datasets() -> Result<()> {
    println!("| name | kind | size | train | test | source | licence |");
    println!("|---|---|---|---|---|---|---|");
    for d in gen_data::catalog() {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            d.name, d.kind, d.size, d.train, d.test, d.source, d.licence
        );
    }
    Ok(())
}

fn models(as_json: bool) -> Result<()> {
    let rows = families::all_capabilities();
    if as_json {
        return print_json(
            &serde_json::to_value(&rows).map_err(|e| GenError::Other(e.to_string()))?,
        );
    }
    print!("{}", capability_table(&rows));
    Ok(())
}

fn train(a: &TrainArgs) -> Result<()> {
    let c = &a.common;
    std::fs::create_dir_all(&c.out).map_err(|e| GenError::io(&c.out, e))?;
    eprintln!(
        "genlab train {} --data {} --backend {} --steps {} --seed {} --out {}",
        a.model,
        a.data,
        c.backend,
        c.steps,
        c.seed,
        c.out.display()
    );
    let summary = families::family_of(&a.model)?.train(a)?;
    print_json(&summary)
}

fn score(a: ScoreArgs) -> Result<()> {
    let (_, run) = families::load(&a.checkpoint)?;
    let x = infer::input_of(&*run, a.input.as_deref(), a.data.as_deref(), a.split)?;
    let opts = ScoreOptions {
        estimator: a.estimator,
        k: a.k,
        seed: a.seed,
    };
    print_json(&run.score(&x, &opts)?.to_json())
}
