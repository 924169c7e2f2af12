//! Mode coverage of every GAN loss on eight-gaussians and
//! twenty-five-gaussians: trains each loss for N steps over S seeds and
//! prints a Markdown table of mean ± sd modes covered and high-quality
//! fraction (gen_eval::toy::mode_coverage: a sample is high quality within
//! 3σ of its nearest centre; a mode is covered with ≥ ⌈0.1·M/K⌉ of them).
//!
//! ```text
//! cargo run -p gen-gan --release --example modes -- --steps 2000 --seeds 3
//! ```
//!
//! Options (defaults in brackets): `--steps N` [2000], `--seeds S` [3],
//! `--batch B` [256], `--lr LR` [1e-3, constant], `--samples M` [2000],
//! `--hidden H` [128, two layers]. Runs on burn-flex (CPU).

use gen_core::burn::tensor::Device;
use gen_core::{Learn, Sample, SampleOptions, StepContext, rng_from_seed};
use gen_data::toy2d::Toy2d;
use gen_eval::toy::{ModeCoverageOptions, mode_coverage};
use gen_gan::{Gan, GanConfig, GanLoss};

struct Args {
    steps: u64,
    seeds: u64,
    batch: usize,
    lr: f64,
    samples: usize,
    hidden: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        steps: 2000,
        seeds: 3,
        batch: 256,
        lr: 1e-3,
        samples: 2000,
        hidden: 128,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let (flag, value) = match pair {
            [f, v] => (f.as_str(), v.as_str()),
            [f] => return Err(format!("{f} needs a value")),
            _ => unreachable!(),
        };
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag {
            "--steps" => a.steps = value.parse().map_err(|e| bad(&e))?,
            "--seeds" => a.seeds = value.parse().map_err(|e| bad(&e))?,
            "--batch" => a.batch = value.parse().map_err(|e| bad(&e))?,
            "--lr" => a.lr = value.parse().map_err(|e| bad(&e))?,
            "--samples" => a.samples = value.parse().map_err(|e| bad(&e))?,
            "--hidden" => a.hidden = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(a)
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

fn main() -> gen_core::Result<()> {
    let args = parse().map_err(gen_core::GenError::Other)?;
    let mut configs: Vec<(String, GanConfig)> = GanLoss::all()
        .into_iter()
        .map(|l| (l.name().to_string(), GanConfig::with_loss(l)))
        .collect();
    // Spectral norm at n_critic 1 and 2: with one critic update per
    // generator update the SN hinge GAN circulates and covers few modes
    // (docs/gans.md, "Spectral normalisation and the hinge loss").
    for n_critic in [1, 2] {
        configs.push((
            "hinge + spectral norm".into(),
            GanConfig {
                spectral_norm: true,
                n_critic,
                ..GanConfig::with_loss(GanLoss::Hinge)
            },
        ));
    }
    configs.push((
        "non-saturating + spectral norm".into(),
        GanConfig {
            spectral_norm: true,
            ..GanConfig::with_loss(GanLoss::NonSaturating)
        },
    ));
    println!(
        "{} steps, {} seeds, batch {}, lr {}, hidden [{h}, {h}], {} samples, Adam β = (0.5, 0.999), flex\n",
        args.steps,
        args.seeds,
        args.batch,
        args.lr,
        args.samples,
        h = args.hidden
    );
    println!("| data | loss | n_critic | modes covered | high-quality fraction | seconds/run |");
    println!("|---|---|---|---|---|---|");
    for toy in [Toy2d::EightGaussians, Toy2d::TwentyFiveGaussians] {
        let (c, sigma) = toy.mode_centres().expect("a Gaussian-mixture toy");
        for (name, cfg) in &configs {
            let cfg = GanConfig {
                hidden: vec![args.hidden, args.hidden],
                ..cfg.clone()
            };
            let (mut covered, mut quality, mut secs) = (Vec::new(), Vec::new(), 0.0);
            for seed in 0..args.seeds {
                let t0 = std::time::Instant::now();
                let mut gan = Gan::new(cfg.clone(), &Device::flex(), seed)?;
                let mut rng = rng_from_seed(1000 + seed);
                for step in 0..args.steps {
                    let batch = toy.sample_with(args.batch, &mut rng);
                    let mut ctx = StepContext {
                        step,
                        lr: args.lr,
                        rng: &mut rng,
                    };
                    let s = gan.learn_step(&batch, &mut ctx)?;
                    if !s.loss.is_finite() {
                        return Err(gen_core::GenError::Other(format!(
                            "{name} on {toy}, seed {seed}: loss {} at step {step}",
                            s.loss
                        )));
                    }
                }
                let x = gan.sample(args.samples, &SampleOptions::default(), &mut rng)?;
                let m = mode_coverage(&x, &c, sigma, &ModeCoverageOptions::default())?;
                covered.push(m.modes_covered as f64);
                quality.push(m.high_quality_fraction);
                secs += t0.elapsed().as_secs_f64();
            }
            let (cm, cs) = mean_sd(&covered);
            let (qm, qs) = mean_sd(&quality);
            println!(
                "| {toy} | {name} | {} | {cm:.1} ± {cs:.1} / {} | {qm:.3} ± {qs:.3} | {:.1} |",
                cfg.n_critic,
                c.rows(),
                secs / args.seeds as f64
            );
        }
    }
    Ok(())
}
