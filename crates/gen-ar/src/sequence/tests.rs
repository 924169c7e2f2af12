//! The character GPT against the mathematics: normalisation over every
//! sequence, causality, KV-cache decoding equal to recomputation, sampling
//! against the model's probabilities, backend parity, learning Shakespeare,
//! checkpoints and errors.

use super::gpt::capabilities;
use super::*;
use crate::decoding::{DecodeOptions, NextToken, generate};
use gen_core::burn::tensor::{Device, Int, Tensor, TensorData};
use gen_core::parity::check_parity;
use gen_core::tensor::to_vec;
use gen_core::{
    Backend, Checkpoint, Learn, Model, Sample, SampleOptions, Score, ScoreOptions, StepContext,
    rng_from_seed,
};

fn dev() -> Device {
    Backend::Flex.device().unwrap()
}

fn small(vocab: usize, block: usize) -> GptConfig {
    GptConfig::new(vocab, block, 2, 2, 16)
}

fn random_tokens(n: usize, vocab: usize, seed: u64) -> Vec<u32> {
    let mut rng = rng_from_seed(seed);
    (0..n)
        .map(|_| rand::Rng::random_range(&mut rng, 0..vocab as u32))
        .collect()
}

fn step(model: &mut CharGpt, batch: &TokenWindows, t: u64, lr: f64) -> f64 {
    let mut rng = rng_from_seed(t);
    let mut ctx = StepContext {
        step: t,
        lr,
        rng: &mut rng,
    };
    model.learn_step(batch, &mut ctx).unwrap().loss
}

/// A few steps on random windows of a skewed stream, so the conditionals
/// are far from uniform.
fn trained(config: GptConfig, seed: u64, steps: u64) -> CharGpt {
    let v = config.vocab as u32;
    let block = config.block;
    let stream: Vec<u32> = (0..400u32).map(|i| (i * i / 7 + i / 3) % v).collect();
    let mut model = CharGpt::new(config, &dev(), seed).unwrap();
    let mut rng = rng_from_seed(seed + 1);
    for t in 0..steps {
        let b = TokenWindows::random(&stream, 8, block, &mut rng).unwrap();
        step(&mut model, &b, t, 1e-2);
    }
    model
}

fn log_softmax_f64(row: &[f32]) -> Vec<f64> {
    let row: Vec<f64> = row.iter().map(|&l| f64::from(l)).collect();
    let lse = gen_core::numerics::log_sum_exp(&row);
    row.iter().map(|l| l - lse).collect()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Every sequence over {start 0, a 1, b 2} of length ≤ L after the start
/// token, ended by END (3) or cut at length L (END forced there): the
/// probabilities Π p(x_t | x_<t) · p(END | x) sum to 1.
#[test]
fn probabilities_of_all_sequences_up_to_length_l_sum_to_one() {
    sequences_sum_to_one(small(4, 5));
}

/// The same for makemore's flavour: untied head, PyTorch initialisation,
/// tanh GELU.
#[test]
fn makemore_flavour_sums_to_one_too() {
    sequences_sum_to_one(GptConfig::makemore(4, 5, 2, 2, 16));
}

fn sequences_sum_to_one(config: GptConfig) {
    const END: u32 = 3;
    const L: usize = 4;
    assert_eq!(config.block, L + 1);
    let model = trained(config, 3, 20);
    let mut seqs: Vec<Vec<u32>> = vec![vec![0]];
    let mut all = Vec::new();
    for len in 0..=L {
        let mut longer = Vec::new();
        for s in &seqs {
            if len < L {
                let mut ended = s.clone();
                ended.push(END);
                all.push(ended);
                for t in 0..END {
                    let mut next = s.clone();
                    next.push(t);
                    longer.push(next);
                }
            } else {
                all.push(s.clone());
            }
        }
        if len < L {
            seqs = longer;
        }
    }
    // 1 + 3 + 9 + 27 ended early, 81 cut at L.
    assert_eq!(all.len(), 40 + 81);
    let scores = model.score(&all, &ScoreOptions::default()).unwrap();
    assert!(scores.kind.is_exact());
    let total: f64 = scores.values.iter().map(|v| v.exp()).sum();
    assert!((total - 1.0).abs() < 1e-6, "Σ p = {total}");
    // The conditionals are far from uniform (else the check is weak).
    let spread = scores.values[..40]
        .iter()
        .zip(&all[..40])
        .map(|(s, x)| s + (x.len() - 1) as f64 * 4f64.ln())
        .fold(0.0f64, |a, b| a.max(b.abs()));
    assert!(spread > 0.3, "conditionals nearly uniform: {spread}");
    // Every next-token distribution of the decoder sums to 1, and the chain
    // rule over the decoder's conditionals gives the score.
    let decoder = model.decoder();
    for (x, s) in all.iter().zip(&scores.values).step_by(7) {
        let mut chain = 0.0;
        for t in 1..x.len() {
            let lp = decoder.next_log_probs(&x[..t]).unwrap();
            let mass: f64 = lp.iter().map(|l| l.exp()).sum();
            assert!((mass - 1.0).abs() < 1e-9, "{mass}");
            chain += lp[x[t] as usize];
        }
        assert!((chain - s).abs() < 1e-4, "{x:?}: {chain} vs {s}");
    }
}

/// Changing token j leaves the logits at positions < j unchanged and
/// changes those at j and after.
#[test]
fn logits_before_a_changed_token_do_not_move() {
    let (v, t) = (7, 9);
    let model = trained(small(v, t), 4, 5);
    let x = random_tokens(t, v, 5);
    let base = model.logits(&x).unwrap();
    for j in 0..t {
        let mut y = x.clone();
        y[j] = (y[j] + 1) % v as u32;
        let moved = model.logits(&y).unwrap();
        for p in 0..t {
            let row = p * v..(p + 1) * v;
            let d = base[row.clone()]
                .iter()
                .zip(&moved[row])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            if p < j {
                assert!(d < 1e-6, "token {j} moved position {p} by {d}");
            } else {
                assert!(d > 1e-5, "token {j} did not reach position {p} ({d})");
            }
        }
    }
}

fn int2(v: &[u32], rows: usize, cols: usize, device: &Device) -> Tensor<2, Int> {
    let data: Vec<i64> = v.iter().map(|&t| t as i64).collect();
    Tensor::from_data(TensorData::new(data, [rows, cols]), device)
}

/// Fed token by token or in uneven chunks, the cached network gives the
/// full pass's logits at every position, for a batch of two sequences.
#[test]
fn kv_cache_logits_equal_the_full_recomputation() {
    let (v, t, b) = (11, 10, 2);
    let model = trained(small(v, t), 6, 5);
    let net = gen_core::burn::module::Module::valid(model.net());
    let d = dev();
    let x = random_tokens(b * t, v, 7);
    let full = to_vec(net.forward(int2(&x, b, t, &d)).unwrap()).unwrap();
    for chunks in [vec![1; t], vec![3, 1, 4, 2]] {
        let mut caches = net.new_caches();
        let mut start = 0;
        for len in chunks {
            let piece: Vec<u32> = (0..b)
                .flat_map(|r| x[r * t + start..r * t + start + len].to_vec())
                .collect();
            let y = to_vec(
                net.forward_cached(int2(&piece, b, len, &d), &mut caches)
                    .unwrap(),
            )
            .unwrap();
            for r in 0..b {
                for i in 0..len {
                    let got = &y[(r * len + i) * v..(r * len + i + 1) * v];
                    let want = &full[(r * t + start + i) * v..(r * t + start + i + 1) * v];
                    let diff = got
                        .iter()
                        .zip(want)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0f32, f32::max);
                    assert!(diff < 1e-4, "row {r} position {}: {diff}", start + i);
                }
            }
            start += len;
            assert!(caches.iter().all(|c| c.len() == start));
        }
        // The block is full: one more position is an error, not a panic.
        let e = net
            .forward_cached(int2(&[0, 0], b, 1, &d), &mut caches)
            .unwrap_err()
            .to_string();
        assert!(e.contains("block length 10"), "{e}");
    }
}

/// The decoder extends its cache along a growing context, recomputes a
/// context that does not extend the last one, and crops a context longer
/// than the block to its last `block` tokens; each time its
/// log-probabilities equal those of a full pass.
#[test]
fn decoder_cache_equals_recomputation_at_every_position_and_beyond_the_block() {
    let (v, block) = (9, 8);
    let model = trained(small(v, block), 8, 5);
    let decoder = model.decoder();
    let x = random_tokens(block + 6, v, 9);
    let full = model.logits(&x[..block]).unwrap();
    for k in 1..=block {
        let got = decoder.next_log_probs(&x[..k]).unwrap();
        let want = log_softmax_f64(&full[(k - 1) * v..k * v]);
        assert!(max_diff(&got, &want) < 1e-4, "position {k}");
    }
    let s = decoder.stats();
    assert_eq!(
        (s.recomputed, s.extended, s.positions),
        (1, block - 1, block)
    );
    // The same context again is answered from the last result.
    let again = decoder.next_log_probs(&x[..block]).unwrap();
    assert_eq!(decoder.stats().repeated, 1);
    assert!(max_diff(&again, &log_softmax_f64(&full[(block - 1) * v..])) < 1e-4);
    // Beyond the block: the last `block` tokens, recomputed.
    for k in block + 1..=x.len() {
        let got = decoder.next_log_probs(&x[..k]).unwrap();
        let cropped = model.logits(&x[k - block..k]).unwrap();
        let want = log_softmax_f64(&cropped[(block - 1) * v..]);
        assert!(max_diff(&got, &want) < 1e-4, "context {k}");
    }
    // A context that does not extend the last one starts over.
    let before = decoder.stats().recomputed;
    let other = random_tokens(3, v, 10);
    let got = decoder.next_log_probs(&other).unwrap();
    let want = log_softmax_f64(&model.logits(&other).unwrap()[2 * v..]);
    assert!(max_diff(&got, &want) < 1e-4);
    assert_eq!(decoder.stats().recomputed, before + 1);
    // Without the cache every call recomputes, with the same results.
    let plain = model.decoder().with_cache(false);
    for k in [1, 4, block, block + 3] {
        let a = plain.next_log_probs(&x[..k]).unwrap();
        let b = decoder.next_log_probs(&x[..k]).unwrap();
        assert!(max_diff(&a, &b) < 1e-4, "context {k}");
    }
    assert_eq!(plain.stats().recomputed, 4);
    let e = decoder.next_log_probs(&[]).unwrap_err().to_string();
    assert!(e.contains("empty context"), "{e}");
    let e = decoder.next_log_probs(&[0, 9]).unwrap_err().to_string();
    assert!(e.contains("outside the vocabulary of 9"), "{e}");
}

/// Top-k = 1 sampling is greedy decoding, with and without the cache and
/// past the block length.
#[test]
fn top_k_one_generates_the_greedy_sequence() {
    let model = trained(small(6, 8), 11, 20);
    let n = 30;
    let greedy = generate(&model.decoder(), &[0], &DecodeOptions::greedy(n), |_| {}).unwrap();
    let top1 = DecodeOptions {
        top_k: Some(1),
        ..DecodeOptions::sampling(n, 1.0, 5)
    };
    let sampled = generate(&model.decoder(), &[0], &top1, |_| {}).unwrap();
    assert_eq!(greedy.len(), n);
    assert_eq!(sampled, greedy);
    let plain = generate(
        &model.decoder().with_cache(false),
        &[0],
        &DecodeOptions::greedy(n),
        |_| {},
    )
    .unwrap();
    assert_eq!(plain, greedy);
    // An end token stops the decoder and is not part of the output.
    let end = greedy[3];
    let stopped = generate(
        &model.decoder().with_end_token(end),
        &[0],
        &DecodeOptions::greedy(n),
        |_| {},
    )
    .unwrap();
    let first = greedy.iter().position(|&t| t == end).unwrap();
    assert_eq!(stopped, greedy[..first]);
}

/// Batched cached sampling draws from the model's conditionals: the
/// frequencies of the first token after the start token, and of the second
/// after the most frequent first, match the probabilities within 4.5 σ.
#[test]
fn samples_follow_the_models_conditionals() {
    let v = 5;
    let model = trained(small(v, 6), 12, 20);
    let n = 4000;
    let draws = model
        .sample_after(&[0], n, 2, 1.0, &mut rng_from_seed(13))
        .unwrap();
    assert!(draws.iter().all(|d| d.len() == 2));
    let decoder = model.decoder();
    let check = |prefix: &[u32], outcomes: Vec<u32>| {
        let p: Vec<f64> = decoder
            .next_log_probs(prefix)
            .unwrap()
            .iter()
            .map(|l| l.exp())
            .collect();
        let m = outcomes.len() as f64;
        for (tok, &pt) in p.iter().enumerate() {
            let f = outcomes.iter().filter(|&&o| o as usize == tok).count() as f64 / m;
            let sd = (pt * (1.0 - pt) / m).sqrt();
            assert!(
                (f - pt).abs() < 4.5 * sd + 1e-9,
                "after {prefix:?}: token {tok} frequency {f} vs p {pt}"
            );
        }
    };
    check(&[0], draws.iter().map(|d| d[0]).collect());
    let mut counts = vec![0; v];
    draws.iter().for_each(|d| counts[d[0] as usize] += 1);
    let top = (0..v).max_by_key(|&t| counts[t]).unwrap() as u32;
    check(
        &[0, top],
        draws.iter().filter(|d| d[0] == top).map(|d| d[1]).collect(),
    );
    // The Sample task: n sequences of `block` tokens.
    let s = model
        .sample(3, &SampleOptions::default(), &mut rng_from_seed(1))
        .unwrap();
    assert_eq!(s.len(), 3);
    assert!(s.iter().all(|x| x.len() == 6 && x.iter().all(|&t| t < 5)));
    let e = model
        .sample_after(&[0], 1, 7, 1.0, &mut rng_from_seed(1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("block + 1 = 7"), "{e}");
}

/// Two AdamW steps and the scores after them agree on every enabled
/// backend (ndarray, flex, and wgpu where an adapter starts).
#[test]
fn one_training_step_gives_the_same_loss_on_every_backend() {
    let config = GptConfig::new(13, 8, 2, 2, 16);
    let stream = random_tokens(200, 13, 20);
    let w1 = TokenWindows::random(&stream, 4, 8, &mut rng_from_seed(21)).unwrap();
    let w2 = TokenWindows::random(&stream, 4, 8, &mut rng_from_seed(22)).unwrap();
    let seqs = vec![stream[..9].to_vec(), stream[50..55].to_vec()];
    let report = check_parity(super::gpt::NAME, false, 1e-4, 1e-4, |device| {
        let mut model = CharGpt::new(config.clone(), device, 23)?;
        let mut out = Vec::new();
        for (t, w) in [&w1, &w2].into_iter().enumerate() {
            let mut rng = rng_from_seed(24);
            let mut ctx = StepContext {
                step: t as u64,
                lr: 1e-2,
                rng: &mut rng,
            };
            out.push(model.learn_step(w, &mut ctx)?.loss as f32);
        }
        let s = model.score(&seqs, &ScoreOptions::default())?;
        out.extend(s.values.iter().map(|&v| v as f32));
        Ok(out)
    })
    .unwrap();
    assert!(report.backends.len() >= 2, "{:?}", report.backends);
    eprintln!(
        "char-gpt parity over {:?}: max |diff| {:e}",
        report.backends, report.max_abs_diff
    );
}

/// A few hundred AdamW steps on 200k characters of Shakespeare bring the
/// validation loss (held-out text) well below ln V and below the unigram
/// entropy of the text: the model uses its context.
#[test]
fn learns_shakespeare_well_below_the_uniform_and_unigram_losses() {
    let train: String = gen_data::shakespeare(gen_data::Split::Train)
        .unwrap()
        .chars()
        .take(200_000)
        .collect();
    let val: String = gen_data::shakespeare(gen_data::Split::Test)
        .unwrap()
        .chars()
        .take(50_000)
        .collect();
    let vocab = gen_data::CharVocab::from_text(&format!("{train}{val}"));
    let (tr, va) = (
        encode(&vocab, &train).unwrap(),
        encode(&vocab, &val).unwrap(),
    );
    let v = vocab.len();
    // Unigram entropy of the validation text under its own frequencies.
    let mut counts = vec![0usize; v];
    va.iter().for_each(|&t| counts[t as usize] += 1);
    let unigram: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / va.len() as f64;
            -p * p.ln()
        })
        .sum();
    let config = GptConfig::new(v, 32, 2, 4, 64);
    let mut model = CharGpt::new(config, &dev(), 0).unwrap();
    let before = model
        .estimate_loss(&va, 4, 32, &mut rng_from_seed(1))
        .unwrap();
    let mut rng = rng_from_seed(2);
    let steps = 300;
    let schedule = gen_core::train::LrSchedule::Cosine {
        warmup: 20,
        min_factor: 0.1,
    };
    let start = std::time::Instant::now();
    for t in 0..steps {
        let b = TokenWindows::random(&tr, 16, 32, &mut rng).unwrap();
        step(&mut model, &b, t, schedule.lr(3e-3, t, steps));
    }
    let after = model
        .estimate_loss(&va, 4, 32, &mut rng_from_seed(1))
        .unwrap();
    eprintln!(
        "shakespeare: V {v}, ln V {:.3}, unigram {unigram:.3}, val loss {before:.3} -> {after:.3} in {steps} steps ({:.1} ms/step)",
        (v as f64).ln(),
        start.elapsed().as_secs_f64() * 1e3 / steps as f64
    );
    assert!((before - (v as f64).ln()).abs() < 0.1, "init loss {before}");
    assert!(after < (v as f64).ln() - 1.5, "{after}");
    assert!(after < unigram - 0.3, "{after} vs unigram {unigram}");
}

/// A checkpoint restores scores exactly and the optimiser too: the next
/// step after loading gives the same loss; another architecture is refused.
#[test]
fn checkpoint_round_trip_gives_identical_scores_and_next_step() {
    let config = small(7, 8);
    let mut model = trained(config.clone(), 30, 3);
    let dir = std::env::temp_dir().join(format!("gen-ar-char-gpt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    model.save_checkpoint(&dir).unwrap();
    let mut back = CharGpt::load(&dir, &dev()).unwrap();
    assert_eq!(back.config(), model.config());
    let seqs = vec![random_tokens(9, 7, 31), random_tokens(4, 7, 32)];
    let o = ScoreOptions::default();
    assert_eq!(
        back.score(&seqs, &o).unwrap(),
        model.score(&seqs, &o).unwrap()
    );
    let w = TokenWindows::random(&random_tokens(100, 7, 33), 4, 8, &mut rng_from_seed(34)).unwrap();
    assert_eq!(step(&mut model, &w, 3, 1e-2), step(&mut back, &w, 3, 1e-2));
    let mut wrong = CharGpt::new(GptConfig::new(7, 8, 2, 2, 24), &dev(), 0).unwrap();
    let e = wrong.load_checkpoint(&dir).unwrap_err().to_string();
    assert!(e.contains("different") && e.contains("Fix"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Bad configurations, sequences, windows and estimators are refused with
/// messages that say what and how to fix; the capability row agrees with
/// what score returns; the parameter count follows the formula.
#[test]
fn errors_capabilities_and_parameter_count() {
    let ok = small(5, 4);
    ok.validate().unwrap();
    let bad = [
        (
            GptConfig {
                heads: 3,
                ..ok.clone()
            },
            "divide the width",
        ),
        (
            GptConfig {
                vocab: 0,
                ..ok.clone()
            },
            "vocab",
        ),
        (
            GptConfig {
                block: 0,
                ..ok.clone()
            },
            "block",
        ),
        (
            GptConfig {
                layers: 0,
                ..ok.clone()
            },
            "layers",
        ),
        (
            GptConfig {
                dropout: 1.0,
                ..ok.clone()
            },
            "dropout",
        ),
    ];
    for (c, word) in bad {
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains(word) && e.contains("Fix"), "{e}");
        assert!(CharGpt::new(c, &dev(), 0).is_err());
    }
    let mut o = ok.clone();
    o.optim.beta2 = 1.0;
    assert!(o.validate().unwrap_err().to_string().contains("beta2"));

    let mut model = CharGpt::new(ok.clone(), &dev(), 0).unwrap();
    assert_eq!(model.num_params(), ok.parameters());
    // makemore's flavour: an untied V × d head, embeddings N(0, 1) instead of
    // N(0, 0.02²).
    let mm = GptConfig::makemore(5, 4, 2, 2, 16);
    let untied = CharGpt::new(mm.clone(), &dev(), 0).unwrap();
    assert_eq!(untied.num_params(), mm.parameters());
    assert_eq!(mm.parameters(), ok.parameters() + 16 * 5);
    let sd = |m: &CharGpt| {
        let w = gen_core::tensor::to_vec(m.net().wpe.weight.val()).unwrap();
        (w.iter().map(|x| (x * x) as f64).sum::<f64>() / w.len() as f64).sqrt()
    };
    assert!((0.6..1.4).contains(&sd(&untied)), "{}", sd(&untied));
    assert!(sd(&model) < 0.04, "{}", sd(&model));
    let base = GptConfig::baby_shakespeare(65);
    assert_eq!(
        base.parameters(),
        65 * 128 + 64 * 128 + 4 * (12 * 128 * 128 + 13 * 128) + 256
    );
    let opts = ScoreOptions::default();
    let e = model.score(&[vec![0; 6]], &opts).unwrap_err().to_string();
    assert!(
        e.contains("block length is 4") && e.contains("at most block + 1 = 5"),
        "{e}"
    );
    let e = model.score(&[vec![0, 5]], &opts).unwrap_err().to_string();
    assert!(e.contains("outside the vocabulary of 5"), "{e}");
    assert!(model.score(&[], &opts).is_err());
    assert!(model.score(&[vec![]], &opts).is_err());
    let iwae = ScoreOptions::with(gen_core::ScoreEstimator::Iwae, 10);
    let e = model.score(&[vec![0, 1]], &iwae).unwrap_err().to_string();
    assert!(e.contains("one way to score"), "{e}");
    // A one-token sequence conditions on its start token only: log 1 = 0.
    let s = model.score(&[vec![2], vec![1, 2, 3]], &opts).unwrap();
    assert_eq!(s.values[0], 0.0);
    assert!(s.values[1] < 0.0);
    // Windows longer than block + 1 or with foreign tokens.
    let long = TokenWindows::new(vec![0; 6], 1, 6).unwrap();
    let mut rng = rng_from_seed(0);
    let mut ctx = StepContext {
        step: 0,
        lr: 1e-3,
        rng: &mut rng,
    };
    let e = model.learn_step(&long, &mut ctx).unwrap_err().to_string();
    assert!(e.contains("block length 4"), "{e}");
    assert!(TokenWindows::new(vec![0; 5], 2, 3).is_err());
    assert!(TokenWindows::new(vec![0; 2], 2, 1).is_err());
    assert!(TokenWindows::random(&[0, 1, 2], 2, 4, &mut rng).is_err());
    // The capability row.
    let caps = model.capabilities();
    assert_eq!((caps.model, caps.family), ("char-gpt", "autoregressive"));
    assert_eq!(caps, capabilities());
    caps.check_score(&model.score(&[vec![0, 1, 2]], &opts))
        .unwrap();
    assert_eq!(caps.infer.support, gen_core::Support::None);
}

#[test]
fn padded_batches_ignore_the_padding_and_average_over_real_targets() {
    let model = trained(small(5, 6), 3, 10);
    let seqs = vec![vec![0, 1, 2, 0], vec![0, 3, 0], vec![0, 4, 4, 1, 2, 0]];
    // Padded loss = Σ −log p / Σ predicted tokens, from the exact scores.
    let scores = model.score(&seqs, &ScoreOptions::default()).unwrap();
    let tokens: usize = seqs.iter().map(|s| s.len() - 1).sum();
    let expected = -scores.values.iter().sum::<f64>() / tokens as f64;
    let batch = TokenWindows::padded(&seqs, 7, 0).unwrap();
    assert_eq!(
        batch.target_mask().unwrap().iter().sum::<f32>(),
        tokens as f32
    );
    let loss = model.loss(&batch).unwrap();
    assert!((loss - expected).abs() < 1e-5, "{loss} vs {expected}");
    // Whatever the padding token, the loss is the same.
    let other = model
        .loss(&TokenWindows::padded(&seqs, 7, 3).unwrap())
        .unwrap();
    assert!((loss - other).abs() < 1e-5, "{loss} vs {other}");
    // An unpadded batch is the plain mean over every target.
    assert!(
        TokenWindows::new(vec![0; 6], 2, 3)
            .unwrap()
            .target_mask()
            .is_none()
    );
    // Sequences too short or too long for the window.
    assert!(TokenWindows::padded(&[vec![0]], 4, 0).is_err());
    assert!(TokenWindows::padded(&[vec![0; 5]], 4, 0).is_err());
}
