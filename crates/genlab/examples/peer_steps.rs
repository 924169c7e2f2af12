//! genlab's side of the speed harness (`benches/peers/run.sh`): the time of
//! one training step of each reference model, as JSON lines.
//!
//! Each model takes 5 warm-up steps, then `--steps` timed steps (each step
//! timed alone: forward, backward, optimiser update, host↔device copies of
//! the batch); the line holds the median and the 10th/90th percentiles in
//! ms, and the batch rows per second at the median. Batches are built once,
//! outside the timed steps. The PyTorch side (`benches/peers/steps.py`)
//! builds the same architectures, initialisation scheme, batches and
//! optimisers.
//!
//! With `--ranks N` every step is data-parallel over N threads of this
//! process (`genlab train --distributed threads`): each rank takes 1/N of
//! the same batch and the gradients are averaged before the update, so the
//! step is still one step on the whole batch; rank 0's times are reported.
//!
//! ```text
//! cargo run -p genlab --example peer_steps -- [--models realnvp,vae,gpt,gan,dcgan,ddpm] \
//!     [--steps 50] [--backend flex] [--ranks 1]
//! ```

use std::time::Instant;

use gen_ar::sequence::{CharGpt, GptConfig, TokenWindows, encode};
use gen_core::{Backend, GenError, Learn, Matrix, Result, StepContext, rng_from_seed};
use gen_data::{CharVocab, Toy2d};
use gen_diffusion::{Ddpm, DdpmConfig};
use gen_flow::{FlowBatch, FlowConfig, FlowModel};
use gen_gan::{DcGan, Gan, GanConfig, GanLoss};
use gen_vae::{Vae, VaeConfig};
use rand::Rng as _;

/// What every reference step is, for the table.
const MODELS: [(&str, &str); 6] = [
    (
        "realnvp",
        "RealNVP, 8 affine couplings, MLP 64-64, batch 512 (normflows)",
    ),
    (
        "vae",
        "MLP VAE 784-400-20, tanh, Bernoulli, batch 100, Adam",
    ),
    (
        "gpt",
        "char GPT 4 layers, 4 heads, 128 wide, block 64, batch 12, AdamW (nanoGPT baby)",
    ),
    (
        "gan",
        "2-D MLP GAN 128-128, non-saturating, batch 256, one D and one G step",
    ),
    (
        "dcgan",
        "DCGAN 28×28, channels 64-128, L 100, batch 64, spectral-norm D",
    ),
    (
        "ddpm",
        "DDPM MLP 3×128 SiLU + 64-d time embedding, batch 256, EMA",
    ),
];

fn time_steps<M: Learn>(model: &mut M, batch: &M::Batch, steps: usize) -> Result<Vec<f64>> {
    use gen_core::distributed;
    let size = distributed::size();
    let shard = if size > 1 {
        Some(model.shard_batch(batch, distributed::rank(), size)?)
    } else {
        None
    };
    let batch = shard.as_ref().unwrap_or(batch);
    let _sync = (size > 1).then(distributed::SyncScope::enter);
    let mut rng = rng_from_seed(1);
    let mut out = Vec::with_capacity(steps);
    for t in 0..steps + 5 {
        let mut ctx = StepContext {
            step: t as u64,
            lr: 1e-4,
            rng: &mut rng,
        };
        let start = Instant::now();
        model.learn_step(batch, &mut ctx)?;
        if t >= 5 {
            out.push(1e3 * start.elapsed().as_secs_f64());
        }
    }
    Ok(out)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn run(name: &str, backend: Backend, steps: usize) -> Result<(Vec<f64>, usize)> {
    let device = backend.device()?;
    match name {
        "realnvp" => {
            let mut m = FlowModel::new(FlowConfig::normflows_realnvp(), &device)?;
            let b = FlowBatch::from(Toy2d::EightGaussians.sample(512, 0));
            Ok((time_steps(&mut m, &b, steps)?, 512))
        }
        "vae" => {
            let d = gen_data::mnist5k(gen_data::Split::Train)?;
            let x = d
                .select(&(0..100).collect::<Vec<_>>())?
                .binarized(&mut rng_from_seed(1))?;
            let mut m = Vae::new(VaeConfig::mlp_bernoulli(784, 20), &device, 0)?;
            Ok((time_steps(&mut m, &x, steps)?, 100))
        }
        "gpt" => {
            let train = gen_data::shakespeare(gen_data::Split::Train)?;
            let test = gen_data::shakespeare(gen_data::Split::Test)?;
            let vocab = CharVocab::from_chars(train.chars().chain(test.chars()).chain(['\n']));
            let ids = encode(&vocab, &train)?;
            let config = GptConfig::baby_shakespeare(vocab.len());
            let b = TokenWindows::random(&ids, 12, config.block, &mut rng_from_seed(0))?;
            let mut m = CharGpt::new(config, &device, 0)?;
            Ok((time_steps(&mut m, &b, steps)?, 12))
        }
        "gan" => {
            let mut m = Gan::new(GanConfig::with_loss(GanLoss::NonSaturating), &device, 0)?;
            let b = Toy2d::EightGaussians.sample(256, 0);
            Ok((time_steps(&mut m, &b, steps)?, 256))
        }
        "dcgan" => {
            let mut rng = rng_from_seed(2);
            let pixels: Vec<f64> = (0..64 * 784).map(|_| rng.random::<f64>()).collect();
            let b = Matrix::new(64, 784, pixels)?;
            let cfg = GanConfig {
                spectral_norm: true,
                ..GanConfig::dcgan(28, 0)
            };
            let mut m = DcGan::build(cfg, &device, 0)?;
            Ok((time_steps(&mut m, &b, steps)?, 64))
        }
        "ddpm" => {
            let mut m = Ddpm::new(DdpmConfig::default(), &device, 0)?;
            let b = Toy2d::EightGaussians.sample(256, 0);
            Ok((time_steps(&mut m, &b, steps)?, 256))
        }
        other => Err(GenError::config(
            "--models",
            other,
            "unknown reference model",
            "use realnvp, vae, gpt, gan, dcgan or ddpm",
        )),
    }
}

fn main() -> Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut models: Vec<String> = MODELS.iter().map(|(m, _)| m.to_string()).collect();
    let (mut steps, mut backend, mut ranks) = (50usize, Backend::Flex, 1usize);
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--models" => models = v.split(',').map(str::to_string).collect(),
            "--steps" => {
                steps = v
                    .parse()
                    .map_err(|_| GenError::config("--steps", &v, "not a count", "e.g. 50"))?
            }
            "--backend" => backend = v.parse()?,
            "--ranks" => {
                ranks = v
                    .parse()
                    .map_err(|_| GenError::config("--ranks", &v, "not a count", "e.g. 2"))?
            }
            other => {
                return Err(GenError::config(
                    "argument",
                    other,
                    "unknown",
                    "use --models, --steps, --backend, --ranks",
                ));
            }
        }
        i += 2;
    }
    for name in &models {
        let (mut ms, rows) = if ranks > 1 {
            let mut all =
                gen_core::distributed::run_on_threads(ranks, |_| run(name, backend, steps.max(1)))?;
            all.swap_remove(0)
        } else {
            run(name, backend, steps.max(1))?
        };
        ms.sort_by(f64::total_cmp);
        let median = percentile(&ms, 0.5);
        let what = MODELS
            .iter()
            .find(|(m, _)| m == name)
            .map_or("", |(_, w)| w);
        println!(
            "{}",
            serde_json::json!({"model": name, "side": "genlab", "backend": backend.name(),
                "what": what, "ranks": ranks, "steps": ms.len(), "ms_median": median,
                "ms_p10": percentile(&ms, 0.1), "ms_p90": percentile(&ms, 0.9),
                "rows_per_s": rows as f64 / median * 1e3})
        );
    }
    Ok(())
}
