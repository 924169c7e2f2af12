//! Token embedding: a learned `vocab × d` table E whose row `E[v]` represents
//! token v, so a sequence `(v_1, …, v_T)` becomes `(E[v_1], …, E[v_T])`.
//!
//! The table starts as `E[v, i] ~ N(0, std²)` drawn from the host RNG (GPT-2:
//! `std = 0.02`). [`TokenEmbedding::tied_logits`] reuses E as the output layer
//! (weight tying, Press & Wolf 2017): `logits[v] = ⟨h, E[v]⟩`.
//!
//! For positions, a second table indexed by 0..T works the same way; for a
//! continuous time use [`crate::nn::sinusoidal_time_embedding`].

use burn::module::{Module, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::error::{GenError, Result};
use crate::nn::linear::normal;
use crate::task::Rng;

/// Shape and initialisation of a [`TokenEmbedding`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TokenEmbeddingConfig {
    /// Number of tokens V.
    pub vocab: usize,
    /// Embedding width d.
    pub d_model: usize,
    /// Standard deviation of the initial entries.
    pub std: f64,
}

impl TokenEmbeddingConfig {
    /// A `vocab × d_model` table with GPT-2's initialisation, N(0, 0.02²).
    pub fn new(vocab: usize, d_model: usize) -> Self {
        Self {
            vocab,
            d_model,
            std: 0.02,
        }
    }

    /// Builds the table with entries drawn from `rng`.
    pub fn init(&self, rng: &mut Rng, device: &Device) -> Result<TokenEmbedding> {
        if self.vocab == 0 || self.d_model == 0 {
            return Err(GenError::config(
                "token embedding shape",
                format!("vocab {} × d_model {}", self.vocab, self.d_model),
                "the table needs at least one token and one dimension",
                "give a positive vocabulary size and width",
            ));
        }
        if !(self.std.is_finite() && self.std >= 0.0) {
            return Err(GenError::config(
                "token embedding std",
                self.std,
                "must be finite and non-negative",
                "use 0.02 (GPT-2) or 1.0 (PyTorch nn.Embedding)",
            ));
        }
        let w = normal(self.vocab * self.d_model, self.std, rng);
        Ok(TokenEmbedding {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(w, [self.vocab, self.d_model]),
                device,
            )),
        })
    }
}

/// A learned token table (see the module docs).
#[derive(Module, Debug)]
pub struct TokenEmbedding {
    /// The table E, `[vocab, d_model]`.
    pub weight: Param<Tensor<2>>,
}

impl TokenEmbedding {
    /// Vocabulary size V.
    pub fn vocab(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Embedding width d.
    pub fn d_model(&self) -> usize {
        self.weight.dims()[1]
    }

    /// Looks the tokens up: `y[b, t] = E[tokens[b, t]]`.
    ///
    /// # Shapes
    /// - `tokens`: `[batch, T]` (values in 0..V) → `[batch, T, d_model]`
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        burn::tensor::module::embedding(self.weight.val(), tokens)
    }

    /// Output logits with the table as the (tied) output layer:
    /// `logits[b, t, v] = ⟨h[b, t], E[v]⟩ = (h Eᵀ)[b, t, v]`.
    ///
    /// # Shapes
    /// - `h`: `[batch, T, d_model]` → `[batch, T, vocab]`
    pub fn tied_logits(&self, h: Tensor<3>) -> Tensor<3> {
        let [b, t, d] = h.dims();
        h.reshape([b * t, d])
            .matmul(self.weight.val().transpose())
            .reshape([b, t, self.vocab()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::test_util::{cpu_devices, host, t3};
    use crate::rng_from_seed;
    use crate::tensor::to_vec;

    fn tokens(v: Vec<i64>, shape: [usize; 2], dev: &Device) -> Tensor<2, Int> {
        Tensor::from_data(TensorData::new(v, shape), dev)
    }

    #[test]
    fn lookup_returns_the_table_rows_and_tied_logits_are_dot_products() {
        let (vocab, d) = (11, 6);
        for dev in cpu_devices() {
            let emb = TokenEmbeddingConfig::new(vocab, d)
                .init(&mut rng_from_seed(1), &dev)
                .unwrap();
            assert_eq!((emb.vocab(), emb.d_model()), (vocab, d));
            let table = to_vec(emb.weight.val()).unwrap();
            let ids = vec![3i64, 0, 10, 3, 7, 1];
            let y = emb.forward(tokens(ids.clone(), [2, 3], &dev));
            assert_eq!(y.dims(), [2, 3, d]);
            let y = to_vec(y).unwrap();
            for (p, &v) in ids.iter().enumerate() {
                let v = v as usize;
                assert_eq!(&y[p * d..(p + 1) * d], &table[v * d..(v + 1) * d]);
            }
            let h = host(2 * 3 * d, 2);
            let logits = to_vec(emb.tied_logits(t3(h.clone(), [2, 3, d], &dev))).unwrap();
            for p in 0..6 {
                for v in 0..vocab {
                    let want: f32 = (0..d).map(|i| h[p * d + i] * table[v * d + i]).sum();
                    assert!((logits[p * vocab + v] - want).abs() < 1e-6);
                }
            }
        }
    }

    /// ∂L/∂E[v] = Σ_{positions with token v} ∂L/∂y: only looked-up rows
    /// receive gradient, a row used twice receives it twice.
    #[test]
    fn gradient_reaches_exactly_the_rows_looked_up() {
        let (vocab, d) = (5, 3);
        for dev in cpu_devices() {
            let dev = dev.autodiff();
            let emb = TokenEmbeddingConfig::new(vocab, d)
                .init(&mut rng_from_seed(4), &dev)
                .unwrap();
            let y = emb.forward(tokens(vec![2, 4, 2], [1, 3], &dev));
            let grads = y.sum().backward();
            let g = to_vec(emb.weight.val().grad(&grads).unwrap()).unwrap();
            let counts = [0.0, 0.0, 2.0, 0.0, 1.0];
            for v in 0..vocab {
                assert!(
                    g[v * d..(v + 1) * d].iter().all(|&x| x == counts[v]),
                    "{g:?}"
                );
            }
        }
    }

    #[test]
    fn initial_entries_have_the_requested_std() {
        let dev = &cpu_devices()[0];
        let cfg = TokenEmbeddingConfig {
            vocab: 1000,
            d_model: 256,
            std: 0.5,
        };
        let w = to_vec(cfg.init(&mut rng_from_seed(5), dev).unwrap().weight.val()).unwrap();
        let n = w.len() as f64;
        let mean = w.iter().map(|&x| x as f64).sum::<f64>() / n;
        let std = (w.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
        // 256,000 draws: relative standard error of the std 0.14 %.
        assert!((std / 0.5 - 1.0).abs() < 0.01, "std {std}");
        assert!(mean.abs() < 0.005, "mean {mean}");
        let bad = TokenEmbeddingConfig { vocab: 0, ..cfg };
        assert!(bad.init(&mut rng_from_seed(0), dev).is_err());
        let bad = TokenEmbeddingConfig {
            std: f64::NAN,
            ..cfg
        };
        assert!(bad.init(&mut rng_from_seed(0), dev).is_err());
    }
}
