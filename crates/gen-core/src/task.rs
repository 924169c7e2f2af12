//! The four tasks of a generative model as traits (tutorial, chapter 4).
//!
//! | task | question | trait |
//! |---|---|---|
//! | sample | draw x ~ p_θ | [`Sample`] |
//! | score | evaluate log p_θ(x) | [`Score`] (returns [`Scores`] that say exact / bound / estimate) |
//! | infer | recover z given x | [`Infer`] |
//! | learn | fit θ to data | [`Learn`] (one step the trainer drives) |
//!
//! A model implements only the tasks it supports; [`Model::capabilities`]
//! states, as data, how well it supports each one.

use std::collections::BTreeMap;

use rand::SeedableRng;

use crate::capability::Capabilities;
use crate::error::{GenError, Result};
use crate::matrix::Matrix;
use crate::score::{ScoreOptions, Scores};

/// The workspace's random number generator: ChaCha8, seedable, serializable
/// (so checkpoints restore it exactly) and identical on every platform.
pub type Rng = rand_chacha::ChaCha8Rng;

/// A [`Rng`] from a `u64` seed.
pub fn rng_from_seed(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

/// Every generative model: a name and its per-task capabilities.
pub trait Model {
    /// The model's row in the capability table.
    fn capabilities(&self) -> Capabilities;
}

/// Options for [`Sample::sample`].
#[derive(Debug, Clone, PartialEq)]
pub struct SampleOptions {
    /// Temperature τ: 1 samples the model; τ < 1 sharpens, τ > 1 flattens.
    /// For categorical models logits are divided by τ; for models with a
    /// Gaussian base/prior the base noise is scaled by τ.
    pub temperature: f64,
    /// Optional conditioning, one row per sample (or a single row for all).
    pub condition: Option<Matrix>,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            condition: None,
        }
    }
}

impl SampleOptions {
    /// Options with temperature `t`.
    pub fn with_temperature(t: f64) -> Self {
        Self {
            temperature: t,
            ..Self::default()
        }
    }

    /// Errors unless the temperature is finite and positive.
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(crate::GenError::config(
                "temperature",
                self.temperature,
                "must be finite and > 0",
                "use 1.0 to sample the model as trained, below 1 for sharper samples",
            ));
        }
        Ok(())
    }
}

/// Sampling: draw `n` examples.
pub trait Sample: Model {
    /// What one call returns (a [`Matrix`] of rows, or strings for text models).
    type Output;
    /// Draws `n` samples; all randomness comes from `rng`.
    fn sample(&self, n: usize, options: &SampleOptions, rng: &mut Rng) -> Result<Self::Output>;
}

/// Scoring: per-example log-density, labelled exact / bound / estimate / integrated.
///
/// The label must agree with the model's row of the capability table
/// ([`crate::Capabilities::check_score`]).
pub trait Score: Model {
    /// The data scored (a [`Matrix`], or strings for text models).
    type Input: ?Sized;
    /// One log-density per example, in nats, computed as `options` says.
    fn score(&self, x: &Self::Input, options: &ScoreOptions) -> Result<Scores>;
}

/// One named part of an encoding, as a command line writes it: posterior
/// means, log-variances, code indices, exact latents z = f⁻¹(x).
#[derive(Debug, Clone, PartialEq)]
pub struct EncodingPart {
    /// JSON key, e.g. `mean`.
    pub key: &'static str,
    /// File name ending used for every part after the first, e.g. `logvar.npy`.
    pub file_suffix: &'static str,
    /// One row per input row.
    pub values: Matrix,
    /// Whether the values are integers (code indices).
    pub integer: bool,
    /// What the part is, in words.
    pub description: &'static str,
}

/// Inference: posterior over latents, or an encoding, given data.
pub trait Infer: Model {
    /// The data conditioned on.
    type Input: ?Sized;
    /// What inference returns (responsibilities, posterior parameters, codes).
    type Posterior;
    /// Infers latent structure for every example.
    fn infer(&self, x: &Self::Input) -> Result<Self::Posterior>;
}

/// What one learning step reports: the loss it minimised and named extras.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepStats {
    /// The objective minimised this step (e.g. mean NLL in nats).
    pub loss: f64,
    /// Further named values (e.g. `kl`, `recon`, `d_loss`).
    pub metrics: BTreeMap<String, f64>,
}

impl StepStats {
    /// Stats with just a loss.
    pub fn loss(loss: f64) -> Self {
        Self {
            loss,
            metrics: BTreeMap::new(),
        }
    }

    /// Adds a named metric.
    pub fn with(mut self, name: &str, value: f64) -> Self {
        self.metrics.insert(name.to_string(), value);
        self
    }
}

/// What the trainer hands a learning step.
#[derive(Debug)]
pub struct StepContext<'a> {
    /// Zero-based index of this step.
    pub step: u64,
    /// Learning rate for this step (after the schedule).
    pub lr: f64,
    /// The run's random number generator (restored exactly on resume).
    pub rng: &'a mut Rng,
}

impl StepContext<'_> {
    /// The learning rate of a player whose rate is `multiplier` times the base
    /// rate: `lr(t) · multiplier`, so every player follows the schedule (a GAN
    /// with the two time-scale update rule steps its critic at, e.g., 4× the
    /// generator's rate; see [`crate::train::players`]).
    pub fn player_lr(&self, multiplier: f64) -> f64 {
        self.lr * multiplier
    }
}

/// Learning: one step of fitting, which the trainer drives.
///
/// Neural models compute a loss, back-propagate and step their optimizer(s)
/// (a GAN steps two); classical models run one EM or closed-form update.
pub trait Learn: Model {
    /// One minibatch (or the whole data set for batch algorithms).
    type Batch;
    /// Performs one step on `batch`.
    fn learn_step(&mut self, batch: &Self::Batch, ctx: &mut StepContext<'_>) -> Result<StepStats>;

    /// The part of the global `batch` that rank `rank` of `size` trains on
    /// in data-parallel training ([`crate::distributed`]): equal, disjoint
    /// shards, so that the ranks' averaged gradients are the gradient of the
    /// whole batch. The default refuses: a model opts in by saying how its
    /// batches split (rows, for most).
    fn shard_batch(&self, batch: &Self::Batch, rank: usize, size: usize) -> Result<Self::Batch> {
        let _ = (batch, rank, size);
        Err(GenError::Unsupported {
            model: self.capabilities().model.to_string(),
            task: crate::error::Task::Learn,
            why: "data-parallel training (--distributed) needs batches that split into \
                  equal shards, and this model's do not (batch algorithms such as EM \
                  and count models see the whole data at every step); train it in one \
                  process"
                .into(),
        })
    }
}
