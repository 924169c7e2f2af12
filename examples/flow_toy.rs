//! A normalizing flow (RealNVP) on the eight-gaussians toy: exact
//! likelihood, exact encoding z = f⁻¹(x), sampling by x = f(z).
//!
//! ```text
//! cargo run --example flow_toy
//! GENLAB_BACKEND=ndarray cargo run --example flow_toy
//! ```
//!
//! A flow is an invertible map f from a simple base density (here
//! N(0, I₂)) to the data. The change of variables gives the exact density,
//! log p(x) = log N(f⁻¹(x); 0, I) + log |det ∂f⁻¹/∂x|, and RealNVP keeps the
//! determinant cheap with affine couplings: each layer rescales and shifts
//! one coordinate by amounts computed from the other (an MLP 64-64), and
//! layers alternate which coordinate moves.
//!
//! The toy's true density is known, so the test NLL can be compared with
//! the best achievable. This run takes 2,000 steps (about 15 s on flex); the
//! normflows reference run of 3,000 steps, other flow types and toys, and
//! seed spreads are `cargo run -p gen-flow --example flow_toy_study` (results
//! in docs/flows.md); the command line is
//! `cargo run -p genlab -- train realnvp --data eight-gaussians --steps 3000 --out runs/realnvp`.

use std::time::Instant;

use gen_core::train::{TrainConfig, Trainer, held_out_nll};
use gen_core::{Infer, Result, Sample, SampleOptions, Score, ScoreOptions};
use gen_data::Toy2d;
use gen_flow::{FlowBatch, FlowConfig, FlowKind, FlowModel};

fn main() -> Result<()> {
    let start = Instant::now();
    let backend = genlab_examples::backend()?;
    let toy = Toy2d::EightGaussians;
    let test = toy.sample(5_000, 2);

    // 1. The model: `FlowConfig::new(kind, dim)` is the command line's
    //    default for 2-D data (RealNVP: 8 couplings with MLP 64-64 ReLU
    //    conditioners, the coordinates reversed between couplings, log-scales
    //    soft-clamped to ±3 by 3·tanh(s/3), N(0, I) base, Adam).
    let config = FlowConfig::new(FlowKind::RealNvp, 2);
    let mut flow = FlowModel::new(config, &backend.device()?)?;

    // 2. Learning by maximum likelihood: each step draws a fresh batch of 512
    //    points from the toy (the infinite-data setting of FFJORD and
    //    normflows) with the run's RNG. `fit_with_eval` also scores the
    //    held-out points every 500 steps into metrics.jsonl (`held_out_nll`
    //    names the value by its kind: `test_nll` for an exact score).
    let out = genlab_examples::output_dir("flow_toy")?;
    let config = TrainConfig {
        steps: 2_000,
        lr: 1e-3,
        batch_size: 512,
        eval_every: 500,
        progress: false,
        ..TrainConfig::default()
    };
    let report = Trainer::new(config, &out)?.fit_with_eval(
        &mut flow,
        |_step, rng| Ok(FlowBatch::from(toy.sample_with(512, rng))),
        held_out_nll(&test),
    )?;
    println!(
        "{} steps on {backend} in {:.1} s ({:.1} ms/step)",
        report.steps,
        report.seconds,
        1e3 * report.seconds / report.steps as f64
    );
    //    metrics.jsonl: one flat JSON object per line, `kind` "train" or "eval".
    let path = out.join("metrics.jsonl");
    let log = std::fs::read_to_string(&path).map_err(|e| gen_core::GenError::io(&path, e))?;
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| gen_core::GenError::Other(format!("metrics.jsonl: {e}")))?;
        if v["kind"] == "eval" {
            let (step, nll) = (v["step"].as_u64(), v["test_nll"].as_f64());
            println!(
                "  step {:>5}: held-out NLL {:.3} nats",
                step.unwrap_or(0),
                nll.unwrap_or(f64::NAN)
            );
        }
    }

    // 3. The exact score of the held-out points, beside the truth: their
    //    difference estimates KL(p_data ‖ p_model) ≥ 0.
    let scores = flow.score(&test, &ScoreOptions::default())?;
    let truth = toy
        .log_prob(&test)?
        .expect("eight-gaussians has a closed-form density");
    let true_nll = -truth.iter().sum::<f64>() / truth.len() as f64;
    println!(
        "test NLL {:.3} nats ({}), true density {true_nll:.3}: KL estimate {:.3} nats",
        scores.mean_nll(),
        scores.kind.name(),
        scores.mean_nll() - true_nll
    );

    // 4. Inference is exact: z = f⁻¹(x). If the flow fits, the encoded test
    //    points look like the base N(0, I); decoding returns the inputs.
    let z = flow.infer(&test)?;
    let (m, v) = moments(z.as_slice(), 2);
    println!(
        "encoded test points: mean ({:+.3}, {:+.3}), variance ({:.3}, {:.3}) (base: 0, 1)",
        m[0], m[1], v[0], v[1]
    );
    let back = flow.decode(&z, None)?;
    let err = back
        .as_slice()
        .iter()
        .zip(test.as_slice())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!("round trip f(f⁻¹(x)): largest error {err:.2e} (float32)");

    // 5. Sampling: z ~ N(0, τ² I), x = f(z). How many samples land within 3σ
    //    of one of the eight modes, for two temperatures?
    let (centres, sigma) = toy.mode_centres().expect("eight-gaussians has modes");
    let mut rng = gen_core::rng_from_seed(7);
    for tau in [1.0, 0.7] {
        let s = flow.sample(2_000, &SampleOptions::with_temperature(tau), &mut rng)?;
        let near = s
            .iter_rows()
            .filter(|p| {
                centres
                    .iter_rows()
                    .any(|c| (p[0] - c[0]).hypot(p[1] - c[1]) < 3.0 * sigma)
            })
            .count();
        println!(
            "temperature {tau}: {:.1}% of 2,000 samples within 3σ of a mode",
            100.0 * near as f64 / 2_000.0
        );
    }
    println!(
        "run folder: {}\ntotal {:.1} s",
        out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Per-column mean and variance of row-major data with `d` columns.
fn moments(x: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = (x.len() / d) as f64;
    let mean: Vec<f64> = (0..d)
        .map(|j| x.iter().skip(j).step_by(d).sum::<f64>() / n)
        .collect();
    let var = (0..d)
        .map(|j| {
            x.iter()
                .skip(j)
                .step_by(d)
                .map(|v| (v - mean[j]).powi(2))
                .sum::<f64>()
                / n
        })
        .collect();
    (mean, var)
}
