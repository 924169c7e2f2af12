//! The cross-family table: for each family's reference model, the time of
//! one training step and the sampling throughput, on every CPU device
//! (ndarray, flex) and on wgpu where an adapter exists, measured by
//! criterion and written as one markdown table.
//!
//! ```text
//! cargo bench --profile dev --bench families              # reuses the dev build (recommended)
//! cargo bench                                             # bench profile: a separate optimised build
//! GENLAB_BENCH_BACKENDS=flex cargo bench --profile dev    # only some devices (ndarray,flex,wgpu)
//! cargo bench --profile dev -- gpt                        # only benchmarks whose id contains "gpt"
//! ```
//!
//! The table goes to stdout and to `<target>/genlab-bench/families.md`
//! (docs/benchmarks.md explains the profiles and build times).
//!
//! The models are the reference configurations of the per-family examples
//! and of `benches/peers` (GMM with K = 8, MADE on 8×8 digits, nanoGPT's baby
//! char GPT, the MLP VAE 784-400-20, normflows' RealNVP, the MLP GAN, the
//! DDPM with T = 1,000); what one training step and one sampling call are
//! for each is in [`FAMILIES`], which the table prints as its legend.
//!
//! Each benchmark takes one untimed step or call first (optimiser state,
//! wgpu kernel compilation), then criterion's warm-up (0.5 s) and 10 timed
//! samples over about 2 s; the table reports the median time per
//! iteration of those 10 samples. Batches are built once, outside the
//! timed code. The per-crate benches go deeper into single families
//! (`cargo bench -p gen-ar --profile dev --bench gpt`: KV cache against
//! none; `gen-gan`'s `gan_step`: every GAN loss and DCGAN; `gen-flow`'s
//! `flow_step`: NSF and MAF; `gen-vae`'s `vae_step`: VQ-VAE), and
//! `benches/peers/run.sh` sets genlab's training steps beside PyTorch's.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use gen_ar::binary::{Made, MadeConfig};
use gen_ar::sequence::{CharGpt, GptConfig, TokenWindows, encode};
use gen_classical::{Gmm, GmmConfig};
use gen_core::train::EpochBatcher;
use gen_core::{Backend, Learn, Rng, Sample, SampleOptions, StepContext, rng_from_seed};
use gen_data::{CharVocab, Split, Toy2d};
use gen_diffusion::{Ddpm, DdpmConfig, SamplerKind, SamplerOptions};
use gen_flow::{FlowBatch, FlowConfig, FlowModel};
use gen_gan::{Gan, GanConfig, GanLoss};
use gen_vae::{Vae, VaeConfig};

/// Timed samples per benchmark.
const SAMPLES: usize = 10;

/// (iterations, elapsed) of every call criterion made to one routine.
type Calls = Vec<(u64, Duration)>;

/// What one table row needs: the work per iteration and its unit.
#[derive(Clone)]
struct Unit {
    /// Rows (points, digits, windows, tokens) per iteration.
    count: u64,
    /// Their name, e.g. "points".
    name: &'static str,
}

/// The measurements of the whole run, keyed by (family, task, device).
#[derive(Default)]
struct Store {
    calls: BTreeMap<(usize, &'static str, String), (Unit, Calls)>,
}

/// Runs one benchmark `group/device` on `work`, recording criterion's calls
/// for the table (criterion's last `SAMPLES` calls are its timed samples).
#[allow(clippy::too_many_arguments)]
fn bench(
    c: &mut Criterion,
    store: &Rc<RefCell<Store>>,
    family: usize,
    task: &'static str,
    device: &str,
    unit: Unit,
    mut work: impl FnMut(),
) {
    let group_name = format!("{}_{task}", FAMILIES[family].0);
    let mut group = c.benchmark_group(&group_name);
    group
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(unit.count));
    // One untimed call: optimiser state, caches, wgpu kernels.
    work();
    let key = (family, task, device.to_string());
    store
        .borrow_mut()
        .calls
        .insert(key.clone(), (unit, Vec::new()));
    group.bench_function(device, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                work();
            }
            let elapsed = start.elapsed();
            if let Some((_, calls)) = store.borrow_mut().calls.get_mut(&key) {
                calls.push((iters, elapsed));
            }
            elapsed
        })
    });
    group.finish();
}

/// Family names (criterion group prefixes), what the table calls them, and
/// what one training step and one sampling call are (the table's legend).
const FAMILIES: [(&str, &str, &str); 7] = [
    (
        "gmm",
        "classical: GMM",
        "K = 8 on eight-gaussians, host f64; step: one EM iteration on 10,000 points; call: 10,000 points",
    ),
    (
        "made",
        "autoregressive: MADE",
        "64-256-64, 8 orderings, binarized 8×8 digits; step: Adam, batch 100; call: 100 digits",
    ),
    (
        "gpt",
        "autoregressive: char GPT",
        "nanoGPT's baby (4 layers, 4 heads, width 128, block 64); step: AdamW on 12 windows of 64 tokens; \
         call: 8 sequences of 64 tokens through the KV cache",
    ),
    (
        "vae",
        "VAE",
        "MLP 784-400-20, Bernoulli, binarized MNIST; step: Adam, batch 100; call: 1,000 digits",
    ),
    (
        "realnvp",
        "flow: RealNVP",
        "normflows' 8 affine couplings, MLP 64-64; step: Adam, batch 512; call: 10,000 points",
    ),
    (
        "gan",
        "GAN",
        "MLP 128-128 players, non-saturating; step: one D and one G Adam step, batch 256; call: 10,000 points",
    ),
    (
        "ddpm",
        "diffusion: DDPM",
        "MLP 3×128, T = 1,000; step: Adam + EMA, batch 256; call: 1,000 points by DDIM in 50 steps",
    ),
];

/// A learning step on `model` with a fixed batch, as a closure for `bench`.
fn stepper<'a, M: Learn>(model: &'a mut M, batch: &'a M::Batch, lr: f64) -> impl FnMut() + 'a {
    let mut rng = rng_from_seed(1);
    let mut step = 0u64;
    move || {
        let mut ctx = StepContext {
            step,
            lr,
            rng: &mut rng,
        };
        step += 1;
        black_box(
            model
                .learn_step(black_box(batch), &mut ctx)
                .expect("training step"),
        );
    }
}

/// `n` samples from `model` with a fresh RNG per call, as a closure.
fn sampler<M: Sample>(model: &M, n: usize) -> impl FnMut() + '_ {
    let mut rng: Rng = rng_from_seed(2);
    move || {
        black_box(
            model
                .sample(n, &SampleOptions::default(), &mut rng)
                .expect("sampling"),
        );
    }
}

fn unit(count: u64, name: &'static str) -> Unit {
    Unit { count, name }
}

/// The devices to measure: GENLAB_BENCH_BACKENDS (comma separated) or all
/// three; a backend that cannot start (wgpu without an adapter) is skipped
/// with a note.
fn devices() -> Vec<(Backend, gen_core::burn::tensor::Device)> {
    let wanted: Vec<Backend> = match std::env::var("GENLAB_BENCH_BACKENDS") {
        Ok(v) if !v.trim().is_empty() => v
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .expect("GENLAB_BENCH_BACKENDS: ndarray, flex or wgpu")
            })
            .collect(),
        _ => vec![Backend::Ndarray, Backend::Flex, Backend::Wgpu],
    };
    wanted
        .into_iter()
        .filter_map(|b| match b.device() {
            Ok(d) => Some((b, d)),
            Err(e) => {
                println!("{b}: skipped ({e})");
                None
            }
        })
        .collect()
}

fn families(c: &mut Criterion, store: &Rc<RefCell<Store>>) {
    let toy = Toy2d::EightGaussians;
    let points = toy.sample(10_000, 1);

    // Classical: host code, one row.
    let mut gmm = Gmm::init(&points, GmmConfig::default(), &mut rng_from_seed(0)).expect("gmm");
    for _ in 0..20 {
        gmm.em_step(&points).expect("EM");
    }
    bench(c, store, 0, "train", "host", unit(10_000, "points"), {
        let mut g = gmm.clone();
        move || {
            black_box(g.em_step(black_box(&points)).expect("EM"));
        }
    });
    bench(
        c,
        store,
        0,
        "sample",
        "host",
        unit(10_000, "points"),
        sampler(&gmm, 10_000),
    );

    // Shared batches, built once.
    let digits = gen_data::digits8x8(Split::Train).expect("digits");
    let made_batch = digits
        .select(
            &EpochBatcher::new(digits.len(), 100, 0)
                .expect("batcher")
                .indices(0),
        )
        .and_then(|d| d.binarized(&mut rng_from_seed(1)))
        .expect("100 binarized digits");
    let mnist = gen_data::mnist5k(Split::Train).expect("MNIST-5k");
    let vae_batch = mnist
        .select(&(0..100).collect::<Vec<_>>())
        .and_then(|d| d.binarized(&mut rng_from_seed(1)))
        .expect("100 binarized digits");
    let train_text = gen_data::shakespeare(Split::Train).expect("Shakespeare");
    let test_text = gen_data::shakespeare(Split::Test).expect("Shakespeare");
    let vocab = CharVocab::from_chars(train_text.chars().chain(test_text.chars()).chain(['\n']));
    let ids = encode(&vocab, &train_text).expect("tokens");
    let gpt_config = GptConfig::baby_shakespeare(vocab.len());
    let windows = TokenWindows::random(&ids, 12, gpt_config.block, &mut rng_from_seed(0))
        .expect("12 windows");
    let newline = encode(&vocab, "\n").expect("newline token");
    let flow_batch = FlowBatch::from(toy.sample(512, 0));
    let batch_256 = toy.sample(256, 0);
    let ddim = SamplerOptions {
        steps: Some(50),
        ..SamplerOptions::of(SamplerKind::Ddim)
    };

    for (backend, device) in devices() {
        let dev = backend.name();

        let mut made = Made::new(MadeConfig::new(64, vec![256], 8), &device, 0).expect("MADE");
        bench(
            c,
            store,
            1,
            "train",
            dev,
            unit(100, "digits"),
            stepper(&mut made, &made_batch, 1e-3),
        );
        bench(
            c,
            store,
            1,
            "sample",
            dev,
            unit(100, "digits"),
            sampler(&made, 100),
        );

        let mut gpt = CharGpt::new(gpt_config.clone(), &device, 0).expect("GPT");
        bench(
            c,
            store,
            2,
            "train",
            dev,
            unit(12 * 64, "tokens"),
            stepper(&mut gpt, &windows, 1e-3),
        );
        let mut rng = rng_from_seed(2);
        bench(c, store, 2, "sample", dev, unit(8 * 64, "tokens"), || {
            black_box(
                gpt.sample_after(&newline, 8, 64, 1.0, &mut rng)
                    .expect("GPT sampling"),
            );
        });

        let mut vae = Vae::new(VaeConfig::mlp_bernoulli(784, 20), &device, 0).expect("VAE");
        bench(
            c,
            store,
            3,
            "train",
            dev,
            unit(100, "digits"),
            stepper(&mut vae, &vae_batch, 1e-3),
        );
        bench(
            c,
            store,
            3,
            "sample",
            dev,
            unit(1_000, "digits"),
            sampler(&vae, 1_000),
        );

        let mut flow = FlowModel::new(FlowConfig::normflows_realnvp(), &device).expect("RealNVP");
        bench(
            c,
            store,
            4,
            "train",
            dev,
            unit(512, "points"),
            stepper(&mut flow, &flow_batch, 1e-3),
        );
        bench(
            c,
            store,
            4,
            "sample",
            dev,
            unit(10_000, "points"),
            sampler(&flow, 10_000),
        );

        let mut gan =
            Gan::new(GanConfig::with_loss(GanLoss::NonSaturating), &device, 0).expect("GAN");
        bench(
            c,
            store,
            5,
            "train",
            dev,
            unit(256, "points"),
            stepper(&mut gan, &batch_256, 1e-3),
        );
        bench(
            c,
            store,
            5,
            "sample",
            dev,
            unit(10_000, "points"),
            sampler(&gan, 10_000),
        );

        let mut ddpm = Ddpm::new(DdpmConfig::default(), &device, 0).expect("DDPM");
        bench(
            c,
            store,
            6,
            "train",
            dev,
            unit(256, "points"),
            stepper(&mut ddpm, &batch_256, 1e-3),
        );
        let mut rng = rng_from_seed(2);
        bench(c, store, 6, "sample", dev, unit(1_000, "points"), || {
            black_box(
                ddpm.sample_with(1_000, &ddim, &mut rng)
                    .expect("DDIM sampling"),
            );
        });
    }
}

/// Median seconds per iteration over the last `SAMPLES` calls (criterion's
/// timed samples), or None when criterion did not measure (`--test`,
/// `--list`, a filter that skipped the benchmark).
fn median_secs(calls: &Calls) -> Option<f64> {
    if calls.len() < SAMPLES {
        return None;
    }
    let mut per_iter: Vec<f64> = calls[calls.len() - SAMPLES..]
        .iter()
        .map(|(n, d)| d.as_secs_f64() / *n as f64)
        .collect();
    per_iter.sort_by(f64::total_cmp);
    Some(0.5 * (per_iter[SAMPLES / 2 - 1] + per_iter[SAMPLES / 2]))
}

/// The markdown table of everything measured (None if nothing was).
fn table(store: &Store) -> Option<String> {
    let mut rows = BTreeMap::<(usize, String), [Option<(f64, Unit)>; 2]>::new();
    for ((family, task, device), (unit, calls)) in &store.calls {
        if let Some(s) = median_secs(calls) {
            let slot = usize::from(*task == "sample");
            rows.entry((*family, device.clone())).or_default()[slot] = Some((s, unit.clone()));
        }
    }
    if rows.is_empty() {
        return None;
    }
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let threads = std::thread::available_parallelism().map_or(0, |n| n.get());
    let profile = if cfg!(debug_assertions) {
        "dev profile (dependencies at opt-level 3, genlab at 1)"
    } else {
        "bench profile (release settings)"
    };
    let mut out = format!(
        "{cpu}, {threads} hardware threads; {profile}; median of {SAMPLES} criterion samples\n\n\
         | family | device | training step (ms) | training throughput (/s) | sampling call (ms) | sampling throughput (/s) |\n\
         |---|---|---:|---:|---:|---:|\n"
    );
    let cell = |m: &Option<(f64, Unit)>| match m {
        Some((s, u)) => (
            format!("{:.2}", 1e3 * s),
            format!("{} {}", thousands(u.count as f64 / s), u.name),
        ),
        None => ("–".into(), "–".into()),
    };
    for ((family, device), [train, sample]) in &rows {
        let (t_ms, t_rate) = cell(train);
        let (s_ms, s_rate) = cell(sample);
        out.push_str(&format!(
            "| {} | {device} | {t_ms} | {t_rate} | {s_ms} | {s_rate} |\n",
            FAMILIES[*family].1
        ));
    }
    out.push('\n');
    for (family, name, what) in FAMILIES {
        if rows.keys().any(|(f, _)| FAMILIES[*f].0 == family) {
            out.push_str(&format!("- {name}: {what}.\n"));
        }
    }
    Some(out)
}

/// `x` rounded, with thousands separated by commas.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let store = Rc::new(RefCell::new(Store::default()));
    families(&mut c, &store);
    c.final_summary();
    match table(&store.borrow()) {
        Some(t) => {
            let dir = genlab_examples::target_dir().join("genlab-bench");
            let path = dir.join("families.md");
            match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &t)) {
                Ok(()) => println!("\n{t}\nwritten to {}", path.display()),
                Err(e) => println!("\n{t}\n(could not write {}: {e})", path.display()),
            }
        }
        None => println!("no timed samples (test, list or filtered run): no table written"),
    }
}
