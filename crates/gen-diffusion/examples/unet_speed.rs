//! Milliseconds per training step (Adam, EMA) and per sampling network call
//! of the default image U-Nets, on flex (or `--backend NAME`):
//!
//! ```text
//! cargo run -p gen-diffusion --example unet_speed -- [--steps 10] [--batch 64] [--backend flex] \
//!     [--sides 8,28] [--widths 32,64]
//! ```
//!
//! Random images in [−1, 1]; the first two steps are not timed.

use std::time::Instant;

use gen_core::{Backend, Matrix, Result, StepContext, rng_from_seed};
use gen_diffusion::{Ddpm, DdpmConfig, UNetConfig};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn main() -> Result<()> {
    let steps: usize = arg("--steps", "10").parse().unwrap_or(10);
    let batch: usize = arg("--batch", "64").parse().unwrap_or(64);
    let backend: Backend = arg("--backend", "flex").parse()?;
    let device = backend.device()?;
    let sides: Vec<usize> = arg("--sides", "8,28")
        .split(',')
        .filter_map(|v| v.parse().ok())
        .collect();
    let widths: Vec<usize> = arg("--widths", "")
        .split(',')
        .filter_map(|v| v.parse().ok())
        .collect();
    for side in sides {
        let mut unet = UNetConfig::for_image(1, side, side);
        if !widths.is_empty() {
            unet.widths = widths.clone();
        }
        let config = DdpmConfig::image(unet.clone(), 256);
        let mut m = Ddpm::new(config, &device, 0)?;
        let params = m.net().model.weights()?.len();
        let d = side * side;
        let mut rng = rng_from_seed(1);
        let x = Matrix::new(
            batch,
            d,
            (0..batch * d)
                .map(|i| ((i * 7919) % 256) as f64 / 127.5 - 1.0)
                .collect(),
        )?;
        let mut times = Vec::new();
        for step in 0..steps + 2 {
            let start = Instant::now();
            let mut ctx = StepContext {
                step: step as u64,
                lr: 2e-4,
                rng: &mut rng,
            };
            m.step(&x, &mut ctx)?;
            if step >= 2 {
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
        times.sort_by(f64::total_cmp);
        let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
        // One sampling call (no autodiff) on the same batch.
        let den = m.denoiser();
        let start = Instant::now();
        for _ in 0..3 {
            gen_diffusion::Denoiser::predict(&den, &x, &vec![500; batch])?;
        }
        let call = start.elapsed().as_secs_f64() * 1e3 / 3.0;
        println!(
            "{side}x{side} widths {:?} ({params} parameters), {} batch {batch}: {mean:.1} ms/step (median {:.1}, {} steps); forward call {call:.1} ms",
            unet.widths,
            backend.name(),
            times[times.len() / 2],
            times.len(),
        );
    }
    Ok(())
}
