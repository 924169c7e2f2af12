//! `genlab sample`: draws from any run; text models also decode a prompt
//! through gen-ar's one decoding interface, streaming the text.

use std::path::PathBuf;

use gen_core::{GenError, Matrix, Result, SampleOptions, rng_from_seed};
use serde_json::json;

use crate::registry::{LoadedRun, Samples};
use crate::{families, output, print_json};

#[derive(clap::Args, Debug)]
pub struct SampleArgs {
    /// Run directory written by `genlab train`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Number of samples (default 16; 1 with --prompt or another decoding option).
    #[arg(long)]
    n: Option<usize>,
    /// Temperature (1 = the model as trained).
    #[arg(long, default_value_t = 1.0)]
    temperature: f64,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Class of every sample (conditional models: cgan, ddpm --conditional).
    #[arg(long)]
    class: Option<usize>,
    /// Write samples here (.npy or .npz — array `samples` — for vectors,
    /// .png for an image grid, .txt for strings); printed as JSON otherwise.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Text models: decode with gen-ar's decoder and stream the text.
    #[command(flatten)]
    decode: DecodeArgs,
    /// Draw on this backend instead of the one the run was trained on
    /// (burn models: the weights load on any device).
    #[arg(long, value_parser = crate::choices::backend())]
    backend: Option<gen_core::Backend>,
    /// Diffusion models: the sampler.
    #[command(flatten)]
    diffusion: crate::diffusion::DiffusionSampleArgs,
}

/// Decoding options of `genlab sample` for text models (ngram, char-gpt);
/// any of them switches to the streaming decoder.
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Text decoding (ngram, char-gpt)")]
pub struct DecodeArgs {
    /// Text to continue.
    #[arg(long)]
    prompt: Option<String>,
    /// The most characters to generate.
    #[arg(long, default_value_t = 200)]
    max_tokens: usize,
    /// The most probable character at every step.
    #[arg(long)]
    greedy: bool,
    /// Keep the k most probable characters.
    #[arg(long)]
    top_k: Option<usize>,
    /// Nucleus sampling: the smallest set with probability mass ≥ p, p in (0, 1].
    #[arg(long)]
    top_p: Option<f64>,
    /// Keep characters with p ≥ min_p · p_max.
    #[arg(long)]
    min_p: Option<f64>,
    /// θ > 1 discourages characters already in the context (CTRL's penalty).
    #[arg(long, default_value_t = 1.0)]
    repetition_penalty: f64,
    /// Beam search with this many beams.
    #[arg(long)]
    beam: Option<usize>,
    /// Beam search ranks by log p / length^α.
    #[arg(long, default_value_t = 1.0)]
    length_penalty: f64,
    /// Stop once the text contains this string (repeatable).
    #[arg(long)]
    stop: Vec<String>,
}

impl DecodeArgs {
    fn wanted(&self) -> bool {
        self.prompt.is_some()
            || self.greedy
            || self.top_k.is_some()
            || self.top_p.is_some()
            || self.min_p.is_some()
            || self.beam.is_some()
            || !self.stop.is_empty()
            || self.repetition_penalty != 1.0
    }

    fn options(&self, temperature: f64, seed: u64) -> gen_ar::decoding::DecodeOptions {
        gen_ar::decoding::DecodeOptions {
            max_tokens: self.max_tokens,
            greedy: self.greedy,
            temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repetition_penalty: self.repetition_penalty,
            beam_width: self.beam,
            length_penalty: self.length_penalty,
            stop: self.stop.clone(),
            seed,
        }
    }
}

/// `genlab sample`.
pub fn run(a: SampleArgs) -> Result<()> {
    let (_, run) = families::load_on(&a.checkpoint, a.backend)?;
    if a.decode.wanted() {
        return decode(&*run, &a);
    }
    let mut opts = SampleOptions::with_temperature(a.temperature);
    if let Some(c) = a.class {
        let model = run.capabilities().model;
        match run.classes() {
            None => {
                return Err(GenError::config(
                    "--class",
                    c,
                    format!("{model} is unconditional: it takes no class"),
                    "sample without --class, or train a conditional model (cgan, or ddpm or latent-ddpm with --conditional)",
                ));
            }
            Some(k) if c >= k => {
                return Err(GenError::config(
                    "--class",
                    c,
                    format!("{model} has {k} classes, 0..={}", k.saturating_sub(1)),
                    format!("give a class between 0 and {}", k.saturating_sub(1)),
                ));
            }
            Some(_) => opts.condition = Some(Matrix::new(1, 1, vec![c as f64])?),
        }
    }
    if let (Some(w), None) = (a.diffusion.guidance, run.classes()) {
        return Err(GenError::config(
            "--guidance",
            w,
            format!(
                "{} is unconditional: classifier-free guidance needs a class-conditional model",
                run.capabilities().model
            ),
            "sample without --guidance, or train one: genlab train ddpm --conditional --data digits",
        ));
    }
    let n = a.n.unwrap_or(16);
    let conditional_diffusion = run.classes().is_some() && run.capabilities().family == "diffusion";
    // A conditional diffusion run draws its classes in turn (or --class)
    // with or without sampler flags, as `genlab samplers` does.
    let samples = if conditional_diffusion {
        let sampler = a.diffusion.options(a.temperature);
        let w = a.diffusion.guidance.unwrap_or(0.0);
        run.sample_guided(n, &sampler, a.class, w, &mut rng_from_seed(a.seed))?
    } else if a.diffusion.wanted() {
        let sampler = a.diffusion.options(a.temperature);
        run.sample_diffusion(n, &sampler, &mut rng_from_seed(a.seed))?
    } else {
        run.sample(n, &opts, &mut rng_from_seed(a.seed))?
    };
    match samples {
        Samples::Rows(m) => output::write_rows(&m, "samples", a.out.as_deref()),
        Samples::Strings(s) => match &a.out {
            Some(p) => gen_core::checkpoint::write_atomic(p, s.join("\n").as_bytes()),
            None => print_json(&json!({"samples": s})),
        },
    }
}

/// `genlab sample --prompt …`: `--n` texts (default 1), each streamed to
/// stdout as it is generated (seeds `--seed`, `--seed + 1`, …); nothing is
/// printed for a request that fails before its first character.
fn decode(run: &dyn LoadedRun, a: &SampleArgs) -> Result<()> {
    use std::io::Write;
    let prompt = a.decode.prompt.clone().unwrap_or_default();
    let mut texts = Vec::new();
    for i in 0..a.n.unwrap_or(1) {
        let opts = a.decode.options(a.temperature, a.seed + i as u64);
        opts.validate()?;
        let mut out = std::io::stdout().lock();
        let mut started = false;
        let mut stream = |t: &str| {
            if !started {
                let _ = write!(out, "{prompt}");
                started = true;
            }
            let _ = write!(out, "{t}");
            let _ = out.flush();
        };
        let text = run.decode(&prompt, &opts, &mut stream)?;
        if !started {
            let _ = write!(out, "{prompt}");
        }
        let _ = writeln!(out);
        texts.push(format!("{prompt}{text}"));
    }
    match &a.out {
        Some(p) => gen_core::checkpoint::write_atomic(p, texts.join("\n").as_bytes()),
        None => Ok(()),
    }
}
