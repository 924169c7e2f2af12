//! What a family of models offers the command line: the [`Family`] trait
//! (its capability rows, how to train one of its models from the parsed
//! `train` arguments, how to load a run directory) and the [`LoadedRun`] a run
//! loads into, which samples, scores and encodes as its capabilities say.
//! The list of registered families is [`crate::families::FAMILIES`].

use std::path::Path;

use gen_core::{
    Capabilities, EncodingPart, GenError, Matrix, Result, Rng, SampleOptions, ScoreOptions, Scores,
    Task,
};

use crate::TrainArgs;
use crate::data::Data;
use crate::run::RunMeta;

/// A family of models.
pub trait Family: Sync {
    /// The capability rows of its models; their `model` fields are the names
    /// `genlab train` accepts.
    fn models(&self) -> Vec<Capabilities>;
    /// Trains `args.model`, writes the run directory `args.common.out` and
    /// returns the summary.
    fn train(&self, args: &TrainArgs) -> Result<serde_json::Value>;
    /// Loads the newest checkpoint of the run in `dir` described by `meta`.
    fn load(&self, meta: &RunMeta, dir: &Path) -> Result<Box<dyn LoadedRun>>;
}

/// What a model scores or encodes.
#[derive(Debug, Clone)]
pub enum Input {
    /// Numeric rows.
    Rows(Matrix),
    /// Strings.
    Strings(Vec<String>),
}

/// What `sample` produces.
#[derive(Debug, Clone)]
pub enum Samples {
    /// Numeric rows.
    Rows(Matrix),
    /// Strings.
    Strings(Vec<String>),
}

/// A trained model loaded from a run directory, as its capabilities allow.
pub trait LoadedRun {
    /// Its row of the capability table.
    fn capabilities(&self) -> Capabilities;

    /// Draws `n` samples.
    fn sample(&self, n: usize, options: &SampleOptions, rng: &mut Rng) -> Result<Samples>;

    /// The rows of data set split `data`, prepared as in training (scaled,
    /// binarized or dequantized with the family's fixed evaluation seed).
    fn prepare(&self, data: Data) -> Result<Input>;

    /// Per-row log-densities labelled with what they are.
    fn score(&self, x: &Input, options: &ScoreOptions) -> Result<Scores>;

    /// Text after `prompt`, decoded as `options` say; each piece of text is
    /// passed to `on_text` as it is generated (streaming).
    fn decode(
        &self,
        _prompt: &str,
        _options: &gen_ar::decoding::DecodeOptions,
        _on_text: &mut dyn FnMut(&str),
    ) -> Result<String> {
        Err(self.unsupported(
            Task::Sample,
            "--prompt and the decoding options (--top-k, --top-p, --min-p, --beam, ...) are for text models (ngram, char-gpt, lstm)",
        ))
    }

    /// Samples drawn by a diffusion sampler (`sample --sampler …`).
    fn sample_diffusion(
        &self,
        _n: usize,
        _sampler: &gen_diffusion::SamplerOptions,
        _rng: &mut Rng,
    ) -> Result<Samples> {
        Err(self.unsupported(
            Task::Sample,
            "--sampler, --sample-steps, --eta, --spacing, --corrector-steps and --langevin-snr are for diffusion models (ddpm)",
        ))
    }

    /// Samples of a class-conditional diffusion model drawn by `sampler`
    /// with classifier-free guidance weight `guidance` (`sample --guidance w
    /// [--class c]`): all of class `class`, or classes 0, 1, …, K−1 in turn.
    fn sample_guided(
        &self,
        _n: usize,
        _sampler: &gen_diffusion::SamplerOptions,
        _class: Option<usize>,
        _guidance: f64,
        _rng: &mut Rng,
    ) -> Result<Samples> {
        Err(self.unsupported(
            Task::Sample,
            "--guidance is for class-conditional diffusion models (genlab train ddpm --conditional)",
        ))
    }

    /// Γ_t = E‖ε̂(x_t, t)‖²/D at the grid of `sampler` over `rows` training
    /// rows of `data` (evenly spaced), for DDIM's analytic variance (Bao et
    /// al. 2022; pixel and 2-D DDPMs).
    fn score_moments(
        &self,
        _data: crate::data::Data,
        _rows: usize,
        _sampler: &gen_diffusion::SamplerOptions,
        _rng: &mut Rng,
    ) -> Result<gen_diffusion::ScoreMoments> {
        Err(self.unsupported(
            Task::Sample,
            "the analytic variance (--analytic) is for DDPM runs (genlab train ddpm)",
        ))
    }

    /// DDIM with the analytic variance, Γ_t from `moments`
    /// ([`LoadedRun::score_moments`]); a conditional model draws classes
    /// 0, 1, …, K−1 in turn at w = 0.
    fn sample_analytic(
        &self,
        _n: usize,
        _sampler: &gen_diffusion::SamplerOptions,
        _moments: &gen_diffusion::ScoreMoments,
        _rng: &mut Rng,
    ) -> Result<Samples> {
        Err(self.unsupported(
            Task::Sample,
            "the analytic variance (--analytic) is for DDPM runs (genlab train ddpm)",
        ))
    }

    /// The number of diffusion steps T of a diffusion model (None for
    /// other families).
    fn diffusion_steps(&self) -> Option<usize> {
        None
    }

    /// Whether its diffusion samplers clip x̂₀ (pixel DDPMs on images), so
    /// that `clipped_eps` changes what they do.
    fn clips_x0(&self) -> bool {
        false
    }

    /// Classes K of a conditional model (`sample --class` takes 0..K), or
    /// `None` for an unconditional one.
    fn classes(&self) -> Option<usize> {
        None
    }

    /// Latent codes of rows (exact z = f⁻¹(x), posterior parameters, codes).
    fn encode(&self, _x: &Matrix) -> Result<Vec<EncodingPart>> {
        Err(self.unsupported(Task::Infer, "it has no encoder"))
    }

    /// Reconstructions of rows through the latent space.
    fn reconstruct(&self, _x: &Matrix) -> Result<Matrix> {
        Err(self.unsupported(Task::Infer, "it has no encoder-decoder pair"))
    }

    /// Decodes `steps` points on the latent segment between two rows.
    fn interpolate(&self, _a: &[f64], _b: &[f64], _steps: usize) -> Result<Matrix> {
        Err(self.unsupported(Task::Infer, "it has no continuous latent space"))
    }

    /// The error for a task this model does not offer: the capability
    /// row's reason when the row says `none`, else `why`.
    fn unsupported(&self, task: Task, why: &str) -> GenError {
        let caps = self.capabilities();
        let row = match task {
            Task::Sample => &caps.sample,
            Task::Score => &caps.score,
            Task::Infer => &caps.infer,
            Task::Learn => &caps.learn,
        };
        let why = match row.support {
            gen_core::Support::None => row.how,
            _ => why,
        };
        GenError::Unsupported {
            model: caps.model.to_string(),
            task,
            why: why.to_string(),
        }
    }
}

/// The rows of an [`Input`], or a clear error for strings.
pub fn rows_of<'a>(x: &'a Input, model: &str) -> Result<&'a Matrix> {
    match x {
        Input::Rows(m) => Ok(m),
        Input::Strings(_) => Err(GenError::config(
            "--input",
            "text",
            format!("{model} models numeric vectors"),
            "pass a .npy or .csv file, or --data with a toy or image set",
        )),
    }
}
