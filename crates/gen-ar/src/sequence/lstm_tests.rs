//! The character LSTM against the mathematics: normalisation over every
//! sequence, causality, the stepwise forward and the decoder's state cache
//! equal to recomputation, sampling against the model's probabilities (χ²),
//! backend parity, learning a stream that needs memory, padded windows,
//! checkpoints and errors.

use super::lstm::capabilities;
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

fn small(vocab: usize, block: usize) -> LstmConfig {
    LstmConfig::new(vocab, block, 8, 16, 2)
}

fn random_tokens(n: usize, vocab: usize, seed: u64) -> Vec<u32> {
    let mut rng = rng_from_seed(seed);
    (0..n)
        .map(|_| rand::Rng::random_range(&mut rng, 0..vocab as u32))
        .collect()
}

fn step(model: &mut CharLstm, batch: &TokenWindows, t: u64, lr: f64) -> f64 {
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
fn trained(config: LstmConfig, seed: u64, steps: u64) -> CharLstm {
    let v = config.vocab as u32;
    let block = config.block;
    let stream: Vec<u32> = (0..400u32).map(|i| (i * i / 7 + i / 3) % v).collect();
    let mut model = CharLstm::new(config, &dev(), seed).unwrap();
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
    const END: u32 = 3;
    const L: usize = 4;
    // The block (training window) is shorter than the sequences: the LSTM
    // scores any length.
    let model = trained(small(4, 3), 3, 20);
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

/// Changing token j leaves the logits at positions < j (whose prefixes
/// exclude it) unchanged and changes those at j and after.
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

/// Fed token by token or in uneven chunks, the stepwise forward carrying
/// (h, c) gives the full pass's logits at every position, for a batch of
/// two sequences; a state of the wrong shape is an error, not a panic.
#[test]
fn stepwise_forward_equals_the_full_pass() {
    let (v, t, b) = (11, 10, 2);
    let model = trained(small(v, 4), 6, 5);
    let net = gen_core::burn::module::Module::valid(model.net());
    let d = dev();
    let x = random_tokens(b * t, v, 7);
    let full = to_vec(net.forward(int2(&x, b, t, &d)).unwrap()).unwrap();
    for chunks in [vec![1; t], vec![3, 1, 4, 2]] {
        let mut state = net.new_state(b);
        let mut start = 0;
        for len in chunks {
            let piece: Vec<u32> = (0..b)
                .flat_map(|r| x[r * t + start..r * t + start + len].to_vec())
                .collect();
            let y = to_vec(
                net.forward_step(int2(&piece, b, len, &d), &mut state)
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
            assert_eq!(state.positions(), start);
        }
    }
    let mut one_row = net.new_state(1);
    let e = net
        .forward_step(int2(&[0, 0], b, 1, &d), &mut one_row)
        .unwrap_err()
        .to_string();
    assert!(e.contains("rows"), "{e}");
    assert_eq!(one_row.positions(), 0);
}

/// The decoder carries its state along a growing context, far beyond the
/// block (no cropping), recomputes a context that does not extend the last
/// one; each time its log-probabilities equal those of a full pass over the
/// whole context.
#[test]
fn decoder_state_cache_equals_recomputation_at_every_position_beyond_the_block() {
    let (v, block) = (9, 4);
    let model = trained(small(v, block), 8, 5);
    let decoder = model.decoder();
    let n = 3 * block + 2;
    let x = random_tokens(n, v, 9);
    let full = model.logits(&x).unwrap();
    for k in 1..=n {
        let got = decoder.next_log_probs(&x[..k]).unwrap();
        let want = log_softmax_f64(&full[(k - 1) * v..k * v]);
        assert!(max_diff(&got, &want) < 1e-4, "position {k}");
    }
    let s = decoder.stats();
    assert_eq!((s.recomputed, s.extended, s.positions), (1, n - 1, n));
    // The same context again is answered from the last result.
    let again = decoder.next_log_probs(&x).unwrap();
    assert_eq!(decoder.stats().repeated, 1);
    assert!(max_diff(&again, &log_softmax_f64(&full[(n - 1) * v..])) < 1e-4);
    // A context that does not extend the last one starts over from zero.
    let before = decoder.stats().recomputed;
    let other = random_tokens(3, v, 10);
    let got = decoder.next_log_probs(&other).unwrap();
    let want = log_softmax_f64(&model.logits(&other).unwrap()[2 * v..]);
    assert!(max_diff(&got, &want) < 1e-4);
    assert_eq!(decoder.stats().recomputed, before + 1);
    // ... and extends from there.
    let longer = [other.clone(), vec![1, 2]].concat();
    let got = decoder.next_log_probs(&longer).unwrap();
    let want = log_softmax_f64(&model.logits(&longer).unwrap()[4 * v..]);
    assert!(max_diff(&got, &want) < 1e-4);
    assert_eq!(decoder.stats().extended, n);
    // Without the cache every call recomputes, with the same results.
    let plain = model.decoder().with_cache(false);
    let cached = model.decoder();
    for k in [1, 4, block, n] {
        let a = plain.next_log_probs(&x[..k]).unwrap();
        let b = cached.next_log_probs(&x[..k]).unwrap();
        assert!(max_diff(&a, &b) < 1e-4, "context {k}");
    }
    assert_eq!(plain.stats().recomputed, 4);
    assert_eq!(cached.stats().positions, n);
    let e = decoder.next_log_probs(&[]).unwrap_err().to_string();
    assert!(e.contains("empty context"), "{e}");
    let e = decoder.next_log_probs(&[0, 9]).unwrap_err().to_string();
    assert!(e.contains("outside the vocabulary of 9"), "{e}");
    // After an error the cache still answers correctly.
    decoder.reset();
    let got = decoder.next_log_probs(&x[..2]).unwrap();
    assert!(max_diff(&got, &log_softmax_f64(&full[v..2 * v])) < 1e-4);
}

/// Top-k = 1 sampling is greedy decoding, with and without the cache and
/// past the block length; an end token stops the decoder.
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

/// Pearson's χ² of observed `counts` against probabilities `p`, cells with
/// an expected count below 5 pooled into one; returns (χ², degrees of freedom).
fn chi_square(p: &[f64], counts: &[usize]) -> (f64, usize) {
    let m: usize = counts.iter().sum();
    let (mut stat, mut cells) = (0.0, 0usize);
    let (mut pool_e, mut pool_o) = (0.0, 0.0);
    for (&pt, &c) in p.iter().zip(counts) {
        let e = pt * m as f64;
        if e < 5.0 {
            pool_e += e;
            pool_o += c as f64;
        } else {
            stat += (c as f64 - e).powi(2) / e;
            cells += 1;
        }
    }
    if pool_e > 0.0 {
        stat += (pool_o - pool_e).powi(2) / pool_e;
        cells += 1;
    }
    (stat, cells.saturating_sub(1))
}

/// Batched sampling carrying the state draws from the model's conditionals:
/// the first token after the start token, and the second after the most
/// frequent first, pass a χ² test at level 0.001 against the decoder's
/// probabilities.
#[test]
fn samples_follow_the_models_conditionals() {
    let v = 5;
    let model = trained(small(v, 6), 12, 60);
    let n = 4000;
    let draws = model
        .sample_after(&[0], n, 2, 1.0, &mut rng_from_seed(13))
        .unwrap();
    assert!(draws.iter().all(|d| d.len() == 2));
    let decoder = model.decoder();
    // χ² quantiles at 1 − 0.001 for 1..=4 degrees of freedom.
    let critical = [10.828, 13.816, 16.266, 18.467];
    let check = |prefix: &[u32], outcomes: Vec<u32>| {
        let p: Vec<f64> = decoder
            .next_log_probs(prefix)
            .unwrap()
            .iter()
            .map(|l| l.exp())
            .collect();
        let mut counts = vec![0; v];
        outcomes.iter().for_each(|&o| counts[o as usize] += 1);
        let (stat, df) = chi_square(&p, &counts);
        eprintln!("after {prefix:?}: χ² = {stat:.2} with {df} df, p {p:.3?}");
        assert!(df >= 1, "after {prefix:?}: one cell only: {p:?}");
        assert!(
            stat < critical[df - 1],
            "after {prefix:?}: χ² = {stat} with {df} df; counts {counts:?}, p {p:?}"
        );
        // The distribution is far from uniform, so the test has power.
        assert!(p.iter().any(|&x| (x - 0.2).abs() > 0.05), "{p:?}");
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
    // Longer than the block is fine: the state carries the context.
    let long = model
        .sample_after(&[0, 1], 2, 20, 0.7, &mut rng_from_seed(1))
        .unwrap();
    assert!(long.iter().all(|x| x.len() == 20));
    assert!(
        model
            .sample_after(&[], 1, 2, 1.0, &mut rng_from_seed(1))
            .is_err()
    );
    assert!(
        model
            .sample_after(&[0], 1, 2, 0.0, &mut rng_from_seed(1))
            .is_err()
    );
}

/// Two AdamW steps and the scores after them agree on every enabled
/// backend (ndarray, flex, and wgpu where an adapter starts).
#[test]
fn one_training_step_gives_the_same_loss_on_every_backend() {
    let config = LstmConfig::new(13, 8, 8, 16, 2);
    let stream = random_tokens(200, 13, 20);
    let w1 = TokenWindows::random(&stream, 4, 8, &mut rng_from_seed(21)).unwrap();
    let w2 = TokenWindows::random(&stream, 4, 8, &mut rng_from_seed(22)).unwrap();
    let seqs = vec![stream[..12].to_vec(), stream[50..55].to_vec()];
    let report = check_parity(super::lstm::NAME, false, 1e-4, 1e-4, |device| {
        let mut model = CharLstm::new(config.clone(), device, 23)?;
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
        "lstm parity over {:?}: max |diff| {:e}",
        report.backends, report.max_abs_diff
    );
}

/// The periodic stream 0 1 1 2 1 1 0 1 1 2 1 1 …: after a 1 the next token
/// depends on tokens up to three back, so a bigram model cannot do better
/// than H(next | previous) ≈ 0.69 nats. A few hundred AdamW steps take the
/// loss from ln 3 at initialisation well below that: the recurrent state
/// remembers.
#[test]
fn learns_a_stream_that_needs_memory_below_the_bigram_entropy() {
    let pattern = [0u32, 1, 1, 2, 1, 1];
    let stream: Vec<u32> = pattern.iter().copied().cycle().take(600).collect();
    // H(next | previous) of the stream under its own bigram frequencies.
    let mut pairs = [[0usize; 3]; 3];
    stream
        .windows(2)
        .for_each(|w| pairs[w[0] as usize][w[1] as usize] += 1);
    let total = (stream.len() - 1) as f64;
    let bigram: f64 = pairs
        .iter()
        .map(|row| {
            let n: usize = row.iter().sum();
            row.iter()
                .filter(|&&c| c > 0)
                .map(|&c| -(c as f64 / total) * (c as f64 / n as f64).ln())
                .sum::<f64>()
        })
        .sum();
    assert!((bigram - 0.693).abs() < 0.01, "{bigram}");
    let block = 12;
    let mut model = CharLstm::new(LstmConfig::new(3, block, 8, 32, 1), &dev(), 0).unwrap();
    let before = model
        .estimate_loss(&stream, 4, 16, &mut rng_from_seed(1))
        .unwrap();
    let mut rng = rng_from_seed(2);
    let steps = 200;
    let start = std::time::Instant::now();
    for t in 0..steps {
        let b = TokenWindows::random(&stream, 16, block, &mut rng).unwrap();
        step(&mut model, &b, t, 1e-2);
    }
    let after = model
        .estimate_loss(&stream, 4, 16, &mut rng_from_seed(1))
        .unwrap();
    eprintln!(
        "periodic stream: ln 3 {:.3}, bigram {bigram:.3}, loss {before:.3} -> {after:.3} in {steps} steps ({:.1} ms/step)",
        3f64.ln(),
        start.elapsed().as_secs_f64() * 1e3 / steps as f64
    );
    assert!((before - 3f64.ln()).abs() < 0.15, "init loss {before}");
    assert!(after < bigram - 0.3, "{after} vs bigram {bigram}");
    // Past the first few positions of a window the pattern is certain:
    // deep into a long context the model predicts it almost surely.
    let long: Vec<u32> = stream[..40].to_vec();
    let lp = model.score(&[long], &ScoreOptions::default()).unwrap();
    let logits = model.logits(&stream[..40]).unwrap();
    let tail: f64 = (30..39)
        .map(|p| log_softmax_f64(&logits[p * 3..(p + 1) * 3])[stream[p + 1] as usize])
        .sum();
    assert!(tail > -0.5, "log p of 9 late tokens {tail}");
    assert!(lp.values[0] < 0.0);
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
    let block = 32;
    let mut model = CharLstm::new(LstmConfig::new(v, block, 32, 64, 1), &dev(), 0).unwrap();
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
        let b = TokenWindows::random(&tr, 16, block, &mut rng).unwrap();
        step(&mut model, &b, t, schedule.lr(1e-2, t, steps));
    }
    let after = model
        .estimate_loss(&va, 4, 32, &mut rng_from_seed(1))
        .unwrap();
    eprintln!(
        "shakespeare (lstm): V {v}, ln V {:.3}, unigram {unigram:.3}, val loss {before:.3} -> {after:.3} in {steps} steps ({:.1} ms/step)",
        (v as f64).ln(),
        start.elapsed().as_secs_f64() * 1e3 / steps as f64
    );
    assert!((before - (v as f64).ln()).abs() < 0.2, "init loss {before}");
    assert!(after < (v as f64).ln() - 1.5, "{after}");
    assert!(after < unigram - 0.3, "{after} vs unigram {unigram}");
}

/// With padded sequences ([`TokenWindows::padded`]) the loss is the mean
/// over the targets inside the sequences: −Σ scores / Σ (n_i − 1).
#[test]
fn padded_windows_loss_is_the_mean_over_real_targets() {
    let model = trained(small(6, 8), 40, 5);
    let seqs = vec![vec![0, 3, 2, 5], vec![0, 1], vec![0, 4, 4, 4, 1, 2]];
    let w = TokenWindows::padded(&seqs, 6, 0).unwrap();
    let loss = model.loss(&w).unwrap();
    let s = model.score(&seqs, &ScoreOptions::default()).unwrap();
    let targets: usize = seqs.iter().map(|s| s.len() - 1).sum();
    let want = -s.values.iter().sum::<f64>() / targets as f64;
    assert!((loss - want).abs() < 1e-5, "{loss} vs {want}");
    // Full windows: the plain mean over every position.
    let full = TokenWindows::new(seqs[2].clone(), 1, 6).unwrap();
    let want = -model
        .score(&seqs[2..], &ScoreOptions::default())
        .unwrap()
        .values[0]
        / 5.0;
    assert!((model.loss(&full).unwrap() - want).abs() < 1e-5);
}

/// A checkpoint restores scores exactly and the optimiser too: the next
/// step after loading gives the same loss; another architecture is refused.
#[test]
fn checkpoint_round_trip_gives_identical_scores_and_next_step() {
    let config = small(7, 8);
    let mut model = trained(config.clone(), 30, 3);
    let dir = std::env::temp_dir().join(format!("gen-ar-lstm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    model.save_checkpoint(&dir).unwrap();
    let mut back = CharLstm::load(&dir, &dev()).unwrap();
    assert_eq!(back.config(), model.config());
    let seqs = vec![random_tokens(19, 7, 31), random_tokens(4, 7, 32)];
    let o = ScoreOptions::default();
    assert_eq!(
        back.score(&seqs, &o).unwrap(),
        model.score(&seqs, &o).unwrap()
    );
    let w = TokenWindows::random(&random_tokens(100, 7, 33), 4, 8, &mut rng_from_seed(34)).unwrap();
    assert_eq!(step(&mut model, &w, 3, 1e-2), step(&mut back, &w, 3, 1e-2));
    // Another training window is the same network; another width is not.
    let mut longer = CharLstm::new(small(7, 16), &dev(), 0).unwrap();
    longer.load_checkpoint(&dir).unwrap();
    let mut wrong = CharLstm::new(LstmConfig::new(7, 8, 8, 24, 2), &dev(), 0).unwrap();
    let e = wrong.load_checkpoint(&dir).unwrap_err().to_string();
    assert!(e.contains("different") && e.contains("Fix"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// One seed gives one model: the same weights (so the same scores) from
/// two builds, different ones from another seed.
#[test]
fn one_seed_gives_one_model() {
    let seqs = vec![random_tokens(10, 5, 1)];
    let o = ScoreOptions::default();
    let score = |seed| {
        CharLstm::new(small(5, 4), &dev(), seed)
            .unwrap()
            .score(&seqs, &o)
            .unwrap()
            .values[0]
    };
    assert_eq!(score(3), score(3));
    assert_ne!(score(3), score(4));
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
            LstmConfig {
                vocab: 0,
                ..ok.clone()
            },
            "vocab",
        ),
        (
            LstmConfig {
                block: 0,
                ..ok.clone()
            },
            "block",
        ),
        (
            LstmConfig {
                embed: 0,
                ..ok.clone()
            },
            "embed",
        ),
        (
            LstmConfig {
                hidden: 0,
                ..ok.clone()
            },
            "hidden",
        ),
        (
            LstmConfig {
                layers: 0,
                ..ok.clone()
            },
            "layers",
        ),
        (
            LstmConfig {
                dropout: 1.0,
                ..ok.clone()
            },
            "dropout",
        ),
        (
            LstmConfig {
                dropout: f64::NAN,
                ..ok.clone()
            },
            "dropout",
        ),
    ];
    for (c, word) in bad {
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains(word) && e.contains("Fix"), "{e}");
        assert!(CharLstm::new(c, &dev(), 0).is_err());
    }
    let mut o = ok.clone();
    o.optim.beta2 = 1.0;
    assert!(o.validate().unwrap_err().to_string().contains("beta2"));
    let mut o = ok.clone();
    o.optim.grad_clip_norm = Some(0.0);
    assert!(o.validate().unwrap_err().to_string().contains("clipping"));

    let mut model = CharLstm::new(ok.clone(), &dev(), 0).unwrap();
    assert_eq!(model.num_params(), ok.parameters());
    let base = LstmConfig::char_rnn(65);
    assert_eq!(
        base.parameters(),
        65 * 64 + 4 * 128 * (64 + 128 + 1) + 4 * 128 * (128 + 128 + 1) + 128 * 65 + 65
    );
    let opts = ScoreOptions::default();
    let e = model.score(&[vec![0, 5]], &opts).unwrap_err().to_string();
    assert!(e.contains("outside the vocabulary of 5"), "{e}");
    assert!(model.score(&[], &opts).is_err());
    assert!(model.score(&[vec![]], &opts).is_err());
    assert!(model.logits(&[]).is_err());
    let iwae = ScoreOptions::with(gen_core::ScoreEstimator::Iwae, 10);
    let e = model.score(&[vec![0, 1]], &iwae).unwrap_err().to_string();
    assert!(e.contains("one way to score"), "{e}");
    // A one-token sequence conditions on its start token only: log 1 = 0;
    // sequences far longer than the block score.
    let s = model
        .score(&[vec![2], vec![1, 2, 3], vec![1; 40]], &opts)
        .unwrap();
    assert_eq!(s.values[0], 0.0);
    assert!(s.values[1] < 0.0 && s.values[2] < s.values[1]);
    // Windows with foreign tokens; windows longer than block + 1 train.
    let mut rng = rng_from_seed(0);
    let mut ctx = StepContext {
        step: 0,
        lr: 1e-3,
        rng: &mut rng,
    };
    let foreign = TokenWindows::new(vec![0, 1, 7], 1, 3).unwrap();
    let e = model
        .learn_step(&foreign, &mut ctx)
        .unwrap_err()
        .to_string();
    assert!(e.contains("outside the vocabulary"), "{e}");
    let long = TokenWindows::new(vec![1; 12], 1, 12).unwrap();
    assert!(model.learn_step(&long, &mut ctx).unwrap().loss.is_finite());
    // A condition is not a prompt.
    let cond = SampleOptions {
        condition: Some(gen_core::Matrix::zeros(1, 1)),
        ..SampleOptions::default()
    };
    assert!(model.sample(1, &cond, &mut rng_from_seed(0)).is_err());
    // The capability row.
    let caps = model.capabilities();
    assert_eq!((caps.model, caps.family), ("lstm", "autoregressive"));
    assert_eq!(caps, capabilities());
    caps.check_score(&model.score(&[vec![0, 1, 2]], &opts))
        .unwrap();
    assert_eq!(caps.infer.support, gen_core::Support::None);
}
