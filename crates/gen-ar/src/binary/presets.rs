//! Named image configurations of the binary autoregressive models and the
//! enum a run directory loads into, whichever model it holds.

use std::path::Path;

use burn::tensor::Device;
use gen_core::burn;
use gen_core::{
    Capabilities, GenError, Matrix, Model, Result, Rng, Sample, SampleOptions, Score, ScoreOptions,
    Scores,
};

use super::{Fvsbn, FvsbnConfig, Made, MadeConfig, Nade, NadeConfig, PixelCnn, PixelCnnConfig};

/// The knobs a user sets on top of a preset.
#[derive(Debug, Clone, PartialEq)]
pub struct ArKnobs {
    /// Hidden units of NADE, hidden widths of MADE.
    pub hidden: Vec<usize>,
    /// Orderings M of MADE (1: plain raster-order MADE).
    pub orderings: usize,
    /// Feature channels of PixelCNN.
    pub channels: usize,
    /// Residual blocks of PixelCNN.
    pub residual_blocks: usize,
}

impl Default for ArKnobs {
    /// NADE and MADE with 500 hidden units (as the papers on binarized MNIST),
    /// MADE with 8 orderings, PixelCNN with 32 channels and 2 residual blocks.
    fn default() -> Self {
        Self {
            hidden: vec![500],
            orderings: 8,
            channels: 32,
            residual_blocks: 2,
        }
    }
}

/// A trained binary autoregressive model, whichever it is.
#[derive(Debug)]
pub enum BinaryArModel {
    /// Fully visible sigmoid belief network.
    Fvsbn(Box<Fvsbn>),
    /// Neural autoregressive density estimator.
    Nade(Box<Nade>),
    /// Masked autoencoder for distribution estimation (an ensemble of orderings).
    Made(Box<Made>),
    /// PixelCNN.
    PixelCnn(Box<PixelCnn>),
}

/// Applies `$body` to the model inside any variant.
macro_rules! each {
    ($self:expr, $m:ident => $body:expr) => {
        match $self {
            BinaryArModel::Fvsbn($m) => $body,
            BinaryArModel::Nade($m) => $body,
            BinaryArModel::Made($m) => $body,
            BinaryArModel::PixelCnn($m) => $body,
        }
    };
}

impl BinaryArModel {
    /// A fresh model `name` (`fvsbn`, `nade`, `made`, `pixelcnn`) for `h × w`
    /// binary images, weights drawn from `seed`.
    pub fn image(
        name: &str,
        (h, w): (usize, usize),
        k: &ArKnobs,
        device: &Device,
        seed: u64,
    ) -> Result<Self> {
        let d = h * w;
        let first = |v: &[usize]| v.first().copied().unwrap_or(0);
        Ok(match name {
            "fvsbn" => Self::Fvsbn(Box::new(Fvsbn::new(FvsbnConfig::new(d), device, seed)?)),
            "nade" => Self::Nade(Box::new(Nade::new(
                NadeConfig::new(d, first(&k.hidden)),
                device,
                seed,
            )?)),
            "made" => Self::Made(Box::new(Made::new(
                MadeConfig::new(d, k.hidden.clone(), k.orderings),
                device,
                seed,
            )?)),
            "pixelcnn" => Self::PixelCnn(Box::new(PixelCnn::new(
                PixelCnnConfig::new(h, w, k.channels, k.residual_blocks),
                device,
                seed,
            )?)),
            other => return Err(unknown(other)),
        })
    }

    /// Loads the checkpoint folder `dir` of model `name` onto `device`.
    pub fn load(name: &str, dir: &Path, device: &Device) -> Result<Self> {
        Ok(match name {
            "fvsbn" => Self::Fvsbn(Box::new(Fvsbn::load(dir, device)?)),
            "nade" => Self::Nade(Box::new(Nade::load(dir, device)?)),
            "made" => Self::Made(Box::new(Made::load(dir, device)?)),
            "pixelcnn" => Self::PixelCnn(Box::new(PixelCnn::load(dir, device)?)),
            other => return Err(unknown(other)),
        })
    }

    /// Its row of the capability table.
    pub fn capabilities(&self) -> Capabilities {
        each!(self, m => m.capabilities())
    }

    /// The configuration, as JSON (for summaries and run metadata).
    pub fn config_json(&self) -> serde_json::Value {
        each!(self, m => serde_json::to_value(m.config()).unwrap_or_default())
    }

    /// Exact log p(x) per row.
    pub fn score(&self, x: &Matrix, options: &ScoreOptions) -> Result<Scores> {
        each!(self, m => m.score(x, options))
    }

    /// `n` samples, D sequential passes each.
    pub fn sample(&self, n: usize, options: &SampleOptions, rng: &mut Rng) -> Result<Matrix> {
        each!(self, m => m.sample(n, options, rng))
    }

    /// Trains on `raw` with the shared image protocol
    /// ([`gen_data::prep::fit_images_scored`], dynamic binarization), with
    /// the exact NLL of the binarized `held_out` rows logged every
    /// `config.eval_every` steps and after the last.
    pub fn fit(
        &mut self,
        data: (&Matrix, u32),
        config: gen_core::train::TrainConfig,
        held_out: &Matrix,
        out: &Path,
    ) -> Result<gen_core::train::TrainReport> {
        let prep = gen_data::prep::Prep::Binarize;
        each!(self, m => gen_data::prep::fit_images_scored(&mut **m, data, prep, config, held_out, out))
    }
}

fn unknown(name: &str) -> GenError {
    GenError::config(
        "model",
        name,
        "not a binary autoregressive model",
        "use fvsbn, nade, made or pixelcnn",
    )
}
