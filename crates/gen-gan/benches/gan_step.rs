//! Time of one GAN training step (`Gan::learn_step`: one discriminator Adam
//! step on a data batch and a detached generated batch, then one generator
//! Adam step through D) of the 2-D MLP GAN, batch 256 of eight-gaussians.
//!
//! ```text
//! cargo bench -p gen-gan --profile dev --bench gan_step
//! ```
//!
//! Always pass `--profile dev`: plain `cargo bench` uses the release profile,
//! a separate (40-minute) build of burn. The dev profile compiles every
//! dependency at opt-level 3 and gen-gan at opt-level 1.
//!
//! Benchmarks:
//! - `gan_step/{ndarray,flex,wgpu}`: the non-saturating GAN with the default
//!   players (MLP 128-128, latent 2). wgpu runs on whatever adapter exists
//!   (lavapipe on CPU-only machines); without one it prints that it is
//!   skipped.
//! - `gan_step_variants/{wgan_ncritic5,hinge_sn_ncritic2,mmd}` on flex: the
//!   Wasserstein GAN (5 critic steps per G step, weight clipping), the
//!   spectrally normalised hinge GAN at n_critic 2, and the MMD generator
//!   (no critic).
//! - `dcgan_step/{flex,wgpu}`: DCGAN (`GanConfig::dcgan(28, 0)`: channels
//!   [64, 128], L = 100, non-saturating loss) on a batch of 16 28 × 28
//!   images (uniform pixels in [0, 1]: the step's cost does not depend on
//!   the pixel values), one step per sample (`SamplingMode::Flat`).
//!   ndarray is left out: its transposed convolutions made one step at
//!   batch 64 take about 40 s here.
//!
//! The batch is drawn once, outside the timed loop; one step is taken before
//! timing (it allocates the Adam state, and on wgpu compiles the kernels).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use gen_core::{Backend, Learn, Matrix, StepContext, rng_from_seed};
use gen_data::toy2d::Toy2d;
use gen_gan::{DcGan, Gan, GanConfig, GanLoss};
use rand::Rng as _;

const BATCH: usize = 256;

fn bench_one(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    cfg: GanConfig,
    backend: Backend,
    batch: &Matrix,
) {
    let device = match backend.device() {
        Ok(d) => d,
        Err(e) => {
            println!("gan_step/{name}: skipped ({e})");
            return;
        }
    };
    let mut gan = Gan::new(cfg, &device, 0).expect("valid GAN configuration");
    let mut rng = rng_from_seed(1);
    let mut step = 0u64;
    let mut learn = |gan: &mut Gan| {
        let mut ctx = StepContext {
            step,
            lr: 1e-3,
            rng: &mut rng,
        };
        step += 1;
        gan.learn_step(black_box(batch), &mut ctx)
            .expect("training step")
    };
    learn(&mut gan);
    group.bench_function(name, |b| b.iter(|| learn(&mut gan)));
}

fn gan_step(c: &mut Criterion) {
    let batch = Toy2d::EightGaussians.sample(BATCH, 0);
    let ns = GanConfig::with_loss(GanLoss::NonSaturating);
    let mut group = c.benchmark_group("gan_step");
    for backend in [Backend::Ndarray, Backend::Flex, Backend::Wgpu] {
        bench_one(&mut group, backend.name(), ns.clone(), backend, &batch);
    }
    group.finish();

    let mut group = c.benchmark_group("gan_step_variants");
    let variants = [
        (
            "wgan_ncritic5",
            GanConfig::with_loss(GanLoss::Wasserstein { clip: 0.01 }),
        ),
        (
            "hinge_sn_ncritic2",
            GanConfig {
                spectral_norm: true,
                n_critic: 2,
                ..GanConfig::with_loss(GanLoss::Hinge)
            },
        ),
        (
            "mmd",
            GanConfig::with_loss(GanLoss::Mmd {
                bandwidths: [0.1, 0.5, 2.0],
            }),
        ),
    ];
    for (name, cfg) in variants {
        bench_one(&mut group, name, cfg, Backend::Flex, &batch);
    }
    group.finish();

    let mut rng = rng_from_seed(2);
    let pixels: Vec<f64> = (0..16 * 28 * 28).map(|_| rng.random::<f64>()).collect();
    let images = Matrix::new(16, 28 * 28, pixels).expect("16 × 784");
    let mut group = c.benchmark_group("dcgan_step");
    group.sampling_mode(SamplingMode::Flat);
    for backend in [Backend::Flex, Backend::Wgpu] {
        let device = match backend.device() {
            Ok(d) => d,
            Err(e) => {
                println!("dcgan_step/{}: skipped ({e})", backend.name());
                continue;
            }
        };
        let mut gan =
            DcGan::build(GanConfig::dcgan(28, 0), &device, 0).expect("valid DCGAN configuration");
        let mut step = 0u64;
        let mut learn = |gan: &mut DcGan| {
            let mut ctx = StepContext {
                step,
                lr: 2e-4,
                rng: &mut rng,
            };
            step += 1;
            gan.learn_step(black_box(&images), &mut ctx)
                .expect("training step")
        };
        learn(&mut gan);
        group.bench_function(backend.name(), |b| b.iter(|| learn(&mut gan)));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = gan_step
}
criterion_main!(benches);
