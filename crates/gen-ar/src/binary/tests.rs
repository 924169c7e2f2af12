//! Mathematical checks shared by the four binary autoregressive models:
//! normalisation over all 2^D images, the autoregressive property by
//! perturbation, sampling against the model's own probabilities, learning
//! on binarized digits, checkpoints, backend parity and input errors.

use super::*;
use gen_core::Backend;
use gen_core::parity::check_parity;

fn dev() -> Device {
    Backend::Flex.device().unwrap()
}

/// Every binary vector of length `d` (2^d rows; row r holds the bits of r,
/// coordinate 0 the most significant).
fn all_images(d: usize) -> Matrix {
    let n = 1usize << d;
    let mut data = Vec::with_capacity(n * d);
    for r in 0..n {
        for i in 0..d {
            data.push(((r >> (d - 1 - i)) & 1) as f64);
        }
    }
    Matrix::new(n, d, data).unwrap()
}

/// `n` rows of a skewed, correlated binary distribution on `d` coordinates:
/// x_0 ~ B(0.8), x_i = x_{i−1} with probability 0.85, flipped otherwise.
fn skewed_data(n: usize, d: usize, seed: u64) -> Matrix {
    let mut rng = rng_from_seed(seed);
    let mut data = Vec::with_capacity(n * d);
    for _ in 0..n {
        let mut prev = rng.random::<f64>() < 0.8;
        data.push(prev as u8 as f64);
        for _ in 1..d {
            if rng.random::<f64>() >= 0.85 {
                prev = !prev;
            }
            data.push(prev as u8 as f64);
        }
    }
    Matrix::new(n, d, data).unwrap()
}

fn step<N: ArNet>(model: &mut BinaryAr<N>, x: &Matrix, t: u64, lr: f64, rng: &mut Rng) -> f64 {
    let mut ctx = StepContext { step: t, lr, rng };
    model.learn_step(x, &mut ctx).unwrap().loss
}

fn train<N: ArNet>(model: &mut BinaryAr<N>, x: &Matrix, steps: u64, lr: f64) -> Vec<f64> {
    let mut rng = rng_from_seed(99);
    (0..steps)
        .map(|t| step(model, x, t, lr, &mut rng))
        .collect()
}

/// Σ_x exp(log p(x)) over all 2^D images.
fn total_mass<N: ArNet>(model: &BinaryAr<N>) -> f64 {
    let all = all_images(model.dim());
    let s = model.score(&all, &ScoreOptions::default()).unwrap();
    assert!(s.kind.is_exact());
    s.values.iter().map(|v| v.exp()).sum()
}

/// The probabilities sum to 1 over all 2^D images at init and after training.
fn check_normalised<N: ArNet>(config: N::Config) {
    let mut model = BinaryAr::<N>::new(config, &dev(), 3).unwrap();
    let d = model.dim();
    assert!(d <= 12, "2^D enumeration is for D ≤ 12");
    let before = total_mass(&model);
    assert!(
        (before - 1.0).abs() < 1e-4,
        "{}: Σ p = {before} at init",
        N::NAME
    );
    let losses = train(&mut model, &skewed_data(64, d, 1), 5, 3e-2);
    assert!(losses[4] < losses[0], "{}: {losses:?}", N::NAME);
    let after = total_mass(&model);
    assert!(
        (after - 1.0).abs() < 1e-4,
        "{}: Σ p = {after} after 5 steps",
        N::NAME
    );
}

/// Flipping x_j leaves p(x_i | x_<i) unchanged for every i generated no later
/// than j, and changes some later conditional (every one when `dense`).
fn check_causal<N: ArNet>(config: N::Config, dense: bool) {
    let mut model = BinaryAr::<N>::new(config, &dev(), 4).unwrap();
    let d = model.dim();
    // Trained a little so that no weight is at a special value.
    train(&mut model, &skewed_data(32, d, 2), 3, 1e-2);
    let base = skewed_data(5, d, 3);
    for (k, order) in model.orders().iter().enumerate() {
        let p0 = model.conditionals(&base, k).unwrap();
        for j in 0..d {
            let mut x = base.clone();
            for r in 0..x.rows() {
                let v = x.get(r, j);
                x.as_mut_slice()[r * d + j] = 1.0 - v;
            }
            let p = model.conditionals(&x, k).unwrap();
            let mut later_moved = 0;
            let later = (0..d).filter(|&i| order[i] > order[j]).count();
            for i in 0..d {
                let moved = (0..x.rows()).any(|r| p.get(r, i) != p0.get(r, i));
                if order[i] <= order[j] {
                    assert!(
                        !moved,
                        "{} ordering {k}: flipping x_{j} changed p(x_{i} | x_<{i})",
                        N::NAME
                    );
                } else if moved {
                    later_moved += 1;
                }
            }
            if later > 0 {
                assert!(later_moved > 0, "{}: x_{j} influences nothing", N::NAME);
            }
            if dense {
                assert_eq!(later_moved, later, "{}: x_{j}", N::NAME);
            }
        }
    }
}

/// χ² goodness of fit of 20,000 samples to the model's own p(x) on all 2^D
/// images (D = 4, 15 degrees of freedom: the 0.999 quantile is 37.70), and
/// (one ordering) the first coordinate at temperature 2 against σ(ℓ/2).
fn check_sampling<N: ArNet>(config: N::Config) {
    let mut model = BinaryAr::<N>::new(config, &dev(), 5).unwrap();
    let d = model.dim();
    assert_eq!(d, 4);
    train(&mut model, &skewed_data(256, d, 4), 40, 5e-2);
    let all = all_images(d);
    let p: Vec<f64> = model
        .score(&all, &ScoreOptions::default())
        .unwrap()
        .values
        .iter()
        .map(|v| v.exp())
        .collect();
    // Far from uniform, so the test has power.
    assert!(p.iter().cloned().fold(0.0, f64::max) > 0.15, "{p:?}");
    let n = 20_000;
    let mut rng = rng_from_seed(6);
    let s = model
        .sample(n, &SampleOptions::default(), &mut rng)
        .unwrap();
    assert_eq!(s.shape(), (n, d));
    let mut counts = vec![0usize; 1 << d];
    for row in s.iter_rows() {
        let idx = row.iter().fold(0usize, |a, &v| (a << 1) | v as usize);
        counts[idx] += 1;
    }
    let chi2: f64 = counts
        .iter()
        .zip(&p)
        .map(|(&o, &pi)| {
            let e = n as f64 * pi;
            (o as f64 - e).powi(2) / e
        })
        .sum();
    assert!(
        chi2 < 37.70,
        "{}: χ² = {chi2}, counts {counts:?}, p {p:?}",
        N::NAME
    );
    // The same seed draws the same samples.
    let again = model
        .sample(n, &SampleOptions::default(), &mut rng_from_seed(6))
        .unwrap();
    assert_eq!(s, again);
    if model.orders().len() == 1 {
        let first = model.orders()[0].iter().position(|&r| r == 1).unwrap();
        let q = model
            .conditionals(&Matrix::zeros(1, d), 0)
            .unwrap()
            .get(0, first);
        let logit = (q / (1.0 - q)).ln();
        let want = 1.0 / (1.0 + (-logit / 2.0).exp());
        let hot = model
            .sample(n, &SampleOptions::with_temperature(2.0), &mut rng)
            .unwrap();
        let freq = hot.iter_rows().filter(|r| r[first] == 1.0).count() as f64 / n as f64;
        let se = (want * (1.0 - want) / n as f64).sqrt();
        assert!(
            (freq - want).abs() < 4.0 * se,
            "{}: T = 2 frequency {freq} vs σ(ℓ/2) = {want}",
            N::NAME
        );
    }
}

fn digits_binary(split: gen_data::Split, seed: u64) -> Matrix {
    let ds = gen_data::digits8x8(split).unwrap();
    gen_data::transforms::binarize(&ds.images, ds.levels, &mut rng_from_seed(seed)).unwrap()
}

/// `steps` Adam steps of batch 100 on binarized 8×8 digits (a fresh
/// binarization per epoch); returns the test NLL in nats before and after.
fn digits_nll<N: ArNet>(config: N::Config, steps: u64, lr: f64) -> (f64, f64) {
    let train_ds = gen_data::digits8x8(gen_data::Split::Train).unwrap();
    let test = digits_binary(gen_data::Split::Test, 7);
    let mut model = BinaryAr::<N>::new(config, &dev(), 1).unwrap();
    let before = model.nll(&test).unwrap();
    let batcher = gen_core::train::EpochBatcher::new(train_ds.len(), 100, 1).unwrap();
    let mut rng = rng_from_seed(8);
    let mut bin_rng = rng_from_seed(9);
    let mut x = train_ds.binarized(&mut bin_rng).unwrap();
    for t in 0..steps {
        if t > 0 && t % batcher.batches_per_epoch() == 0 {
            x = train_ds.binarized(&mut bin_rng).unwrap();
        }
        let batch = x.select_rows(&batcher.indices(t)).unwrap();
        step(&mut model, &batch, t, lr, &mut rng);
    }
    let after = model.nll(&test).unwrap();
    eprintln!(
        "{}: digits 8x8 test NLL {before:.2} -> {after:.2} nats after {steps} steps (D ln 2 = {:.2})",
        N::NAME,
        64.0 * std::f64::consts::LN_2
    );
    (before, after)
}

/// A checkpoint restores scores exactly and the optimiser state too: the next
/// step after loading gives the same loss as the next step without saving.
fn check_checkpoint<N: ArNet>(config: N::Config, other: N::Config) {
    let d = N::dim(&config);
    let x = skewed_data(50, d, 10);
    let mut model = BinaryAr::<N>::new(config.clone(), &dev(), 11).unwrap();
    train(&mut model, &x, 3, 1e-2);
    let dir = std::env::temp_dir().join(format!("gen-ar-{}-ckpt-{}", N::NAME, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    model.save_checkpoint(&dir).unwrap();
    let mut back = BinaryAr::<N>::load(&dir, &dev()).unwrap();
    let o = ScoreOptions::default();
    assert_eq!(back.score(&x, &o).unwrap(), model.score(&x, &o).unwrap());
    let a = step(&mut model, &x, 3, 1e-2, &mut rng_from_seed(12));
    let b = step(&mut back, &x, 3, 1e-2, &mut rng_from_seed(12));
    assert_eq!(a, b, "{}: next step after reload", N::NAME);
    // A different architecture refuses the checkpoint.
    let mut wrong = BinaryAr::<N>::new(other, &dev(), 0).unwrap();
    let e = wrong.load_checkpoint(&dir).unwrap_err().to_string();
    assert!(e.contains("different") && e.contains("Fix"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two Adam steps and the scores after them agree on every enabled backend
/// (ndarray, flex, and wgpu where an adapter starts).
fn check_parity_of<N: ArNet>(config: N::Config) {
    let d = N::dim(&config);
    let x = skewed_data(16, d, 13);
    let report = check_parity(N::NAME, false, 1e-4, 1e-4, |device| {
        let mut model = BinaryAr::<N>::new(config.clone(), device, 14)?;
        let mut rng = rng_from_seed(15);
        let mut out = Vec::new();
        for t in 0..2 {
            let mut ctx = StepContext {
                step: t,
                lr: 1e-2,
                rng: &mut rng,
            };
            out.push(model.learn_step(&x, &mut ctx)?.loss as f32);
        }
        let s = model.score(&x, &ScoreOptions::default())?;
        out.extend(s.values.iter().map(|&v| v as f32));
        Ok(out)
    })
    .unwrap();
    assert!(report.backends.len() >= 2, "{:?}", report.backends);
    eprintln!(
        "{} parity over {:?}: max |diff| {:e}",
        N::NAME,
        report.backends,
        report.max_abs_diff
    );
}

/// Wrong width, non-binary rows, other estimators, bad temperatures and
/// conditioning are refused with messages that say what and how to fix.
fn check_bad_input<N: ArNet>(config: N::Config) {
    let model = BinaryAr::<N>::new(config, &dev(), 0).unwrap();
    let d = model.dim();
    let o = ScoreOptions::default();
    let e = model
        .score(&Matrix::zeros(2, d + 1), &o)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("{d} values per row")) && e.contains("Fix"),
        "{e}"
    );
    let mut x = Matrix::zeros(4, d);
    x.as_mut_slice()[d + 1] = 0.5;
    x.as_mut_slice()[3 * d] = 2.0;
    let e = model.score(&x, &o).unwrap_err().to_string();
    assert!(
        e.contains("rows 1, 3") && e.contains("0.5 at row 1, column 1") && e.contains("binarize"),
        "{e}"
    );
    let mut rng = rng_from_seed(0);
    let mut m = BinaryAr::<N>::new(model.config().clone(), &dev(), 0).unwrap();
    let e = step_err(&mut m, &x, &mut rng);
    assert!(e.contains("non-binary"), "{e}");
    let e = model
        .score(
            &Matrix::zeros(1, d),
            &ScoreOptions::with(gen_core::ScoreEstimator::Iwae, 10),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("one way to score"), "{e}");
    let e = model
        .sample(2, &SampleOptions::with_temperature(0.0), &mut rng)
        .unwrap_err()
        .to_string();
    assert!(e.contains("temperature"), "{e}");
    let cond = SampleOptions {
        condition: Some(Matrix::zeros(1, 1)),
        ..SampleOptions::default()
    };
    assert!(model.sample(2, &cond, &mut rng).is_err());
    let e = model
        .score(&Matrix::zeros(0, d), &o)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no rows"), "{e}");
    // The capability row agrees with what score returns.
    let caps = model.capabilities();
    assert_eq!(caps.family, "autoregressive");
    caps.check_score(&model.score(&Matrix::zeros(1, d), &o))
        .unwrap();
}

fn step_err<N: ArNet>(model: &mut BinaryAr<N>, x: &Matrix, rng: &mut Rng) -> String {
    let mut ctx = StepContext {
        step: 0,
        lr: 1e-3,
        rng,
    };
    model.learn_step(x, &mut ctx).unwrap_err().to_string()
}

#[test]
fn capability_rows_name_the_four_models() {
    let rows = capabilities();
    let names: Vec<&str> = rows.iter().map(|r| r.model).collect();
    assert_eq!(names, ["fvsbn", "nade", "made", "pixelcnn"]);
    for r in &rows {
        assert_eq!(r.family, "autoregressive");
        assert_eq!(r.learn.support, gen_core::Support::Exact);
        assert_eq!(r.score.support, gen_core::Support::Exact);
        assert_eq!(r.sample.support, gen_core::Support::Exact);
        assert_eq!(r.infer.support, gen_core::Support::None);
    }
}

// ---------------------------------------------------------------- FVSBN

#[test]
fn fvsbn_is_normalised_over_all_images() {
    check_normalised::<FvsbnNet>(FvsbnConfig::new(10));
}

#[test]
fn fvsbn_conditionals_depend_only_on_earlier_pixels() {
    check_causal::<FvsbnNet>(FvsbnConfig::new(7), true);
}

#[test]
fn fvsbn_samples_match_its_probabilities() {
    check_sampling::<FvsbnNet>(FvsbnConfig::new(4));
}

#[test]
fn fvsbn_learns_digits() {
    let (before, after) = digits_nll::<FvsbnNet>(FvsbnConfig::new(64), 300, 2e-2);
    assert!(before > 40.0, "{before}");
    assert!(after < 28.0, "test NLL {after} nats");
}

#[test]
fn fvsbn_checkpoint_round_trip() {
    check_checkpoint::<FvsbnNet>(FvsbnConfig::new(6), FvsbnConfig::new(7));
}

#[test]
fn fvsbn_backend_parity() {
    check_parity_of::<FvsbnNet>(FvsbnConfig::new(9));
}

#[test]
fn fvsbn_bad_input() {
    check_bad_input::<FvsbnNet>(FvsbnConfig::new(5));
    let e = Fvsbn::new(FvsbnConfig::new(0), &dev(), 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("fvsbn d") && e.contains("Fix"), "{e}");
}

// ---------------------------------------------------------------- NADE

#[test]
fn nade_is_normalised_over_all_images() {
    check_normalised::<NadeNet>(NadeConfig::new(10, 8));
}

#[test]
fn nade_conditionals_depend_only_on_earlier_pixels() {
    check_causal::<NadeNet>(NadeConfig::new(7, 5), true);
}

#[test]
fn nade_samples_match_its_probabilities() {
    check_sampling::<NadeNet>(NadeConfig::new(4, 6));
}

#[test]
fn nade_learns_digits() {
    let (before, after) = digits_nll::<NadeNet>(NadeConfig::new(64, 64), 300, 1e-2);
    assert!(before > 40.0, "{before}");
    assert!(after < 28.0, "test NLL {after} nats");
}

#[test]
fn nade_checkpoint_round_trip() {
    check_checkpoint::<NadeNet>(NadeConfig::new(6, 5), NadeConfig::new(6, 4));
}

#[test]
fn nade_backend_parity() {
    check_parity_of::<NadeNet>(NadeConfig::new(9, 7));
}

#[test]
fn nade_bad_input() {
    check_bad_input::<NadeNet>(NadeConfig::new(5, 3));
    let e = Nade::new(NadeConfig::new(5, 0), &dev(), 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nade hidden") && e.contains("Fix"), "{e}");
}

// ---------------------------------------------------------------- MADE

fn made_cfg(d: usize, hidden: usize, m: usize) -> MadeConfig {
    MadeConfig::new(d, vec![hidden, hidden], m)
}

#[test]
fn made_is_normalised_over_all_images() {
    // One ordering, and the ensemble of four.
    check_normalised::<MadeNet>(made_cfg(10, 16, 1));
    check_normalised::<MadeNet>(made_cfg(10, 16, 4));
}

#[test]
fn made_conditionals_depend_only_on_earlier_pixels_in_every_ordering() {
    check_causal::<MadeNet>(made_cfg(7, 12, 4), false);
}

#[test]
fn made_ensemble_score_is_the_log_mean_exp_of_the_orderings() {
    let model = Made::new(made_cfg(6, 10, 3), &dev(), 2).unwrap();
    let x = skewed_data(20, 6, 21);
    let per = model.log_prob_per_ordering(&x).unwrap();
    assert_eq!(per.cols(), 3);
    // The orderings are different models: their scores differ.
    assert!(per.iter_rows().any(|r| (r[0] - r[1]).abs() > 1e-3));
    let s = model.score(&x, &ScoreOptions::default()).unwrap();
    for (row, v) in per.iter_rows().zip(&s.values) {
        let want = (row.iter().map(|l| l.exp()).sum::<f64>() / 3.0).ln();
        assert!((v - want).abs() < 1e-10, "{v} vs {want}");
    }
    // Each ordering alone is normalised too.
    let all = all_images(6);
    let per = model.log_prob_per_ordering(&all).unwrap();
    for k in 0..3 {
        let mass: f64 = per.iter_rows().map(|r| r[k].exp()).sum();
        assert!((mass - 1.0).abs() < 1e-4, "ordering {k}: {mass}");
    }
}

#[test]
fn made_samples_match_its_probabilities() {
    // The ensemble of three orderings is a mixture: sampling it exactly
    // needs the ordering drawn per sample.
    check_sampling::<MadeNet>(made_cfg(4, 12, 3));
    check_sampling::<MadeNet>(made_cfg(4, 12, 1));
}

#[test]
fn made_learns_digits() {
    let (before, after) = digits_nll::<MadeNet>(made_cfg(64, 128, 4), 300, 5e-3);
    assert!(before > 40.0, "{before}");
    assert!(after < 30.0, "test NLL {after} nats");
}

#[test]
fn made_checkpoint_round_trip() {
    // M = 3 orderings: the next step after reload draws the same ordering.
    check_checkpoint::<MadeNet>(made_cfg(6, 8, 3), made_cfg(6, 8, 2));
}

#[test]
fn made_backend_parity() {
    check_parity_of::<MadeNet>(made_cfg(9, 12, 3));
}

#[test]
fn made_bad_input() {
    check_bad_input::<MadeNet>(made_cfg(5, 6, 2));
    let e = Made::new(made_cfg(5, 6, 0), &dev(), 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("made orderings") && e.contains("Fix"), "{e}");
    let e = Made::new(MadeConfig::new(5, vec![], 1), &dev(), 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("made hidden") && e.contains("Fix"), "{e}");
    let m = Made::new(made_cfg(5, 6, 2), &dev(), 0).unwrap();
    let e = m
        .conditionals(&Matrix::zeros(1, 5), 2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("2 ordering(s)"), "{e}");
}

// ---------------------------------------------------------------- PixelCNN

fn pixelcnn_cfg(height: usize, width: usize) -> PixelCnnConfig {
    PixelCnnConfig {
        kernel: 3,
        ..PixelCnnConfig::new(height, width, 8, 2)
    }
}

#[test]
fn pixelcnn_is_normalised_over_all_3x4_images() {
    check_normalised::<PixelCnnNet>(pixelcnn_cfg(3, 4));
}

#[test]
fn pixelcnn_conditionals_depend_only_on_earlier_pixels() {
    check_causal::<PixelCnnNet>(pixelcnn_cfg(3, 4), false);
    check_causal::<PixelCnnNet>(
        PixelCnnConfig {
            kernel: 5,
            ..pixelcnn_cfg(4, 3)
        },
        false,
    );
}

#[test]
fn pixelcnn_samples_match_its_probabilities() {
    check_sampling::<PixelCnnNet>(pixelcnn_cfg(2, 2));
}

#[test]
fn pixelcnn_learns_digits() {
    let cfg = PixelCnnConfig::new(8, 8, 32, 2);
    let (before, after) = digits_nll::<PixelCnnNet>(cfg, 300, 3e-3);
    assert!(before > 40.0, "{before}");
    assert!(after < 30.0, "test NLL {after} nats");
}

#[test]
fn pixelcnn_checkpoint_round_trip() {
    check_checkpoint::<PixelCnnNet>(pixelcnn_cfg(2, 3), pixelcnn_cfg(3, 2));
}

#[test]
fn pixelcnn_backend_parity() {
    check_parity_of::<PixelCnnNet>(pixelcnn_cfg(3, 3));
}

#[test]
fn pixelcnn_bad_input() {
    check_bad_input::<PixelCnnNet>(pixelcnn_cfg(2, 3));
    for kernel in [1, 4] {
        let cfg = PixelCnnConfig {
            kernel,
            ..pixelcnn_cfg(3, 3)
        };
        let e = PixelCnn::new(cfg, &dev(), 0).unwrap_err().to_string();
        assert!(e.contains("pixelcnn kernel") && e.contains("Fix"), "{e}");
    }
    let e = PixelCnn::new(pixelcnn_cfg(0, 3), &dev(), 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("pixelcnn height"), "{e}");
    // 28x28 rows given to an 8x8 model: the message says both sizes.
    let m = PixelCnn::new(PixelCnnConfig::new(8, 8, 4, 0), &dev(), 0).unwrap();
    let e = m
        .score(&Matrix::zeros(1, 784), &ScoreOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("64 values") && e.contains("28x28"), "{e}");
}
