//! The character GPT (gen-ar) on the command line: `genlab train char-gpt
//! --data shakespeare|first-names|surnames|english-words`. Lists of strings
//! are joined into one stream with a newline after each, so a newline starts
//! and ends every name; text is one stream. Sampling starts after a newline
//! and runs through gen-ar's decoder with its KV cache; scores are exact
//! log p(s | "\n") per string, in nats.

use std::path::Path;

use gen_ar::decoding::{DecodeOptions, generate};
use gen_ar::sequence::{CharGpt, GptConfig, TokenWindows, decode, encode};
use gen_core::train::{TrainConfig, Trainer};
use gen_core::{
    Capabilities, GenError, Model, Result, Rng, SampleOptions, Score, ScoreOptions, Scores,
};
use gen_data::CharVocab;
use rand::Rng as _;
use serde_json::json;

use crate::data::Data;
use crate::registry::{Family, Input, LoadedRun, Samples};
use crate::run::{RunMeta, latest_model_dir};
use crate::{TrainArgs, output};

/// Options of the character GPT in `genlab train`.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Character GPT (char-gpt)")]
pub struct TextArgs {
    /// Context length (block) in characters. The defaults are nanoGPT's CPU
    /// "baby" Shakespeare configuration (4 layers, 4 heads, width 128, block
    /// 64, batch 12, AdamW β₂ 0.99, lr 1e-3 with warm-up and cosine decay to 1e-4).
    #[arg(id = "block", long = "block", default_value_t = 64)]
    pub block: usize,
    /// Transformer blocks.
    #[arg(id = "gpt-layers", long = "gpt-layers", default_value_t = 4)]
    pub layers: usize,
    /// Attention heads.
    #[arg(id = "heads", long = "heads", default_value_t = 4)]
    pub heads: usize,
    /// Model width.
    #[arg(id = "width", long = "width", default_value_t = 128)]
    pub width: usize,
    /// Dropout probability.
    #[arg(id = "dropout", long = "dropout", default_value_t = 0.0)]
    pub dropout: f64,
}

/// Characters generated per sample by `genlab sample`.
const SAMPLE_CHARS: usize = 200;

/// What `run.json` stores for a char-gpt run: the vocabulary's characters
/// in id order, so the run decodes without the training data.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct TextRunOptions {
    backend: String,
    seed: u64,
    steps: u64,
    batch_size: usize,
    lr: f64,
    chars: String,
    config: GptConfig,
}

/// The character GPT.
pub struct TextFamily;

impl Family for TextFamily {
    fn models(&self) -> Vec<Capabilities> {
        vec![gen_ar::sequence::gpt::capabilities()]
    }

    fn train(&self, a: &TrainArgs) -> Result<serde_json::Value> {
        train(a)
    }

    fn load(&self, meta: &RunMeta, dir: &Path) -> Result<Box<dyn LoadedRun>> {
        let o: TextRunOptions = meta.options_as()?;
        let device = o.backend.parse::<gen_core::Backend>()?.device()?;
        let gpt = CharGpt::load(&latest_model_dir(dir)?, &device)?;
        Ok(Box::new(TextRun {
            gpt,
            vocab: CharVocab::from_chars(o.chars.chars()),
        }))
    }
}

/// One stream of the data: text as it is, strings each followed by '\n'.
fn stream(d: &Data) -> Result<String> {
    match d {
        Data::Text(t) => Ok(t.clone()),
        Data::Lines(l) => Ok(l.iter().map(|s| format!("{s}\n")).collect()),
        other => Err(GenError::config(
            "--data",
            other.describe(),
            "char-gpt models text",
            "use shakespeare, first-names, surnames or english-words",
        )),
    }
}

fn train(a: &TrainArgs) -> Result<serde_json::Value> {
    let (c, t) = (&a.common, &a.text);
    let train_text = stream(&crate::data::load(&a.data, gen_data::Split::Train)?)?;
    let test_text = stream(&crate::data::load(&a.data, gen_data::Split::Test)?)?;
    let vocab = CharVocab::from_chars(train_text.chars().chain(test_text.chars()).chain(['\n']));
    let (train_ids, test_ids) = (encode(&vocab, &train_text)?, encode(&vocab, &test_text)?);
    let mut config = GptConfig::new(vocab.len(), t.block, t.layers, t.heads, t.width);
    config.dropout = t.dropout;
    let (batch_size, lr) = (c.batch.unwrap_or(12), c.lr.unwrap_or(1e-3));
    let chars: String = vocab.iter().collect();
    let opts = TextRunOptions {
        backend: c.backend.name().into(),
        seed: c.seed,
        steps: c.steps,
        batch_size,
        lr,
        chars,
        config: config.clone(),
    };
    RunMeta::new(&a.model, &a.data, &opts)?.save(&c.out)?;
    let mut gpt = CharGpt::new(config, &c.backend.device()?, c.seed)?;
    // nanoGPT's schedule: warm-up (100 steps, at most a tenth of the run),
    // then cosine decay to a tenth of the learning rate.
    let schedule = gen_core::train::LrSchedule::Cosine {
        warmup: 100.min(c.steps / 10),
        min_factor: 0.1,
    };
    let tc = TrainConfig {
        steps: c.steps,
        lr,
        schedule,
        seed: c.seed,
        batch_size,
        checkpoint_every: 1000,
        log_every: 10,
        ..TrainConfig::default()
    };
    let report = Trainer::new(tc, &c.out)?.fit(&mut gpt, |_, rng| {
        TokenWindows::random(&train_ids, batch_size, t.block, rng)
    })?;
    // nanoGPT's estimate: 20 batches of random windows of the held-out stream.
    let mut rng = gen_core::rng_from_seed(c.seed ^ 0x5eed);
    let val = gpt.estimate_loss(&test_ids, 20, batch_size, &mut rng)?;
    let run = TextRun { gpt, vocab };
    let Samples::Strings(samples) = run.sample(5, &SampleOptions::default(), &mut rng)? else {
        unreachable!("text runs sample strings")
    };
    gen_core::checkpoint::write_atomic(&c.out.join("samples.txt"), samples.join("\n").as_bytes())?;
    output::loss_png(&report.losses, &c.out.join("loss.png"))?;
    let summary = json!({
        "model": a.model, "data": a.data, "backend": c.backend.name(),
        "parameters": run.gpt.num_params(), "vocab": run.vocab.len(),
        "steps": report.steps, "seconds": report.seconds,
        "ms_per_step": 1e3 * report.seconds / c.steps as f64,
        "train_loss": report.final_loss, "val_loss_nats_per_char": val,
        "val_bits_per_char": val / std::f64::consts::LN_2, "samples": samples,
    });
    gen_core::checkpoint::write_json_atomic(&c.out.join("summary.json"), &summary)?;
    Ok(summary)
}

/// Decodes `prompt` with any next-token model: the prompt is encoded by
/// `encode` (which names characters outside the vocabulary), the tokens are
/// generated by gen-ar's one decoding interface and streamed as text.
pub fn decode_text<M: gen_ar::NextToken>(
    model: &M,
    prompt: &[u32],
    options: &DecodeOptions,
    text_of: impl Fn(&[u32]) -> String,
    on_text: &mut dyn FnMut(&str),
) -> Result<String> {
    options.validate()?;
    let tokens = generate(model, prompt, options, |t| on_text(&text_of(&[t])))?;
    Ok(text_of(&tokens))
}

/// The error for prompt characters outside a model's vocabulary.
pub fn unknown_chars(prompt: &str, known: impl Fn(char) -> bool) -> Result<()> {
    let bad: String = prompt.chars().filter(|&c| !known(c)).collect();
    if bad.is_empty() {
        return Ok(());
    }
    Err(GenError::config(
        "--prompt",
        prompt.escape_debug(),
        format!("characters {:?} are not in the model's vocabulary", bad),
        "use only characters of the training text",
    ))
}

/// A loaded char-gpt run.
struct TextRun {
    gpt: CharGpt,
    vocab: CharVocab,
}

impl TextRun {
    fn newline(&self) -> Result<u32> {
        encode(&self.vocab, "\n").map(|v| v[0])
    }
}

impl LoadedRun for TextRun {
    fn capabilities(&self) -> Capabilities {
        self.gpt.capabilities()
    }

    /// `n` samples of 200 characters after a newline, through the KV-cached decoder.
    fn sample(&self, n: usize, opts: &SampleOptions, rng: &mut Rng) -> Result<Samples> {
        opts.validate()?;
        let start = self.newline()?;
        let decoder = self.gpt.decoder();
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let d = DecodeOptions::sampling(SAMPLE_CHARS, opts.temperature, rng.random());
            out.push(decode(
                &self.vocab,
                &generate(&decoder, &[start], &d, |_| {})?,
            ));
        }
        Ok(Samples::Strings(out))
    }

    fn decode(
        &self,
        prompt: &str,
        options: &DecodeOptions,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<String> {
        unknown_chars(prompt, |c| self.vocab.id(c).is_some())?;
        let block = self.gpt.config().block;
        if prompt.chars().count() + 1 > block {
            return Err(GenError::config(
                "--prompt",
                prompt.chars().count(),
                format!("the prompt is longer than the context of {block} characters"),
                "shorten the prompt (the model sees only its last block of characters)",
            ));
        }
        let ids = [vec![self.newline()?], encode(&self.vocab, prompt)?].concat();
        let decoder = self.gpt.decoder();
        decode_text(&decoder, &ids, options, |t| decode(&self.vocab, t), on_text)
    }

    /// Strings as they are; a text is cut into pieces of one block.
    fn prepare(&self, d: Data) -> Result<Input> {
        let block = self.gpt.config().block;
        Ok(Input::Strings(match d {
            Data::Text(t) => {
                let chars: Vec<char> = t.chars().collect();
                chars.chunks(block).map(|c| c.iter().collect()).collect()
            }
            other => stream(&other)?.lines().map(str::to_string).collect(),
        }))
    }

    fn score(&self, x: &Input, opts: &ScoreOptions) -> Result<Scores> {
        let Input::Strings(strings) = x else {
            return Err(GenError::config(
                "--input",
                "a numeric array",
                "char-gpt scores strings",
                "pass a .txt file with one string per line, or --data with a text set",
            ));
        };
        let start = self.newline()?;
        let seqs = strings
            .iter()
            .map(|s| Ok([vec![start], encode(&self.vocab, s)?].concat()))
            .collect::<Result<Vec<_>>>()?;
        self.gpt.score(&seqs, opts)
    }
}
