//! What every end-to-end test of the `genlab` binary shares.

use std::process::Command;

/// Runs `genlab ARGS`: (success, stdout, stderr).
pub fn genlab(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_genlab"))
        .args(args)
        .output()
        .expect("the genlab binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts that every training line of a run's metrics.jsonl logged the
/// learning rate of a cosine decay from `lr0` to zero over `total` steps:
/// line `step` s carries the rate of zero-based step s − 1,
/// lr0 · (1 + cos(π (s − 1) / total)) / 2. Returns the number of lines.
#[allow(dead_code)] // not every test binary trains on a schedule
pub fn assert_cosine_lrs(run: &std::path::Path, lr0: f64, total: u64) -> usize {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).expect("metrics.jsonl");
    let mut lines = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        if v["kind"] != "train" {
            continue;
        }
        let s = v["step"].as_u64().expect("step");
        let lr = v["lr"].as_f64().expect("lr");
        let t = (s - 1) as f64 / total as f64;
        let want = lr0 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
        assert!((lr - want).abs() < 1e-12, "step {s}: lr {lr}, want {want}");
        lines += 1;
    }
    lines
}
