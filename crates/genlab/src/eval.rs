//! `genlab eval <metric>`: sample-based metrics between two sets of rows,
//! printed as one JSON object.
//!
//! ```text
//! genlab eval fid   --real R.npy --fake F.npy [--features mnist|digits|none]
//! genlab eval kid   --real R.npy --fake F.npy [--kernel poly|rbf] [--bandwidth σ]
//!                   [--estimator unbiased|biased|u-statistic] [--subsets 100] [--subset-size 1000] [--seed 0]
//! genlab eval mmd   --real R.npy --fake F.npy [--kernel rbf|poly] [--bandwidth σ] [--estimator ..]
//! genlab eval prdc  --real R.npy --fake F.npy [--k 5]
//! genlab eval energy | wasserstein | swd  --real R.npy --fake F.npy [--projections 50] [--seed 0]
//! genlab eval c2st  --real R.npy --fake F.npy [--k 5 folds] [--seed 0]
//! genlab eval authenticity --fake F.npy --train T.npy
//! genlab eval copying --train T.npy --real TEST.npy --fake F.npy [--k 10 cells] [--seed 0]
//! genlab eval is    --probs P.npy [--splits 10]     (or --fake IMAGES.npy --features mnist)
//! genlab eval fid-stats --input X.npy --out STATS.npz [--features mnist|digits|none]
//! ```
//!
//! Rows are samples. Every input may be a `.npy` array or a `.npz` archive
//! (its array `--key NAME`, else its first array; a note on stderr names the
//! array used when the archive holds several). `.npy` arrays of rank > 2 are
//! flattened per row, so `(n, 28, 28)` images work as `n × 784`.
//!
//! FID statistics: `fid --real` / `--fake` also accept a `.npz` holding
//! `mu` (d) and `sigma` (d × d), as pytorch-fid and torch-fidelity save
//! them; such a side is compared as given (with `--features`, it must come
//! from the same extractor). `fid-stats` writes one: `mu`, `sigma` (divisor
//! N − 1, as `np.cov`) and the sample count `n`, all float64, so a cached
//! file gives the same FID as the rows it came from. With `--features mnist|digits`
//! every input is a set of raw images, embedded first by the matching
//! extractor of gen-eval (64-d penultimate features, or class probabilities
//! for `is`). Pixel values may be raw grey levels (0..255 for mnist, 0..16
//! for digits) or already scaled to [0, 1]: a set whose largest value exceeds
//! 1 is taken as raw levels and divided by levels − 1; the JSON reports the
//! interpretation as `pixel_scale`. Feature-based values are comparable only
//! under the same extractor.
//!
//! JSON: `value` for single-number metrics (fid, mmd, energy, wasserstein,
//! swd, c2st = held-out accuracy, authenticity, copying = C_T); `precision`,
//! `recall`, `density`, `coverage` for prdc; `mean`, `std` for kid and is;
//! plus `metric` and the metric's other details (sizes, kernel, p-value, …).
//!
//! Defaults: `--k` is 5 for prdc (clovaai), the fold count 5 for c2st, the
//! cell count 10 for copying; `--kernel` is poly (KID's `(xᵀy/d + 1)³`) for
//! kid and rbf with the median heuristic (unless `--bandwidth`) for mmd; the
//! KID subset size is min(1000, n_real, n_fake); authenticity uses `--train`
//! as the training set (falling back to `--real`).

use std::path::{Path, PathBuf};

use gen_core::{Backend, GenError, Matrix, Result};
use gen_data::io::npy::NpyArray;
use gen_data::io::npz;
use gen_eval::FeatureStats;
use gen_eval::extractor::{Extractor, ExtractorKind, PixelScale, to_unit_range};
use gen_eval::{C2stOptions, DataCopyingOptions, Kernel, KidOptions, MmdEstimator, SlicedOptions};
use serde_json::{Value, json};

/// The metrics of `genlab eval` (and `fid-stats`, which writes FID statistics).
const METRICS: [&str; 12] = [
    "fid",
    "kid",
    "mmd",
    "prdc",
    "energy",
    "wasserstein",
    "swd",
    "c2st",
    "authenticity",
    "copying",
    "is",
    "fid-stats",
];

/// Arguments of `genlab eval`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// The metric.
    #[arg(value_parser = crate::choices::listed("metric", &METRICS))]
    pub metric: String,
    /// Reference ("real") rows, .npy or .npz (fid: or a .npz of `mu`, `sigma`).
    #[arg(long)]
    pub real: Option<PathBuf>,
    /// Generated ("fake") rows, .npy or .npz (fid: or a .npz of `mu`, `sigma`).
    #[arg(long)]
    pub fake: Option<PathBuf>,
    /// Training rows (authenticity, copying), .npy or .npz.
    #[arg(long)]
    pub train: Option<PathBuf>,
    /// Class probabilities, one row per sample (is), .npy or .npz.
    #[arg(long)]
    pub probs: Option<PathBuf>,
    /// Rows whose FID statistics to write (fid-stats), .npy or .npz.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Where fid-stats writes the statistics (.npz).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The array to read from .npz inputs (default: the archive's first).
    #[arg(long)]
    pub key: Option<String>,
    /// Embed raw images first: mnist (28×28), digits (8×8) or none.
    #[arg(long, default_value = "none",
          value_parser = crate::choices::listed("features", &["none", "mnist", "digits"]))]
    pub features: String,
    /// Neighbours (prdc, default 5), folds (c2st, default 5) or cells (copying, default 10).
    #[arg(long)]
    pub k: Option<usize>,
    /// Kernel for kid / mmd (default: poly for kid, rbf for mmd).
    #[arg(long, value_parser = crate::choices::listed("kernel", &["poly", "rbf"]))]
    pub kernel: Option<String>,
    /// RBF bandwidth σ (default: median heuristic).
    #[arg(long)]
    pub bandwidth: Option<f64>,
    /// MMD estimator.
    #[arg(long, default_value = "unbiased",
          value_parser = crate::choices::names::<MmdEstimator>(&["unbiased", "biased", "u-statistic"]))]
    pub estimator: MmdEstimator,
    /// KID subsets.
    #[arg(long, default_value_t = 100)]
    pub subsets: usize,
    /// KID rows per subset (default min(1000, n_real, n_fake)).
    #[arg(long)]
    pub subset_size: Option<usize>,
    /// Splits of the Inception-style score.
    #[arg(long, default_value_t = 10)]
    pub splits: usize,
    /// Random directions of the sliced Wasserstein distance.
    #[arg(long, default_value_t = 50)]
    pub projections: usize,
    /// Seed (kid subsets, swd directions, c2st folds and weights, copying k-means).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

fn need<'a>(p: &'a Option<PathBuf>, flag: &str, metric: &str) -> Result<&'a Path> {
    p.as_deref().ok_or_else(|| {
        GenError::config(
            flag,
            "missing",
            format!("`genlab eval {metric}` needs {flag}"),
            format!("pass {flag} FILE.npy or FILE.npz (rows = samples)"),
        )
    })
}

/// FID statistics stored in a `.npz` archive: `mu` (length d, any shape
/// with d elements) and `sigma` (d × d), plus the sample count `n` when
/// present (else 0, unknown). `None` when `path` is not an archive holding
/// both `mu` and `sigma`.
pub fn read_fid_stats(path: &Path) -> Result<Option<FeatureStats>> {
    let bytes = gen_data::io::read_bytes(path)?;
    if !npz::is_zip(&bytes) {
        return Ok(None);
    }
    let archive = npz::parse_npz(&bytes, path)?;
    let (Some(mu), Some(sigma)) = (archive.get("mu"), archive.get("sigma")) else {
        return Ok(None);
    };
    let d = mu.data.len();
    if sigma.shape != [d, d] {
        return Err(GenError::Format {
            path: path.to_path_buf(),
            problem: format!(
                "FID statistics need sigma of shape ({d}, {d}) for mu of {d} values, got {:?}",
                sigma.shape
            ),
            fix: "save mu = features.mean(0) and sigma = np.cov(features, rowvar=False) of the same features".into(),
        });
    }
    let samples = match archive.get("n").map(|n| n.data.as_slice()) {
        Some([n]) if *n >= 0.0 && n.fract() == 0.0 => *n as usize,
        _ => 0,
    };
    let cov = Matrix::new(d, d, sigma.data.clone())?;
    FeatureStats::new(mu.data.clone(), cov, samples)
        .map(Some)
        .map_err(|e| GenError::Format {
            path: path.to_path_buf(),
            problem: format!("its mu / sigma are not valid FID statistics: {e}"),
            fix: "recompute them (genlab eval fid-stats, or pytorch-fid --save-stats)".into(),
        })
}

/// Writes FID statistics as `genlab eval fid --real/--fake` and pytorch-fid
/// read them: `mu` (d), `sigma` (d × d) and `n` (a 0-d sample count), float64.
pub fn write_fid_stats(path: &Path, stats: &FeatureStats) -> Result<()> {
    let mu = NpyArray::new(vec![stats.dim()], stats.mean.clone())?;
    let sigma = NpyArray::from_matrix(&stats.cov);
    let n = NpyArray::new(vec![], vec![stats.samples as f64])?;
    npz::write_npz(
        path,
        &[("mu", &mu), ("sigma", &sigma), ("n", &n)],
        npz::NpzCompression::Stored,
    )
}

/// One side of a FID: rows (embedded if an extractor is chosen) or stored
/// statistics.
enum FidSide {
    Rows(Matrix),
    Stats(FeatureStats),
}

impl FidSide {
    fn kind(&self) -> &'static str {
        match self {
            FidSide::Rows(_) => "rows",
            FidSide::Stats(_) => "statistics",
        }
    }

    fn stats(&self) -> Result<FeatureStats> {
        match self {
            FidSide::Rows(m) => FeatureStats::from_features(m),
            FidSide::Stats(s) => Ok(s.clone()),
        }
    }
}

/// Loads rows, embedding images with the extractor when one is chosen.
struct Loader {
    extractor: Option<Extractor>,
    scales: Vec<(String, PixelScale)>,
    key: Option<String>,
}

impl Loader {
    fn new(features: &str) -> Result<Self> {
        let extractor = match features {
            "none" => None,
            name => {
                let kind: ExtractorKind = name.parse().map_err(|_| {
                    GenError::config(
                        "--features",
                        name,
                        "unknown feature extractor",
                        "use mnist, digits or none",
                    )
                })?;
                Some(Extractor::pretrained(kind, &Backend::Flex.device()?)?)
            }
        };
        Ok(Self {
            extractor,
            scales: Vec::new(),
            key: None,
        })
    }

    fn read(&self, path: &Path) -> Result<Matrix> {
        crate::data::read_array_rows(path, self.key.as_deref())
    }

    /// A FID side: stored statistics when `path` holds `mu` and `sigma`, else rows.
    fn fid_side(&mut self, path: &Path, name: &str) -> Result<FidSide> {
        match read_fid_stats(path)? {
            Some(s) => Ok(FidSide::Stats(s)),
            None => Ok(FidSide::Rows(self.rows(path, name)?)),
        }
    }

    fn rows(&mut self, path: &Path, name: &str) -> Result<Matrix> {
        let m = self.read(path)?;
        match &self.extractor {
            None => Ok(m),
            Some(ex) => {
                let (_, scale) = to_unit_range(&m, ex.kind())?;
                self.scales.push((name.into(), scale));
                ex.features(&m)
            }
        }
    }

    fn probabilities(&mut self, path: &Path, name: &str) -> Result<Matrix> {
        let m = self.read(path)?;
        match &self.extractor {
            None => Err(GenError::config(
                "--probs",
                "missing",
                "`genlab eval is` needs class probabilities",
                "pass --probs P.npy, or --fake IMAGES.npy with --features mnist|digits",
            )),
            Some(ex) => {
                let (_, scale) = to_unit_range(&m, ex.kind())?;
                self.scales.push((name.into(), scale));
                ex.probabilities(&m)
            }
        }
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| GenError::Other(e.to_string()))
}

fn kernel(a: &EvalArgs, default_rbf: bool) -> Result<Kernel> {
    let name = a
        .kernel
        .as_deref()
        .unwrap_or(if default_rbf { "rbf" } else { "poly" });
    match name {
        "poly" | "polynomial" => {
            if a.bandwidth.is_some() {
                return Err(GenError::config(
                    "--bandwidth",
                    a.bandwidth.unwrap_or_default(),
                    "a bandwidth applies only to the rbf kernel",
                    "drop --bandwidth or pass --kernel rbf",
                ));
            }
            Ok(Kernel::kid_polynomial())
        }
        "rbf" | "gaussian" => Ok(match a.bandwidth {
            Some(s) => Kernel::rbf(s),
            None => Kernel::rbf_median(),
        }),
        other => Err(GenError::config(
            "--kernel",
            other,
            "unknown kernel",
            "use poly (KID's cubic polynomial) or rbf",
        )),
    }
}

/// Runs `genlab eval` and returns the JSON object to print.
pub fn run(a: &EvalArgs) -> Result<Value> {
    let metric = a.metric.as_str();
    let mut load = Loader::new(&a.features)?;
    load.key = a.key.clone();
    let pair = |load: &mut Loader| -> Result<(Matrix, Matrix)> {
        let r = load.rows(need(&a.real, "--real", metric)?, "real")?;
        let f = load.rows(need(&a.fake, "--fake", metric)?, "fake")?;
        Ok((r, f))
    };
    let mut out = match metric {
        "fid" => {
            let r = load.fid_side(need(&a.real, "--real", metric)?, "real")?;
            let f = load.fid_side(need(&a.fake, "--fake", metric)?, "fake")?;
            let inputs = json!({"real": r.kind(), "fake": f.kind()});
            let mut v = match (&r, &f) {
                (FidSide::Rows(r), FidSide::Rows(f)) => {
                    to_json(&gen_eval::frechet_distance(r, f)?)?
                }
                _ => to_json(&gen_eval::frechet_distance_from_stats(
                    &r.stats()?,
                    &f.stats()?,
                )?)?,
            };
            if let Value::Object(map) = &mut v {
                map.insert("inputs".into(), inputs);
            }
            v
        }
        "fid-stats" => {
            let input = match (&a.input, &a.real) {
                (Some(p), _) | (None, Some(p)) => p.as_path(),
                (None, None) => need(&a.input, "--input", metric)?,
            };
            let out = a.out.as_deref().ok_or_else(|| {
                GenError::config(
                    "--out",
                    "missing",
                    "`genlab eval fid-stats` writes its statistics to a file",
                    "pass --out STATS.npz",
                )
            })?;
            let stats = FeatureStats::from_features(&load.rows(input, "input")?)?;
            write_fid_stats(out, &stats)?;
            eprintln!(
                "wrote FID statistics of {} rows ({} features) to {}",
                stats.samples,
                stats.dim(),
                out.display()
            );
            json!({"out": out.display().to_string(), "dim": stats.dim(), "samples": stats.samples})
        }
        "kid" => {
            let (r, f) = pair(&mut load)?;
            let opts = KidOptions {
                subsets: a.subsets,
                subset_size: a
                    .subset_size
                    .unwrap_or_else(|| 1000.min(r.rows()).min(f.rows())),
                kernel: kernel(a, false)?,
                estimator: a.estimator,
                seed: a.seed,
            };
            to_json(&gen_eval::kid(&r, &f, &opts)?)?
        }
        "mmd" => {
            let (r, f) = pair(&mut load)?;
            let est = a.estimator;
            to_json(&gen_eval::mmd2(&r, &f, &kernel(a, true)?, est)?)?
        }
        "prdc" => {
            let (r, f) = pair(&mut load)?;
            to_json(&gen_eval::prdc(&r, &f, a.k.unwrap_or(5))?)?
        }
        "energy" => {
            let (r, f) = pair(&mut load)?;
            to_json(&gen_eval::energy_distance(&r, &f)?)?
        }
        "wasserstein" => {
            let (r, f) = pair(&mut load)?;
            if r.cols() != 1 || f.cols() != 1 {
                return Err(GenError::input(
                    "genlab eval wasserstein",
                    format!(
                        "the exact Wasserstein distance here is 1-D, got {} and {} columns",
                        r.cols(),
                        f.cols()
                    ),
                    "pass one column per file, or use `genlab eval swd` for multivariate rows",
                ));
            }
            to_json(&gen_eval::wasserstein_1d(r.as_slice(), f.as_slice())?)?
        }
        "swd" => {
            let (r, f) = pair(&mut load)?;
            let opts = SlicedOptions {
                projections: a.projections,
                seed: a.seed,
                ..SlicedOptions::default()
            };
            to_json(&gen_eval::sliced_wasserstein(&r, &f, &opts)?)?
        }
        "c2st" => {
            let (r, f) = pair(&mut load)?;
            let opts = C2stOptions {
                folds: a.k.unwrap_or(5),
                seed: a.seed,
                ..C2stOptions::default()
            };
            to_json(&gen_eval::c2st(&r, &f, &opts)?)?
        }
        "authenticity" => {
            let f = load.rows(need(&a.fake, "--fake", metric)?, "fake")?;
            let train_path = match (&a.train, &a.real) {
                (Some(t), _) | (None, Some(t)) => t.as_path(),
                (None, None) => need(&a.train, "--train", metric)?,
            };
            let t = load.rows(train_path, "train")?;
            to_json(&gen_eval::authenticity(&f, &t)?)?
        }
        "copying" => {
            let t = load.rows(need(&a.train, "--train", metric)?, "train")?;
            let (r, f) = pair(&mut load)?;
            let opts = DataCopyingOptions {
                cells: a.k.unwrap_or(10),
                seed: a.seed,
                ..DataCopyingOptions::default()
            };
            to_json(&gen_eval::data_copying(&t, &r, &f, &opts)?)?
        }
        "is" => {
            let p = match (&a.probs, &a.fake) {
                (Some(p), _) => load.read(p)?,
                (None, Some(f)) => load.probabilities(f, "fake")?,
                (None, None) => need(&a.probs, "--probs", metric).map(|_| Matrix::zeros(0, 0))?,
            };
            to_json(&gen_eval::inception_score(&p, a.splits)?)?
        }
        other => {
            return Err(GenError::config(
                "metric",
                other,
                "unknown metric",
                "use one of: fid, kid, mmd, prdc, energy, wasserstein, swd, c2st, authenticity, copying, is, fid-stats",
            ));
        }
    };
    if let Value::Object(map) = &mut out {
        map.insert("metric".into(), json!(metric));
        map.insert("features".into(), json!(a.features));
        if !load.scales.is_empty() {
            let scales: serde_json::Map<String, Value> = load
                .scales
                .iter()
                .map(|(k, s)| Ok((k.clone(), to_json(s)?)))
                .collect::<Result<_>>()?;
            map.insert("pixel_scale".into(), Value::Object(scales));
        }
    }
    Ok(out)
}
