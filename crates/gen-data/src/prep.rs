//! How image runs prepare their data, shared by every family that models
//! images (the VAEs, the autoregressive models) so that their test NLLs are
//! measured on the same rows: Bernoulli models train on a fresh binarization
//! of every batch (dynamic binarization) and are evaluated on one fixed
//! binarization of the test split (seed [`TEST_BINARIZE_SEED`]); continuous
//! models see pixels scaled to [0, 1].

use gen_core::{Matrix, Result, rng_from_seed};
use serde::{Deserialize, Serialize};

/// Seed of the one fixed binarization of evaluation data.
pub const TEST_BINARIZE_SEED: u64 = 1234;

/// How a run turns raw grey levels into model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Prep {
    /// Bernoulli models: dynamic binarization while training, one fixed
    /// binarization (seed [`TEST_BINARIZE_SEED`]) for evaluation.
    Binarize,
    /// Continuous models (Gaussian decoders, PPCA): x / (levels − 1).
    Scale,
}

impl Prep {
    /// Evaluation input: raw levels binarized with [`TEST_BINARIZE_SEED`] or scaled.
    pub fn evaluation(self, raw: &Matrix, levels: u32) -> Result<Matrix> {
        match self {
            Prep::Binarize => {
                crate::transforms::binarize(raw, levels, &mut rng_from_seed(TEST_BINARIZE_SEED))
            }
            Prep::Scale => crate::transforms::scale_unit(raw, levels),
        }
    }
}

/// The training protocol of image runs: shuffled minibatches of the raw
/// levels `raw` (epoch order from `config.seed`), binarized afresh from the
/// run RNG at every step ([`Prep::Binarize`], dynamic binarization) or scaled
/// to [0, 1] once ([`Prep::Scale`]), on the one gen-core trainer writing to `out`.
pub fn fit_images<M>(
    model: &mut M,
    (raw, levels): (&Matrix, u32),
    prep: Prep,
    config: gen_core::train::TrainConfig,
    out: &std::path::Path,
) -> Result<gen_core::train::TrainReport>
where
    M: gen_core::Learn<Batch = Matrix> + gen_core::Checkpoint,
{
    let batcher = gen_core::train::EpochBatcher::new(raw.rows(), config.batch_size, config.seed)?;
    let mut next = image_batches(raw, levels, prep, batcher)?;
    gen_core::train::Trainer::new(config, out)?.fit(model, |t, rng| next(t, rng))
}

/// [`fit_images`] with the held-out score logged during training: the mean
/// NLL of `held_out` (already prepared, [`Prep::evaluation`]) every
/// `config.eval_every` steps and after the last, in `metrics.jsonl`
/// ([`gen_core::train::held_out_nll`]: exact, or the bound the model has).
pub fn fit_images_scored<M>(
    model: &mut M,
    (raw, levels): (&Matrix, u32),
    prep: Prep,
    config: gen_core::train::TrainConfig,
    held_out: &Matrix,
    out: &std::path::Path,
) -> Result<gen_core::train::TrainReport>
where
    M: gen_core::Learn<Batch = Matrix> + gen_core::Checkpoint + gen_core::Score<Input = Matrix>,
{
    let batcher = gen_core::train::EpochBatcher::new(raw.rows(), config.batch_size, config.seed)?;
    let mut next = image_batches(raw, levels, prep, batcher)?;
    gen_core::train::Trainer::new(config, out)?.fit_with_eval(
        model,
        |t, rng| next(t, rng),
        gen_core::train::held_out_nll::<M>(held_out),
    )
}

/// The batch of step t under `prep` (see [`fit_images`]).
fn image_batches(
    raw: &Matrix,
    levels: u32,
    prep: Prep,
    batcher: gen_core::train::EpochBatcher,
) -> Result<impl FnMut(u64, &mut gen_core::Rng) -> Result<Matrix> + '_> {
    let scaled = match prep {
        Prep::Scale => Some(crate::transforms::scale_unit(raw, levels)?),
        Prep::Binarize => None,
    };
    Ok(move |t, rng: &mut gen_core::Rng| {
        let idx = batcher.indices(t);
        match &scaled {
            Some(x) => x.select_rows(&idx),
            None => crate::transforms::binarize(&raw.select_rows(&idx)?, levels, rng),
        }
    })
}
