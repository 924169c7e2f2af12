//! Classifier two-sample test (C2ST; Lopez-Paz & Oquab 2017, "Revisiting
//! Classifier Two-Sample Tests", ICLR).
//!
//! Label real samples `0` and generated samples `1`, train a binary classifier
//! `f` on part of the pooled sample and measure its accuracy on the rest:
//!
//! ```text
//! acc = (1/n_te) Σ_{(zᵢ, lᵢ) ∈ test} 1[ 1(f(zᵢ) > ½) = lᵢ ].
//! ```
//!
//! If the two distributions are equal (`H₀: P = Q`) and the classes are
//! balanced, no classifier beats chance on fresh data: each held-out
//! prediction is right with probability ½ independently of the training data,
//! so `n_te · acc ~ Binomial(n_te, ½)` and, by the normal approximation
//! (Lopez-Paz & Oquab, Theorem 1 and §2),
//!
//! ```text
//! acc ~ N(½, 1/(4 n_te))   under H₀,
//! z = (acc − ½) / √(1/(4 n_te)),     p = 1 − Φ(z)   (one-sided).
//! ```
//!
//! An accuracy near ½ says the classifier cannot tell the samples apart; an
//! accuracy near 1 says they are easy to separate (a poor generator).
//!
//! # This implementation
//!
//! - **Balanced classes.** The larger set is subsampled (seeded) to the size
//!   `n` of the smaller one, so chance accuracy is exactly ½.
//! - **Stratified k-fold** (default `k = 5`, seeded): each class is shuffled
//!   and split into `k` near-equal folds; fold `j` is held out once while the
//!   classifier is trained on the other `k − 1`. Every sample is predicted
//!   exactly once, so `n_te = 2n` held-out predictions enter the p-value, and
//!   the reported accuracy is the mean of the `k` fold accuracies. (The fold
//!   classifiers share training data, so the folds are not independent; the
//!   normal approximation with `n_te = 2n` is the usual, slightly liberal
//!   choice.)
//! - **Classifier**: an MLP ([`gen_core::nn::Mlp`], ReLU, default hidden
//!   widths `[64, 64]`) on features standardised with the training fold's
//!   mean and standard deviation, trained with Adam on the logistic loss
//!   `ℓ(s, l) = softplus(s) − l·s` (binary cross-entropy with logits `s`),
//!   minibatches from [`gen_core::train::EpochBatcher`]. Weights, batches and
//!   folds all come from the host RNG, so a seed gives the same result on
//!   every backend up to floating-point differences.

use gen_core::burn::module::Module;
use gen_core::burn::tensor::activation::softplus;
use gen_core::burn::tensor::{Tensor, TensorData};
use gen_core::nn::{Activation, MlpConfig};
use gen_core::optim::{OptimConfig, Optimized};
use gen_core::tensor::{to_tensor, to_vec};
use gen_core::train::EpochBatcher;
use gen_core::{Backend, GenError, Matrix, Result, rng_from_seed};
use rand::seq::SliceRandom;

use crate::check;

/// Settings of [`c2st`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct C2stOptions {
    /// Number of folds `k ≥ 2` (default 5).
    pub folds: usize,
    /// Hidden widths of the MLP classifier (default `[64, 64]`).
    pub hidden: Vec<usize>,
    /// Adam steps per fold (default 300).
    pub steps: usize,
    /// Minibatch size (default 128; capped at the training-fold size).
    pub batch_size: usize,
    /// Adam learning rate (default 1e-3).
    pub lr: f64,
    /// Seed of the subsampling, folds, weights and batches.
    pub seed: u64,
    /// Backend the classifier trains on (default flex).
    pub backend: Backend,
}

impl Default for C2stOptions {
    fn default() -> Self {
        Self {
            folds: 5,
            hidden: vec![64, 64],
            steps: 300,
            batch_size: 128,
            lr: 1e-3,
            seed: 0,
            backend: Backend::Flex,
        }
    }
}

/// Result of [`c2st`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct C2st {
    /// Held-out accuracy, the mean over folds (½: indistinguishable, 1: separable).
    pub value: f64,
    /// Accuracy of each fold.
    pub fold_accuracies: Vec<f64>,
    /// `z = (acc − ½)·√(4 n_te)`.
    pub z: f64,
    /// One-sided p-value `1 − Φ(z)` of `H₀: P = Q` (normal approximation).
    pub p_value: f64,
    /// Held-out predictions `n_te = 2n` (every sample once).
    pub n_test: usize,
    /// Samples per class after balancing, `n = min(n_real, n_fake)`.
    pub n_per_class: usize,
    /// Rows of the real sample given.
    pub n_real: usize,
    /// Rows of the generated sample given.
    pub n_fake: usize,
    /// Folds used.
    pub folds: usize,
}

/// Classifier two-sample test between `real` and `fake` feature rows (module docs).
pub fn c2st(real: &Matrix, fake: &Matrix, options: &C2stOptions) -> Result<C2st> {
    let ctx = "c2st";
    check::features(real, ctx, "real samples", 1)?;
    check::features(fake, ctx, "generated samples", 1)?;
    check::same_dim(real, fake, ctx, "real", "generated")?;
    let k = options.folds;
    if k < 2 {
        return Err(GenError::config(
            "folds",
            k,
            "a classifier two-sample test needs at least 2 folds (one to train, one to test)",
            "use --k 5 (the default) or any value ≥ 2",
        ));
    }
    let n = real.rows().min(fake.rows());
    if n < k {
        return Err(GenError::input(
            ctx,
            format!("only {n} samples in the smaller set, fewer than the {k} folds"),
            "pass at least as many samples per set as folds (hundreds for a meaningful test)",
        ));
    }
    if options.steps == 0 || options.batch_size == 0 {
        return Err(GenError::config(
            "steps / batch_size",
            format!("{} / {}", options.steps, options.batch_size),
            "the classifier needs at least one step on at least one sample",
            "use positive values (defaults 300 and 128)",
        ));
    }
    if !(options.lr.is_finite() && options.lr > 0.0) {
        return Err(GenError::config(
            "lr",
            options.lr,
            "must be a positive finite learning rate",
            "use 1e-3 (the default)",
        ));
    }
    let mut rng = rng_from_seed(options.seed);
    // Balance: a random subset of n rows of each set; stratified folds.
    let mut pick = |m: &Matrix| -> Result<Matrix> {
        let mut idx: Vec<usize> = (0..m.rows()).collect();
        idx.shuffle(&mut rng);
        idx.truncate(n);
        m.select_rows(&idx)
    };
    let real_b = pick(real)?;
    let fake_b = pick(fake)?;
    let d = real.cols();
    let device = options.backend.train_device()?;

    let mut fold_acc = Vec::with_capacity(k);
    for fold in 0..k {
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for (label, m) in [(0.0, &real_b), (1.0, &fake_b)] {
            for i in 0..n {
                let row = (m.row(i), label);
                if i % k == fold {
                    test.push(row);
                } else {
                    train.push(row);
                }
            }
        }
        // Standardise with the training fold's pooled statistics.
        let (mean, std) = standardisation(&train, d);
        let to_matrix = |rows: &[(&[f64], f64)]| -> Result<(Matrix, Vec<f32>)> {
            let mut data = Vec::with_capacity(rows.len() * d);
            for (r, _) in rows {
                data.extend(r.iter().enumerate().map(|(j, v)| (v - mean[j]) / std[j]));
            }
            let labels = rows.iter().map(|(_, l)| *l as f32).collect();
            Ok((Matrix::new(rows.len(), d, data)?, labels))
        };
        let (x_train, y_train) = to_matrix(&train)?;
        let (x_test, y_test) = to_matrix(&test)?;

        let mlp = MlpConfig {
            d_in: d,
            hidden: options.hidden.clone(),
            d_out: 1,
            activation: Activation::Relu,
            zero_last: false,
        }
        .init(&mut rng, &device)?;
        let mut opt = Optimized::new(mlp, &OptimConfig::default());
        let batch = options.batch_size.min(x_train.rows());
        let batcher = EpochBatcher::new(x_train.rows(), batch, rng_seed(&mut rng))?;
        for step in 0..options.steps as u64 {
            let idx = batcher.indices(step);
            let xb = to_tensor(&x_train.select_rows(&idx)?, &device);
            let yb: Vec<f32> = idx.iter().map(|&i| y_train[i]).collect();
            let yb = Tensor::<1>::from_data(TensorData::new(yb, [batch]), &device);
            let s = opt.model.forward(xb).reshape([batch]);
            // Binary cross-entropy with logits: softplus(s) − l·s.
            let loss = (softplus(s.clone(), 1.0) - s * yb).mean();
            let value = opt.step(loss, options.lr)?;
            if !value.is_finite() {
                return Err(GenError::input(
                    ctx,
                    format!("the classifier's loss became {value} at step {step} of fold {fold}"),
                    "check the features for extreme values, or lower the learning rate",
                ));
            }
        }
        let model = opt.model.valid();
        let logits = to_vec(model.forward(to_tensor(&x_test, &device.clone().inner())))?;
        let correct = logits
            .iter()
            .zip(&y_test)
            .filter(|(s, l)| ((**s > 0.0) as u8 as f32) == **l)
            .count();
        fold_acc.push(correct as f64 / y_test.len() as f64);
    }
    let acc = fold_acc.iter().sum::<f64>() / k as f64;
    let n_test = 2 * n;
    let z = (acc - 0.5) * (4.0 * n_test as f64).sqrt();
    Ok(C2st {
        value: acc,
        fold_accuracies: fold_acc,
        z,
        p_value: normal_sf(z),
        n_test,
        n_per_class: n,
        n_real: real.rows(),
        n_fake: fake.rows(),
        folds: k,
    })
}

fn rng_seed(rng: &mut gen_core::Rng) -> u64 {
    use rand::Rng as _;
    rng.random()
}

/// Pooled per-column mean and standard deviation (1 for constant columns).
fn standardisation(rows: &[(&[f64], f64)], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = rows.len().max(1) as f64;
    let mut mean = vec![0.0; d];
    for (r, _) in rows {
        for (m, v) in mean.iter_mut().zip(r.iter()) {
            *m += v / n;
        }
    }
    let mut var = vec![0.0; d];
    for (r, _) in rows {
        for j in 0..d {
            var[j] += (r[j] - mean[j]).powi(2) / n;
        }
    }
    let std = var
        .into_iter()
        .map(|v| if v.sqrt() > 1e-12 { v.sqrt() } else { 1.0 })
        .collect();
    (mean, std)
}

/// Standard normal survival function `1 − Φ(z) = erfc(z/√2)/2`, by `libm`'s
/// `erfc` (correct to about an ulp, so tiny tail probabilities keep their
/// relative accuracy).
pub fn normal_sf(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, StandardNormal};

    fn gaussian(n: usize, d: usize, shift: f64, seed: u64) -> Matrix {
        let mut rng = rng_from_seed(seed);
        let data = (0..n * d)
            .map(|i| {
                let z: f64 = StandardNormal.sample(&mut rng);
                z + if i % d == 0 { shift } else { 0.0 }
            })
            .collect();
        Matrix::new(n, d, data).unwrap()
    }

    #[test]
    fn normal_tail_matches_known_values() {
        // Φ̄(0) = ½, Φ̄(1.959964) = 0.025, Φ̄(3) = 1.3498980e-3, Φ̄(6) = 9.8658765e-10.
        assert!((normal_sf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_sf(1.959_964) - 0.025).abs() < 1e-7);
        assert!((normal_sf(3.0) / 1.349_898_0e-3 - 1.0).abs() < 1e-6);
        assert!((normal_sf(6.0) / 9.865_876_5e-10 - 1.0).abs() < 1e-6);
        assert!((normal_sf(-1.959_964) - 0.975).abs() < 1e-7);
        // Far tails keep their relative accuracy: Φ̄(10) = 7.6198530241605261e-24,
        // Φ̄(20) = 2.7536241186062337e-89 (mpmath, 30 digits).
        assert!((normal_sf(10.0) / 7.619_853_024_160_526e-24 - 1.0).abs() < 1e-13);
        assert!((normal_sf(20.0) / 2.753_624_118_606_234e-89 - 1.0).abs() < 1e-12);
        assert!((normal_sf(3.0) / 1.349_898_031_630_094_5e-3 - 1.0).abs() < 1e-14);
    }

    #[test]
    fn identical_distributions_give_chance_accuracy() {
        let real = gaussian(400, 2, 0.0, 1);
        let fake = gaussian(400, 2, 0.0, 2);
        let r = c2st(&real, &fake, &C2stOptions::default()).unwrap();
        eprintln!("C2ST same: acc {:.4}, p {:.3e}", r.value, r.p_value);
        // sd of acc under H0 = 1/√(4·800) ≈ 0.018; allow ~4 sd plus overfitting slack.
        assert!((r.value - 0.5).abs() < 0.08, "{r:?}");
        assert!(r.p_value > 0.01, "{r:?}");
        assert_eq!(r.n_test, 800);
        assert_eq!(r.fold_accuracies.len(), 5);
    }

    #[test]
    fn shifted_gaussians_are_separated() {
        // Means 6σ apart along one axis: Bayes accuracy Φ(3) ≈ 0.9987.
        let real = gaussian(300, 2, 0.0, 3);
        let fake = gaussian(300, 2, 6.0, 4);
        let r = c2st(&real, &fake, &C2stOptions::default()).unwrap();
        eprintln!("C2ST shifted: acc {:.4}, p {:.3e}", r.value, r.p_value);
        assert!(r.value > 0.97, "{r:?}");
        assert!(r.p_value < 1e-12, "{r:?}");
        // The p-value is exactly the normal tail of z = (acc − ½)√(4 n_te).
        let z = (r.value - 0.5) * (4.0 * 600.0f64).sqrt();
        assert!((r.z - z).abs() < 1e-9);
    }

    #[test]
    fn bad_input_is_an_error() {
        let a = gaussian(10, 2, 0.0, 1);
        let b = gaussian(10, 3, 0.0, 1);
        assert!(c2st(&a, &b, &C2stOptions::default()).is_err());
        let o = C2stOptions {
            folds: 1,
            ..C2stOptions::default()
        };
        assert!(c2st(&a, &a, &o).is_err());
        let tiny = gaussian(3, 2, 0.0, 1);
        assert!(c2st(&tiny, &a, &C2stOptions::default()).is_err());
        let mut nan = a.clone();
        nan.as_mut_slice()[0] = f64::NAN;
        assert!(c2st(&nan, &a, &C2stOptions::default()).is_err());
    }
}
