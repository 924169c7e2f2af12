//! Chunked, resumable draws for `genlab samplers --chunk C [--shard i/k]`.
//!
//! A sampler's row of n samples is drawn as ⌈n / C⌉ chunks of C samples
//! (the last one shorter). Chunk j is drawn from its own seed,
//! SplitMix64(seed, j), so it is the same draw whichever process draws it,
//! in whatever order, and every sampler of the grid starts chunk j from the
//! same x_T. Each finished chunk is written atomically under
//! `OUT/chunks/<row>/` (the samples as f64 `.npy`, then a `.json` with the
//! seconds it took; `--chunk-dir` puts them elsewhere, e.g. to score one
//! set of chunks into several tables), so a killed call loses at most the chunk it was
//! drawing, and a rerun with the same arguments draws only what is missing.
//! `--shard i/k` draws the chunks j with j mod k = i and scores nothing: k
//! processes (one per core, or several sessions) share a grid, and a last
//! call without `--shard` finds every chunk on disk and scores the rows.
//!
//! A row's folder is named by its sampler and a hash of what the draw
//! depends on (the run's latest checkpoint, the sampler and its options,
//! the guidance weight, the seed, C and `--backend`), written beside the chunks as
//! `row.json`; retraining a run in place gives its rows new folders.

use std::path::{Path, PathBuf};
use std::time::Instant;

use gen_core::{GenError, Matrix, Result};
use serde_json::{Value, json};

/// `--chunk` and `--shard` of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunking {
    /// Samples per chunk.
    pub size: usize,
    /// `(i, k)`: this process draws the chunks j with j mod k = i.
    pub shard: Option<(usize, usize)>,
}

impl Chunking {
    /// Checks `--chunk C` and `--shard i/k`; `None` when neither is given.
    pub fn of(chunk: Option<usize>, shard: Option<&str>) -> Result<Option<Self>> {
        let shard = shard.map(parse_shard).transpose()?;
        match (chunk, shard) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(GenError::config(
                "--shard",
                shard_text(shard),
                "a shard is a share of a row's chunks, so it needs --chunk",
                "add --chunk 100 (the same in every process of the grid and in the final call)",
            )),
            (Some(0), _) => Err(GenError::config(
                "--chunk",
                0,
                "a chunk holds at least one sample",
                "use --chunk 100 (or any size up to --n)",
            )),
            (Some(size), shard) => Ok(Some(Self { size, shard })),
        }
    }

    /// Refuses a chunk size that would split a class-conditional run's
    /// classes-in-turn unevenly (chunk j must start at class 0).
    pub fn check_classes(&self, classes: Option<usize>) -> Result<()> {
        match classes {
            Some(k) if !self.size.is_multiple_of(k) => Err(GenError::config(
                "--chunk",
                self.size,
                format!(
                    "a class-conditional run samples its {k} classes in turn, and every chunk must start at class 0"
                ),
                format!("use a multiple of {k}, e.g. --chunk {}", k * 10),
            )),
            _ => Ok(()),
        }
    }

    /// Sizes of the chunks of n samples.
    pub fn sizes(&self, n: usize) -> Vec<usize> {
        (0..n.div_ceil(self.size))
            .map(|j| self.size.min(n - j * self.size))
            .collect()
    }

    /// Whether this process draws chunk j.
    pub fn mine(&self, j: usize) -> bool {
        self.shard.is_none_or(|(i, k)| j % k == i)
    }
}

fn shard_text(shard: Option<(usize, usize)>) -> String {
    shard.map_or_else(String::new, |(i, k)| format!("{i}/{k}"))
}

fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let bad = |why: &str| {
        GenError::config(
            "--shard",
            s,
            why.to_string(),
            "write i/k with 0 ≤ i < k, e.g. --shard 0/2 in one process and --shard 1/2 in another",
        )
    };
    let (i, k) = s.split_once('/').ok_or_else(|| bad("expected i/k"))?;
    let i: usize = i.trim().parse().map_err(|_| bad("i is not a number"))?;
    let k: usize = k.trim().parse().map_err(|_| bad("k is not a number"))?;
    if k == 0 || i >= k {
        return Err(bad("i must be below k"));
    }
    Ok((i, k))
}

/// The seed of chunk j: SplitMix64's finaliser of the call's seed mixed
/// with j, so chunks are independent streams and chunk j is the same draw
/// in every process.
pub fn chunk_seed(seed: u64, j: usize) -> u64 {
    let mut z = seed ^ (j as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// CPU seconds this process has used (all its threads, user and system),
/// from `/proc/self/stat` in Linux's USER_HZ = 100 ticks; `None` elsewhere.
/// Unlike wall time it does not grow while other jobs share the cores (or
/// the process is stopped), so a chunk's CPU time is its cost on a CPU
/// backend whatever else ran.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at "state".
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// FNV-1a, 64 bits: a stable name for a row's folder (Rust's own hasher
/// may change between releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The chunks of one row on disk.
pub struct RowCache {
    dir: PathBuf,
}

/// Wall and CPU seconds of one chunk's draw.
struct Times {
    wall: f64,
    cpu: Option<f64>,
}

/// What a row's chunks hold after a call.
pub struct RowDraw {
    /// All n samples, when every chunk is on disk.
    pub samples: Option<Matrix>,
    /// Seconds spent drawing the chunks on disk (by whichever process).
    pub seconds: f64,
    /// CPU seconds of the same, when every chunk recorded it.
    pub cpu_seconds: Option<f64>,
    /// Chunks on disk, and in all.
    pub done: usize,
    pub total: usize,
    /// Chunks this call drew.
    pub drawn: usize,
}

impl RowCache {
    /// The folder of the row `key` (a JSON object of what the draw depends
    /// on) under `chunks`, with `row.json` written on first use.
    pub fn new(chunks: &Path, name: &str, key: &Value) -> Result<Self> {
        let slug: String = name
            .replace('η', "eta")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .split('-')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let text = key.to_string();
        let dir = chunks.join(format!("{slug}-{:016x}", fnv1a(text.as_bytes())));
        let manifest = dir.join("row.json");
        if !manifest.exists() {
            gen_core::checkpoint::write_json_atomic(&manifest, key)?;
        }
        Ok(Self { dir })
    }

    fn paths(&self, j: usize, rows: usize) -> (PathBuf, PathBuf) {
        let stem = format!("chunk-{j:05}-{rows}");
        (
            self.dir.join(format!("{stem}.npy")),
            self.dir.join(format!("{stem}.json")),
        )
    }

    /// A finished chunk: its samples and seconds (the `.json` is written
    /// after the `.npy`, so its presence marks the chunk done).
    fn load(&self, j: usize, rows: usize) -> Result<Option<(Matrix, Times)>> {
        let (npy, meta) = self.paths(j, rows);
        if !meta.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&meta).map_err(|e| GenError::io(&meta, e))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| GenError::Other(format!("{}: {e}", meta.display())))?;
        let m = gen_data::io::npy::read_npy(&npy)?.to_matrix()?;
        if m.rows() != rows {
            return Err(GenError::input(
                format!("chunk {}", npy.display()),
                format!("holds {} samples where {rows} are expected", m.rows()),
                "delete it (and its .json) to draw it again",
            ));
        }
        Ok(Some((
            m,
            Times {
                wall: v["seconds"].as_f64().unwrap_or(0.0),
                cpu: v["cpu_seconds"].as_f64(),
            },
        )))
    }

    /// Draws the chunks of `n` samples that are missing and this process's
    /// (`draw(rows, seed)` draws one), keeping each on disk, and returns
    /// the row when all are there.
    pub fn draw(
        &self,
        chunking: &Chunking,
        n: usize,
        seed: u64,
        label: &str,
        mut draw: impl FnMut(usize, u64) -> Result<Matrix>,
    ) -> Result<RowDraw> {
        let sizes = chunking.sizes(n);
        let total = sizes.len();
        let mut parts: Vec<Option<Matrix>> = Vec::with_capacity(total);
        let (mut seconds, mut done, mut drawn) = (0.0, 0, 0);
        // None once a chunk lacks it (drawn where /proc is not).
        let mut cpu_seconds = Some(0.0);
        for (j, &rows) in sizes.iter().enumerate() {
            let part = match self.load(j, rows)? {
                Some(found) => Some(found),
                None if chunking.mine(j) => {
                    let start = Instant::now();
                    let cpu0 = process_cpu_seconds();
                    let m = draw(rows, chunk_seed(seed, j))?;
                    let secs = start.elapsed().as_secs_f64();
                    let cpu = process_cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
                    let (npy, meta) = self.paths(j, rows);
                    gen_core::checkpoint::write_atomic(
                        &npy,
                        &gen_data::io::npy::to_npy_bytes_f64(&m),
                    )?;
                    gen_core::checkpoint::write_json_atomic(
                        &meta,
                        &json!({"seconds": secs, "cpu_seconds": cpu, "rows": rows,
                            "seed": chunk_seed(seed, j)}),
                    )?;
                    drawn += 1;
                    eprintln!(
                        "  {label}: chunk {}/{total} ({rows} samples) in {secs:.1} s",
                        j + 1
                    );
                    Some((m, Times { wall: secs, cpu }))
                }
                None => None,
            };
            if let Some((m, t)) = part {
                seconds += t.wall;
                cpu_seconds = cpu_seconds.zip(t.cpu).map(|(a, b)| a + b);
                done += 1;
                parts.push(Some(m));
            } else {
                parts.push(None);
            }
        }
        let samples = match done == total {
            true => {
                let parts: Vec<Matrix> = parts.into_iter().flatten().collect();
                let cols = parts.first().map_or(0, Matrix::cols);
                let data: Vec<f64> = parts.into_iter().flat_map(Matrix::into_vec).collect();
                Some(Matrix::new(n, cols, data)?)
            }
            false => None,
        };
        Ok(RowDraw {
            samples,
            seconds,
            cpu_seconds,
            done,
            total,
            drawn,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_n_and_shards_partition_them() {
        let c = Chunking::of(Some(30), None).unwrap().unwrap();
        assert_eq!(c.sizes(100), [30, 30, 30, 10]);
        assert_eq!(c.sizes(60), [30, 30]);
        let shards: Vec<Chunking> = (0..3)
            .map(|i| {
                Chunking::of(Some(30), Some(&format!("{i}/3")))
                    .unwrap()
                    .unwrap()
            })
            .collect();
        for j in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.mine(j)).count(), 1);
        }
    }

    #[test]
    fn cpu_seconds_grow_with_work() {
        let Some(a) = process_cpu_seconds() else {
            return; // not Linux
        };
        let mut x = 0u64;
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < 0.3 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let b = process_cpu_seconds().unwrap();
        assert!(b - a >= 0.1, "{a} → {b}");
    }

    #[test]
    fn chunk_seeds_differ_between_chunks_and_seeds() {
        let mut seen = std::collections::HashSet::new();
        for seed in 0..20 {
            for j in 0..50 {
                assert!(seen.insert(chunk_seed(seed, j)));
            }
        }
    }

    #[test]
    fn bad_chunking_is_refused_with_the_fix() {
        let e = Chunking::of(None, Some("0/2")).unwrap_err().to_string();
        assert!(e.contains("--chunk"), "{e}");
        let e = Chunking::of(Some(0), None).unwrap_err().to_string();
        assert!(e.contains("at least one"), "{e}");
        for s in ["2/2", "1", "a/2", "0/0"] {
            let e = Chunking::of(Some(10), Some(s)).unwrap_err().to_string();
            assert!(e.contains("i/k"), "{s}: {e}");
        }
        let c = Chunking::of(Some(25), None).unwrap().unwrap();
        let e = c.check_classes(Some(10)).unwrap_err().to_string();
        assert!(e.contains("multiple of 10"), "{e}");
        assert!(c.check_classes(None).is_ok());
    }

    #[test]
    fn a_row_resumes_from_its_chunks_and_shards_fill_it() {
        let out = std::env::temp_dir().join(format!("genlab-chunks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let key = json!({"sampler": "test", "seed": 3});
        let cache = RowCache::new(&out.join("chunks"), "DDIM-5 η=0", &key).unwrap();
        // A draw whose rows name their chunk's seed and place.
        let draw = |rows: usize, seed: u64| {
            Matrix::new(
                rows,
                2,
                (0..rows)
                    .flat_map(|r| [(seed % 1000) as f64, r as f64])
                    .collect(),
            )
        };
        let all = Chunking::of(Some(4), None).unwrap().unwrap();
        let half = Chunking::of(Some(4), Some("1/2")).unwrap().unwrap();
        let r = cache.draw(&half, 10, 3, "t", draw).unwrap();
        assert_eq!((r.done, r.total, r.drawn), (1, 3, 1));
        assert!(r.samples.is_none());
        let r = cache.draw(&all, 10, 3, "t", draw).unwrap();
        assert_eq!((r.done, r.drawn), (3, 2));
        let full = r.samples.unwrap();
        // Rerun: nothing drawn, the same samples.
        let mut calls = 0;
        let r = cache
            .draw(&all, 10, 3, "t", |rows, seed| {
                calls += 1;
                draw(rows, seed)
            })
            .unwrap();
        assert_eq!((calls, r.drawn), (0, 0));
        assert_eq!(r.samples.unwrap(), full);
        // The same as drawing every chunk in one pass.
        let fresh =
            RowCache::new(&out.join("chunks"), "other", &json!({"sampler": "other"})).unwrap();
        let one = fresh.draw(&all, 10, 3, "t", draw).unwrap();
        assert_eq!(one.samples.unwrap(), full);
        assert_eq!(full.get(8, 0), (chunk_seed(3, 2) % 1000) as f64);
        let _ = std::fs::remove_dir_all(&out);
    }
}
