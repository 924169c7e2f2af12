//! Small convolutional feature extractors for the two embedded digit data sets,
//! the stand-ins for Inception-v3 in FID / KID / PRDC / Inception-style scores
//! on MNIST-5k (28 × 28) and UCI digits (8 × 8).
//!
//! # Architecture
//!
//! A classifier trained on the data set's training split:
//!
//! ```text
//! x ∈ [0,1]^{H×W} → [conv3×3(pad 1) → ReLU → maxpool 2×2] × L → flatten
//!   → φ(x) = W_f h + b_f ∈ ℝ⁶⁴          (the feature vector)
//!   → logits = W_c ReLU(φ(x)) + b_c ∈ ℝ¹⁰,  p(y | x) = softmax(logits)
//! ```
//!
//! with channels `[16, 32, 32]` for MNIST (28 → 14 → 7 → 3) and `[16, 32]`
//! for digits (8 → 4 → 2). The **features** are the penultimate layer's
//! pre-activations `φ(x)` (64 dimensions; taken before the ReLU so no unit is
//! constantly zero, which would make the feature covariance singular), the
//! analogue of Inception-v3's 2048-d pool features used by FID (Heusel et al.
//! 2017), KID (Bińkowski et al. 2018) and PRDC (Naeem et al. 2020). The
//! **probabilities** `p(y | x)` feed the Inception-style score
//! `exp(E_x KL(p(y|x) ‖ p(y)))` (Salimans et al. 2016).
//!
//! # Comparability
//!
//! Feature-based metrics are defined only relative to a feature extractor:
//! FID, KID, PRDC and IS values computed with these networks are **comparable
//! only with values computed with the same extractor** (same kind, same
//! embedded weights) and the same preprocessing — never with published
//! Inception-v3 numbers, and not across retrained extractors.
//!
//! # Weights
//!
//! The weights are trained deterministically by
//! `cargo run -p gen-eval --example train_extractors` (host-RNG
//! initialisation via [`gen_core::nn::conv::conv2d`], host-side batches with
//! random ±2 px translations for MNIST (none for digits), Adam with a cosine
//! schedule on the flex backend) and stored in the repository as burnpack
//! files (`crates/gen-eval/extractors/{mnist,digits}.bpk`), embedded into
//! the binary with `include_bytes!` so a fresh clone works offline.
//!
//! # Input
//!
//! Images are rows of `H·W` pixels in `[0, 1]`. [`to_unit_range`] accepts raw
//! grey levels (`0..=255` for MNIST, `0..=16` for digits) or values already in
//! `[0, 1]`: if the largest value exceeds 1 the rows are divided by
//! `levels − 1`, otherwise they are taken as already scaled.

use std::path::Path;

// `#[derive(Module)]` expands to paths under `burn::`.
use gen_core::burn;
use gen_core::burn::module::Module;
use gen_core::burn::nn::Linear;
use gen_core::burn::nn::conv::Conv2d;
use gen_core::burn::nn::pool::MaxPool2dConfig;
use gen_core::burn::tensor::activation::{log_softmax, relu, softmax};
use gen_core::burn::tensor::{Bytes, Device, Tensor};
use gen_core::nn::conv::{ConvShape, conv2d};
use gen_core::nn::{Init, linear};
use gen_core::optim::{OptimConfig, Optimized};
use gen_core::tensor::{to_matrix, to_tensor};
use gen_core::train::{LrSchedule, TrainConfig, TrainReport, Trainer};
use gen_core::{
    Capabilities, Checkpoint, GenError, Learn, Matrix, Model, Result, Rng, StepContext, StepStats,
    TaskSupport, rng_from_seed,
};
use rand::Rng as _;

/// Dimension of the feature vector φ(x).
pub const FEATURE_DIM: usize = 64;
/// Number of classes (digits 0–9).
pub const CLASSES: usize = 10;
/// Rows per forward pass when embedding many images.
const CHUNK: usize = 500;

static MNIST_BPK: &[u8] = include_bytes!("../extractors/mnist.bpk");
static DIGITS_BPK: &[u8] = include_bytes!("../extractors/digits.bpk");

/// Which embedded extractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExtractorKind {
    /// MNIST-5k, 28 × 28, 256 grey levels.
    Mnist,
    /// UCI optical digits, 8 × 8, 17 grey levels.
    Digits,
}

impl ExtractorKind {
    /// The command-line name: `mnist` or `digits`.
    pub fn name(self) -> &'static str {
        match self {
            ExtractorKind::Mnist => "mnist",
            ExtractorKind::Digits => "digits",
        }
    }

    /// Image side (the images are square): 28 or 8.
    pub fn side(self) -> usize {
        match self {
            ExtractorKind::Mnist => 28,
            ExtractorKind::Digits => 8,
        }
    }

    /// Pixels per image.
    pub fn dims(self) -> usize {
        self.side() * self.side()
    }

    /// Grey levels of the raw data: 256 or 17.
    pub fn levels(self) -> u32 {
        match self {
            ExtractorKind::Mnist => 256,
            ExtractorKind::Digits => 17,
        }
    }

    /// Output channels of the conv stages.
    pub fn channels(self) -> &'static [usize] {
        match self {
            ExtractorKind::Mnist => &[16, 32, 32],
            ExtractorKind::Digits => &[16, 32],
        }
    }

    /// Largest random translation (pixels) used as training augmentation.
    pub fn max_shift(self) -> usize {
        match self {
            ExtractorKind::Mnist => 2,
            ExtractorKind::Digits => 0,
        }
    }

    fn embedded(self) -> &'static [u8] {
        match self {
            ExtractorKind::Mnist => MNIST_BPK,
            ExtractorKind::Digits => DIGITS_BPK,
        }
    }
}

impl std::str::FromStr for ExtractorKind {
    type Err = GenError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mnist" => Ok(ExtractorKind::Mnist),
            "digits" => Ok(ExtractorKind::Digits),
            other => Err(GenError::config(
                "features",
                other,
                "unknown feature extractor",
                "use mnist (28×28) or digits (8×8)",
            )),
        }
    }
}

/// How [`to_unit_range`] interpreted the pixel values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PixelScale {
    /// Values were already in `[0, 1]`.
    Unit,
    /// Values were raw grey levels `0..=levels−1`, divided by `levels − 1`.
    Levels,
}

/// Checks image rows for `kind` and brings them to `[0, 1]` (module docs):
/// raw levels (max > 1) are divided by `levels − 1`.
pub fn to_unit_range(images: &Matrix, kind: ExtractorKind) -> Result<(Matrix, PixelScale)> {
    let ctx = format!("{} extractor input", kind.name());
    if images.cols() != kind.dims() {
        return Err(GenError::shape(
            ctx,
            format!(
                "{} pixels per row ({}×{} images, one image per row)",
                kind.dims(),
                kind.side(),
                kind.side()
            ),
            format!("{} columns", images.cols()),
            "pass images of the extractor's data set, flattened row-major, or choose the other --features",
        ));
    }
    if images.rows() == 0 {
        return Err(GenError::input(ctx, "no images", "pass at least one image"));
    }
    images.ensure_finite(&ctx)?;
    let (lo, hi) = images
        .as_slice()
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let top = (kind.levels() - 1) as f64;
    if lo < 0.0 || hi > top {
        return Err(GenError::input(
            ctx,
            format!("pixel values span [{lo}, {hi}], outside [0, {top}]"),
            format!(
                "pass raw grey levels 0..{} or values scaled to [0, 1]",
                kind.levels() - 1
            ),
        ));
    }
    if hi <= 1.0 {
        Ok((images.clone(), PixelScale::Unit))
    } else {
        let data = images.as_slice().iter().map(|v| v / top).collect();
        Ok((
            Matrix::new(images.rows(), images.cols(), data)?,
            PixelScale::Levels,
        ))
    }
}

/// The convolutional classifier (module docs).
#[derive(Module, Debug)]
pub struct ConvNet {
    /// Conv stages, input to output.
    pub convs: Vec<Conv2d>,
    /// Flattened conv output → features φ.
    pub feature: Linear,
    /// ReLU(φ) → class logits.
    pub head: Linear,
    /// Image side.
    #[module(skip)]
    pub side: usize,
}

impl ConvNet {
    /// A freshly initialised network for `kind`, weights from `rng`.
    pub fn init(kind: ExtractorKind, rng: &mut Rng, device: &Device) -> Self {
        let mut c_in = 1;
        let mut side = kind.side();
        let mut convs = Vec::new();
        for &c in kind.channels() {
            convs.push(conv2d(
                ConvShape::same(c_in, c, 3),
                Init::Default,
                rng,
                device,
            ));
            c_in = c;
            side /= 2;
        }
        let flat = c_in * side * side;
        Self {
            convs,
            feature: linear(flat, FEATURE_DIM, Init::Default, rng, device),
            head: linear(FEATURE_DIM, CLASSES, Init::Default, rng, device),
            side: kind.side(),
        }
    }

    /// Features φ and logits.
    ///
    /// # Shapes
    /// - `x`: `[batch, side²]` in `[0, 1]` → (`[batch, 64]`, `[batch, 10]`)
    pub fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let [n, _] = x.dims();
        let pool = MaxPool2dConfig::new([2, 2]).init();
        let mut h: Tensor<4> = x.reshape([n, 1, self.side, self.side]);
        for conv in &self.convs {
            h = pool.forward(relu(conv.forward(h)));
        }
        let h: Tensor<2> = h.flatten(1, 3);
        let phi = self.feature.forward(h);
        let logits = self.head.forward(relu(phi.clone()));
        (phi, logits)
    }
}

/// A trained extractor on a device.
#[derive(Debug, Clone)]
pub struct Extractor {
    net: ConvNet,
    kind: ExtractorKind,
    device: Device,
}

impl Extractor {
    /// The weights embedded in the binary, on `device` (use an inference
    /// device, e.g. `Backend::Flex.device()?`).
    pub fn pretrained(kind: ExtractorKind, device: &Device) -> Result<Self> {
        let bytes = kind.embedded();
        if bytes.is_empty() {
            return Err(GenError::input(
                format!("{} feature extractor", kind.name()),
                "this build embeds no trained weights (crates/gen-eval/extractors/*.bpk is empty)",
                "run `cargo run -p gen-eval --example train_extractors` and rebuild",
            ));
        }
        Self::from_bytes(kind, bytes, device)
    }

    /// Weights from burnpack bytes written by [`Extractor::save`].
    pub fn from_bytes(kind: ExtractorKind, bytes: &[u8], device: &Device) -> Result<Self> {
        let err = |e: &dyn std::fmt::Debug| {
            GenError::input(
                format!("{} feature extractor", kind.name()),
                format!("the weights are not a valid burnpack record for this architecture: {e:?}"),
                "retrain with `cargo run -p gen-eval --example train_extractors`",
            )
        };
        let record =
            gen_core::burn::store::ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
                .map_err(|e| err(&e))?;
        let net = ConvNet::init(kind, &mut rng_from_seed(0), device)
            .try_load_record(record)
            .map_err(|e| err(&e))?;
        Ok(Self {
            net,
            kind,
            device: device.clone(),
        })
    }

    /// Wraps a network (e.g. one just trained) for inference on `device`.
    pub fn from_net(kind: ExtractorKind, net: ConvNet, device: &Device) -> Self {
        Self {
            net,
            kind,
            device: device.clone(),
        }
    }

    /// Writes the weights as a burnpack file.
    pub fn save(&self, path: &Path) -> Result<()> {
        gen_core::optim::save_module(&self.net, path)
    }

    /// Which extractor.
    pub fn kind(&self) -> ExtractorKind {
        self.kind
    }

    /// The network.
    pub fn net(&self) -> &ConvNet {
        &self.net
    }

    /// Runs the net in chunks on `images` (rows in `[0, 1]`), returning
    /// (features, logits) on the host.
    pub fn embed(&self, images: &Matrix) -> Result<(Matrix, Matrix)> {
        let (x, _) = to_unit_range(images, self.kind)?;
        let mut feats = Vec::with_capacity(x.rows() * FEATURE_DIM);
        let mut logits = Vec::with_capacity(x.rows() * CLASSES);
        for start in (0..x.rows()).step_by(CHUNK) {
            let idx: Vec<usize> = (start..(start + CHUNK).min(x.rows())).collect();
            let (phi, lg) = self
                .net
                .forward(to_tensor(&x.select_rows(&idx)?, &self.device));
            feats.extend_from_slice(to_matrix(phi)?.as_slice());
            logits.extend_from_slice(to_matrix(lg)?.as_slice());
        }
        Ok((
            Matrix::new(x.rows(), FEATURE_DIM, feats)?,
            Matrix::new(x.rows(), CLASSES, logits)?,
        ))
    }

    /// Features φ(x) (64 per image) for FID / KID / PRDC.
    pub fn features(&self, images: &Matrix) -> Result<Matrix> {
        Ok(self.embed(images)?.0)
    }

    /// Class probabilities `p(y | x)` (10 per image, rows sum to 1) for the
    /// Inception-style score.
    pub fn probabilities(&self, images: &Matrix) -> Result<Matrix> {
        let logits = self.embed(images)?.1;
        let t = softmax(to_tensor(&logits, &self.device), 1);
        to_matrix(t)
    }

    /// Fraction of `images` whose arg-max class equals `labels`.
    pub fn accuracy(&self, images: &Matrix, labels: &[u8]) -> Result<f64> {
        if labels.len() != images.rows() {
            return Err(GenError::shape(
                "Extractor::accuracy",
                format!("{} labels (one per image)", images.rows()),
                format!("{} labels", labels.len()),
                "pass one label per image row",
            ));
        }
        let logits = self.embed(images)?.1;
        let correct = logits
            .iter_rows()
            .zip(labels)
            .filter(|(row, l)| argmax(row) == **l as usize)
            .count();
        Ok(correct as f64 / labels.len() as f64)
    }
}

fn argmax(row: &[f64]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv { (i, v) } else { (bi, bv) }
        })
        .0
}

/// Settings of [`train_extractor`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExtractorTraining {
    /// Adam steps.
    pub steps: u64,
    /// Minibatch size.
    pub batch_size: usize,
    /// Peak learning rate (cosine schedule with warm-up).
    pub lr: f64,
    /// Seed of the weights, batches and augmentation.
    pub seed: u64,
}

impl ExtractorTraining {
    /// The settings the embedded weights were trained with.
    pub fn for_kind(kind: ExtractorKind) -> Self {
        match kind {
            ExtractorKind::Mnist => Self {
                steps: 2000,
                batch_size: 64,
                lr: 2e-3,
                seed: 2017,
            },
            ExtractorKind::Digits => Self {
                steps: 3000,
                batch_size: 64,
                lr: 2e-3,
                seed: 2017,
            },
        }
    }
}

/// The network and its optimiser, as the [`Trainer`] drives them.
struct Learner {
    opt: Optimized<ConvNet>,
    device: Device,
}

impl Model for Learner {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            model: "conv-extractor",
            family: "evaluation",
            learn: TaskSupport::exact("Adam on the cross-entropy of digit labels"),
            score: TaskSupport::none("a classifier, not a density model"),
            sample: TaskSupport::none("a classifier, not a generative model"),
            infer: TaskSupport::none("no latent variables"),
        }
    }
}

impl Learn for Learner {
    /// Images in `[0, 1]` and one-hot labels.
    type Batch = (Matrix, Matrix);

    fn learn_step(&mut self, batch: &Self::Batch, ctx: &mut StepContext<'_>) -> Result<StepStats> {
        let (x, y) = batch;
        let (_, logits) = self.opt.model.forward(to_tensor(x, &self.device));
        // Cross-entropy −Σ_c y_c log softmax(logits)_c, averaged over the batch.
        let loss = (log_softmax(logits, 1) * to_tensor(y, &self.device))
            .sum_dim(1)
            .mean()
            .neg();
        Ok(StepStats::loss(self.opt.step(loss, ctx.lr)?))
    }
}

impl Checkpoint for Learner {
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        self.opt.save(dir, "extractor")
    }
    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        self.opt.load(dir, "extractor")
    }
}

/// Translates each `side × side` image by a random offset in
/// `[−shift, shift]²`, filling with 0 (background).
fn random_shift(x: &Matrix, side: usize, shift: usize, rng: &mut Rng) -> Result<Matrix> {
    let mut out = vec![0.0; x.rows() * x.cols()];
    let s = shift as i64;
    for (r, img) in x.iter_rows().enumerate() {
        let dy = rng.random_range(-s..=s);
        let dx = rng.random_range(-s..=s);
        let dst = &mut out[r * x.cols()..(r + 1) * x.cols()];
        for i in 0..side as i64 {
            for j in 0..side as i64 {
                let (si, sj) = (i - dy, j - dx);
                if (0..side as i64).contains(&si) && (0..side as i64).contains(&sj) {
                    dst[(i * side as i64 + j) as usize] = img[(si * side as i64 + sj) as usize];
                }
            }
        }
    }
    Matrix::new(x.rows(), x.cols(), out)
}

/// Trains a fresh extractor of `kind` on `images` (raw levels or `[0, 1]`)
/// with `labels` in `0..10`, on the flex backend, with the shared
/// [`Trainer`] writing its logs and checkpoints to `run_dir`. Deterministic
/// given the settings: weights, batches and augmentations come from the host
/// RNG.
pub fn train_extractor(
    kind: ExtractorKind,
    images: &Matrix,
    labels: &[u8],
    settings: &ExtractorTraining,
    run_dir: &Path,
    progress: bool,
) -> Result<(Extractor, TrainReport)> {
    let (x, _) = to_unit_range(images, kind)?;
    if labels.len() != x.rows() || labels.iter().any(|&l| l as usize >= CLASSES) {
        return Err(GenError::input(
            "train_extractor",
            format!(
                "{} labels for {} images (labels must be digits 0..9)",
                labels.len(),
                x.rows()
            ),
            "pass one digit label per image",
        ));
    }
    let device = gen_core::Backend::Flex.train_device()?;
    let mut rng = rng_from_seed(settings.seed);
    let net = ConvNet::init(kind, &mut rng, &device);
    let mut learner = Learner {
        opt: Optimized::new(net, &OptimConfig::default()),
        device: device.clone(),
    };
    let batcher = gen_core::train::EpochBatcher::new(x.rows(), settings.batch_size, settings.seed)?;
    let trainer = Trainer::new(
        TrainConfig {
            steps: settings.steps,
            lr: settings.lr,
            schedule: LrSchedule::Cosine {
                warmup: 50,
                min_factor: 0.01,
            },
            seed: settings.seed,
            checkpoint_every: 0,
            log_every: 50,
            batch_size: settings.batch_size,
            progress,
            resume: false,
            keep_checkpoints: 1,
            ..TrainConfig::default()
        },
        run_dir,
    )?;
    let side = kind.side();
    let report = trainer.fit(&mut learner, |step, rng| {
        let idx = batcher.indices(step);
        let xb = random_shift(&x.select_rows(&idx)?, side, kind.max_shift(), rng)?;
        let mut y = vec![0.0; idx.len() * CLASSES];
        for (r, &i) in idx.iter().enumerate() {
            y[r * CLASSES + labels[i] as usize] = 1.0;
        }
        Ok((xb, Matrix::new(idx.len(), CLASSES, y)?))
    })?;
    let inference = device.inner();
    Ok((
        Extractor::from_net(kind, learner.opt.model.valid(), &inference),
        report,
    ))
}

/// Test-time corruptions used to check that feature distances grow with
/// image degradation.
pub mod corrupt {
    use gen_core::{Matrix, Result, Rng};
    use rand_distr::{Distribution, StandardNormal};

    /// Gaussian blur with standard deviation `sigma` pixels (separable kernel
    /// truncated at `⌈3σ⌉`, renormalised; edges clamped) of `side × side`
    /// images in rows.
    pub fn blur(x: &Matrix, side: usize, sigma: f64) -> Result<Matrix> {
        let r = (3.0 * sigma).ceil() as i64;
        let mut k: Vec<f64> = (-r..=r)
            .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp())
            .collect();
        let total: f64 = k.iter().sum();
        k.iter_mut().for_each(|v| *v /= total);
        let n = side as i64;
        let clamp = |i: i64| i.clamp(0, n - 1) as usize;
        let mut out = Vec::with_capacity(x.rows() * x.cols());
        for img in x.iter_rows() {
            let mut tmp = vec![0.0; side * side];
            for i in 0..side {
                for j in 0..n {
                    tmp[i * side + j as usize] = (-r..=r)
                        .map(|d| k[(d + r) as usize] * img[i * side + clamp(j + d)])
                        .sum();
                }
            }
            for i in 0..n {
                for j in 0..side {
                    out.push(
                        (-r..=r)
                            .map(|d| k[(d + r) as usize] * tmp[clamp(i + d) * side + j])
                            .sum(),
                    );
                }
            }
        }
        Matrix::new(x.rows(), x.cols(), out)
    }

    /// Additive Gaussian noise `x + σ ε`, clipped to `[0, 1]`.
    pub fn noise(x: &Matrix, sigma: f64, rng: &mut Rng) -> Result<Matrix> {
        let data = x
            .as_slice()
            .iter()
            .map(|v| {
                let e: f64 = StandardNormal.sample(rng);
                (v + sigma * e).clamp(0.0, 1.0)
            })
            .collect();
        Matrix::new(x.rows(), x.cols(), data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frechet_distance;
    use gen_data::Split;

    fn flex() -> Device {
        gen_core::Backend::Flex.device().unwrap()
    }

    #[test]
    fn unit_range_detection() {
        let raw = Matrix::new(1, 64, (0..64).map(|i| (i % 17) as f64).collect()).unwrap();
        let (u, s) = to_unit_range(&raw, ExtractorKind::Digits).unwrap();
        assert_eq!(s, PixelScale::Levels);
        assert_eq!(u.get(0, 16), 1.0);
        assert_eq!(u.get(0, 8), 0.5);
        let (u2, s2) = to_unit_range(&u, ExtractorKind::Digits).unwrap();
        assert_eq!(s2, PixelScale::Unit);
        assert_eq!(u2, u);
        let bad = Matrix::new(1, 64, vec![17.0; 64]).unwrap();
        assert!(to_unit_range(&bad, ExtractorKind::Digits).is_err());
        assert!(to_unit_range(&raw, ExtractorKind::Mnist).is_err());
    }

    #[test]
    fn blur_preserves_constant_images_and_mass() {
        let c = Matrix::new(1, 64, vec![0.3; 64]).unwrap();
        let b = corrupt::blur(&c, 8, 1.5).unwrap();
        assert!(b.as_slice().iter().all(|v| (v - 0.3).abs() < 1e-12));
        // A centred point spreads but keeps its mass (far from the edges).
        let mut p = vec![0.0; 28 * 28];
        p[14 * 28 + 14] = 1.0;
        let b = corrupt::blur(&Matrix::new(1, 784, p).unwrap(), 28, 1.0).unwrap();
        assert!((b.as_slice().iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(b.get(0, 14 * 28 + 14) < 0.2);
    }

    #[test]
    fn embedded_mnist_extractor_is_accurate() {
        let test = gen_data::mnist5k(Split::Test).unwrap();
        let ex = Extractor::pretrained(ExtractorKind::Mnist, &flex()).unwrap();
        let acc = ex.accuracy(&test.images, &test.labels).unwrap();
        assert!(acc >= 0.97, "MNIST-5k test accuracy {acc}");
        let p = ex.probabilities(&test.scaled().unwrap()).unwrap();
        for row in p.iter_rows().take(20) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn embedded_digits_extractor_is_accurate() {
        let test = gen_data::digits8x8(Split::Test).unwrap();
        let ex = Extractor::pretrained(ExtractorKind::Digits, &flex()).unwrap();
        let acc = ex.accuracy(&test.images, &test.labels).unwrap();
        assert!(acc >= 0.92, "digits test accuracy {acc}");
    }

    #[test]
    fn same_features_on_flex_and_ndarray() {
        let test = gen_data::mnist5k(Split::Test).unwrap();
        let x = test
            .images
            .select_rows(&(0..50).collect::<Vec<_>>())
            .unwrap();
        let a = Extractor::pretrained(ExtractorKind::Mnist, &flex()).unwrap();
        let nd = gen_core::Backend::Ndarray.device().unwrap();
        let b = Extractor::pretrained(ExtractorKind::Mnist, &nd).unwrap();
        let (fa, fb) = (a.features(&x).unwrap(), b.features(&x).unwrap());
        for (u, v) in fa.as_slice().iter().zip(fb.as_slice()) {
            assert!((u - v).abs() <= 1e-4 + 1e-4 * u.abs(), "{u} vs {v}");
        }
    }

    #[test]
    fn fid_grows_with_blur_and_noise() {
        let ex = Extractor::pretrained(ExtractorKind::Mnist, &flex()).unwrap();
        let train = gen_data::mnist5k(Split::Train).unwrap().scaled().unwrap();
        let test = gen_data::mnist5k(Split::Test).unwrap().scaled().unwrap();
        let f_train = ex.features(&train).unwrap();
        let f_test = ex.features(&test).unwrap();
        let base = frechet_distance(&f_train, &f_test).unwrap().value;
        let fid = |m: &Matrix| {
            frechet_distance(&f_test, &ex.features(m).unwrap())
                .unwrap()
                .value
        };
        let blur: Vec<f64> = [0.7, 1.2, 2.0]
            .iter()
            .map(|&s| fid(&corrupt::blur(&test, 28, s).unwrap()))
            .collect();
        let mut rng = rng_from_seed(7);
        let noise: Vec<f64> = [0.15, 0.3, 0.5]
            .iter()
            .map(|&s| fid(&corrupt::noise(&test, s, &mut rng).unwrap()))
            .collect();
        eprintln!("FID train/test {base:.3}; blur {blur:?}; noise {noise:?}");
        for series in [&blur, &noise] {
            assert!(
                series.windows(2).all(|w| w[0] < w[1]),
                "not increasing: {series:?}"
            );
            assert!(
                series[0] > 3.0 * base,
                "mildest corruption {series:?} vs base {base}"
            );
        }
    }
}
