//! The *learn* task: the workspace's one `Trainer` driving a model, with a
//! learning-rate schedule, held-out evaluation, atomic checkpoints, and an
//! exact resume after a crash.
//!
//! ```text
//! cargo run --example task_learn
//! ```
//!
//! Every model implements `Learn::learn_step` (one optimiser step, two for a
//! GAN, one EM iteration for a mixture); the `Trainer` runs the loop around
//! it. Per step it asks a closure for the batch, a pure function of the
//! step and the run's RNG, applies the schedule, stops on a NaN or exploding
//! loss, appends JSON lines to `metrics.jsonl`, and every
//! `checkpoint_every` steps writes a checkpoint: model, optimiser state,
//! step, RNG state and loss history, into a folder that only becomes the
//! `LATEST` one once complete (with a CRC-32 manifest checked on load).
//!
//! This program trains a RealNVP flow three ways: straight through 600
//! steps; with a simulated crash at step 250; and resumed from that crash's
//! last checkpoint. The resumed run repeats the uninterrupted one exactly,
//! loss for loss. The command line does the same with
//! `cargo run -p genlab -- train realnvp --data eight-gaussians --steps 600 --out runs/r`
//! and `cargo run -p genlab -- train --resume runs/r --steps 1200`.

use std::path::Path;
use std::time::Instant;

use gen_core::train::{LrSchedule, TrainConfig, TrainReport, Trainer, held_out_nll};
use gen_core::{GenError, Result, Score, ScoreOptions};
use gen_data::Toy2d;
use gen_flow::{FlowBatch, FlowConfig, FlowKind, FlowModel};

/// The step at which the second run "crashes".
const CRASH_AT: u64 = 250;

fn main() -> Result<()> {
    let start = Instant::now();
    let device = genlab_examples::backend()?.device()?;
    let toy = Toy2d::EightGaussians;
    let test = toy.sample(1_000, 2);
    let out = genlab_examples::output_dir("task_learn")?;

    // 1. The settings: 600 steps, Adam at 1e-3 with a 50-step linear warm-up
    //    and cosine decay to 1e-4, a checkpoint every 100 steps (the two
    //    newest kept), a metrics line every 10 steps, the held-out NLL every
    //    200. A run is fully determined by these and the seed.
    let config = TrainConfig {
        steps: 600,
        lr: 1e-3,
        schedule: LrSchedule::Cosine {
            warmup: 50,
            min_factor: 0.1,
        },
        seed: 0,
        checkpoint_every: 100,
        keep_checkpoints: 2,
        log_every: 10,
        eval_every: 200,
        batch_size: 512,
        progress: false,
        ..TrainConfig::default()
    };
    let new_flow = || FlowModel::new(FlowConfig::new(FlowKind::RealNvp, 2), &device);

    // 2. Run A, uninterrupted. The batch closure draws 512 fresh points from
    //    the toy with the run's RNG, which the checkpoints save and restore.
    let mut a = new_flow()?;
    let report_a = Trainer::new(config.clone(), out.join("a"))?.fit_with_eval(
        &mut a,
        |_step, rng| Ok(FlowBatch::from(toy.sample_with(512, rng))),
        held_out_nll(&test),
    )?;
    summary("A, uninterrupted", &report_a);

    // 3. Run B crashes: the batch closure fails at step 250, as a killed
    //    process would stop. The checkpoint of step 200 is the last complete one.
    let mut b = new_flow()?;
    let crashed = Trainer::new(config.clone(), out.join("b"))?.fit_with_eval(
        &mut b,
        |step, rng| {
            if step == CRASH_AT {
                return Err(GenError::Other(format!("simulated crash at step {step}")));
            }
            Ok(FlowBatch::from(toy.sample_with(512, rng)))
        },
        held_out_nll(&test),
    );
    match crashed {
        Err(e) => println!("B stopped: {e}"),
        Ok(_) => return Err(GenError::Other("run B was meant to crash".into())),
    }
    list_checkpoints(&out.join("b"))?;

    // 4. Resume B: a fresh process would build the same (untrained) model and
    //    call the trainer with `resume: true`; it loads the newest checkpoint
    //    (model, Adam moments, RNG, step, losses) and continues from there.
    let mut resumed = new_flow()?;
    let report_b = Trainer::new(
        TrainConfig {
            resume: true,
            ..config.clone()
        },
        out.join("b"),
    )?
    .fit_with_eval(
        &mut resumed,
        |_step, rng| Ok(FlowBatch::from(toy.sample_with(512, rng))),
        held_out_nll(&test),
    )?;
    summary("B, resumed", &report_b);
    let same = report_a.losses == report_b.losses;
    let from = report_b
        .resumed_from
        .map_or("nothing".into(), |s| s.to_string());
    println!(
        "B resumed from step {from}; all {} losses identical to A's: {same}",
        report_a.losses.len()
    );
    if !same {
        return Err(GenError::Other("the resumed run is not exact".into()));
    }

    // 5. Loading. Each checkpoint holds the model in `model/`; the family's
    //    `load` rebuilds it (architecture from the saved config), ready to
    //    sample or score, e.g. in another program.
    let loaded = FlowModel::load(&report_b.checkpoint.join("model"), &device)?;
    let s_loaded = loaded.score(&test, &ScoreOptions::default())?.mean_nll();
    let s_a = a.score(&test, &ScoreOptions::default())?.mean_nll();
    println!(
        "held-out NLL: run A in memory {s_a:.6}, B's final checkpoint loaded {s_loaded:.6} nats"
    );

    // 6. What a run folder holds: metrics.jsonl (one JSON object per line:
    //    kind "train" with lr and loss, kind "eval" with test_nll),
    //    train_config.json, and checkpoints/.
    let metrics = std::fs::read_to_string(out.join("b/metrics.jsonl"))
        .map_err(|e| GenError::io(out.join("b/metrics.jsonl"), e))?;
    let lines: Vec<&str> = metrics.lines().collect();
    println!(
        "B's metrics.jsonl: {} lines (those logged after the step-{} checkpoint \
         were dropped on resume and logged again), e.g.\n  {}\n  {}",
        lines.len(),
        CRASH_AT / config.checkpoint_every * config.checkpoint_every,
        lines.first().copied().unwrap_or(""),
        lines
            .iter()
            .rev()
            .find(|l| l.contains("\"eval\""))
            .copied()
            .unwrap_or("")
    );
    println!(
        "run folders under {}\ntotal {:.1} s",
        out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn summary(name: &str, r: &TrainReport) {
    println!(
        "{name}: {} steps, loss {:.3} -> {:.3}, {:.1} s this call",
        r.steps,
        r.losses[0],
        r.losses[r.losses.len() - 1],
        r.seconds
    );
}

/// Prints the checkpoint folders of a run and what `LATEST` points to.
fn list_checkpoints(run: &Path) -> Result<()> {
    let dir = run.join("checkpoints");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| GenError::io(&dir, e))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    let latest = std::fs::read_to_string(dir.join("LATEST")).map_err(|e| GenError::io(&dir, e))?;
    println!("B's checkpoints/: {names:?}, LATEST = {}", latest.trim());
    Ok(())
}
