//! Step time of one Adam training step (forward, backward, update):
//!
//! - `vae_step_ndarray`, `vae_step_flex`: the issue's reference VAE, MLP
//!   784-400-20 with tanh, Bernoulli decoder, ELBO, batch 100 of binarized
//!   MNIST-5k digits (PyTorch peer: 3.9 ms/step on 2 threads);
//! - `vqvae_step_flex`: the default MLP VQ-VAE (784-400-(16×16), K = 64,
//!   β = 0.25, Bernoulli decoder), batch 100.
//!
//! Run it in the dev profile (deps at opt-level 3; plain `cargo bench` uses
//! the release profile, a separate full burn build):
//!
//! ```text
//! cargo bench -p gen-vae --profile dev --bench vae_step
//! ```

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gen_core::{Backend, Learn, Matrix, StepContext, rng_from_seed};
use gen_vae::{Vae, VaeConfig, VqVae, VqVaeConfig};

fn batch() -> Matrix {
    let d = gen_data::mnist5k(gen_data::Split::Train).expect("embedded MNIST-5k");
    let idx: Vec<usize> = (0..100).collect();
    d.select(&idx)
        .and_then(|b| b.binarized(&mut rng_from_seed(1)))
        .expect("a batch of 100 binarized digits")
}

/// Times `learn_step` of `model` on `x`.
fn bench_steps<M: Learn<Batch = Matrix>>(c: &mut Criterion, name: &str, model: &mut M, x: &Matrix) {
    let mut rng = rng_from_seed(2);
    let mut step = 0;
    c.bench_function(name, |b| {
        b.iter(|| {
            let mut ctx = StepContext {
                step,
                lr: 1e-3,
                rng: &mut rng,
            };
            step += 1;
            model.learn_step(x, &mut ctx).expect("a training step")
        })
    });
}

fn vae_step(c: &mut Criterion) {
    let x = batch();
    for (name, backend) in [
        ("vae_step_ndarray", Backend::Ndarray),
        ("vae_step_flex", Backend::Flex),
    ] {
        let device = backend.device().expect("CPU backend");
        let mut vae =
            Vae::new(VaeConfig::mlp_bernoulli(784, 20), &device, 0).expect("reference VAE");
        bench_steps(c, name, &mut vae, &x);
    }
    let device = Backend::Flex.device().expect("flex backend");
    let mut vq = VqVae::new(VqVaeConfig::mlp_bernoulli(784), &device, 0).expect("default VQ-VAE");
    bench_steps(c, "vqvae_step_flex", &mut vq, &x);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));
    targets = vae_step
}
criterion_main!(benches);
