//! Benchmarks of the metrics at the sizes they are usually reported at:
//! FID on N = 10,000 samples of d = 64 features, PRDC on 10k real × 10k fake
//! samples of d = 64, and KID with torch-fidelity's defaults (100 subsets of
//! 1000). Run with `cargo bench -p gen-eval`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gen_core::{Matrix, rng_from_seed};
use gen_eval::{KidOptions, frechet_distance, kid, prdc};
use rand_distr::{Distribution, StandardNormal};

fn gaussian(n: usize, d: usize, shift: f64, seed: u64) -> Matrix {
    let mut rng = rng_from_seed(seed);
    let data = (0..n * d)
        .map(|_| {
            let z: f64 = StandardNormal.sample(&mut rng);
            z + shift
        })
        .collect();
    Matrix::new(n, d, data).expect("n * d values")
}

fn metrics(c: &mut Criterion) {
    let real = gaussian(10_000, 64, 0.0, 1);
    let fake = gaussian(10_000, 64, 0.1, 2);
    c.bench_function("fid_n10000_d64", |b| {
        b.iter(|| frechet_distance(black_box(&real), black_box(&fake)).expect("fid"))
    });
    c.bench_function("prdc_10k_x_10k_d64_k5", |b| {
        b.iter(|| prdc(black_box(&real), black_box(&fake), 5).expect("prdc"))
    });
    let opts = KidOptions::default();
    c.bench_function("kid_100_subsets_of_1000_d64", |b| {
        b.iter(|| kid(black_box(&real), black_box(&fake), &opts).expect("kid"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(30));
    targets = metrics
}
criterion_main!(benches);
