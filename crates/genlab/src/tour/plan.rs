//! What a tour trains: one representative per family on the data it is
//! compared on, with the steps each budget affords.
//!
//! Families are grouped by data so that every number in a group is measured
//! on the same test split, with the same extractor and sample count:
//! the eight-gaussians toy (an exact true density), MNIST-5k (gen-eval's
//! MNIST extractor) and Shakespeare (held-out pieces of text).

use std::fmt;
use std::str::FromStr;

/// How long the tour may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Budget {
    /// A few steps of everything: the end-to-end test of the tour (seconds).
    Smoke,
    /// Within 10 minutes of a warm build on a 2-core CPU.
    Quick,
    /// The settings behind the README's table: three seeds per family (about
    /// an hour on 2 cores).
    Standard,
    /// Longer training, five seeds, and the DCGAN (several hours on 2 cores).
    Full,
}

impl Budget {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Budget::Smoke => "smoke",
            Budget::Quick => "quick",
            Budget::Standard => "standard",
            Budget::Full => "full",
        }
    }

    /// The wall time the budget is designed for, in seconds (on 2 cores).
    pub fn design_seconds(self) -> f64 {
        match self {
            Budget::Smoke => 120.0,
            Budget::Quick => 600.0,
            Budget::Standard => 3600.0,
            Budget::Full => 6.0 * 3600.0,
        }
    }

    /// Disk space the tour needs, in MiB (checkpoints, pictures, logs).
    pub fn disk_mib(self) -> u64 {
        match self {
            Budget::Smoke => 50,
            Budget::Quick => 200,
            Budget::Standard | Budget::Full => 1000,
        }
    }

    /// Samples drawn from every model on a data group (the same count for
    /// every model of the group).
    pub fn samples(self, group: Group) -> usize {
        match (self, group) {
            (Budget::Smoke, Group::Toy) => 500,
            (Budget::Smoke, Group::Images) => 50,
            (Budget::Smoke, Group::Text) => 4,
            (Budget::Quick, Group::Toy) => 2000,
            (Budget::Quick, Group::Images) => 200,
            (Budget::Quick, Group::Text) => 16,
            (_, Group::Toy) => 5000,
            (_, Group::Images) => 500,
            (_, Group::Text) => 64,
        }
    }

    /// Test rows scored per model of a group.
    pub fn score_rows(self, group: Group) -> usize {
        match (self, group) {
            (Budget::Smoke, Group::Toy) => 200,
            (Budget::Smoke, Group::Images) => 50,
            (Budget::Smoke, Group::Text) => 20,
            (Budget::Quick, Group::Toy) => 1000,
            (Budget::Quick, Group::Images) => 500,
            (Budget::Quick, Group::Text) => 200,
            (_, Group::Toy) => 5000,
            (_, Group::Images) => 500,
            (_, Group::Text) => 1000,
        }
    }

    /// Seeds each family is trained with (learning stability is their spread).
    pub fn seeds(self) -> u64 {
        match self {
            Budget::Smoke | Budget::Quick => 1,
            Budget::Standard => 3,
            Budget::Full => 5,
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Budget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "smoke" => Ok(Budget::Smoke),
            "quick" => Ok(Budget::Quick),
            "standard" => Ok(Budget::Standard),
            "full" => Ok(Budget::Full),
            other => Err(format!(
                "unknown budget '{other}': use quick (10 minutes on 2 cores), standard or full"
            )),
        }
    }
}

/// The data a family is compared on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    /// eight-gaussians: exact true density, modes.
    Toy,
    /// MNIST-5k: FID / PRDC with gen-eval's MNIST extractor.
    Images,
    /// Shakespeare: held-out pieces of text.
    Text,
}

impl Group {
    /// The data set of the group.
    pub fn data(self) -> &'static str {
        match self {
            Group::Toy => "eight-gaussians",
            Group::Images => "mnist5k",
            Group::Text => "shakespeare",
        }
    }
}

/// One run of the tour.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Entry {
    /// Run directory name under `runs/`.
    pub name: String,
    /// The family, as the tutorial names it.
    pub family: &'static str,
    /// `genlab train` model name.
    pub model: &'static str,
    /// Data group.
    pub group: Group,
    /// Data set (the group's, or another toy for a claim's runs).
    pub data: &'static str,
    /// Training steps.
    pub steps: u64,
    /// Seed.
    pub seed: u64,
    /// Further `genlab train` flags.
    pub extra: Vec<String>,
}

impl Entry {
    /// The `genlab train` arguments of a fresh run into `out`.
    pub fn train_args(&self, backend: &str, out: &std::path::Path) -> Vec<String> {
        let mut a = vec![
            "train".to_string(),
            self.model.to_string(),
            "--data".into(),
            self.data.into(),
            "--steps".into(),
            self.steps.to_string(),
            "--seed".into(),
            self.seed.to_string(),
            "--backend".into(),
            backend.into(),
            "--out".into(),
            out.display().to_string(),
            // A kill loses at most a fifth of a run, or half a minute.
            "--checkpoint-every".into(),
            (self.steps / 5).max(1).to_string(),
            "--checkpoint-minutes".into(),
            "0.5".into(),
            "--eval-every".into(),
            "0".into(),
        ];
        // `{runs}`: the directory holding this tour's runs.
        let runs = out.parent().unwrap_or(out).display().to_string();
        a.extend(self.extra.iter().map(|x| x.replace("{runs}", &runs)));
        a
    }
}

/// Steps of one family at each budget: (smoke, quick, standard, full).
struct Steps(u64, u64, u64, u64);

impl Steps {
    fn at(&self, b: Budget) -> u64 {
        match b {
            Budget::Smoke => self.0,
            Budget::Quick => self.1,
            Budget::Standard => self.2,
            Budget::Full => self.3,
        }
    }
}

/// (name, family, model, group, steps, extra flags) of one family's run.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    Group,
    Steps,
    Vec<String>,
);

/// The runs of a tour at `budget`, seeds `seed..seed + budget.seeds()`.
pub fn entries(budget: Budget, seed: u64) -> Vec<Entry> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut families: Vec<Family> = vec![
        (
            "gmm-toy",
            "classical",
            "gmm",
            Group::Toy,
            Steps(20, 100, 200, 200),
            vec![],
        ),
        (
            "realnvp-toy",
            "flow",
            "realnvp",
            Group::Toy,
            Steps(50, 2000, 10_000, 20_000),
            vec![],
        ),
        (
            "gan-toy",
            "gan",
            "ns-gan",
            Group::Toy,
            Steps(50, 3000, 10_000, 20_000),
            vec![],
        ),
        (
            "ddpm-toy",
            "diffusion",
            "ddpm",
            Group::Toy,
            Steps(50, 3000, 12_000, 30_000),
            // The train-time sampling figures are the tour's to measure.
            s(&["--ode-nll-steps", "20"]),
        ),
        (
            "vae-mnist",
            "vae",
            "vae",
            Group::Images,
            Steps(30, 1500, 10_000, 30_000),
            vec![],
        ),
        (
            "latent-ddpm-mnist",
            "diffusion",
            "latent-ddpm",
            Group::Images,
            Steps(30, 3000, 20_000, 50_000),
            // In the latent space of the tour's own VAE of the same seed.
            s(&["--vae", "{runs}/vae-mnist{seed_suffix}"]),
        ),
        (
            "made-mnist",
            "autoregressive",
            "made",
            Group::Images,
            Steps(20, 1000, 5000, 20_000),
            vec![],
        ),
        (
            "ngram-text",
            "classical",
            "ngram",
            Group::Text,
            Steps(1, 1, 1, 1),
            s(&["--order", "5", "--smoothing", "kneser-ney"]),
        ),
        (
            "gpt-text",
            "autoregressive",
            "char-gpt",
            Group::Text,
            Steps(10, 250, 2000, 5000),
            vec![],
        ),
    ];
    // Pixel-space DDPM (a U-Net, about 1.3 s per 28 x 28 step on one core):
    // standard and full budgets, one seed; the latent-diffusion claim
    // compares it with latent-ddpm-mnist.
    if matches!(budget, Budget::Standard | Budget::Full) {
        families.push((
            "ddpm-mnist",
            "diffusion",
            "ddpm",
            Group::Images,
            Steps(0, 0, 1500, 6000),
            s(&["--fid-samples", "0", "--bound-rows", "16"]),
        ));
    }
    // The DCGAN takes about 0.5 s per step on 2 cores: full budget, one seed.
    if budget == Budget::Full {
        families.push((
            "dcgan-mnist",
            "gan",
            "dcgan",
            Group::Images,
            Steps(0, 0, 0, 5000),
            vec![],
        ));
    }
    // The runs' own end-of-training evaluation, cut to what the tour does not
    // measure itself (it scores and samples every run the same way).
    for (name, _, _, _, _, extra) in families.iter_mut() {
        let cut: &[&str] = match (*name, budget) {
            ("vae-mnist", Budget::Smoke) => &["--eval-k", "10"],
            ("vae-mnist", Budget::Quick) => &["--eval-k", "100"],
            ("ddpm-toy", Budget::Smoke) => &["--bound-rows", "100"],
            ("ddpm-toy", Budget::Quick) => &["--bound-rows", "200"],
            _ => &[],
        };
        extra.extend(s(cut));
    }
    let mut out = Vec::new();
    for k in 0..budget.seeds() {
        for (name, family, model, group, steps, extra) in &families {
            // Deterministic baselines need one seed only; the slow pixel
            // models get one.
            if k > 0 && (matches!(*model, "ngram" | "dcgan") || *name == "ddpm-mnist") {
                continue;
            }
            let suffix = if k == 0 {
                String::new()
            } else {
                format!("-seed{}", seed + k)
            };
            let extra = extra
                .iter()
                .map(|a| a.replace("{seed_suffix}", &suffix))
                .collect();
            out.push(Entry {
                name: format!("{name}{suffix}"),
                family,
                model,
                group: *group,
                data: group.data(),
                steps: steps.at(budget),
                seed: seed + k,
                extra,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pixel DDPM the latent-diffusion claim compares with runs once,
    /// at the standard and full budgets only, with its own FID skipped.
    #[test]
    fn the_pixel_ddpm_runs_once_at_standard_and_full() {
        for (budget, want) in [
            (Budget::Smoke, 0),
            (Budget::Quick, 0),
            (Budget::Standard, 1),
            (Budget::Full, 1),
        ] {
            let runs: Vec<Entry> = entries(budget, 0)
                .into_iter()
                .filter(|e| e.name.starts_with("ddpm-mnist"))
                .collect();
            assert_eq!(runs.len(), want, "{budget:?}");
            if let Some(e) = runs.first() {
                assert_eq!((e.model, e.name.as_str()), ("ddpm", "ddpm-mnist"));
                assert!(e.extra.windows(2).any(|w| w == ["--fid-samples", "0"]));
            }
        }
    }
}
