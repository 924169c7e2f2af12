//! `genlab tour`: the main job. One representative of every family is
//! trained on embedded real data and the 2-D toys, every one is measured the
//! same way (sampling, scoring, inference, learning, sample quality), the
//! tutorial's claims are run as experiments and the KM game is played; the
//! result is one report (`report.html`, `report.md`, `summary.json`).
//!
//! ```text
//! OUT/tour.json              budget, backend and seed of this tour
//! OUT/runs/NAME/             an ordinary `genlab train` run per family
//! OUT/logs/NAME.log          its training output
//! OUT/measured/NAME.json     the tour's measurements of it
//! OUT/claims/NAME.json       one experiment's outcome (pictures beside it)
//! OUT/pictures/              sample pictures of every run
//! OUT/report.{html,md}, OUT/summary.json
//! ```
//!
//! Every stage leaves its result on disk before the next starts, so running
//! the same command again after a kill continues where it stopped: finished
//! runs are reused, an interrupted one resumes from its newest checkpoint.

mod claims;
mod measure;
mod plan;
mod report;

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gen_core::checkpoint::{read_json, write_json_atomic};
use gen_core::{Backend, GenError, Result};
use serde::{Deserialize, Serialize};

pub use plan::Budget;
use plan::Entry;

/// `genlab tour` options.
#[derive(clap::Args, Debug)]
pub struct TourArgs {
    /// quick (within 10 minutes of a warm build on 2 cores), standard (the
    /// README's table, about an hour) or full (several hours).
    #[arg(long, default_value = "quick", value_parser = parse_budget)]
    pub budget: Budget,
    /// Compute backend of the neural models.
    #[arg(long, default_value = "flex", value_parser = crate::choices::backend())]
    pub backend: Backend,
    /// Output directory (a new one, or a tour to continue).
    #[arg(long, default_value = "runs/tour")]
    pub out: PathBuf,
    /// First seed (standard and full train several seeds per family).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

fn parse_budget(s: &str) -> std::result::Result<Budget, String> {
    s.parse()
}

/// What `tour.json` records: a tour is continued only with the same options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TourMeta {
    /// Marks the directory as a tour.
    tour: u32,
    budget: Budget,
    backend: String,
    seed: u64,
}

const TOUR_FILE: &str = "tour.json";

/// How a training run ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Trained {
    status: String,
    /// Wall time of this tour's training call (0 when reused).
    seconds: f64,
}

/// Runs the tour.
pub fn run(a: &TourArgs) -> Result<()> {
    let started = Instant::now();
    a.backend.device()?;
    let meta = TourMeta {
        tour: 1,
        budget: a.budget,
        backend: a.backend.name().to_string(),
        seed: a.seed,
    };
    claim_out_dir(&a.out, &meta)?;
    check_disk(&a.out, a.budget)?;
    write_json_atomic(&a.out.join(TOUR_FILE), &meta)?;

    let entries = plan::entries(a.budget, a.seed);
    let support = claims::support_entries(a.budget, a.seed);
    let total = entries.len() + support.len();
    let clock = Clock {
        started,
        budget: a.budget,
    };
    let mut measured = Vec::new();
    for (i, e) in entries.iter().chain(&support).enumerate() {
        let dir = a.out.join("runs").join(&e.name);
        let label = format!("[{}/{total}] {} on {}", i + 1, e.model, e.data);
        let trained = train(e, &dir, &a.out, &meta.backend, &label, &clock)?;
        let path = a.out.join("measured").join(format!("{}.json", e.name));
        if path.exists() {
            measured.push(read_json::<measure::Measured>(&path)?);
            continue;
        }
        clock.say(&format!("{label}: measuring"));
        let m = if dir.join("run.json").exists() && crate::run::latest_model_dir(&dir).is_ok() {
            measure::measure(e, &trained.status, &dir, &a.out, a.budget)?
        } else {
            measure::Measured::empty(e, &trained.status)
        };
        write_json_atomic(&path, &m)?;
        measured.push(m);
    }
    let outcomes = claims::run_all(&a.out, a.budget, a.seed, &measured, &clock)?;
    let written = report::write(&a.out, &meta_json(&meta), &measured, &outcomes, started)?;
    clock.say(&format!(
        "tour finished in {}: {}",
        clock.elapsed(),
        written
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(())
}

fn meta_json(m: &TourMeta) -> serde_json::Value {
    serde_json::json!({"budget": m.budget, "backend": m.backend, "seed": m.seed})
}

/// The tour's clock and its progress lines.
pub struct Clock {
    started: Instant,
    budget: Budget,
}

impl Clock {
    /// Time since the tour started, m:ss.
    pub fn elapsed(&self) -> String {
        mmss(self.started.elapsed().as_secs_f64())
    }

    /// The progress line prefix: elapsed time against the budget's design time.
    fn status(&self) -> String {
        format!(
            "tour {} of ~{} ({} budget)",
            self.elapsed(),
            mmss(self.budget.design_seconds()),
            self.budget
        )
    }

    /// Prints one progress line.
    pub fn say(&self, what: &str) {
        eprintln!("{what} · {}", self.status());
    }
}

fn mmss(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// Refuses an output directory that holds something other than this tour.
fn claim_out_dir(out: &Path, meta: &TourMeta) -> Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(GenError::config(
            "--out",
            out.display(),
            "is a file",
            "give a directory for the tour's runs and report",
        ));
    }
    let file = out.join(TOUR_FILE);
    if file.exists() {
        let old: TourMeta = read_json(&file).map_err(|_| {
            GenError::config(
                "--out",
                out.display(),
                "its tour.json is not a tour's",
                "choose another --out",
            )
        })?;
        if old != *meta {
            return Err(GenError::config(
                "--out",
                out.display(),
                format!(
                    "holds a {} tour on {} with seed {}",
                    old.budget, old.backend, old.seed
                ),
                format!(
                    "continue it with the same options (--budget {} --backend {} --seed {}), \
                     or choose another --out",
                    old.budget, old.backend, old.seed
                ),
            ));
        }
        return Ok(());
    }
    let non_empty = std::fs::read_dir(out)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if non_empty {
        return Err(GenError::config(
            "--out",
            out.display(),
            "holds something other than a tour (no tour.json)",
            "choose a new or empty directory for the tour",
        ));
    }
    Ok(())
}

/// Refuses to start without the disk space the budget needs
/// (`GENLAB_TOUR_MIN_FREE_MIB` overrides the requirement).
fn check_disk(out: &Path, budget: Budget) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| GenError::io(out, e))?;
    let need = std::env::var("GENLAB_TOUR_MIN_FREE_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| budget.disk_mib());
    let Some(free) = free_mib(out) else {
        return Ok(()); // unknown: let the writes report it
    };
    if free < need {
        return Err(GenError::config(
            "--out",
            out.display(),
            format!("its file system has {free} MiB free; a {budget} tour needs about {need} MiB"),
            "free some space or choose --out on another disk",
        ));
    }
    Ok(())
}

/// Free space of the file system holding `p`, in MiB.
fn free_mib(p: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `s` a writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
    (rc == 0).then(|| (s.f_bavail as u64).saturating_mul(s.f_frsize as u64) / (1 << 20))
}

/// Trains `e` into `dir` with this very executable (`genlab train …`), or
/// resumes it, or reuses it when finished; a progress bar follows the
/// run's metrics.
fn train(
    e: &Entry,
    dir: &Path,
    tour: &Path,
    backend: &str,
    label: &str,
    clock: &Clock,
) -> Result<Trained> {
    let record = tour.join("logs").join(format!("{}.outcome.json", e.name));
    if dir.join("summary.json").exists() {
        if let Ok(t) = read_json::<Trained>(&record) {
            return Ok(t);
        }
        return Ok(Trained {
            status: "ok".into(),
            seconds: 0.0,
        });
    }
    let logs = tour.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| GenError::io(&logs, e))?;
    let resumable = dir.join("run.json").exists() && crate::run::latest_model_dir(dir).is_ok();
    let args: Vec<String> = if resumable {
        clock.say(&format!("{label}: resuming {}", dir.display()));
        vec!["train".into(), "--resume".into(), dir.display().to_string()]
    } else {
        if dir.exists() {
            // Killed before its first checkpoint: nothing to keep.
            std::fs::remove_dir_all(dir).map_err(|err| GenError::io(dir, err))?;
        }
        clock.say(&format!("{label}: training {} steps", e.steps));
        e.train_args(backend, dir)
    };
    let exe = this_executable()?;
    let log_path = logs.join(format!("{}.log", e.name));
    let out_path = logs.join(format!("{}.json", e.name));
    let log = std::fs::File::create(&log_path).map_err(|err| GenError::io(&log_path, err))?;
    let stdout = std::fs::File::create(&out_path).map_err(|err| GenError::io(&out_path, err))?;
    let t = Instant::now();
    let mut child = std::process::Command::new(exe)
        .args(&args)
        .stdout(stdout)
        .stderr(log)
        .spawn()
        .map_err(|err| GenError::Other(format!("cannot start genlab train: {err}")))?;
    let bar = progress_bar(e.steps, label);
    let status = loop {
        if let Some(s) = child
            .try_wait()
            .map_err(|err| GenError::Other(err.to_string()))?
        {
            break s;
        }
        if let Some(step) = last_step(&dir.join("metrics.jsonl")) {
            bar.set_position(step.min(e.steps));
        }
        bar.set_message(clock.status());
        std::thread::sleep(Duration::from_millis(250));
    };
    bar.finish_and_clear();
    let seconds = t.elapsed().as_secs_f64();
    let trained = if status.success() {
        Trained {
            status: "ok".into(),
            seconds,
        }
    } else {
        let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
        let last = tail
            .lines()
            .rev()
            .find(|l| l.starts_with("error"))
            .or_else(|| tail.lines().last())
            .unwrap_or("no output")
            .to_string();
        let kind = if last.contains("diverged") {
            "diverged"
        } else {
            "failed"
        };
        clock.say(&format!(
            "{label}: {kind} ({last}); see {}",
            log_path.display()
        ));
        Trained {
            status: format!("{kind}: {last}"),
            seconds,
        }
    };
    write_json_atomic(&record, &trained)?;
    Ok(trained)
}

/// The running genlab executable. On Linux `/proc/self/exe`, which still
/// starts this very binary after a rebuild replaced the file on disk
/// during a long tour.
fn this_executable() -> Result<PathBuf> {
    let proc_exe = Path::new("/proc/self/exe");
    if proc_exe.exists() {
        return Ok(proc_exe.to_path_buf());
    }
    std::env::current_exe().map_err(|err| GenError::Other(format!("cannot find genlab: {err}")))
}

fn progress_bar(steps: u64, label: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(steps.max(1));
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} steps · {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label.to_string());
    bar
}

/// The step of the last line of a metrics file (its last 4 KiB are read).
fn last_step(path: &Path) -> Option<u64> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(4096))).ok()?;
    let mut tail = String::new();
    f.read_to_string(&mut tail).ok()?;
    tail.lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|v| v.get("step").and_then(|s| s.as_u64()))
}
