//! Regression, property and error tests of the KM game.

use std::collections::HashSet;
use std::sync::Arc;

use gen_core::Rng;
use gen_km_game::adversary::Scripted;
use gen_km_game::collections::{Collection, Progressions, km_worked_example};
use gen_km_game::learners::{KmMembership, StopRule};
use gen_km_game::spec::{collection_from_spec, run_from_spec};
use gen_km_game::{
    ClosureDim, KmError, LangId, Pos, RunReport, RunSpec, StringGenerator, plot, run_game,
    words_experiment,
};
use proptest::prelude::*;
use rand::Rng as _;

// ------------------------------------------------------------ worked example

/// KM's Figures 1–2 (§5 walkthrough), step by step. The strings presented,
/// the starting counters, the critical language searched and the outputs
/// are those of the figure caption; the memberships are our reconstruction
/// (see `km_worked_example`). Both stop rules give the same trace.
#[test]
fn km_worked_example_figures_1_and_2() {
    for rule in [StopRule::Proceedings, StopRule::ArxivV1] {
        let coll: Arc<dyn Collection> = Arc::new(km_worked_example());
        let mut adv = Scripted::new(coll.clone(), 3, vec![2, 5, 8, 10, 12]);
        let mut km = KmMembership::new(coll.clone(), rule).with_trace();
        let report = run_game(coll.clone(), 3, &mut adv, &mut km, 5, 0).unwrap();
        let trace = km.trace();
        let col = |f: &dyn Fn(usize) -> Pos| (0..5).map(f).collect::<Vec<_>>();
        assert_eq!(
            col(&|k| trace[k].example),
            vec![2, 5, 8, 10, 12],
            "{rule:?}"
        );
        // m_t^(0) = max(m_{t-1}, i_t): 5, 8, 10, 12 in steps 2–5 (caption).
        assert_eq!(
            col(&|k| trace[k].m_start),
            vec![2, 5, 8, 10, 12],
            "{rule:?}"
        );
        assert_eq!(col(&|k| trace[k].m_end), vec![2, 7, 10, 12, 15], "{rule:?}");
        // Outputs: arbitrary (u1 here), then u7, u10, u12, u15 (caption).
        assert_eq!(
            col(&|k| trace[k].output),
            vec![1, 7, 10, 12, 15],
            "{rule:?}"
        );
        // Step 1: L1 is inconsistent, so no critical language.
        assert!(trace[0].consistent.is_empty());
        assert!(trace[0].critical.is_empty());
        // Step 2: L2 is searched from m = 5.
        assert_eq!(trace[1].critical, vec![(5, 2)]);
        // Step 3: L3 from m = 8.
        assert_eq!(trace[2].consistent, vec![2, 3]);
        assert_eq!(trace[2].critical, vec![(8, 3)]);
        // Step 4: L4 is consistent but not (4,10)-critical; L3 is searched.
        assert_eq!(trace[3].consistent, vec![2, 3, 4]);
        assert_eq!(trace[3].critical, vec![(10, 3)]);
        // Step 5: L4 is gone; L5 is critical at m = 12, 13 and loses it at 14.
        assert_eq!(trace[4].consistent, vec![2, 3, 5]);
        assert_eq!(trace[4].critical, vec![(12, 5), (14, 3)]);
        // K = L3: the first two outputs are hallucinations, then valid.
        let valid: Vec<bool> = report.steps.iter().map(|s| s.valid).collect();
        assert_eq!(valid, vec![false, false, true, true, true]);
        assert_eq!(report.summary.last_error, 2);
        assert_eq!(report.summary.non_novel, 0);
    }
    // The caption's reasons, checked on the reconstructed languages.
    let c = km_worked_example();
    let sub = |a: LangId, b: LangId, m: Pos| (1..=m).all(|j| !c.contains(a, j) || c.contains(b, j));
    assert!(!sub(4, 3, 10), "L4[10] ⊄ L3[10]");
    assert!(sub(5, 3, 12) && sub(5, 2, 12), "L5[12] ⊆ L3[12], L2[12]");
    assert!(sub(5, 3, 13));
    assert!(!sub(5, 3, 14), "L5[14] ⊄ L3[14]");
    assert!(sub(3, 2, 15));
}

// ------------------------------------------------------------ helpers

/// Collections with the range of targets the property tests draw from.
const POOL: &[(&str, usize)] = &[
    ("multiples", 8),
    ("one-way", 15),
    ("two-way", 10),
    ("progressions", 12),
    ("rays", 8),
    ("co-singletons", 8),
    ("co-finite", 16),
    ("plus-finite", 12),
    ("unions", 10),
    ("regular", 8),
    ("km-example", 5),
];

const ORDERS: &[&str] = &["ascending", "random", "withholding"];

/// Sₜ after each step of a report.
fn samples(report: &RunReport) -> Vec<Vec<Pos>> {
    let mut seen = Vec::new();
    let mut set = HashSet::new();
    report
        .steps
        .iter()
        .map(|s| {
            if set.insert(s.example) {
                seen.push(s.example);
            }
            seen.clone()
        })
        .collect()
}

/// Is L_z critical at step t (KM §4): z ≤ t and L_z ⊆ Lᵢ for every
/// consistent i < z? `None` without a subset oracle.
fn target_critical(c: &dyn Collection, z: LangId, t: usize, s: &[Pos]) -> Option<bool> {
    if z > t {
        return Some(false);
    }
    for i in 1..z {
        if s.iter().all(|&p| c.contains(i, p)) && !c.is_subset(z, i)? {
            return Some(false);
        }
    }
    Some(true)
}

fn game() -> impl Strategy<Value = (usize, usize, usize, u64)> {
    (0..POOL.len(), 0..ORDERS.len(), any::<u64>())
        .prop_flat_map(|(c, a, seed)| (Just(c), 1..=POOL[c].1, Just(a), Just(seed)))
}

// ------------------------------------------------------------ properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// KM's outputs are never among the examples seen (both stop rules), and
    /// neither are those of the other generators.
    #[test]
    fn km_outputs_are_always_novel((c, z, a, seed) in game()) {
        for learner in ["km", "km-v1", "density", "cp", "closure", "km-critical", "identification"] {
            let spec = RunSpec::new(POOL[c].0, z, ORDERS[a], learner, 40).with_seed(seed);
            match run_from_spec(&spec) {
                Ok(r) => prop_assert_eq!(r.summary.non_novel, 0, "{:?}", spec),
                Err(KmError::Unsupported { .. }) => {}
                Err(e) => return Err(TestCaseError::fail(format!("{spec:?}: {e}"))),
            }
        }
    }

    /// Once the target is critical, every output of KM (§5, both rules) and
    /// of the semantic §4 algorithm is valid.
    #[test]
    fn once_the_target_is_critical_every_output_is_valid((c, z, a, seed) in game()) {
        let coll = collection_from_spec(POOL[c].0).unwrap();
        for learner in ["km", "km-v1", "km-critical"] {
            let spec = RunSpec::new(POOL[c].0, z, ORDERS[a], learner, 40).with_seed(seed);
            let r = match run_from_spec(&spec) {
                Ok(r) => r,
                Err(KmError::Unsupported { .. }) => continue,
                Err(e) => return Err(TestCaseError::fail(format!("{spec:?}: {e}"))),
            };
            for (step, s) in r.steps.iter().zip(samples(&r)) {
                if target_critical(&*coll, z, step.t, &s) == Some(true) {
                    prop_assert!(step.valid, "{:?} step {} output {}", spec, step.t, step.output_text);
                }
            }
        }
    }

    /// The closure generator (Li, Raman & Tewari) is valid from the
    /// (d + 1)-th distinct example on, for collections with finite d.
    #[test]
    fn closure_generator_is_valid_after_d_plus_one_examples((c, z, a, seed) in game()) {
        let coll = collection_from_spec(POOL[c].0).unwrap();
        let ClosureDim::Finite(d) = coll.closure_dimension() else { return Ok(()) };
        let spec = RunSpec::new(POOL[c].0, z, ORDERS[a], "closure", 40).with_seed(seed);
        let r = run_from_spec(&spec).unwrap();
        for (step, s) in r.steps.iter().zip(samples(&r)) {
            if s.len() > d {
                prop_assert!(step.valid && step.novel, "{:?} step {} with {} distinct", spec, step.t, s.len());
            }
        }
    }

    /// Against the staged adversary on two-way targets of KM's progression
    /// class, an identification learner that identifies every one-way
    /// progression keeps changing its guess (unboundedly within the
    /// horizon), while KM settles and generates validly.
    #[test]
    fn identification_keeps_changing_while_km_settles(b in 1u64..=3, a_raw in 0i64..3, seed in any::<u64>()) {
        let target = Progressions::index_of_q(a_raw % b as i64, b);
        let changes = |horizon| {
            let spec = RunSpec::new("progressions", target, "staged", "identification-minimal", horizon)
                .with_seed(seed);
            run_from_spec(&spec).unwrap().summary.focus_changes
        };
        let (short, long) = (changes(100), changes(300));
        prop_assert!(long >= 6 && long > short, "changes {short} at T=100, {long} at T=300");
        let km = run_from_spec(&RunSpec::new("progressions", target, "staged", "km", 300).with_seed(seed)).unwrap();
        prop_assert!(km.summary.last_error <= 60, "KM t* = {}", km.summary.last_error);
        prop_assert!(km.steps[60..].iter().all(|s| s.valid && s.novel));
    }
}

/// Gold's enumeration learner stalls on a superset listed before K (ℕ before
/// 3ℕ) and never identifies, while KM generates from step 3 on.
#[test]
fn first_consistent_identification_stalls_on_a_superset() {
    let id = run_from_spec(&RunSpec::new(
        "multiples",
        3,
        "ascending",
        "identification",
        100,
    ))
    .unwrap();
    assert_eq!(id.summary.final_focus, Some(1));
    assert_eq!(id.summary.focus_changes, 0);
    assert!(id.summary.hallucinations > 90);
    let km = run_from_spec(&RunSpec::new("multiples", 3, "ascending", "km", 100)).unwrap();
    assert!(km.summary.last_error <= 3);
    assert_eq!(km.summary.final_focus, Some(3));
}

/// Closure dimension ∞ (progressions plus a finite set): the closure is
/// always finite, so the closure generator never becomes safe; KM does.
#[test]
fn closure_generator_fails_without_finite_closure_dimension() {
    let spec = |l: &str| RunSpec::new("plus-finite", 9, "ascending", l, 80);
    let closure = run_from_spec(&spec("closure")).unwrap();
    assert!(
        closure.summary.hallucinations > 60,
        "{}",
        closure.summary_json()
    );
    let km = run_from_spec(&spec("km")).unwrap();
    assert!(km.summary.last_error < 20, "{}", km.summary_json());
}

// ------------------------------------------------------------ errors

#[test]
fn bad_specifications_give_clear_errors() {
    let err = |spec: RunSpec| run_from_spec(&spec).unwrap_err().to_string();
    let e = err(RunSpec::new("primes", 1, "ascending", "km", 10));
    assert!(
        e.contains("unknown collection 'primes'") && e.contains("multiples"),
        "{e}"
    );
    let e = err(RunSpec::new("regular", 9, "ascending", "km", 10));
    assert!(e.contains("L_9") && e.contains("only 8 languages"), "{e}");
    let e = err(RunSpec::new("multiples", 0, "ascending", "km", 10));
    assert!(e.contains("numbered from 1"), "{e}");
    let e = err(RunSpec::new("multiples", 2, "ascending", "km", 0));
    assert!(e.contains("horizon") && e.contains("Fix"), "{e}");
    let e = err(RunSpec::new("multiples", 2, "sideways", "km", 10));
    assert!(
        e.contains("unknown adversary") && e.contains("staged"),
        "{e}"
    );
    let e = err(RunSpec::new("multiples", 2, "ascending", "gpt", 10));
    assert!(
        e.contains("unknown learner") && e.contains("km-critical"),
        "{e}"
    );
    let e = err(RunSpec::new(
        "dfa:sigma=ab;start=0;accept=0",
        1,
        "ascending",
        "km",
        10,
    ));
    assert!(
        e.contains("malformed DFA #1") && e.contains("missing key 'next'"),
        "{e}"
    );
    let e = err(RunSpec::new(
        "dfa:sigma=ab;start=0;accept=0;next=0,0|sigma=ab;start=0;accept=0;next=0,3",
        1,
        "ascending",
        "km",
        10,
    ));
    assert!(
        e.contains("malformed DFA #2") && e.contains("state 3"),
        "{e}"
    );
    let e = err(RunSpec::new("multiples", 2, "staged", "km", 10));
    assert!(e.contains("staged") && e.contains("progressions"), "{e}");
    let e = err(RunSpec::new(
        "km-example",
        3,
        "ascending",
        "km-critical",
        10,
    ));
    assert!(
        e.contains("subset") && e.contains("use the learner 'km'"),
        "{e}"
    );
}

#[test]
fn user_dfas_run_and_list_names_everything() {
    // L1 = even length, L2 = ends in b.
    let spec = RunSpec::new(
        "dfa:sigma=ab;start=0;accept=0;next=1,1/0,0|sigma=ab;start=0;accept=1;next=0,1/0,1",
        2,
        "random",
        "km",
        50,
    );
    let r = run_from_spec(&spec).unwrap();
    assert!(r.summary.last_error < 50);
    let text = gen_km_game::list();
    for name in [
        "multiples",
        "progressions",
        "dfa:",
        "staged",
        "km-v1",
        "density",
        "hallucinator",
    ] {
        assert!(text.contains(name), "{name}");
    }
}

// ------------------------------------------------------------ outputs

#[test]
fn summary_json_and_png() {
    let r = run_from_spec(&RunSpec::new("progressions", 4, "staged", "km", 60)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&r.summary_json()).unwrap();
    for key in [
        "last_error",
        "hallucinations",
        "non_novel",
        "queries",
        "lower_density",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    assert_eq!(r.density.len(), 60);
    let dir = std::env::temp_dir().join(format!("gen-km-game-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.png");
    plot::write_run_png(&r, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn results_table_covers_every_combination() {
    let md = gen_km_game::results_table(12, 1).unwrap();
    let rows = md
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| collection"))
        .count();
    assert_eq!(rows, 11 * 5 * 10);
    assert!(md.contains("| progressions | Q(0,2) | staged | km |"));
}

// ------------------------------------------------------------ bridge

/// A toy generator: a seen word with one letter replaced (by a, b, c or d)
/// half of the time, the seen word itself otherwise.
struct Mutator {
    seen: Vec<String>,
}

impl StringGenerator for Mutator {
    fn name(&self) -> String {
        "mutator".into()
    }
    fn fit(&mut self, examples: &[String], _rng: &mut Rng) -> gen_core::Result<()> {
        self.seen = examples.to_vec();
        Ok(())
    }
    fn generate(&mut self, n: usize, rng: &mut Rng) -> gen_core::Result<Vec<String>> {
        if self.seen.is_empty() {
            return Ok(vec!["dddd".into(); n]);
        }
        Ok((0..n)
            .map(|_| {
                let mut w: Vec<char> = self.seen[rng.random_range(0..self.seen.len())]
                    .chars()
                    .collect();
                if rng.random_bool(0.5) {
                    let k = rng.random_range(0..w.len());
                    w[k] = ['a', 'b', 'c', 'd'][rng.random_range(0..4)];
                }
                w.into_iter().collect()
            })
            .collect())
    }
}

#[test]
fn words_experiment_measures_validity_and_novelty() {
    let letters = ['a', 'b', 'c'];
    let mut k = Vec::new();
    for x in letters {
        for y in letters {
            for z in letters {
                k.push(format!("{x}{y}{z}"));
            }
        }
    }
    let mut g = Mutator { seen: vec![] };
    let pts = words_experiment(&k, &[0, 3, 9, 27], &mut g, 2000, 7).unwrap();
    assert_eq!(pts.len(), 4);
    for p in &pts {
        assert!(p.valid_and_novel <= p.validity.min(p.novelty) + 1e-12);
        assert_eq!(p.samples, 2000);
    }
    assert_eq!(pts[0].validity, 0.0);
    assert_eq!(pts[0].novelty, 1.0);
    assert!(pts[1].valid_and_novel > 0.1 && pts[1].validity > 0.8);
    assert_eq!(pts[3].valid_and_novel, 0.0); // everything valid has been seen
    assert!(pts[3].novelty < 0.2);
    let e = words_experiment(&k, &[28], &mut g, 10, 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("more seen words than K has (27)"), "{e}");
    assert!(words_experiment(&k, &[1], &mut g, 0, 0).is_err());
    assert!(words_experiment(&[], &[0], &mut g, 5, 0).is_err());
    let md = gen_km_game::words_table(&pts);
    assert!(md.contains("| 27 | 2000 |"));
}
