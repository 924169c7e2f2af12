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
