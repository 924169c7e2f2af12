//! The character models of gen-ar on the command line, the GPT and the
//! LSTM through the same code: `genlab train char-gpt|lstm --data
//! shakespeare|first-names|surnames|english-words`. Lists of strings are
//! joined into one stream with a newline after each, so a newline starts and
//! ends every name; text is one stream. Training draws random windows of
//! `--block + 1` characters. Sampling starts after a newline and runs
//! through gen-ar's decoders (the GPT's KV cache, the LSTM's carried
//! recurrent state); scores are exact log p(s | "\n") per string, in nats.

use std::path::Path;

use gen_ar::NextToken;
use gen_ar::decoding::{DecodeOptions, generate};
use gen_ar::sequence::{
    CharGpt, CharLstm, GptConfig, LstmConfig, TokenWindows, decode, encode, gpt, lstm,
};
use gen_core::train::{TrainConfig, Trainer};
use gen_core::{
    Capabilities, Checkpoint, GenError, Learn, Model, Result, Rng, SampleOptions, Score,
    ScoreOptions, Scores, StepContext, StepStats,
};
use gen_data::CharVocab;
use rand::Rng as _;
use serde_json::json;

use crate::data::Data;
use crate::registry::{Family, Input, LoadedRun, Samples};
use crate::run::{RunMeta, latest_model_dir};
use crate::{TrainArgs, output};

/// Options of the character models (char-gpt, lstm) in `genlab train`.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Character GPT (char-gpt) and LSTM (lstm)")]
pub struct TextArgs {
    /// Context length (block) in characters: the training window of both
    /// models, and the most the GPT ever sees (the LSTM decodes and scores
    /// any length). The char-gpt defaults are nanoGPT's CPU "baby"
    /// Shakespeare configuration (4 layers, 4 heads, width 128, block 64,
    /// batch 12, AdamW β₂ 0.99, lr 1e-3 with warm-up and cosine decay to
    /// 1e-4); the lstm defaults are char-rnn's size (2 layers of 128 units,
    /// here with an embedding of width 64), batch 32, lr 2e-3 with the same
    /// schedule.
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
    /// Dropout probability (lstm: on the embeddings, between layers and
    /// before the head).
    #[arg(id = "dropout", long = "dropout", default_value_t = 0.0)]
    pub dropout: f64,
    /// LSTM embedding width.
    #[arg(id = "lstm-embed", long = "embed", default_value_t = 64)]
    pub embed: usize,
    /// LSTM hidden (and cell) width of every layer.
    #[arg(id = "lstm-hidden", long = "hidden", default_value_t = 128)]
    pub hidden: usize,
    /// Stacked LSTM layers.
    #[arg(id = "lstm-layers", long = "lstm-layers", default_value_t = 2)]
    pub lstm_layers: usize,
}

/// Characters generated per sample by `genlab sample`.
const SAMPLE_CHARS: usize = 200;

/// What `run.json` stores for a char-gpt (`C` = [`GptConfig`]) or lstm
/// (`C` = [`LstmConfig`]) run: the vocabulary's characters in id order, so
/// the run decodes without the training data.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct TextRunOptions<C> {
    backend: String,
    seed: u64,
    steps: u64,
    batch_size: usize,
    lr: f64,
    chars: String,
    config: C,
}

/// The character models: the GPT and the LSTM.
pub struct TextFamily;

impl Family for TextFamily {
    fn models(&self) -> Vec<Capabilities> {
        vec![gpt::capabilities(), lstm::capabilities()]
    }

    fn train(&self, a: &TrainArgs) -> Result<serde_json::Value> {
        train(a)
    }

    fn load(&self, meta: &RunMeta, dir: &Path) -> Result<Box<dyn LoadedRun>> {
        let (model, chars) = match meta.model.as_str() {
            gpt::NAME => {
                let o: TextRunOptions<GptConfig> = meta.options_as()?;
                let device = o.backend.parse::<gen_core::Backend>()?.device()?;
                let m = CharGpt::load(&latest_model_dir(dir)?, &device)?;
                (CharModel::Gpt(Box::new(m)), o.chars)
            }
            lstm::NAME => {
                let o: TextRunOptions<LstmConfig> = meta.options_as()?;
                let device = o.backend.parse::<gen_core::Backend>()?.device()?;
                let m = CharLstm::load(&latest_model_dir(dir)?, &device)?;
                (CharModel::Lstm(Box::new(m)), o.chars)
            }
            other => return Err(not_a_text_model(other)),
        };
        Ok(Box::new(TextRun {
            model,
            vocab: CharVocab::from_chars(chars.chars()),
        }))
    }
}

fn not_a_text_model(model: &str) -> GenError {
    GenError::config(
        "model",
        model,
        "not a character model of the text family",
        format!("use {} or {}", gpt::NAME, lstm::NAME),
    )
}

/// One of the character models, so that training, sampling, decoding and
/// scoring run through the same code for both.
enum CharModel {
    Gpt(Box<CharGpt>),
    Lstm(Box<CharLstm>),
}

impl CharModel {
    fn num_params(&self) -> usize {
        match self {
            Self::Gpt(m) => m.num_params(),
            Self::Lstm(m) => m.num_params(),
        }
    }

    /// The training window (block).
    fn block(&self) -> usize {
        match self {
            Self::Gpt(m) => m.config().block,
            Self::Lstm(m) => m.config().block,
        }
    }

    /// The longest context the model conditions on: the GPT's block; the
    /// LSTM's state carries any length.
    fn context_limit(&self) -> Option<usize> {
        match self {
            Self::Gpt(m) => Some(m.config().block),
            Self::Lstm(_) => None,
        }
    }

    fn estimate_loss(
        &self,
        stream: &[u32],
        iters: usize,
        batch: usize,
        rng: &mut Rng,
    ) -> Result<f64> {
        match self {
            Self::Gpt(m) => m.estimate_loss(stream, iters, batch, rng),
            Self::Lstm(m) => m.estimate_loss(stream, iters, batch, rng),
        }
    }

    /// The model's cached decoder (KV cache, or carried recurrent state).
    fn decoder(&self) -> Box<dyn NextToken> {
        match self {
            Self::Gpt(m) => Box::new(m.decoder()),
            Self::Lstm(m) => Box::new(m.decoder()),
        }
    }

    fn score(&self, x: &[Vec<u32>], opts: &ScoreOptions) -> Result<Scores> {
        match self {
            Self::Gpt(m) => m.score(x, opts),
            Self::Lstm(m) => m.score(x, opts),
        }
    }
}

impl Model for CharModel {
    fn capabilities(&self) -> Capabilities {
        match self {
            Self::Gpt(m) => m.capabilities(),
            Self::Lstm(m) => m.capabilities(),
        }
    }
}

impl Learn for CharModel {
    type Batch = TokenWindows;
    /// Windows split evenly over the ranks (data-parallel training).
    fn shard_batch(&self, batch: &TokenWindows, rank: usize, size: usize) -> Result<TokenWindows> {
        batch.shard(rank, size)
    }

    fn learn_step(&mut self, batch: &TokenWindows, ctx: &mut StepContext<'_>) -> Result<StepStats> {
        match self {
            Self::Gpt(m) => m.learn_step(batch, ctx),
            Self::Lstm(m) => m.learn_step(batch, ctx),
        }
    }
}

impl Checkpoint for CharModel {
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        match self {
            Self::Gpt(m) => m.save_checkpoint(dir),
            Self::Lstm(m) => m.save_checkpoint(dir),
        }
    }

    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        match self {
            Self::Gpt(m) => m.load_checkpoint(dir),
            Self::Lstm(m) => m.load_checkpoint(dir),
        }
    }
}

/// One stream of the data: text as it is, strings each followed by '\n'.
fn stream(d: &Data, model: &str) -> Result<String> {
    match d {
        Data::Text(t) => Ok(t.clone()),
        Data::Lines(l) => Ok(l.iter().map(|s| format!("{s}\n")).collect()),
        other => Err(GenError::config(
            "--data",
            other.describe(),
            format!("{model} models text"),
            "use shakespeare, first-names, surnames or english-words",
        )),
    }
}

/// Writes `run.json` of a run of `a.model` with its network configuration.
fn save_run_meta<C: Clone + serde::Serialize>(
    a: &TrainArgs,
    chars: &str,
    batch_size: usize,
    lr: f64,
    config: &C,
) -> Result<()> {
    let c = &a.common;
    let opts = TextRunOptions {
        backend: c.backend.name().into(),
        seed: c.seed,
        steps: c.steps,
        batch_size,
        lr,
        chars: chars.into(),
        config: config.clone(),
    };
    RunMeta::new(a.model(), a.data(), &opts)?.save(&c.out)
}

fn train(a: &TrainArgs) -> Result<serde_json::Value> {
    let (c, t) = (&a.common, &a.text);
    let train_text = stream(
        &crate::data::load(a.data(), gen_data::Split::Train)?,
        a.model(),
    )?;
    let test_text = stream(
        &crate::data::load(a.data(), gen_data::Split::Test)?,
        a.model(),
    )?;
    let vocab = CharVocab::from_chars(train_text.chars().chain(test_text.chars()).chain(['\n']));
    let (train_ids, test_ids) = (encode(&vocab, &train_text)?, encode(&vocab, &test_text)?);
    let chars: String = vocab.iter().collect();
    let device = c.backend.device()?;
    let (mut model, batch_size, lr) = match a.model() {
        gpt::NAME => {
            let mut config = GptConfig::new(vocab.len(), t.block, t.layers, t.heads, t.width);
            config.dropout = t.dropout;
            config.validate()?;
            let (batch_size, lr) = (c.batch.unwrap_or(12), c.lr.unwrap_or(1e-3));
            save_run_meta(a, &chars, batch_size, lr, &config)?;
            let m = CharGpt::new(config, &device, c.seed)?;
            (CharModel::Gpt(Box::new(m)), batch_size, lr)
        }
        lstm::NAME => {
            let mut config =
                LstmConfig::new(vocab.len(), t.block, t.embed, t.hidden, t.lstm_layers);
            config.dropout = t.dropout;
            config.validate()?;
            let (batch_size, lr) = (c.batch.unwrap_or(32), c.lr.unwrap_or(2e-3));
            save_run_meta(a, &chars, batch_size, lr, &config)?;
            let m = CharLstm::new(config, &device, c.seed)?;
            (CharModel::Lstm(Box::new(m)), batch_size, lr)
        }
        other => return Err(not_a_text_model(other)),
    };
    // nanoGPT's schedule: warm-up (100 steps, at most a tenth of the run),
    // then cosine decay to a tenth of the learning rate.
    let schedule = gen_core::train::LrSchedule::Cosine {
        warmup: 100.min(c.steps / 10),
        min_factor: 0.1,
    };
    let tc = c.run.apply(TrainConfig {
        steps: c.steps,
        lr,
        schedule,
        seed: c.seed,
        batch_size,
        log_every: 10,
        ..TrainConfig::default()
    });
    // The held-out loss every --eval-every steps: nanoGPT's estimate (20
    // random windows of the held-out stream), with the eval RNG.
    let report = Trainer::new(tc, &c.out)?.fit_with_eval(
        &mut model,
        |_, rng| TokenWindows::random(&train_ids, batch_size, t.block, rng),
        |m: &CharModel, ctx: &mut gen_core::train::EvalContext<'_>| {
            let nll = m.estimate_loss(&test_ids, 20, batch_size, ctx.rng)?;
            Ok(gen_core::train::EvalMetrics::from([(
                "test_nll_estimate".to_string(),
                nll,
            )]))
        },
    )?;
    // nanoGPT's estimate: 20 batches of random windows of the held-out stream.
    let mut rng = gen_core::rng_from_seed(c.seed ^ 0x5eed);
    let val = model.estimate_loss(&test_ids, 20, batch_size, &mut rng)?;
    let run = TextRun { model, vocab };
    let Samples::Strings(samples) = run.sample(5, &SampleOptions::default(), &mut rng)? else {
        unreachable!("text runs sample strings")
    };
    gen_core::checkpoint::write_atomic(&c.out.join("samples.txt"), samples.join("\n").as_bytes())?;
    output::loss_png(&report.losses, &c.out.join("loss.png"))?;
    let summary = json!({
        "model": a.model(), "data": a.data(), "backend": c.backend.name(),
        "parameters": run.model.num_params(), "vocab": run.vocab.len(),
        "steps": report.steps, "seconds": report.seconds,
        "ms_per_step": report.ms_per_step(),
        "train_loss": report.final_loss, "val_loss_nats_per_char": val,
        "val_bits_per_char": val / std::f64::consts::LN_2, "samples": samples,
    });
    gen_core::checkpoint::write_json_atomic(&c.out.join("summary.json"), &summary)?;
    Ok(summary)
}

/// Decodes `prompt` with any next-token model: the prompt is encoded by
/// `encode` (which names characters outside the vocabulary), the tokens are
/// generated by gen-ar's one decoding interface and streamed as text.
pub fn decode_text<M: gen_ar::NextToken + ?Sized>(
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

/// A loaded char-gpt or lstm run.
struct TextRun {
    model: CharModel,
    vocab: CharVocab,
}

impl TextRun {
    fn newline(&self) -> Result<u32> {
        encode(&self.vocab, "\n").map(|v| v[0])
    }
}

impl LoadedRun for TextRun {
    fn capabilities(&self) -> Capabilities {
        self.model.capabilities()
    }

    /// `n` samples of 200 characters after a newline, through the model's
    /// cached decoder.
    fn sample(&self, n: usize, opts: &SampleOptions, rng: &mut Rng) -> Result<Samples> {
        opts.validate()?;
        let start = self.newline()?;
        let decoder = self.model.decoder();
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let d = DecodeOptions::sampling(SAMPLE_CHARS, opts.temperature, rng.random());
            out.push(decode(
                &self.vocab,
                &generate(&*decoder, &[start], &d, |_| {})?,
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
        if let Some(block) = self.model.context_limit()
            && prompt.chars().count() + 1 > block
        {
            return Err(GenError::config(
                "--prompt",
                prompt.chars().count(),
                format!("the prompt is longer than the context of {block} characters"),
                "shorten the prompt (the model sees only its last block of characters)",
            ));
        }
        let ids = [vec![self.newline()?], encode(&self.vocab, prompt)?].concat();
        let decoder = self.model.decoder();
        decode_text(
            &*decoder,
            &ids,
            options,
            |t| decode(&self.vocab, t),
            on_text,
        )
    }

    /// Strings as they are; a text is cut into pieces of one block (the
    /// GPT's context; for the LSTM the training window, so both score the
    /// same pieces).
    fn prepare(&self, d: Data) -> Result<Input> {
        let block = self.model.block();
        let name = self.model.capabilities().model;
        Ok(Input::Strings(match d {
            Data::Text(t) => {
                let chars: Vec<char> = t.chars().collect();
                chars.chunks(block).map(|c| c.iter().collect()).collect()
            }
            other => stream(&other, name)?.lines().map(str::to_string).collect(),
        }))
    }

    fn score(&self, x: &Input, opts: &ScoreOptions) -> Result<Scores> {
        let Input::Strings(strings) = x else {
            return Err(GenError::config(
                "--input",
                "a numeric array",
                format!("{} scores strings", self.model.capabilities().model),
                "pass a .txt file with one string per line, or --data with a text set",
            ));
        };
        let start = self.newline()?;
        let seqs = strings
            .iter()
            .map(|s| Ok([vec![start], encode(&self.vocab, s)?].concat()))
            .collect::<Result<Vec<_>>>()?;
        self.model.score(&seqs, opts)
    }
}
