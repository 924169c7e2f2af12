//! The kernels under the reference steps, one at a time, on a CPU backend:
//! the minimal reproduction of where genlab's steps lose to PyTorch's
//! (docs/performance.md, "The gap inside burn"). PyTorch's side is
//! `benches/peers/kernels.py`, with the same list; `benches/peers/kernels.sh`
//! runs both and prints the table.
//!
//! Each kernel is timed `--reps` times after 10 warm-up runs (inputs made
//! once, outputs dropped each time); the JSON line holds the median in µs
//! and, for matrix products, GFLOP/s (2·m·n·k flops).
//!
//! ```text
//! cargo run -p genlab --example peer_kernels -- [--backend flex] [--reps 200]
//! ```

use std::time::Instant;

use gen_core::burn::tensor::{Device, Distribution, Tensor, activation};
use gen_core::{Backend, GenError, Result};

/// (name, m, k, n, where it comes from): x[m, k] · w[k, n].
const MATMULS: [(&str, usize, usize, usize, &str); 7] = [
    ("mm_vae_enc", 100, 784, 400, "VAE encoder layer 1, forward"),
    (
        "mm_vae_dec",
        100,
        400,
        784,
        "VAE decoder output layer, forward",
    ),
    (
        "mm_vae_wgrad",
        784,
        100,
        400,
        "VAE layer 1 weight gradient xᵀ·δ",
    ),
    (
        "mm_gpt_qkv",
        768,
        128,
        384,
        "GPT attention q, k, v projection",
    ),
    (
        "mm_nvp_hidden",
        512,
        64,
        64,
        "RealNVP coupling MLP hidden layer",
    ),
    (
        "mm_nvp_out",
        512,
        64,
        2,
        "RealNVP coupling MLP output layer",
    ),
    ("mm_nvp_in", 512, 1, 64, "RealNVP coupling MLP input layer"),
];

fn median_us(reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..10 {
        f();
    }
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            1e6 * s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn randn<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

fn line(kernel: &str, what: &str, us: f64, gflops: Option<f64>, backend: Backend) {
    println!(
        "{}",
        serde_json::json!({"kernel": kernel, "what": what, "side": "genlab",
            "backend": backend.name(), "us": us, "gflops": gflops})
    );
}

fn main() -> Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (mut backend, mut reps) = (Backend::Flex, 200usize);
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--backend" => backend = v.parse()?,
            "--reps" => {
                reps = v
                    .parse()
                    .map_err(|_| GenError::config("--reps", &v, "not a count", "e.g. 200"))?
            }
            other => {
                return Err(GenError::config(
                    "argument",
                    other,
                    "unknown",
                    "use --backend, --reps",
                ));
            }
        }
        i += 2;
    }
    let device = backend.device()?;
    for (name, m, k, n, what) in MATMULS {
        let (x, w) = (randn([m, k], &device), randn([k, n], &device));
        let us = median_us(reps, || drop(x.clone().matmul(w.clone())));
        let gflops = 2.0 * (m * n * k) as f64 / us / 1e3;
        line(name, what, us, Some(gflops), backend);
    }
    // The element-wise work of the VAE step: [100, 400] hidden activations
    // and [100, 784] logits.
    let h = randn([100, 400], &device);
    let l = randn([100, 784], &device);
    let y = randn([100, 784], &device);
    let us = median_us(reps, || drop(h.clone().tanh()));
    line("tanh", "tanh of [100, 400] (libm tanhf)", us, None, backend);
    let us = median_us(reps, || drop(gen_core::nn::ops::tanh(h.clone())));
    line(
        "tanh_sigmoid",
        "2σ(2x) − 1 of [100, 400] (genlab's tanh)",
        us,
        None,
        backend,
    );
    let us = median_us(reps, || drop(l.clone().exp()));
    line("exp", "exp of [100, 784]", us, None, backend);
    // exp(−|l|) ∈ (0, 1], what the softplus in BCE takes the log1p of.
    let u = l.clone().abs().neg().exp();
    let us = median_us(reps, || drop(u.clone().log1p()));
    line("log1p", "log1p of [100, 784] in (0, 1]", us, None, backend);
    let us = median_us(reps, || drop((u.clone() + 1.0).log()));
    line(
        "log",
        "log(1 + u) of [100, 784], u in (0, 1]",
        us,
        None,
        backend,
    );
    let us = median_us(reps, || drop(l.clone() + y.clone()));
    line("add", "x + y, [100, 784]", us, None, backend);
    let us = median_us(reps, || drop(l.clone() * 2.0));
    line("mul_scalar", "2·x, [100, 784]", us, None, backend);
    let us = median_us(reps, || {
        drop(gen_core::nn::ops::bce_with_logits(l.clone(), y.clone()))
    });
    line(
        "bce_with_logits",
        "BCE with logits, [100, 784] (a chain of element-wise ops)",
        us,
        None,
        backend,
    );
    let us = median_us(reps, || drop(activation::softmax(l.clone(), 1)));
    line(
        "softmax",
        "softmax over rows of [100, 784]",
        us,
        None,
        backend,
    );
    Ok(())
}
