//! The character GPT and LSTM as generators of the KM words bridge
//! ([`gen_km_game::words_experiment`]): the hidden set K is a word list, an
//! adversary reveals its first n words S, and the model is trained from
//! scratch on S and sampled. Validity (samples in K) and novelty (samples not
//! in S) are the empirical counterparts of the game's two requirements.
//!
//! Every word w = c₁…c_m is the sequence 0 c₁ … c_m 0 over the seen words'
//! characters with the boundary token 0 (makemore's convention), trained by
//! maximum likelihood on padded batches of whole words
//! ([`TokenWindows::padded`]), and sampled ancestrally from the start token
//! until the next boundary (or the longest seen length plus one).

use gen_core::{Backend, GenError, Learn, Result, Rng, StepContext, rng_from_seed};
use gen_data::CharVocab;
use gen_km_game::StringGenerator;
use rand::Rng as _;

use super::{CharGpt, CharLstm, GptConfig, LstmConfig, TokenWindows};

/// Which network a [`CharWordsGenerator`] trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordsModel {
    /// The character GPT ([`CharGpt`]) with the given width (4 layers, 4 heads).
    Gpt {
        /// Model width (divisible by 4).
        width: usize,
    },
    /// The character LSTM ([`CharLstm`]).
    Lstm {
        /// Hidden units per layer (2 layers).
        hidden: usize,
    },
}

/// A neural [`StringGenerator`]: refitted from scratch on every seen set.
#[derive(Debug)]
pub struct CharWordsGenerator {
    /// The network.
    pub model: WordsModel,
    /// Training steps per fit (batches of whole words drawn with replacement).
    pub steps: u64,
    /// Words per batch.
    pub batch: usize,
    /// Learning rate (AdamW, constant).
    pub lr: f64,
    /// Sampling temperature.
    pub temperature: f64,
    /// Device (autodiff is added for training).
    pub backend: Backend,
    fitted: Option<Fitted>,
}

#[derive(Debug)]
enum Net {
    Gpt(Box<CharGpt>),
    Lstm(Box<CharLstm>),
}

#[derive(Debug)]
struct Fitted {
    net: Net,
    vocab: CharVocab,
    max_tokens: usize,
}

impl CharWordsGenerator {
    /// A generator training `model` for `steps` steps of `batch` words at
    /// learning rate `lr`, sampling at temperature 1 on flex.
    pub fn new(model: WordsModel, steps: u64, batch: usize, lr: f64) -> Self {
        Self {
            model,
            steps,
            batch,
            lr,
            temperature: 1.0,
            backend: Backend::Flex,
            fitted: None,
        }
    }

    fn check(&self) -> Result<()> {
        if self.batch == 0 || !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(GenError::config(
                "words generator",
                format!("batch {}, lr {}", self.batch, self.lr),
                "needs at least one word per batch and a finite learning rate > 0",
                "e.g. batch 32, lr 1e-3",
            ));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(GenError::config(
                "words generator temperature",
                self.temperature,
                "must be finite and > 0",
                "use 1.0 to sample the model's own distribution",
            ));
        }
        Ok(())
    }
}

impl StringGenerator for CharWordsGenerator {
    fn name(&self) -> String {
        match self.model {
            WordsModel::Gpt { width } => format!(
                "char-gpt(4 layers, width {width}, {} steps, tau={})",
                self.steps, self.temperature
            ),
            WordsModel::Lstm { hidden } => format!(
                "lstm(2 layers, hidden {hidden}, {} steps, tau={})",
                self.steps, self.temperature
            ),
        }
    }

    fn fit(&mut self, examples: &[String], rng: &mut Rng) -> Result<()> {
        self.check()?;
        self.fitted = None;
        if examples.is_empty() {
            return Ok(());
        }
        let vocab = CharVocab::from_chars(examples.iter().flat_map(|w| w.chars())).with_boundary();
        let seqs = examples
            .iter()
            .map(|w| {
                let mut s = vec![0u32];
                s.extend(vocab.encode(w)?.into_iter().map(|i| i as u32));
                s.push(0);
                Ok(s)
            })
            .collect::<Result<Vec<_>>>()?;
        let window = seqs.iter().map(Vec::len).max().unwrap_or(2);
        let block = window - 1;
        let device = self.backend.device()?;
        let seed: u64 = rng.random();
        let mut net = match self.model {
            WordsModel::Gpt { width } => {
                let mut c = GptConfig::new(vocab.len(), block, 4, 4, width);
                c.optim.weight_decay = 0.01;
                Net::Gpt(Box::new(CharGpt::new(c, &device, seed)?))
            }
            WordsModel::Lstm { hidden } => {
                let c = LstmConfig::new(vocab.len(), block, 64, hidden, 2);
                Net::Lstm(Box::new(CharLstm::new(c, &device, seed)?))
            }
        };
        let mut train_rng = rng_from_seed(seed ^ 0x5eed);
        for t in 0..self.steps {
            let rows: Vec<Vec<u32>> = (0..self.batch)
                .map(|_| seqs[train_rng.random_range(0..seqs.len())].clone())
                .collect();
            let batch = TokenWindows::padded(&rows, window, 0)?;
            let mut ctx = StepContext {
                step: t,
                lr: self.lr,
                rng: &mut train_rng,
            };
            let stats = match &mut net {
                Net::Gpt(m) => m.learn_step(&batch, &mut ctx)?,
                Net::Lstm(m) => m.learn_step(&batch, &mut ctx)?,
            };
            if !stats.loss.is_finite() {
                return Err(GenError::Diverged {
                    step: t,
                    loss: stats.loss,
                    checkpoint: "(none: the words generator keeps no checkpoint)".into(),
                });
            }
        }
        self.fitted = Some(Fitted {
            net,
            vocab,
            max_tokens: block,
        });
        Ok(())
    }

    fn generate(&mut self, n: usize, rng: &mut Rng) -> Result<Vec<String>> {
        let Some(f) = &self.fitted else {
            return Ok(vec![String::new(); n]);
        };
        let mut out = Vec::with_capacity(n);
        // Parallel draws in chunks: one cache per chunk.
        for start in (0..n).step_by(500) {
            let m = 500.min(n - start);
            let draws = match &f.net {
                Net::Gpt(g) => g.sample_after(&[0], m, f.max_tokens, self.temperature, rng)?,
                Net::Lstm(l) => l.sample_after(&[0], m, f.max_tokens, self.temperature, rng)?,
            };
            for d in draws {
                let end = d.iter().position(|&t| t == 0).unwrap_or(d.len());
                out.push(super::decode(&f.vocab, &d[..end]));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a tiny K the GPT learns the seen words: most samples are valid,
    /// and with every word seen nothing can be both valid and novel.
    #[test]
    fn the_gpt_learns_the_seen_words_and_the_bridge_scores_it() {
        let k: Vec<String> = ["ab", "abc", "ba", "cab", "bca", "cc"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut g = CharWordsGenerator::new(WordsModel::Gpt { width: 32 }, 300, 32, 1e-2);
        let points = gen_km_game::words_experiment(&k, &[0, 6], &mut g, 300, 7).unwrap();
        assert_eq!(points[0].validity, 0.0, "nothing seen: empty words only");
        let full = &points[1];
        assert!(full.validity > 0.8, "{full:?}");
        assert_eq!(full.valid_and_novel, 0.0);
        assert!((full.novelty - (1.0 - full.validity)).abs() < 1e-12);
    }

    #[test]
    fn bad_settings_are_errors() {
        let mut g = CharWordsGenerator::new(WordsModel::Lstm { hidden: 8 }, 1, 0, 1e-3);
        let e = g
            .fit(&["ab".to_string()], &mut rng_from_seed(0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("batch"), "{e}");
        g.batch = 2;
        g.temperature = 0.0;
        assert!(g.fit(&["ab".to_string()], &mut rng_from_seed(0)).is_err());
    }
}
