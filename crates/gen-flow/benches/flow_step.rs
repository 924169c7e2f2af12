//! Time of one Adam training step (`FlowModel::learn_step`: forward, exact
//! NLL, backward, Adam update) on a batch of 512 eight-gaussians points.
//!
//! ```text
//! cargo bench -p gen-flow --profile dev --bench flow_step
//! ```
//!
//! Always pass `--profile dev`: plain `cargo bench` uses the release profile,
//! a separate (40-minute) build of burn. The dev profile compiles every
//! dependency at opt-level 3 and gen-flow at opt-level 1.
//!
//! Benchmarks: `realnvp_step_ndarray` and `realnvp_step_flex`
//! ([`FlowConfig::normflows_realnvp`]: 8 affine couplings, MLP 64-64; the
//! normflows / PyTorch reference takes 6.4 ms per step on 2 threads), and
//! `nsf_step_flex` / `nsf_ar_step_flex` / `maf_step_flex` with the default
//! configurations of those kinds on 2-D data. The batch is drawn once, outside
//! the timed loop; the first (ActNorm-initialising) step is taken before timing.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gen_core::{Backend, Learn, StepContext, rng_from_seed};
use gen_data::toy2d::Toy2d;
use gen_flow::{FlowBatch, FlowConfig, FlowKind, FlowModel};

fn bench_step(c: &mut Criterion, name: &str, cfg: FlowConfig, backend: Backend, batch: &FlowBatch) {
    let device = backend.device().expect("backend compiled in");
    let mut model = FlowModel::new(cfg, &device).expect("valid flow configuration");
    let mut rng = rng_from_seed(0);
    let mut step = 0u64;
    let mut learn = |model: &mut FlowModel| {
        let mut ctx = StepContext {
            step,
            lr: 1e-3,
            rng: &mut rng,
        };
        step += 1;
        model
            .learn_step(black_box(batch), &mut ctx)
            .expect("training step")
    };
    learn(&mut model);
    c.bench_function(name, |b| b.iter(|| learn(&mut model)));
}

fn flow_step(c: &mut Criterion) {
    let batch = FlowBatch::from(Toy2d::EightGaussians.sample(512, 0));
    let realnvp = FlowConfig::normflows_realnvp;
    bench_step(
        c,
        "realnvp_step_ndarray",
        realnvp(),
        Backend::Ndarray,
        &batch,
    );
    bench_step(c, "realnvp_step_flex", realnvp(), Backend::Flex, &batch);
    for (name, kind) in [
        ("nsf_step_flex", FlowKind::Nsf),
        ("nsf_ar_step_flex", FlowKind::NsfAr),
        ("maf_step_flex", FlowKind::Maf),
    ] {
        bench_step(c, name, FlowConfig::new(kind, 2), Backend::Flex, &batch);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    targets = flow_step
}
criterion_main!(benches);
