//! The one training loop every family uses.
//!
//! It drives any [`Learn`] model: per step it fetches a batch (a pure function
//! of the step and the run's RNG, so resumes are exact), applies the learning
//! rate schedule, calls [`Learn::learn_step`] (which steps one optimizer, or
//! two for a GAN, or runs one EM update), guards against non-finite losses,
//! logs JSON lines, shows progress and writes atomic checkpoints holding the
//! model, its optimizer state, the step and the RNG state.

use std::fs;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, CheckpointDir, read_json, write_json_atomic};
use crate::error::{GenError, Result};
use crate::task::{Learn, Rng, StepContext, StepStats, rng_from_seed};
use crate::train::schedule::LrSchedule;

/// Settings of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Total optimisation steps.
    pub steps: u64,
    /// Base learning rate lr₀ (the schedule scales it).
    pub lr: f64,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// Seed of the run's RNG (batches, noise, sampling).
    pub seed: u64,
    /// Write a checkpoint every this many steps (0: only at the start and end).
    pub checkpoint_every: u64,
    /// Append a metrics line every this many steps (≥ 1).
    pub log_every: u64,
    /// Examples per step, for the samples/s figure.
    pub batch_size: usize,
    /// Show a progress bar (hidden automatically when stderr is not a terminal).
    pub progress: bool,
    /// Continue from the run directory's latest checkpoint when there is one.
    pub resume: bool,
    /// Number of checkpoints to keep.
    pub keep_checkpoints: usize,
    /// Finite-explosion guard: after [`EXPLOSION_WARMUP`] steps, a loss above
    /// m + f·(|m| + MAD + 1), with m the median and MAD the median absolute
    /// deviation of the last 100 losses, stops the run as diverged (None: off).
    /// The NaN/Inf guard is always on.
    #[serde(default = "default_explosion_factor")]
    pub explosion_factor: Option<f64>,
}

/// Steps before the explosion guard starts watching (early losses move fast).
pub const EXPLOSION_WARMUP: usize = 100;

fn default_explosion_factor() -> Option<f64> {
    Some(1e4)
}

/// The loss above which step t counts as exploded, from the losses before it
/// (None while fewer than [`EXPLOSION_WARMUP`] are known).
fn explosion_threshold(losses: &[f64], factor: f64) -> Option<f64> {
    if losses.len() < EXPLOSION_WARMUP {
        return None;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            0.5 * (v[n / 2 - 1] + v[n / 2])
        }
    };
    let mut recent = losses[losses.len() - 100.min(losses.len())..].to_vec();
    let m = median(&mut recent);
    let mut dev: Vec<f64> = recent.iter().map(|l| (l - m).abs()).collect();
    let mad = median(&mut dev);
    Some(m + factor * (m.abs() + mad + 1.0))
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            steps: 1000,
            lr: 1e-3,
            schedule: LrSchedule::Constant,
            seed: 0,
            checkpoint_every: 0,
            log_every: 10,
            batch_size: 1,
            progress: true,
            resume: false,
            keep_checkpoints: 2,
            explosion_factor: default_explosion_factor(),
        }
    }
}

impl TrainConfig {
    /// Checks every field before any work starts.
    pub fn validate(&self) -> Result<()> {
        if self.steps == 0 {
            return Err(GenError::config(
                "steps",
                0,
                "a run needs at least one step",
                "pass --steps 1 or more",
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(GenError::config(
                "lr",
                self.lr,
                "must be finite and > 0",
                "typical values are 1e-4 .. 1e-2 for Adam",
            ));
        }
        if self.log_every == 0 {
            return Err(GenError::config(
                "log_every",
                0,
                "must be at least 1",
                "log every 10 or 100 steps",
            ));
        }
        if let Some(f) = self.explosion_factor
            && !(f.is_finite() && f > 0.0)
        {
            return Err(GenError::config(
                "explosion_factor",
                f,
                "must be finite and > 0",
                "use the default 1e4, or None to turn the finite-explosion guard off",
            ));
        }
        Ok(())
    }
}

/// What the trainer persists beside the model in each checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TrainerState {
    /// Steps completed.
    step: u64,
    /// The run RNG after `step` steps.
    rng: Rng,
    /// Loss of every completed step, stored as IEEE-754 bit patterns so a
    /// resumed run reports exactly the values the interrupted one computed
    /// (decimal JSON floats need not round-trip).
    #[serde(with = "f64_bits")]
    losses: Vec<f64>,
}

mod f64_bits {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        v.iter()
            .map(|x| x.to_bits())
            .collect::<Vec<u64>>()
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<u64>::deserialize(d)?
            .into_iter()
            .map(f64::from_bits)
            .collect())
    }
}

/// The outcome of [`Trainer::fit`].
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// Steps completed in total (including those before a resume).
    pub steps: u64,
    /// The step the run resumed from, if it did.
    pub resumed_from: Option<u64>,
    /// Loss of every step, from step 0.
    pub losses: Vec<f64>,
    /// Mean loss over the last min(100, steps) steps.
    pub final_loss: f64,
    /// Wall time of this call in seconds.
    pub seconds: f64,
    /// Training throughput of this call.
    pub samples_per_sec: f64,
    /// The checkpoint written last.
    pub checkpoint: PathBuf,
}

/// One metrics line of `metrics.jsonl`.
#[derive(Debug, Serialize, Deserialize)]
struct MetricsLine {
    step: u64,
    lr: f64,
    #[serde(flatten)]
    stats: StepStats,
    elapsed_s: f64,
}

/// The training loop; see the module documentation.
#[derive(Debug, Clone)]
pub struct Trainer {
    config: TrainConfig,
    run_dir: PathBuf,
}

impl Trainer {
    /// A trainer writing into `run_dir` (created if missing).
    pub fn new(config: TrainConfig, run_dir: impl Into<PathBuf>) -> Result<Self> {
        config.validate()?;
        let run_dir = run_dir.into();
        fs::create_dir_all(&run_dir).map_err(|e| GenError::io(&run_dir, e))?;
        Ok(Self { config, run_dir })
    }

    /// The run directory.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Trains `model` for the configured steps; `next_batch(step, rng)` supplies batches.
    pub fn fit<M, F>(&self, model: &mut M, mut next_batch: F) -> Result<TrainReport>
    where
        M: Learn + Checkpoint,
        F: FnMut(u64, &mut Rng) -> Result<M::Batch>,
    {
        let cfg = &self.config;
        let ckpts = CheckpointDir::new(&self.run_dir, cfg.keep_checkpoints);
        let metrics_path = self.run_dir.join("metrics.jsonl");

        // 1. Start fresh or restore model, optimizer, step, RNG and loss history.
        let mut state = TrainerState {
            step: 0,
            rng: rng_from_seed(cfg.seed),
            losses: Vec::new(),
        };
        let mut resumed_from = None;
        let mut last_ckpt = match (cfg.resume, ckpts.latest()?) {
            (true, Some(dir)) => {
                model.load_checkpoint(&dir.join("model"))?;
                state = read_json(&dir.join("trainer.json"))?;
                resumed_from = Some(state.step);
                truncate_metrics(&metrics_path, state.step)?;
                dir
            }
            _ => {
                if metrics_path.exists() {
                    fs::remove_file(&metrics_path).map_err(|e| GenError::io(&metrics_path, e))?;
                }
                save(&ckpts, model, &state)?
            }
        };
        write_json_atomic(&self.run_dir.join("train_config.json"), cfg)?;

        let log_file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&metrics_path)
            .map_err(|e| GenError::io(&metrics_path, e))?;
        let mut log = BufWriter::new(log_file);

        let bar = progress_bar(cfg, state.step);
        let start = Instant::now();
        let first_step = state.step;

        // 2. The loop.
        while state.step < cfg.steps {
            let t = state.step;
            let lr = cfg.schedule.lr(cfg.lr, t, cfg.steps);
            let batch = next_batch(t, &mut state.rng)?;
            let stats = {
                let mut ctx = StepContext {
                    step: t,
                    lr,
                    rng: &mut state.rng,
                };
                model.learn_step(&batch, &mut ctx)?
            };
            // 3. NaN/Inf and explosion guard: stop, keep the last good checkpoint untouched.
            let exploded = cfg
                .explosion_factor
                .and_then(|f| explosion_threshold(&state.losses, f))
                .is_some_and(|limit| stats.loss > limit);
            if !stats.loss.is_finite() || exploded {
                bar.abandon_with_message(format!("diverged at step {t}"));
                let _ = log.flush();
                return Err(GenError::Diverged {
                    step: t,
                    loss: stats.loss,
                    checkpoint: last_ckpt.display().to_string(),
                });
            }
            state.losses.push(stats.loss);
            state.step += 1;

            if state.step.is_multiple_of(cfg.log_every) || state.step == cfg.steps {
                let line = MetricsLine {
                    step: state.step,
                    lr,
                    stats: stats.clone(),
                    elapsed_s: start.elapsed().as_secs_f64(),
                };
                let json = serde_json::to_string(&line)
                    .map_err(|e| GenError::Other(format!("metrics serialization: {e}")))?;
                writeln!(log, "{json}").map_err(|e| GenError::io(&metrics_path, e))?;
            }
            let done = (state.step - first_step) as f64;
            let rate = done * cfg.batch_size as f64 / start.elapsed().as_secs_f64().max(1e-9);
            bar.set_position(state.step);
            bar.set_message(format!("loss {:.4}  {:.0} samples/s", stats.loss, rate));

            if cfg.checkpoint_every > 0
                && state.step.is_multiple_of(cfg.checkpoint_every)
                && state.step < cfg.steps
            {
                log.flush().map_err(|e| GenError::io(&metrics_path, e))?;
                last_ckpt = save(&ckpts, model, &state)?;
            }
        }
        log.flush().map_err(|e| GenError::io(&metrics_path, e))?;
        if state.step > first_step || resumed_from.is_none() {
            last_ckpt = save(&ckpts, model, &state)?;
        }
        bar.finish_and_clear();

        let seconds = start.elapsed().as_secs_f64();
        let tail = state.losses.len().min(100);
        let final_loss = if tail == 0 {
            f64::NAN
        } else {
            state.losses[state.losses.len() - tail..]
                .iter()
                .sum::<f64>()
                / tail as f64
        };
        Ok(TrainReport {
            steps: state.step,
            resumed_from,
            final_loss,
            seconds,
            samples_per_sec: (state.step - first_step) as f64 * cfg.batch_size as f64
                / seconds.max(1e-9),
            losses: state.losses,
            checkpoint: last_ckpt,
        })
    }
}

fn save<M: Checkpoint>(ckpts: &CheckpointDir, model: &M, state: &TrainerState) -> Result<PathBuf> {
    ckpts.write(state.step, |dir| {
        let model_dir = dir.join("model");
        fs::create_dir_all(&model_dir).map_err(|e| GenError::io(&model_dir, e))?;
        model.save_checkpoint(&model_dir)?;
        write_json_atomic(&dir.join("trainer.json"), state)
    })
}

/// Drops metrics lines at or after `step` (they belong to work the resume redoes).
fn truncate_metrics(path: &Path, step: u64) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let file = fs::File::open(path).map_err(|e| GenError::io(path, e))?;
    let mut kept = String::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| GenError::io(path, e))?;
        let keep = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v.get("step").and_then(|s| s.as_u64()))
            .is_some_and(|s| s <= step);
        if keep {
            kept.push_str(&line);
            kept.push('\n');
        }
    }
    crate::checkpoint::write_atomic(path, kept.as_bytes())
}

fn progress_bar(cfg: &TrainConfig, start: u64) -> indicatif::ProgressBar {
    if !cfg.progress {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(cfg.steps);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg} (eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar.set_position(start);
    bar
}

#[cfg(test)]
mod tests {
    use super::explosion_threshold;

    #[test]
    fn explosion_threshold_waits_for_warmup_then_tracks_the_recent_scale() {
        assert_eq!(explosion_threshold(&[1.0; 99], 1e4), None);
        // MNIST-flow scale: losses near −3000 nats; 1e11 is an explosion, a
        // jump to +3000 is not.
        let nll: Vec<f64> = (0..300).map(|i| -3000.0 + (i % 7) as f64).collect();
        let limit = explosion_threshold(&nll, 1e4).unwrap();
        assert!(limit > 3000.0 && limit < 1e11, "{limit}");
        // Noisy losses around 0 (a GAN): the +1 keeps the limit away from 0.
        let gan: Vec<f64> = (0..200)
            .map(|i| if i % 2 == 0 { 0.3 } else { -0.3 })
            .collect();
        let limit = explosion_threshold(&gan, 1e4).unwrap();
        assert!((1e3..1e5).contains(&limit), "{limit}");
        // Only the last 100 losses count: a long-past large scale is forgotten.
        let mut past: Vec<f64> = vec![1e6; 200];
        past.extend(vec![1.0; 100]);
        assert!(explosion_threshold(&past, 1e4).unwrap() < 1e5);
    }
}
