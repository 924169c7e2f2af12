//! The decoding interface against the mathematics of each strategy.

use gen_ar::decoding::{
    DecodeOptions, NextToken, apply_repetition_penalty, beam_search, generate,
    next_token_distribution,
};
use gen_classical::{CharNGram, Smoothing};
use gen_core::{Result, rng_from_seed};
use rand::Rng as _;

/// A first-order Markov chain over V tokens: `rows[t]` are the logits after
/// token t, `rows[V]` those of the first token. Token t reads as 'a' + t.
struct Markov {
    rows: Vec<Vec<f64>>,
    end: Option<u32>,
}

impl NextToken for Markov {
    fn vocab_size(&self) -> usize {
        self.rows[0].len()
    }
    fn next_log_probs(&self, context: &[u32]) -> Result<Vec<f64>> {
        let v = self.vocab_size();
        Ok(self.rows[context.last().map_or(v, |&t| t as usize)].clone())
    }
    fn end_token(&self) -> Option<u32> {
        self.end
    }
    fn token_text(&self, token: u32) -> Option<String> {
        Some(char::from(b'a' + token as u8).to_string())
    }
}

fn random_markov(v: usize, seed: u64, end: Option<u32>) -> Markov {
    let mut rng = rng_from_seed(seed);
    let rows = (0..=v)
        .map(|_| (0..v).map(|_| rng.random_range(-3.0..3.0)).collect())
        .collect();
    Markov { rows, end }
}

/// The same distribution `p` at every step.
fn iid(p: &[f64]) -> Markov {
    let l: Vec<f64> = p.iter().map(|x| x.ln()).collect();
    Markov {
        rows: vec![l; p.len() + 1],
        end: None,
    }
}

fn softmax(l: &[f64]) -> Vec<f64> {
    let m = l.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = l.iter().map(|x| (x - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

fn kn_ngrams() -> Vec<CharNGram> {
    let text = "the cat sat on the mat. the dog sat on the log. a cat and a dog. ".repeat(5);
    let words = ["cat", "car", "cart", "care", "dog", "door", "do"];
    vec![
        CharNGram::fit_text(&text, 3, Smoothing::KNESER_NEY).unwrap(),
        CharNGram::fit_lines(&words, 3, Smoothing::KNESER_NEY).unwrap(),
        CharNGram::fit_text(&text, 4, 0.1).unwrap(),
    ]
}

fn decode<M: NextToken>(m: &M, prompt: &[u32], o: &DecodeOptions) -> Vec<u32> {
    generate(m, prompt, o, |_| {}).unwrap()
}

/// top-k = 1, top-p → 0 and beam width 1 give the greedy sequence, with and
/// without an end token and a repetition penalty, on random chains and n-grams.
fn assert_greedy_equivalents<M: NextToken>(m: &M, prompt: &[u32], penalty: f64, seed: u64) {
    let n = 40;
    let greedy = DecodeOptions {
        repetition_penalty: penalty,
        ..DecodeOptions::greedy(n)
    };
    let g = decode(m, prompt, &greedy);
    assert!(!g.is_empty() || m.end_token().is_some());
    let sampled = |f: &dyn Fn(&mut DecodeOptions)| {
        let mut o = DecodeOptions {
            repetition_penalty: penalty,
            temperature: 1.7,
            ..DecodeOptions::sampling(n, 1.0, seed)
        };
        f(&mut o);
        decode(m, prompt, &o)
    };
    assert_eq!(sampled(&|o| o.top_k = Some(1)), g, "top-k 1");
    assert_eq!(sampled(&|o| o.top_p = Some(1e-12)), g, "top-p -> 0");
    for alpha in [0.0, 1.0, 2.0] {
        let beam = DecodeOptions {
            repetition_penalty: penalty,
            ..DecodeOptions::beam(n, 1, alpha)
        };
        assert_eq!(decode(m, prompt, &beam), g, "beam width 1, alpha {alpha}");
    }
}

#[test]
fn top_k_1_top_p_to_0_and_beam_width_1_are_greedy() {
    for seed in 0..25 {
        for end in [None, Some(4)] {
            let m = random_markov(6, seed, end);
            for penalty in [1.0, 1.4] {
                assert_greedy_equivalents(&m, &[], penalty, seed);
                assert_greedy_equivalents(&m, &[2, 3], penalty, seed);
            }
        }
    }
    for m in kn_ngrams() {
        let prompt = m.encode("the c");
        for penalty in [1.0, 1.2] {
            assert_greedy_equivalents(&m, &prompt, penalty, 3);
        }
    }
}

/// Pearson's χ² of observed counts against probabilities `p`, merging the
/// cells whose expected count is below 5 into one; returns (χ², degrees of freedom).
fn chi_square(counts: &[usize], p: &[f64]) -> (f64, usize) {
    let n: usize = counts.iter().sum();
    let (mut chi, mut cells) = (0.0, 0usize);
    let (mut rest_o, mut rest_e) = (0.0, 0.0);
    for (&o, &pi) in counts.iter().zip(p) {
        let e = pi * n as f64;
        if e < 5.0 {
            assert!(pi > 0.0 || o == 0, "a token of probability 0 was drawn");
            rest_o += o as f64;
            rest_e += e;
        } else {
            chi += (o as f64 - e).powi(2) / e;
            cells += 1;
        }
    }
    if rest_e > 0.0 {
        chi += (rest_o - rest_e).powi(2) / rest_e;
        cells += 1;
    }
    (chi, cells - 1)
}

/// The 0.999 quantile of χ² with `df` degrees of freedom (Wilson–Hilferty,
/// accurate to about 1 % for df ≥ 3): a correct sampler fails 1 run in 1000.
fn chi_square_999(df: usize) -> f64 {
    let (k, z) = (df as f64, 3.0902);
    k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
}

#[test]
fn sampling_at_temperature_1_draws_the_models_distribution() {
    // 20,000 draws from a context-free model: χ² with 5 degrees of freedom
    // must stay below 20.52 (its 0.999 quantile).
    let p = [0.05, 0.1, 0.15, 0.2, 0.22, 0.28];
    let m = iid(&p);
    let draws = decode(&m, &[], &DecodeOptions::sampling(20_000, 1.0, 42));
    assert_eq!(draws.len(), 20_000);
    let mut counts = [0usize; 6];
    draws.iter().for_each(|&t| counts[t as usize] += 1);
    let (chi, df) = chi_square(&counts, &p);
    eprintln!("tau 1: chi^2 = {chi:.2}, {df} df");
    assert_eq!(df, 5);
    assert!(chi < 20.52, "chi^2 = {chi:.2} with 5 df, counts {counts:?}");
    // At temperature 1/2 the draws follow p^2 / sum p^2.
    let p2 = softmax(&p.iter().map(|x| 2.0 * x.ln()).collect::<Vec<_>>());
    let draws = decode(&m, &[], &DecodeOptions::sampling(20_000, 0.5, 43));
    let mut counts = [0usize; 6];
    draws.iter().for_each(|&t| counts[t as usize] += 1);
    let (chi, df) = chi_square(&counts, &p2);
    eprintln!(
        "tau 0.5: chi^2 = {chi:.2}, {df} df, bound {:.2}",
        chi_square_999(df)
    );
    assert!(
        chi < chi_square_999(df),
        "tau 0.5: chi^2 = {chi:.2}, {df} df"
    );
    // The first character after a prompt, from an n-gram, over 4,000 seeds,
    // against the n-gram's own conditional (unknown symbol excluded).
    let m = &kn_ngrams()[0];
    let prompt = m.encode("the ");
    let p = softmax(&NextToken::next_log_probs(m, &prompt).unwrap());
    let mut counts = vec![0usize; p.len()];
    for seed in 0..4000 {
        let t = decode(m, &prompt, &DecodeOptions::sampling(1, 1.0, seed));
        counts[t[0] as usize] += 1;
    }
    let (chi, df) = chi_square(&counts, &p);
    eprintln!(
        "n-gram: chi^2 = {chi:.2}, {df} df, bound {:.2}",
        chi_square_999(df)
    );
    assert!(df >= 3, "{df}");
    assert!(
        chi < chi_square_999(df),
        "n-gram: chi^2 = {chi:.2}, {df} df"
    );
}

fn opts() -> DecodeOptions {
    DecodeOptions::sampling(10, 1.0, 0)
}

#[test]
fn top_p_keeps_the_smallest_set_with_mass_at_least_p() {
    let p: [f64; 4] = [0.1, 0.4, 0.2, 0.3];
    let l: Vec<f64> = p.iter().map(|x| x.ln()).collect();
    let kept = |top_p: f64| {
        let o = DecodeOptions {
            top_p: Some(top_p),
            ..opts()
        };
        next_token_distribution(&l, &[], &o).unwrap()
    };
    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
    assert!(close(&kept(0.35), &[0.0, 1.0, 0.0, 0.0]));
    assert!(close(&kept(0.65), &[0.0, 0.4 / 0.7, 0.0, 0.3 / 0.7]));
    assert!(close(&kept(0.75), &[0.0, 0.4 / 0.9, 0.2 / 0.9, 0.3 / 0.9]));
    assert!(close(&kept(0.95), &p));
    assert!(close(&kept(1.0), &p));
    // On random distributions: the kept set has mass >= p, holds the most
    // probable tokens, and dropping its least probable one leaves mass < p.
    let mut rng = rng_from_seed(1);
    for _ in 0..500 {
        let l: Vec<f64> = (0..12).map(|_| rng.random_range(-4.0..4.0)).collect();
        let full = softmax(&l);
        let top_p: f64 = rng.random_range(0.01..1.0);
        let o = DecodeOptions {
            top_p: Some(top_p),
            ..opts()
        };
        let q = next_token_distribution(&l, &[], &o).unwrap();
        let keep: Vec<usize> = (0..12).filter(|&i| q[i] > 0.0).collect();
        let mass: f64 = keep.iter().map(|&i| full[i]).sum();
        let least = keep.iter().map(|&i| full[i]).fold(1.0, f64::min);
        let most_dropped = (0..12)
            .filter(|i| !keep.contains(i))
            .map(|i| full[i])
            .fold(0.0, f64::max);
        assert!(mass >= top_p - 1e-12, "{mass} < {top_p}");
        assert!(mass - least < top_p, "not the smallest set");
        assert!(least >= most_dropped);
        for &i in &keep {
            assert!((q[i] - full[i] / mass).abs() < 1e-12);
        }
    }
}

#[test]
fn min_p_keeps_tokens_with_p_at_least_min_p_times_p_max() {
    let mut rng = rng_from_seed(2);
    for _ in 0..500 {
        let l: Vec<f64> = (0..10).map(|_| rng.random_range(-4.0..4.0)).collect();
        let full = softmax(&l);
        let min_p: f64 = rng.random_range(0.0..1.0);
        let o = DecodeOptions {
            min_p: Some(min_p),
            ..opts()
        };
        let q = next_token_distribution(&l, &[], &o).unwrap();
        let p_max = full.iter().copied().fold(0.0, f64::max);
        let mass: f64 = (0..10)
            .filter(|&i| full[i] >= min_p * p_max)
            .map(|i| full[i])
            .sum();
        for i in 0..10 {
            let expect = if full[i] >= min_p * p_max {
                full[i] / mass
            } else {
                0.0
            };
            assert!((q[i] - expect).abs() < 1e-12, "{i}: {} vs {expect}", q[i]);
        }
    }
}

#[test]
fn top_k_keeps_the_k_most_probable_tokens() {
    let p: [f64; 4] = [0.1, 0.4, 0.2, 0.3];
    let l: Vec<f64> = p.iter().map(|x| x.ln()).collect();
    let o = DecodeOptions {
        top_k: Some(2),
        ..opts()
    };
    let q = next_token_distribution(&l, &[], &o).unwrap();
    let expect = [0.0, 0.4 / 0.7, 0.0, 0.3 / 0.7];
    assert!(
        q.iter().zip(expect).all(|(a, b)| (a - b).abs() < 1e-12),
        "{q:?}"
    );
    let o = DecodeOptions {
        top_k: Some(99),
        ..opts()
    };
    let q = next_token_distribution(&l, &[], &o).unwrap();
    assert!(q.iter().zip(p).all(|(a, b)| (a - b).abs() < 1e-12));
}

#[test]
fn repetition_penalty_divides_positive_and_multiplies_negative_logits() {
    let mut l = vec![2.0, -1.0, 0.5, -3.0];
    // Tokens 0 and 1 were seen (1 twice: penalised once).
    apply_repetition_penalty(&mut l, &[0, 1, 1], 2.0);
    assert_eq!(l, vec![1.0, -2.0, 0.5, -3.0]);
    let o = DecodeOptions {
        repetition_penalty: 2.0,
        ..opts()
    };
    let q = next_token_distribution(&[2.0, -1.0, 0.5, -3.0], &[1, 0, 1], &o).unwrap();
    let expect = softmax(&[1.0, -2.0, 0.5, -3.0]);
    assert!(q.iter().zip(&expect).all(|(a, b)| (a - b).abs() < 1e-12));
    // Greedy: token 0 (logit 2) leads, but once in the prompt its logit is
    // halved to 1 < 1.5, so token 2 wins.
    let m = Markov {
        rows: vec![vec![2.0, -1.0, 1.5, -3.0]; 5],
        end: None,
    };
    assert_eq!(decode(&m, &[3], &DecodeOptions::greedy(1)), vec![0]);
    let penalised = DecodeOptions {
        repetition_penalty: 2.0,
        ..DecodeOptions::greedy(1)
    };
    assert_eq!(decode(&m, &[0], &penalised), vec![2]);
}

#[test]
fn beam_search_finds_the_most_probable_sequence_where_greedy_does_not() {
    // Tokens A = 0, B = 1, C = 2. First token: A 0.6, B 0.4. After A the
    // next is uniform; after B it is B with 0.9. Greedy takes A then A
    // (p = 0.6 / 3 = 0.2); the most probable two-token sequence is B B (0.36).
    let ln = |p: [f64; 3]| p.iter().map(|x| x.ln()).collect::<Vec<_>>();
    let m = Markov {
        rows: vec![
            ln([1.0 / 3.0; 3]),
            ln([0.05, 0.9, 0.05]),
            ln([1.0 / 3.0; 3]),
            ln([0.6, 0.4, 1e-300]),
        ],
        end: None,
    };
    let log_p = |s: &[u32]| -> f64 {
        let mut ctx = Vec::new();
        s.iter()
            .map(|&t| {
                let l = m.next_log_probs(&ctx).unwrap()[t as usize];
                ctx.push(t);
                l
            })
            .sum()
    };
    let best = (0..9u32)
        .map(|i| vec![i / 3, i % 3])
        .max_by(|a, b| log_p(a).total_cmp(&log_p(b)))
        .unwrap();
    assert_eq!(best, vec![1, 1]);
    let greedy = decode(&m, &[], &DecodeOptions::greedy(2));
    assert_eq!(greedy, vec![0, 0]);
    assert!((log_p(&greedy) - 0.2f64.ln()).abs() < 1e-12);
    let beam = DecodeOptions::beam(2, 2, 1.0);
    assert_eq!(decode(&m, &[], &beam), best);
    let hyps = beam_search(&m, &[], &beam).unwrap();
    assert_eq!(hyps.len(), 2);
    assert!((hyps[0].log_prob - 0.36f64.ln()).abs() < 1e-12);
    assert!((hyps[0].score - 0.36f64.ln() / 2.0).abs() < 1e-12);
    assert!(hyps[0].score >= hyps[1].score);
    // Streaming passes the same tokens.
    let mut streamed = Vec::new();
    generate(&m, &[], &beam, |t| streamed.push(t)).unwrap();
    assert_eq!(streamed, best);
}

#[test]
fn length_penalty_is_log_p_over_length_to_the_alpha() {
    // E = 1 ends. First: E 0.5, A 0.5; after A: E 0.9, A 0.1.
    // [E]: log 0.5 over length 1; [A, E]: log 0.45 over length 2.
    let ln = |p: [f64; 2]| p.iter().map(|x| x.ln()).collect::<Vec<_>>();
    let m = Markov {
        rows: vec![ln([0.1, 0.9]), ln([0.5, 0.5]), ln([0.5, 0.5])],
        end: Some(1),
    };
    let raw = beam_search(&m, &[], &DecodeOptions::beam(5, 2, 0.0)).unwrap();
    assert_eq!(raw[0].tokens, Vec::<u32>::new());
    assert!((raw[0].score - 0.5f64.ln()).abs() < 1e-12);
    let normalised = beam_search(&m, &[], &DecodeOptions::beam(5, 2, 1.0)).unwrap();
    assert_eq!(normalised[0].tokens, vec![0]);
    assert!((normalised[0].log_prob - 0.45f64.ln()).abs() < 1e-12);
    assert!((normalised[0].score - 0.45f64.ln() / 2.0).abs() < 1e-12);
    assert_eq!(
        decode(&m, &[], &DecodeOptions::beam(5, 2, 1.0)),
        vec![0],
        "the end token is not part of the output"
    );
}

#[test]
fn stopping_on_strings_end_tokens_and_counts_and_streaming() {
    // a -> b -> c -> a ... almost surely.
    let cycle = |end| Markov {
        rows: vec![
            vec![-9.0, 0.0, -9.0, -9.0],
            vec![-9.0, -9.0, 0.0, -9.0],
            vec![0.0, -9.0, -9.0, -9.0],
            vec![-9.0; 4],
            vec![0.0, -9.0, -9.0, -9.0],
        ],
        end,
    };
    let m = cycle(None);
    assert_eq!(
        decode(&m, &[], &DecodeOptions::greedy(5)),
        vec![0, 1, 2, 0, 1]
    );
    let stop = DecodeOptions {
        stop: vec!["zz".into(), "ca".into()],
        ..DecodeOptions::greedy(50)
    };
    let mut streamed = Vec::new();
    let out = generate(&m, &[], &stop, |t| streamed.push(t)).unwrap();
    assert_eq!(out, vec![0, 1, 2, 0], "stops once the text holds \"ca\"");
    assert_eq!(streamed, out);
    let beam = DecodeOptions {
        stop: vec!["ca".into()],
        ..DecodeOptions::beam(50, 2, 1.0)
    };
    assert_eq!(decode(&m, &[], &beam), vec![0, 1, 2, 0]);
    // With c as the end token: "ab", and the end token is not returned.
    let m = cycle(Some(2));
    assert_eq!(decode(&m, &[], &DecodeOptions::greedy(50)), vec![0, 1]);
    assert_eq!(
        decode(&m, &[], &DecodeOptions::sampling(50, 1.0, 9)),
        vec![0, 1]
    );
    assert_eq!(
        decode(&m, &[], &DecodeOptions::greedy(0)),
        Vec::<u32>::new()
    );
}

#[test]
fn the_ngram_decodes_text_through_the_same_interface() {
    let words = ["cat", "car", "cart", "care", "dog", "door", "do"];
    let m = CharNGram::fit_lines(&words, 3, Smoothing::KNESER_NEY).unwrap();
    assert_eq!(NextToken::end_token(&m), Some(0));
    let prompt = m.encode("ca");
    let out = decode(&m, &prompt, &DecodeOptions::greedy(20));
    let word = format!("ca{}", m.decode(&out));
    assert!(words.contains(&word.as_str()), "{word}");
    // Sampled words end at the end symbol and never hold the unknown symbol.
    for seed in 0..50 {
        let o = DecodeOptions {
            top_p: Some(0.9),
            ..DecodeOptions::sampling(30, 0.8, seed)
        };
        let out = decode(&m, &[], &o);
        assert!(out.iter().all(|&t| t >= 2), "{out:?}");
        assert!(out.len() < 30);
    }
    // The decoder's distribution is the n-gram's (after masking the unknown symbol).
    let lp = NextToken::next_log_probs(&m, &prompt).unwrap();
    let exact = m.next_log_probs(&prompt);
    let kept: f64 = exact
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, l)| l.exp())
        .sum();
    for (i, (a, b)) in lp.iter().zip(&exact).enumerate() {
        if i != 1 {
            assert!((a - (b - kept.ln())).abs() < 1e-12);
        }
    }
    assert!(NextToken::next_log_probs(&m, &[999]).is_err());
}

#[test]
fn bad_options_are_refused_with_what_to_do() {
    let m = iid(&[0.5, 0.5]);
    let err = |o: DecodeOptions| generate(&m, &[], &o, |_| {}).unwrap_err().to_string();
    let e = err(DecodeOptions::sampling(5, 0.0, 0));
    assert!(e.contains("temperature") && e.contains("greedy"), "{e}");
    assert!(err(DecodeOptions::sampling(5, -1.0, 0)).contains("greedy"));
    for p in [0.0, 1.5, -0.1] {
        let e = err(DecodeOptions {
            top_p: Some(p),
            ..opts()
        });
        assert!(e.contains("top_p") && e.contains("(0, 1]"), "{e}");
    }
    let e = err(DecodeOptions {
        top_k: Some(0),
        ..opts()
    });
    assert!(e.contains("top_k") && e.contains("at least 1"), "{e}");
    let e = err(DecodeOptions::beam(5, 0, 1.0));
    assert!(e.contains("beam_width") && e.contains("at least 1"), "{e}");
    let e = err(DecodeOptions {
        top_k: Some(3),
        ..DecodeOptions::beam(5, 2, 1.0)
    });
    assert!(e.contains("beam search") && e.contains("drop top_k"), "{e}");
    let e = err(DecodeOptions {
        min_p: Some(2.0),
        ..opts()
    });
    assert!(e.contains("min_p"), "{e}");
    let e = err(DecodeOptions {
        repetition_penalty: 0.0,
        ..opts()
    });
    assert!(e.contains("repetition_penalty"), "{e}");
    let e = err(DecodeOptions {
        stop: vec![String::new()],
        ..opts()
    });
    assert!(e.contains("empty stop string"), "{e}");
    // Stop strings need a model with text.
    struct NoText;
    impl NextToken for NoText {
        fn vocab_size(&self) -> usize {
            2
        }
        fn next_log_probs(&self, _: &[u32]) -> Result<Vec<f64>> {
            Ok(vec![0.0, f64::NAN])
        }
    }
    let o = DecodeOptions {
        stop: vec!["x".into()],
        ..opts()
    };
    let e = generate(&NoText, &[], &o, |_| {}).unwrap_err().to_string();
    assert!(e.contains("no text"), "{e}");
    let e = generate(&NoText, &[], &opts(), |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("NaN"), "{e}");
}
