//! `genlab`: train, sample, score and compare generative models from the command line.

mod classical;
mod data;
mod eval;
mod flow;
mod km;
mod output;
mod run;
mod vae;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gen_core::{Backend, GenError, Matrix, Result, SampleOptions, capability_table, rng_from_seed};
use serde_json::json;

use crate::classical::{ClassicalOpts, Samples};
use crate::run::RunMeta;

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
    Train(TrainArgs),
    /// Draw samples from a trained run.
    Sample(SampleArgs),
    /// Score data under a trained run: per-row log-densities that say what they are.
    Score(ScoreArgs),
    /// Compare two samples with a metric (fid, kid, mmd, prdc, energy, wasserstein, swd,
    /// c2st, authenticity, copying, is); prints one JSON object.
    Eval(eval::EvalArgs),
    /// The Kleinberg–Mullainathan generation game.
    #[command(subcommand)]
    Km(km::KmCommand),
    /// VAE runs: write the posterior means (and log-variances) of q(z|x); flow runs: exact z = f⁻¹(x).
    Encode(vae::InferArgs),
    /// VAE runs: reconstruct rows through the posterior mean (.npy or .png grid).
    Reconstruct(vae::InferArgs),
    /// VAE runs: decode the latent segment between two rows (.png grid).
    Interpolate(vae::InferArgs),
}

#[derive(clap::Args, Debug)]
struct TrainArgs {
    /// Model name (see `genlab models`).
    model: String,
    /// Data set name (see `genlab datasets`).
    #[arg(long)]
    data: String,
    /// Compute backend for neural models: ndarray, flex or wgpu.
    #[arg(long, default_value = "flex")]
    backend: String,
    /// Optimisation steps (EM iterations for gmm).
    #[arg(long, default_value_t = 100)]
    steps: u64,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output run directory.
    #[arg(long, default_value = "runs/latest")]
    out: PathBuf,
    /// Mixture components (gmm; the mixture base of a flow with --base gmm / made-mog).
    #[arg(long, default_value_t = 8)]
    components: usize,
    /// Context length + 1 (ngram).
    #[arg(long, default_value_t = 5)]
    order: usize,
    /// Add-k smoothing (ngram). Small k keeps samples readable: with add-k, a
    /// rarely seen context spreads k*V of its mass uniformly over all characters.
    #[arg(long, default_value_t = 0.01)]
    add_k: f64,
    /// Covariance regulariser (gaussian, gmm).
    #[arg(long, default_value_t = 1e-6)]
    reg_covar: f64,
    /// VAE-family options (vae, beta-vae, iwae, conv-vae, vq-vae, ppca).
    #[command(flatten)]
    vae: vae::VaeArgs,
    /// Flow options (realnvp, nice, glow, maf, iaf).
    #[command(flatten)]
    flow: flow::FlowArgs,
}

#[derive(clap::Args, Debug)]
struct SampleArgs {
    /// Run directory written by `genlab train`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Number of samples.
    #[arg(long, default_value_t = 16)]
    n: usize,
    /// Temperature (1 = the model as trained).
    #[arg(long, default_value_t = 1.0)]
    temperature: f64,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write samples here (.npy for vectors, .txt for strings); printed as JSON otherwise.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct ScoreArgs {
    /// Run directory written by `genlab train`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Rows to score: .npy / .csv (vectors) or .txt (one string per line).
    #[arg(long, conflicts_with = "data")]
    input: Option<PathBuf>,
    /// Score a data set instead of a file.
    #[arg(long)]
    data: Option<String>,
    /// Which split of --data.
    #[arg(long, default_value = "test")]
    split: String,
    /// VAE runs: elbo (a lower bound) or iwae (an importance-weighted estimate).
    #[arg(long, default_value = "elbo")]
    estimator: String,
    /// VAE runs: importance samples K of the iwae estimator.
    #[arg(long, default_value_t = 1000)]
    k: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cmd: Command) -> Result<()> {
    match cmd {
        Command::Datasets => datasets(),
        Command::Models { json } => models(json),
        Command::Train(a) => train(a),
        Command::Sample(a) => sample(a),
        Command::Score(a) => score(a),
        Command::Eval(a) => print_json(&eval::run(&a)?),
        Command::Km(c) => km::run(&c),
        Command::Encode(a) => flow::encode_or(&a, vae::encode),
        Command::Reconstruct(a) => vae::reconstruct(&a),
        Command::Interpolate(a) => vae::interpolate(&a),
    }
}

fn print_json(v: &serde_json::Value) -> Result<()> {
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

fn all_capabilities() -> Vec<gen_core::Capabilities> {
    let mut rows = gen_classical::capabilities();
    rows.extend(gen_vae::capabilities());
    rows.extend(flow::capabilities());
    rows
}

fn models(as_json: bool) -> Result<()> {
    let rows = all_capabilities();
    if as_json {
        return print_json(
            &serde_json::to_value(&rows).map_err(|e| GenError::Other(e.to_string()))?,
        );
    }
    print!("{}", capability_table(&rows));
    Ok(())
}

fn train(a: TrainArgs) -> Result<()> {
    let backend: Backend = a.backend.parse()?;
    std::fs::create_dir_all(&a.out).map_err(|e| GenError::io(&a.out, e))?;
    eprintln!(
        "genlab train {} --data {} --backend {} --steps {} --seed {} --out {}",
        a.model,
        a.data,
        backend,
        a.steps,
        a.seed,
        a.out.display()
    );
    let summary = match a.model.as_str() {
        "gaussian" | "gmm" | "ngram" => classical::train(
            &a.model,
            &a.data,
            &ClassicalOpts {
                steps: a.steps,
                seed: a.seed,
                components: a.components,
                order: a.order,
                add_k: a.add_k,
                reg_covar: a.reg_covar,
            },
            &a.out,
        )?,
        m if flow::is_flow(m) => flow::train(
            m,
            &a.data,
            &flow::FlowOpts {
                steps: a.steps,
                seed: a.seed,
                backend,
                batch_size: a.flow.flow_batch,
                lr: a.flow.flow_lr,
                spline_bins: a.flow.bins,
                spline_bound: a.flow.bound,
                cnf: a.flow.cnf(),
                base: gen_flow::BaseKind::parse(&a.flow.base, a.components)?,
                layers: a.flow.layers,
                hidden: a.flow.hidden.clone(),
                cosine: a.flow.cosine,
                fresh: a.flow.fresh,
            },
            &a.out,
        )?,
        m if vae::is_vae(m) => vae::train(m, &a.data, backend, a.steps, a.seed, &a.vae, &a.out)?,
        other => return Err(classical::unknown_model(other)),
    };
    print_json(&summary)
}

fn sample(a: SampleArgs) -> Result<()> {
    let meta = RunMeta::load(&a.checkpoint)?;
    if vae::is_vae(&meta.model) {
        return vae::sample(
            &meta,
            &a.checkpoint,
            a.n,
            a.temperature,
            a.seed,
            a.out.as_deref(),
        );
    }
    if flow::is_flow(&meta.model) {
        let out = a.out.as_deref();
        return flow::sample_cmd(&meta, &a.checkpoint, a.n, a.temperature, a.seed, out);
    }
    let model = classical::load(&meta, &a.checkpoint)?;
    let opts = SampleOptions::with_temperature(a.temperature);
    let mut rng = rng_from_seed(a.seed);
    match model.sample(a.n, &opts, &mut rng)? {
        Samples::Rows(m) => match &a.out {
            Some(p) => {
                gen_data::io::npy::write_npy_f64(p, &m)?;
                eprintln!("wrote {} samples to {}", m.rows(), p.display());
                Ok(())
            }
            None => print_json(
                &json!({"samples": m.iter_rows().map(|r| r.to_vec()).collect::<Vec<_>>()}),
            ),
        },
        Samples::Strings(s) => match &a.out {
            Some(p) => gen_core::checkpoint::write_atomic(p, s.join("\n").as_bytes()),
            None => print_json(&json!({"samples": s})),
        },
    }
}

fn read_rows(path: &std::path::Path) -> Result<Matrix> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => gen_data::io::npy::read_npy(path)?.to_matrix(),
        Some("csv") => gen_data::io::csv::read_csv(path),
        _ => Err(GenError::config(
            "--input",
            path.display(),
            "unknown file type",
            "use .npy, .csv, or .txt (strings)",
        )),
    }
}

fn score(a: ScoreArgs) -> Result<()> {
    let meta = RunMeta::load(&a.checkpoint)?;
    if vae::is_vae(&meta.model) {
        let (input, data) = (a.input.as_deref(), a.data.as_deref());
        return print_json(
            &vae::score(
                &meta,
                &a.checkpoint,
                input,
                data,
                &a.split,
                &a.estimator,
                a.k,
            )?
            .to_json(),
        );
    }
    if flow::is_flow(&meta.model) {
        let x = flow::rows(a.input.as_deref(), a.data.as_deref(), &a.split)?;
        return print_json(&flow::score(&meta, &a.checkpoint, &x)?.to_json());
    }
    let model = classical::load(&meta, &a.checkpoint)?;
    let scores = match (&a.input, &a.data) {
        (Some(p), _) if p.extension().and_then(|e| e.to_str()) == Some("txt") => {
            let text = std::fs::read_to_string(p).map_err(|e| GenError::io(p, e))?;
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            model.score_strings(&lines)?
        }
        (Some(p), _) => model.score_rows(&read_rows(p)?)?,
        (None, Some(d)) => match data::load(d, data::parse_split(&a.split)?)? {
            data::Data::Points { x, .. } => model.score_rows(&x)?,
            data::Data::Images { x, levels, .. } => {
                model.score_rows(&gen_data::transforms::scale_unit(&x, levels)?)?
            }
            data::Data::Lines(l) => model.score_strings(&l)?,
            data::Data::Text(t) => model.score_strings(&[t])?,
        },
        (None, None) => {
            return Err(GenError::config(
                "score input",
                "none",
                "nothing to score",
                "pass --input FILE or --data NAME [--split test]",
            ));
        }
    };
    print_json(&scores.to_json())
}
