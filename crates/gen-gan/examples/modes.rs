//! Mode collapse of every GAN loss on the ring and grid of the mode-collapse
//! papers, over several seeds, with curves.
//!
//! The toys are the papers' versions (Metz et al. 2016, Unrolled GAN;
//! Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN), defined here
//! because gen-data's `eight-gaussians` / `twenty-five-gaussians` are
//! FFJORD's (radius 2.83, σ 0.354; spacing 0.707, σ 0.05):
//!
//! - **ring**: an equal mixture of 8 Gaussians with centres
//!   2·(cos 2πk/8, sin 2πk/8) and σ = 0.02;
//! - **grid**: an equal mixture of 25 Gaussians with centres
//!   {−4, −2, 0, 2, 4}² and σ = 0.05.
//!
//! Every `--every` steps the sampling generator (the EMA when on) draws
//! `--samples` points and `gen_eval::toy::mode_coverage` counts modes
//! covered and the high-quality fraction (a sample is high quality within
//! 3σ of its nearest centre; a mode is covered with ≥ ⌈0.1·M/K⌉ of them).
//!
//! ```text
//! cargo run -p gen-gan --example modes -- --steps 3000 --seeds 5 --out docs/img/gan-modes
//! ```
//!
//! Writes `OUT/table.md` (mean ± sd over seeds at the last step, beside the
//! published anchors), `OUT/modes.json` (every per-seed number and curve)
//! and `OUT/curves.png` with `OUT/curves.svg` (modes covered vs step, one
//! line per loss, mean over seeds; ring left, grid right).
//!
//! Options (defaults in brackets): `--steps N` [3000], `--seeds S` [5],
//! `--batch B` [256], `--lr LR` [1e-3], `--decay F` [0.5: lr decays linearly
//! to 0 over the last F of the steps], `--ema D` [0: off; e.g. 0.999],
//! `--hidden H` [128, two layers], `--pack M` [1: PacGAN packing of M
//! samples per critic input], `--samples M` [2000], `--every K` [150],
//! `--losses a,b` [all: gan,ns-gan,wgan,hinge-gan,lsgan,mmd-gan],
//! `--toys ring,grid` [both], `--out DIR` [gan-modes]. Runs on burn-flex (CPU).

use std::fmt::Write as _;
use std::path::PathBuf;

use gen_core::burn::tensor::Device;
use gen_core::{Learn, Matrix, Rng, StepContext, rng_from_seed};
use gen_eval::toy::{ModeCoverageOptions, mode_coverage};
use gen_gan::{Gan, GanConfig, GanLoss};
use gen_viz::chart::{Chart, Figure, Legend, Series};
use rand::Rng as _;
use serde_json::json;

/// The papers' toys.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PaperToy {
    Ring,
    Grid,
}

impl PaperToy {
    fn name(self) -> &'static str {
        match self {
            PaperToy::Ring => "ring",
            PaperToy::Grid => "grid",
        }
    }

    fn centres(self) -> Vec<[f64; 2]> {
        match self {
            PaperToy::Ring => (0..8)
                .map(|k| {
                    let a = std::f64::consts::TAU * k as f64 / 8.0;
                    [2.0 * a.cos(), 2.0 * a.sin()]
                })
                .collect(),
            PaperToy::Grid => (-2..=2)
                .flat_map(|i| (-2..=2).map(move |j| [2.0 * i as f64, 2.0 * j as f64]))
                .collect(),
        }
    }

    fn sigma(self) -> f64 {
        match self {
            PaperToy::Ring => 0.02,
            PaperToy::Grid => 0.05,
        }
    }

    fn sample(self, n: usize, rng: &mut Rng) -> Matrix {
        let c = self.centres();
        let s = self.sigma();
        let mut data = Vec::with_capacity(2 * n);
        for _ in 0..n {
            let k = rng.random_range(0..c.len());
            let e = gen_core::numerics::standard_normals(2, rng);
            data.push(c[k][0] + s * e[0]);
            data.push(c[k][1] + s * e[1]);
        }
        Matrix::new(n, 2, data).expect("n × 2")
    }

    /// The published anchors: (method, modes, high-quality %).
    fn anchors(self) -> [(&'static str, f64, f64); 5] {
        match self {
            PaperToy::Ring => [
                ("GAN (VEEGAN's table)", 1.0, 99.3),
                ("Unrolled GAN (VEEGAN's table)", 7.6, 35.6),
                ("VEEGAN", 8.0, 52.9),
                ("GAN (PacGAN's table)", 6.3, 98.2),
                ("PacGAN4", 7.8, 95.9),
            ],
            PaperToy::Grid => [
                ("GAN (VEEGAN's table)", 3.3, 0.5),
                ("Unrolled GAN (VEEGAN's table)", 23.6, 16.0),
                ("VEEGAN", 24.6, 40.0),
                ("GAN (PacGAN's table)", 17.3, 94.8),
                ("PacGAN4", 24.8, 93.6),
            ],
        }
    }
}

struct Args {
    steps: u64,
    seeds: u64,
    batch: usize,
    lr: f64,
    decay: f64,
    ema: f64,
    hidden: usize,
    pack: usize,
    samples: usize,
    every: u64,
    losses: Vec<String>,
    toys: Vec<PaperToy>,
    out: PathBuf,
}

const LOSSES: [&str; 6] = ["gan", "ns-gan", "wgan", "hinge-gan", "lsgan", "mmd-gan"];

fn parse() -> Result<Args, String> {
    let mut a = Args {
        steps: 3000,
        seeds: 5,
        batch: 256,
        lr: 1e-3,
        decay: 0.5,
        ema: 0.0,
        hidden: 128,
        pack: 1,
        samples: 2000,
        every: 150,
        losses: LOSSES.iter().map(|s| s.to_string()).collect(),
        toys: vec![PaperToy::Ring, PaperToy::Grid],
        out: PathBuf::from("gan-modes"),
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
            "--decay" => a.decay = value.parse().map_err(|e| bad(&e))?,
            "--ema" => a.ema = value.parse().map_err(|e| bad(&e))?,
            "--hidden" => a.hidden = value.parse().map_err(|e| bad(&e))?,
            "--pack" => a.pack = value.parse().map_err(|e| bad(&e))?,
            "--samples" => a.samples = value.parse().map_err(|e| bad(&e))?,
            "--every" => a.every = value.parse().map_err(|e| bad(&e))?,
            "--out" => a.out = PathBuf::from(value),
            "--losses" => {
                a.losses = value.split(',').map(str::to_string).collect();
                if let Some(l) = a.losses.iter().find(|l| !LOSSES.contains(&l.as_str())) {
                    return Err(format!("unknown loss {l}; choose from {LOSSES:?}"));
                }
            }
            "--toys" => {
                a.toys = value
                    .split(',')
                    .map(|t| match t {
                        "ring" => Ok(PaperToy::Ring),
                        "grid" => Ok(PaperToy::Grid),
                        other => Err(format!("unknown toy {other}; use ring or grid")),
                    })
                    .collect::<Result<_, _>>()?
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if a.seeds == 0 || a.steps == 0 || a.every == 0 || !(0.0..=1.0).contains(&a.decay) {
        return Err("--seeds, --steps and --every must be ≥ 1 and --decay in [0, 1]".into());
    }
    Ok(a)
}

/// The GAN settings of a loss name (the docs' recommended ones).
fn config(loss: &str, a: &Args) -> GanConfig {
    let base = |l: GanLoss| GanConfig {
        hidden: vec![a.hidden, a.hidden],
        pack: a.pack,
        ema: (a.ema > 0.0).then_some(a.ema),
        ..GanConfig::with_loss(l)
    };
    match loss {
        "gan" => base(GanLoss::Minimax),
        "ns-gan" => base(GanLoss::NonSaturating),
        // clip 0.01, n_critic 5 (Arjovsky et al. 2017).
        "wgan" => base(GanLoss::Wasserstein { clip: 0.01 }),
        // Spectral norm needs n_critic 2 here (docs/gans.md).
        "hinge-gan" => GanConfig {
            spectral_norm: true,
            n_critic: 2,
            ..base(GanLoss::Hinge)
        },
        "lsgan" => base(GanLoss::LeastSquares),
        // Bandwidths from the modes' width to the toys' extent.
        _ => base(GanLoss::Mmd {
            bandwidths: [0.05, 0.5, 2.0],
        }),
    }
}

/// lr(t): constant, then linear decay to 0 over the last `decay` of the steps.
fn lr_at(a: &Args, t: u64) -> f64 {
    let start = ((1.0 - a.decay) * a.steps as f64) as u64;
    if t < start {
        a.lr
    } else {
        a.lr * (a.steps - t) as f64 / (a.steps - start).max(1) as f64
    }
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

/// One seed's run: the curve [(step, modes, high-quality fraction)], the
/// final per-mode counts and the seconds it took.
struct SeedRun {
    curve: Vec<(u64, usize, f64)>,
    counts: Vec<usize>,
    seconds: f64,
}

fn run_seed(
    toy: PaperToy,
    cfg: &GanConfig,
    a: &Args,
    seed: u64,
    centres: &Matrix,
) -> gen_core::Result<SeedRun> {
    let t0 = std::time::Instant::now();
    let mut gan = Gan::new(cfg.clone(), &Device::flex(), seed)?;
    let mut rng = rng_from_seed(1000 + seed);
    let mut eval_rng = rng_from_seed(7000 + seed);
    let opts = ModeCoverageOptions::default();
    let mut curve = Vec::new();
    let mut counts = Vec::new();
    for step in 0..a.steps {
        let batch = toy.sample(a.batch, &mut rng);
        let mut ctx = StepContext {
            step,
            lr: lr_at(a, step),
            rng: &mut rng,
        };
        let s = gan.learn_step(&batch, &mut ctx)?;
        if !s.loss.is_finite() {
            return Err(gen_core::GenError::Other(format!(
                "{} on {}, seed {seed}: loss {} at step {step}",
                cfg.loss.name(),
                toy.name(),
                s.loss
            )));
        }
        let done = step + 1;
        if done.is_multiple_of(a.every) || done == a.steps {
            let x = gan.sample_with(a.samples, 1.0, None, &mut eval_rng)?;
            let m = mode_coverage(&x, centres, toy.sigma(), &opts)?;
            curve.push((done, m.modes_covered, m.high_quality_fraction));
            counts = m.counts;
        }
    }
    Ok(SeedRun {
        curve,
        counts,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// A line chart of mean modes covered (over seeds) against the step, one
/// line per loss with a legend, the y axis from 0 to K and a dashed line at K.
fn curves_panel(
    title: &str,
    k: usize,
    max_step: u64,
    series: &[(String, Vec<(u64, f64)>)],
) -> Chart {
    let mut c = Chart::new(title)
        .x_label("step")
        .y_label("modes covered (mean over seeds)")
        .x_range(0.0, max_step as f64)
        .y_range(0.0, 1.05 * k as f64)
        .hline("", k as f64, [150, 150, 150])
        .legend(Legend::LowerRight);
    for (name, pts) in series {
        c = c.series(Series::line(
            name.as_str(),
            pts.iter().map(|&(s, m)| (s as f64, m)),
        ));
    }
    c
}

fn main() -> gen_core::Result<()> {
    let a = parse().map_err(gen_core::GenError::Other)?;
    std::fs::create_dir_all(&a.out).map_err(|e| gen_core::GenError::io(&a.out, e))?;
    let settings = format!(
        "{} steps, {} seeds (0..{}), batch {} fresh samples per step, Adam lr {} (β = (0.5, 0.999)) constant then linearly to 0 over the last {:.0} % of the steps, EMA of G {}, both players MLP {h}-{h}, latent 2, {} samples every {} steps, flex",
        a.steps,
        a.seeds,
        a.seeds - 1,
        a.batch,
        a.lr,
        100.0 * a.decay,
        if a.ema > 0.0 {
            format!("{}", a.ema)
        } else {
            "off".into()
        },
        a.samples,
        a.every,
        h = a.hidden
    );
    println!("{settings}\n");
    let mut table = String::new();
    let _ = writeln!(table, "{settings}\n");
    let _ = writeln!(
        table,
        "| data | loss | n_critic | modes covered | high quality % | seconds/run |"
    );
    let _ = writeln!(table, "|---|---|---|---|---|---|");
    let mut results = Vec::new();
    let mut panels = Vec::new();
    for &toy in &a.toys {
        let centres = Matrix::from_rows(&toy.centres())?;
        let k = centres.rows();
        let mut series = Vec::new();
        for loss in &a.losses {
            let cfg = config(loss, &a);
            let mut runs = Vec::new();
            for seed in 0..a.seeds {
                let r = run_seed(toy, &cfg, &a, seed, &centres)?;
                let (_, m, q) = *r.curve.last().expect("at least one check");
                let trace: Vec<String> = r
                    .curve
                    .iter()
                    .map(|(_, m, q)| format!("{m}/{:.0}%", 100.0 * q))
                    .collect();
                eprintln!(
                    "{} {loss} seed {seed}: {m}/{k} modes, {:.1} % high quality, {:.1} s [{}]",
                    toy.name(),
                    100.0 * q,
                    r.seconds,
                    trace.join(" ")
                );
                runs.push(r);
            }
            let last = |r: &SeedRun| *r.curve.last().expect("at least one check");
            let modes: Vec<f64> = runs.iter().map(|r| last(r).1 as f64).collect();
            let hq: Vec<f64> = runs.iter().map(|r| 100.0 * last(r).2).collect();
            let secs: Vec<f64> = runs.iter().map(|r| r.seconds).collect();
            let ((mm, ms), (qm, qs), (sm, _)) = (mean_sd(&modes), mean_sd(&hq), mean_sd(&secs));
            let line = format!(
                "| {} | {loss} | {} | {mm:.1} ± {ms:.1} / {k} | {qm:.1} ± {qs:.1} | {sm:.1} |",
                toy.name(),
                cfg.n_critic
            );
            println!("{line}");
            let _ = writeln!(table, "{line}");
            // The mean curve over seeds (every seed has the same check steps).
            let mean_curve: Vec<(u64, f64)> = (0..runs[0].curve.len())
                .map(|i| {
                    let v: Vec<f64> = runs.iter().map(|r| r.curve[i].1 as f64).collect();
                    (runs[0].curve[i].0, mean_sd(&v).0)
                })
                .collect();
            series.push((loss.clone(), mean_curve.clone()));
            results.push(json!({
                "toy": toy.name(), "loss": loss, "config": cfg, "modes": k,
                "modes_covered": {"mean": mm, "sd": ms, "per_seed": modes},
                "high_quality_pct": {"mean": qm, "sd": qs, "per_seed": hq},
                "seconds": {"mean": sm, "per_seed": secs},
                "mean_modes_curve": mean_curve,
                "seeds": runs.iter().enumerate().map(|(s, r)| json!({
                    "seed": s, "final_counts": r.counts, "seconds": r.seconds,
                    "curve": r.curve.iter().map(|(st, m, q)| json!({"step": st, "modes": m, "high_quality": q})).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            }));
        }
        for (name, m, q) in toy.anchors() {
            let _ = writeln!(
                table,
                "| {} | *{name}* (published) | | {m} / {k} | {q} | |",
                toy.name()
            );
        }
        panels.push(curves_panel(
            &format!("{}: modes covered / {k}", toy.name()),
            k,
            a.steps,
            &series,
        ));
    }
    let toys: Vec<_> = a
        .toys
        .iter()
        .map(|t| json!({"name": t.name(), "centres": t.centres(), "sigma": t.sigma()}))
        .collect();
    let doc = json!({
        "settings": settings, "steps": a.steps, "seeds": a.seeds, "batch": a.batch,
        "lr": a.lr, "decay": a.decay, "ema": a.ema, "hidden": [a.hidden, a.hidden],
        "samples": a.samples, "every": a.every, "toys": toys, "results": results,
    });
    gen_core::checkpoint::write_json_atomic(&a.out.join("modes.json"), &doc)?;
    std::fs::write(a.out.join("table.md"), &table)
        .map_err(|e| gen_core::GenError::io(a.out.join("table.md"), e))?;
    let mut picture = Figure::new(540 * panels.len().max(1) as u32, 400).cols(panels.len());
    for p in panels {
        picture = picture.chart(p);
    }
    picture.save_png_and_svg(&a.out.join("curves.png"))?;
    println!(
        "\nwrote {}/{{table.md, modes.json, curves.png, curves.svg}}",
        a.out.display()
    );
    Ok(())
}
