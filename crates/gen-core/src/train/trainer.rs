//! The one training loop every family uses.
//!
//! It drives any [`Learn`] model: per step it fetches a batch (a pure function
//! of the step and the run's RNG, so resumes are exact), applies the learning
//! rate schedule, calls [`Learn::learn_step`] (which steps one optimizer, or
//! two for a GAN, or runs one EM update), guards against non-finite losses,
//! logs JSON lines, shows progress and writes atomic checkpoints holding the
//! model, its optimizer state, the step and the RNG state.
//!
//! [`Trainer::fit_with_eval`] also calls an evaluation hook every
//! `eval_every` steps and after the last one; the named values it returns
//! are appended to `metrics.jsonl` as `{"step": s, "eval": {...}}` lines.
//! The hook gets its own RNG, a pure function of the seed and the step, so
//! evaluating never changes the training numbers and a resumed run evaluates
//! exactly as an uninterrupted one.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, CheckpointDir, read_json, write_json_atomic};
use crate::distributed;
use crate::error::{GenError, Result};
use crate::task::{Learn, Rng, StepContext, rng_from_seed};
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
    /// Also write one whenever this many seconds have passed since the last
    /// checkpoint (None: steps only), so a kill loses at most this much work
    /// whatever a step costs. Checkpoints do not touch the training state, so
    /// a run's losses do not depend on when they were written.
    #[serde(default)]
    pub checkpoint_secs: Option<f64>,
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
    /// Call the evaluation hook of [`Trainer::fit_with_eval`] every this many
    /// steps, and after the last step (0: only after the last step).
    #[serde(default)]
    pub eval_every: u64,
    /// Data-parallel training over this thread's world
    /// ([`crate::distributed`]): every rank calls [`Trainer::fit`] with the
    /// same settings; rank 0 builds or restores the starting state and
    /// broadcasts it, each rank trains on its shard of every batch
    /// ([`Learn::shard_batch`]) with gradients averaged over the ranks, and
    /// only rank 0 writes checkpoints and metrics, runs the evaluation hook
    /// and returns the report; the other ranks return
    /// [`GenError::FollowerDone`] after the last step. `batch_size` is the
    /// global batch.
    #[serde(default)]
    pub distributed: bool,
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
            checkpoint_secs: None,
            log_every: 10,
            batch_size: 1,
            progress: true,
            resume: false,
            keep_checkpoints: 2,
            explosion_factor: default_explosion_factor(),
            eval_every: 0,
            distributed: false,
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
        if let Some(secs) = self.checkpoint_secs
            && !(secs.is_finite() && secs > 0.0)
        {
            return Err(GenError::config(
                "checkpoint_secs",
                secs,
                "must be finite and > 0",
                "checkpoint every few minutes (e.g. 300), or None for steps only",
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

impl TrainReport {
    /// Steps this call trained: all of them, or those after the resume.
    pub fn steps_this_call(&self) -> u64 {
        self.steps - self.resumed_from.unwrap_or(0).min(self.steps)
    }

    /// Milliseconds per step of this call (its wall time over
    /// [`steps_this_call`](Self::steps_this_call)); `None` when it trained
    /// none (a resume of a finished run), so a summary does not report the
    /// zero-step call's time as the run's speed.
    pub fn ms_per_step(&self) -> Option<f64> {
        match self.steps_this_call() {
            0 => None,
            n => Some(1e3 * self.seconds / n as f64),
        }
    }
}

/// One line of `metrics.jsonl`, flat (one key per metric, as TensorBoard
/// scalars or a pandas column): `kind` ("train" or "eval"), `step`, then for
/// training lines `lr`, `loss` and the step's named metrics, for evaluation
/// lines the hook's named values, and `elapsed_s` last. A named metric that
/// collides with a fixed key is written with a `metric_` prefix.
fn metrics_line(
    kind: &str,
    step: u64,
    (lr, loss): (Option<f64>, Option<f64>),
    values: &BTreeMap<String, f64>,
    elapsed_s: f64,
) -> Result<String> {
    const FIXED: [&str; 5] = ["kind", "step", "lr", "loss", "elapsed_s"];
    let mut line = serde_json::Map::new();
    line.insert("kind".into(), kind.into());
    line.insert("step".into(), step.into());
    if let Some(lr) = lr {
        line.insert("lr".into(), lr.into());
    }
    if let Some(loss) = loss {
        line.insert("loss".into(), loss.into());
    }
    for (k, v) in values {
        let key = match FIXED.contains(&k.as_str()) {
            true => format!("metric_{k}"),
            false => k.clone(),
        };
        line.insert(key, (*v).into());
    }
    line.insert("elapsed_s".into(), elapsed_s.into());
    serde_json::to_string(&line).map_err(|e| GenError::Other(format!("metrics serialization: {e}")))
}

/// The held-out score of a model as an evaluation hook for
/// [`Trainer::fit_with_eval`]: the mean negative log-density of `held_out`
/// in nats per example, under a key that says what it is: `test_nll`
/// (exact), `test_nll_bound` (minus a lower bound on log p, so an upper
/// bound on the NLL, e.g. the negative ELBO), `test_nll_estimate` or
/// `test_nll_integrated`. The score's noise comes from its own seed, so the
/// hook leaves the training run untouched.
pub fn held_out_nll<M: crate::Score>(
    held_out: &M::Input,
) -> impl FnMut(&M, &mut EvalContext<'_>) -> Result<EvalMetrics> + '_ {
    move |model, _ctx| {
        let scores = model.score(held_out, &crate::ScoreOptions::default())?;
        let key = match scores.kind {
            crate::ScoreKind::Exact => "test_nll",
            crate::ScoreKind::Bound { .. } => "test_nll_bound",
            crate::ScoreKind::Estimate { .. } => "test_nll_estimate",
            _ => "test_nll_integrated",
        };
        Ok(EvalMetrics::from([(key.to_string(), scores.mean_nll())]))
    }
}

/// What the trainer hands the evaluation hook of [`Trainer::fit_with_eval`].
#[derive(Debug)]
pub struct EvalContext<'a> {
    /// Steps completed when the hook runs (≥ 1).
    pub step: u64,
    /// An RNG for the evaluation (sampling, noise), seeded from the run's seed
    /// and `step` alone: the training RNG is not touched.
    pub rng: &'a mut Rng,
}

/// Named values an evaluation returns (e.g. `fid`, `test_nll`).
pub type EvalMetrics = BTreeMap<String, f64>;

/// The evaluation RNG of `step`: the run seed mixed with a constant, on
/// ChaCha stream `step`, so it never overlaps the training stream.
fn eval_rng(seed: u64, step: u64) -> Rng {
    let mut rng = rng_from_seed(seed ^ 0x9E37_79B9_7F4A_7C15);
    rng.set_stream(step);
    rng
}

/// The noise RNG of `rank` at `step` in data-parallel training: its own
/// seed per rank (never the evaluation or training seed), ChaCha stream `step`.
fn rank_rng(seed: u64, rank: usize, step: u64) -> Rng {
    let mut rng = rng_from_seed(seed ^ (rank as u64 + 2).wrapping_mul(0xD1B5_4A32_D192_ED03));
    rng.set_stream(step);
    rng
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
    pub fn fit<M, F>(&self, model: &mut M, next_batch: F) -> Result<TrainReport>
    where
        M: Learn + Checkpoint,
        F: FnMut(u64, &mut Rng) -> Result<M::Batch>,
    {
        self.run(model, next_batch, None::<NoEval<M>>)
    }

    /// [`Trainer::fit`] with an evaluation hook: `eval(model, ctx)` runs after
    /// step `ctx.step` whenever `ctx.step` is a multiple of
    /// [`TrainConfig::eval_every`] and after the last step, before that
    /// step's checkpoint; its metrics are appended to `metrics.jsonl` as
    /// `{"step": s, "eval": {name: value, ..}, "elapsed_s": ..}`. An error
    /// from the hook stops the run (the last checkpoint stays valid).
    pub fn fit_with_eval<M, F, E>(
        &self,
        model: &mut M,
        next_batch: F,
        eval: E,
    ) -> Result<TrainReport>
    where
        M: Learn + Checkpoint,
        F: FnMut(u64, &mut Rng) -> Result<M::Batch>,
        E: FnMut(&M, &mut EvalContext<'_>) -> Result<EvalMetrics>,
    {
        self.run(model, next_batch, Some(eval))
    }

    fn run<M, F, E>(
        &self,
        model: &mut M,
        mut next_batch: F,
        mut eval: Option<E>,
    ) -> Result<TrainReport>
    where
        M: Learn + Checkpoint,
        F: FnMut(u64, &mut Rng) -> Result<M::Batch>,
        E: FnMut(&M, &mut EvalContext<'_>) -> Result<EvalMetrics>,
    {
        let cfg = &self.config;
        let ckpts = CheckpointDir::new(&self.run_dir, cfg.keep_checkpoints);
        let metrics_path = self.run_dir.join("metrics.jsonl");
        let world = if cfg.distributed {
            Some(distributed::world().ok_or_else(|| {
                GenError::config(
                    "distributed",
                    "on",
                    "no collective is installed on this thread",
                    "launch under mpirun with genlab built with --features mpi \
                     (gen_core::distributed::mpi::init), or install a ThreadGroup member",
                )
            })?)
        } else {
            None
        };
        // Rank 0 (or the only process) owns the run directory.
        let root = world.as_ref().is_none_or(|w| w.rank() == 0);

        // 1. Start fresh or restore model, optimizer, step, RNG and loss history.
        let mut state = TrainerState {
            step: 0,
            rng: rng_from_seed(cfg.seed),
            losses: Vec::new(),
        };
        let mut resumed_from = None;
        let mut last_ckpt = self.run_dir.clone();
        if root {
            last_ckpt = match (cfg.resume, ckpts.latest()?) {
                (true, Some(dir)) => {
                    model.load_checkpoint(&dir.join("model"))?;
                    state = read_json(&dir.join("trainer.json"))?;
                    resumed_from = Some(state.step);
                    truncate_metrics(&metrics_path, state.step)?;
                    dir
                }
                _ => {
                    // A fresh run owns the directory: checkpoints of an earlier
                    // run would otherwise outrank (and be pruned against) its own.
                    ckpts.clear()?;
                    if metrics_path.exists() {
                        fs::remove_file(&metrics_path)
                            .map_err(|e| GenError::io(&metrics_path, e))?;
                    }
                    save(&ckpts, model, &state)?
                }
            };
            write_json_atomic(&self.run_dir.join("train_config.json"), cfg)?;
        }
        if let Some(w) = &world {
            // Every rank starts from rank 0's checkpoint, sent over the
            // collective (no shared file system needed).
            let mut bytes = if root {
                distributed::pack_dir(&last_ckpt)?
            } else {
                Vec::new()
            };
            w.broadcast_bytes(0, &mut bytes)?;
            if !root {
                let tmp = std::env::temp_dir().join(format!(
                    "gen-core-rank{}-{}-{}",
                    w.rank(),
                    std::process::id(),
                    self.run_dir.display().to_string().len()
                ));
                let _ = fs::remove_dir_all(&tmp);
                distributed::unpack_dir(&bytes, &tmp)?;
                let loaded = model
                    .load_checkpoint(&tmp.join("model"))
                    .and_then(|()| read_json::<TrainerState>(&tmp.join("trainer.json")));
                let _ = fs::remove_dir_all(&tmp);
                state = loaded?;
                resumed_from = (state.step > 0).then_some(state.step);
            }
        }

        let mut log = if root {
            let log_file = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&metrics_path)
                .map_err(|e| GenError::io(&metrics_path, e))?;
            Some(BufWriter::new(log_file))
        } else {
            None
        };

        let bar = if root {
            progress_bar(cfg, state.step)
        } else {
            indicatif::ProgressBar::hidden()
        };
        let start = Instant::now();
        let mut last_save = start;
        let first_step = state.step;

        // 2. The loop.
        while state.step < cfg.steps {
            let t = state.step;
            let lr = cfg.schedule.lr(cfg.lr, t, cfg.steps);
            let batch = next_batch(t, &mut state.rng)?;
            let stats = match &world {
                None => {
                    let mut ctx = StepContext {
                        step: t,
                        lr,
                        rng: &mut state.rng,
                    };
                    model.learn_step(&batch, &mut ctx)?
                }
                Some(w) => {
                    let shard = model.shard_batch(&batch, w.rank(), w.size())?;
                    // Each rank's noise (reparameterisation, dropout, ...) is
                    // its own: a stream of (seed, rank, step), so the shared
                    // stream that draws the batches stays in step on every
                    // rank, and a resume replays it exactly.
                    let mut rank_rng = rank_rng(cfg.seed, w.rank(), t);
                    let mut ctx = StepContext {
                        step: t,
                        lr,
                        rng: &mut rank_rng,
                    };
                    let _sync = distributed::SyncScope::enter();
                    distributed::take_traffic();
                    distributed::take_bad_ranks();
                    let stats = model.learn_step(&shard, &mut ctx)?;
                    let traffic = distributed::take_traffic();
                    stats
                        .with("allreduce_ms", 1e3 * traffic.seconds)
                        .with("allreduce_mb", traffic.bytes as f64 / 1e6)
                }
            };
            // Every rank's loss, so that all of them stop together and the
            // message names the rank whose loss went bad.
            let loss = match &world {
                None => stats.loss,
                Some(w) => {
                    let all = distributed::gather_f64(&**w, stats.loss)?;
                    let mut bad = distributed::non_finite_ranks(&all);
                    // A skipped update reports NaN on every rank; the
                    // all-reduce knows whose loss caused it.
                    let culprits = distributed::take_bad_ranks();
                    if !bad.is_empty() && !culprits.is_empty() {
                        bad = culprits;
                    }
                    if let Some(&first) = bad.first() {
                        bar.abandon_with_message(format!("diverged at step {t}"));
                        if let Some(log) = log.as_mut() {
                            let _ = log.flush();
                        }
                        return Err(GenError::DivergedOnRank {
                            step: t,
                            ranks: bad,
                            size: w.size(),
                            loss: all[first],
                            checkpoint: last_ckpt.display().to_string(),
                        });
                    }
                    all.iter().sum::<f64>() / all.len() as f64
                }
            };
            // 3. NaN/Inf and explosion guard: stop, keep the last good checkpoint untouched.
            let exploded = cfg
                .explosion_factor
                .and_then(|f| explosion_threshold(&state.losses, f))
                .is_some_and(|limit| loss > limit);
            if !loss.is_finite() || exploded {
                bar.abandon_with_message(format!("diverged at step {t}"));
                if let Some(log) = log.as_mut() {
                    let _ = log.flush();
                }
                return Err(GenError::Diverged {
                    step: t,
                    loss,
                    checkpoint: last_ckpt.display().to_string(),
                });
            }
            state.losses.push(loss);
            state.step += 1;

            if let Some(log) = log
                .as_mut()
                .filter(|_| state.step.is_multiple_of(cfg.log_every) || state.step == cfg.steps)
            {
                let json = metrics_line(
                    "train",
                    state.step,
                    (Some(lr), Some(loss)),
                    &stats.metrics,
                    start.elapsed().as_secs_f64(),
                )?;
                writeln!(log, "{json}").map_err(|e| GenError::io(&metrics_path, e))?;
                // Flushed per line, so `tail -f metrics.jsonl` follows the run.
                log.flush().map_err(|e| GenError::io(&metrics_path, e))?;
            }
            let eval_due = state.step == cfg.steps
                || (cfg.eval_every > 0 && state.step.is_multiple_of(cfg.eval_every));
            if let Some(eval) = eval.as_mut().filter(|_| eval_due && root) {
                let mut rng = eval_rng(cfg.seed, state.step);
                let mut ctx = EvalContext {
                    step: state.step,
                    rng: &mut rng,
                };
                let metrics = match eval(model, &mut ctx) {
                    Ok(m) => m,
                    Err(e) => {
                        bar.abandon_with_message(format!(
                            "evaluation failed at step {}",
                            state.step
                        ));
                        if let Some(log) = log.as_mut() {
                            let _ = log.flush();
                        }
                        return Err(e);
                    }
                };
                let json = metrics_line(
                    "eval",
                    state.step,
                    (None, None),
                    &metrics,
                    start.elapsed().as_secs_f64(),
                )?;
                if let Some(log) = log.as_mut() {
                    writeln!(log, "{json}").map_err(|e| GenError::io(&metrics_path, e))?;
                    log.flush().map_err(|e| GenError::io(&metrics_path, e))?;
                }
            }
            let done = (state.step - first_step) as f64;
            let rate = done * cfg.batch_size as f64 / start.elapsed().as_secs_f64().max(1e-9);
            bar.set_position(state.step);
            bar.set_message(format!("loss {loss:.4}  {rate:.0} samples/s"));

            let by_steps =
                cfg.checkpoint_every > 0 && state.step.is_multiple_of(cfg.checkpoint_every);
            let by_time = cfg
                .checkpoint_secs
                .is_some_and(|s| last_save.elapsed().as_secs_f64() >= s);
            if root && (by_steps || by_time) && state.step < cfg.steps {
                if let Some(log) = log.as_mut() {
                    log.flush().map_err(|e| GenError::io(&metrics_path, e))?;
                }
                last_ckpt = save(&ckpts, model, &state)?;
                last_save = Instant::now();
            }
        }
        if let Some(w) = world.as_ref().filter(|_| !root) {
            return Err(GenError::FollowerDone { rank: w.rank() });
        }
        if let Some(log) = log.as_mut() {
            log.flush().map_err(|e| GenError::io(&metrics_path, e))?;
        }
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

/// The hook type of [`Trainer::fit`], which has none.
type NoEval<M> = fn(&M, &mut EvalContext<'_>) -> Result<EvalMetrics>;

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
    use super::*;
    use crate::task::StepStats;
    use crate::{Capabilities, Model, TaskSupport};
    use rand::Rng as _;

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

    /// A random walk x ← x + b + U(−1, 1) (noise from the run RNG) whose
    /// loss is |x|: exact resume needs its state and the RNG restored.
    #[derive(Debug, Default)]
    struct Walker {
        x: f64,
    }

    impl Model for Walker {
        fn capabilities(&self) -> Capabilities {
            Capabilities {
                model: "walker",
                family: "test",
                learn: TaskSupport::exact("random walk"),
                score: TaskSupport::none("none"),
                sample: TaskSupport::none("none"),
                infer: TaskSupport::none("none"),
            }
        }
    }

    impl Learn for Walker {
        type Batch = f64;
        fn learn_step(&mut self, b: &f64, ctx: &mut StepContext<'_>) -> Result<StepStats> {
            self.x += b + ctx.rng.random_range(-1.0..1.0);
            Ok(StepStats::loss(self.x.abs()))
        }
    }

    impl Checkpoint for Walker {
        fn save_checkpoint(&self, dir: &Path) -> Result<()> {
            write_json_atomic(&dir.join("walker.json"), &self.x.to_bits())
        }
        fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
            self.x = f64::from_bits(read_json(&dir.join("walker.json"))?);
            Ok(())
        }
    }

    /// What one run of [`walk`] observed.
    struct Walked {
        losses: std::result::Result<Vec<f64>, String>,
        /// Steps at which the hook ran, in order (this call only).
        hook_steps: Vec<u64>,
        /// The `eval` lines of metrics.jsonl: (step, x, noise).
        logged: Vec<(u64, f64, f64)>,
        /// The report's steps of this call and whether it has a speed.
        this_call: Option<(u64, bool)>,
    }

    /// 25 steps of the walker, evaluating every `eval_every` steps (None: no
    /// hook); `fail_at` makes the batch source fail there (a killed run).
    fn walk(dir: &Path, eval_every: Option<u64>, resume: bool, fail_at: Option<u64>) -> Walked {
        let cfg = TrainConfig {
            steps: 25,
            seed: 3,
            log_every: 5,
            checkpoint_every: 5,
            progress: false,
            resume,
            eval_every: eval_every.unwrap_or(0),
            ..TrainConfig::default()
        };
        let trainer = Trainer::new(cfg, dir).unwrap();
        let mut model = Walker::default();
        let batches = |t: u64, _: &mut Rng| {
            if Some(t) == fail_at {
                return Err(GenError::Other("interrupted".into()));
            }
            Ok(0.1)
        };
        let mut hook_steps = Vec::new();
        let out = match eval_every {
            None => trainer.fit(&mut model, batches),
            Some(_) => trainer.fit_with_eval(&mut model, batches, |m, ctx| {
                hook_steps.push(ctx.step);
                Ok(EvalMetrics::from([
                    ("x".to_string(), m.x),
                    ("noise".to_string(), ctx.rng.random::<f64>()),
                ]))
            }),
        };
        let log = fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        let logged = log
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["kind"] == "eval")
            .map(|v| {
                (
                    v["step"].as_u64().unwrap(),
                    v["x"].as_f64().unwrap(),
                    v["noise"].as_f64().unwrap(),
                )
            })
            .collect();
        let this_call = out
            .as_ref()
            .ok()
            .map(|r| (r.steps_this_call(), r.ms_per_step().is_some()));
        Walked {
            this_call,
            losses: out.map(|r| r.losses).map_err(|e| e.to_string()),
            hook_steps,
            logged,
        }
    }

    #[test]
    fn eval_hook_runs_every_eval_every_steps_and_at_the_end_into_metrics() {
        let root = std::env::temp_dir().join(format!("genlab-eval-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);

        let plain = walk(&root.join("plain"), None, false, None);
        assert!(plain.logged.is_empty());

        let every10 = walk(&root.join("every10"), Some(10), false, None);
        assert_eq!(every10.hook_steps, vec![10, 20, 25]);
        let logged_steps: Vec<u64> = every10.logged.iter().map(|l| l.0).collect();
        assert_eq!(logged_steps, vec![10, 20, 25]);
        // Evaluating draws from its own RNG: the training numbers are unchanged.
        assert_eq!(every10.losses, plain.losses);
        // The hook saw the model after step s: |x| is the loss of step s.
        let losses = every10.losses.as_ref().unwrap();
        for &(s, x, _) in &every10.logged {
            assert_eq!(x.abs(), losses[s as usize - 1], "step {s}");
        }
        // The evaluation RNG differs between steps.
        assert_ne!(every10.logged[0].2, every10.logged[1].2);

        let at_end = walk(&root.join("end"), Some(0), false, None);
        assert_eq!(at_end.hook_steps, vec![25]);

        // Killed during step 22 (last checkpoint: 20, after its evaluation),
        // then resumed: every evaluation is logged once, with the values of
        // the uninterrupted run.
        let cut = walk(&root.join("split"), Some(10), false, Some(22));
        assert!(cut.losses.unwrap_err().contains("interrupted"));
        assert_eq!(cut.hook_steps, vec![10, 20]);
        let resumed = walk(&root.join("split"), Some(10), true, None);
        assert_eq!(resumed.hook_steps, vec![25]);
        assert_eq!(resumed.losses, every10.losses);
        assert_eq!(resumed.logged, every10.logged);
        // Speed is over the steps each call trained: 25, then the 5 after
        // the checkpoint at 20, then none (a finished run has no speed).
        assert_eq!(every10.this_call, Some((25, true)));
        assert_eq!(resumed.this_call, Some((5, true)));
        let again = walk(&root.join("split"), Some(10), true, None);
        assert_eq!(again.this_call, Some((0, false)));
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn old_train_configs_without_the_new_fields_still_load() {
        let mut v = serde_json::to_value(TrainConfig::default()).unwrap();
        let obj = v.as_object_mut().unwrap();
        obj.remove("eval_every");
        obj.remove("explosion_factor");
        let cfg: TrainConfig = serde_json::from_value(v).unwrap();
        assert_eq!(cfg, TrainConfig::default());
    }
}
