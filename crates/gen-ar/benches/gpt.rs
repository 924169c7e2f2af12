//! Throughput of the character GPT, in tokens per second:
//!
//! - `gpt_train_step/{ndarray,flex,wgpu}`: one AdamW step (forward, mean
//!   cross-entropy, backward, gradient clipping, update) of nanoGPT's CPU
//!   "baby" configuration ([`GptConfig::baby_shakespeare`]: 4 layers, 4
//!   heads, width 128, block 64) on a batch of 12 windows of Shakespeare,
//!   12 × 64 = 768 predicted tokens per step. The batch is drawn once,
//!   outside the timed loop; one step is taken before timing. wgpu is
//!   skipped, with a message, when no adapter can be initialised (with
//!   Mesa's lavapipe it runs on the CPU, a correctness device, not a fast one).
//! - `gpt_sample_256/{kv_cache,no_cache}` (flex): 256 tokens generated
//!   greedily after a newline by [`gen_ar::generate`] through
//!   [`CharGpt::decoder`] with and without the key/value cache, on a model
//!   of the same shape with block 256 (untrained: the speed does not depend
//!   on the weights).
//!
//! Run it in the dev profile (dependencies at opt-level 3; plain `cargo
//! bench` uses the release profile, a separate full build of burn):
//!
//! ```text
//! cargo bench -p gen-ar --profile dev --bench gpt
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use gen_ar::decoding::{DecodeOptions, generate};
use gen_ar::sequence::{CharGpt, GptConfig, TokenWindows, encode};
use gen_core::{Backend, Learn, StepContext, rng_from_seed};
use gen_data::CharVocab;

/// nanoGPT's batch size for the baby configuration.
const BATCH: usize = 12;
/// Tokens generated per sampling iteration.
const SAMPLE_LEN: usize = 256;

/// The Shakespeare token streams and vocabulary as `genlab train char-gpt`
/// builds them (every character of both splits, plus the newline).
fn shakespeare() -> (CharVocab, Vec<u32>) {
    let train = gen_data::shakespeare(gen_data::Split::Train).expect("embedded Shakespeare");
    let test = gen_data::shakespeare(gen_data::Split::Test).expect("embedded Shakespeare");
    let vocab = CharVocab::from_chars(train.chars().chain(test.chars()).chain(['\n']));
    let ids = encode(&vocab, &train).expect("the vocabulary covers the text");
    (vocab, ids)
}

fn train_step(c: &mut Criterion) {
    let (vocab, stream) = shakespeare();
    let config = GptConfig::baby_shakespeare(vocab.len());
    let batch = TokenWindows::random(&stream, BATCH, config.block, &mut rng_from_seed(0))
        .expect("a batch of windows");
    let mut group = c.benchmark_group("gpt_train_step");
    group
        .throughput(Throughput::Elements((BATCH * config.block) as u64))
        .sampling_mode(SamplingMode::Flat);
    for backend in [Backend::Ndarray, Backend::Flex, Backend::Wgpu] {
        let device = match backend.device() {
            Ok(d) => d,
            Err(e) => {
                println!("gpt_train_step/{backend}: skipped ({e})");
                continue;
            }
        };
        let mut model = CharGpt::new(config.clone(), &device, 0).expect("baby configuration");
        let mut rng = rng_from_seed(1);
        let mut step = 0u64;
        let mut learn = |model: &mut CharGpt| {
            let mut ctx = StepContext {
                step,
                lr: 1e-3,
                rng: &mut rng,
            };
            step += 1;
            model
                .learn_step(black_box(&batch), &mut ctx)
                .expect("training step")
        };
        // The first step allocates the optimiser state (and on wgpu
        // compiles the kernels).
        learn(&mut model);
        group.bench_function(backend.name(), |b| b.iter(|| learn(&mut model)));
    }
    group.finish();
}

fn sample(c: &mut Criterion) {
    let (vocab, _) = shakespeare();
    let config = GptConfig {
        block: SAMPLE_LEN,
        ..GptConfig::baby_shakespeare(vocab.len())
    };
    let device = Backend::Flex.device().expect("flex is compiled in");
    let model = CharGpt::new(config, &device, 0).expect("a block-256 model");
    let prompt = encode(&vocab, "\n").expect("newline is in the vocabulary");
    let greedy = DecodeOptions::greedy(SAMPLE_LEN);
    let mut group = c.benchmark_group("gpt_sample_256");
    group
        .throughput(Throughput::Elements(SAMPLE_LEN as u64))
        .sampling_mode(SamplingMode::Flat);
    for (name, cache) in [("kv_cache", true), ("no_cache", false)] {
        let decoder = model.decoder().with_cache(cache);
        group.bench_function(name, |b| {
            b.iter(|| {
                decoder.reset();
                let tokens = generate(&decoder, &prompt, &greedy, |_| {}).expect("decoding");
                assert_eq!(tokens.len(), SAMPLE_LEN);
                tokens
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = train_step, sample
}
criterion_main!(benches);
