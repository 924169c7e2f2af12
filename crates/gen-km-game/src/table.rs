//! The results table: every learner against every collection (with a fixed
//! target) and every adversary, at one horizon.

use crate::collections::{OneWay, PlusFinite, Progressions, TwoWay, Unions};
use crate::error::{KmError, Result};
use crate::languages::LangId;
use crate::metrics::Summary;
use crate::spec::{ADVERSARIES, LEARNERS, RunSpec, run_from_spec};

/// The target used for each collection in the table, with why it is
/// interesting.
pub fn default_targets() -> Vec<(&'static str, LangId)> {
    vec![
        ("multiples", 3),                                 // 3N
        ("one-way", OneWay::index_of(-1, 3)),             // P(-1,3)
        ("two-way", TwoWay::index_of(1, 3)),              // Q(1,3)
        ("progressions", Progressions::index_of_q(0, 2)), // Q(0,2): no tell-tale
        ("rays", 6),                                      // [5, inf)
        ("co-singletons", 4),                             // Z minus {-1}
        ("co-finite", 6),                                 // N minus {0, 2}
        ("plus-finite", PlusFinite::index_of(2, 0b10)),   // 2N u {1}
        ("unions", Unions::index_of(2, 3)),               // 2N u 3N
        ("regular", 4),                                   // even number of a's
        ("km-example", 3),                                // the worked example's K
    ]
}

/// One cell of the table: a summary, or why the combination cannot run.
#[derive(Debug, Clone)]
pub struct TableRow {
    /// The spec that was run.
    pub spec: RunSpec,
    /// The summary, or the reason the combination is not applicable.
    pub result: std::result::Result<Summary, String>,
}

/// Runs every learner × collection × adversary at `horizon`.
///
/// Combinations a learner or adversary does not support (e.g. the subset
/// oracle on user oracles, staged decoys on identifiable targets) are
/// reported, not failed; other errors abort.
pub fn results_rows(horizon: usize, seed: u64) -> Result<Vec<TableRow>> {
    let mut rows = Vec::new();
    for (collection, target) in default_targets() {
        for (adversary, _) in ADVERSARIES {
            for (learner, _) in LEARNERS {
                let spec =
                    RunSpec::new(collection, target, *adversary, *learner, horizon).with_seed(seed);
                let result = match run_from_spec(&spec) {
                    Ok(r) => Ok(r.summary),
                    Err(KmError::Unsupported { learner, needs, .. }) => {
                        Err(format!("{learner} needs {needs}"))
                    }
                    Err(e) => return Err(e),
                };
                rows.push(TableRow { spec, result });
            }
        }
    }
    Ok(rows)
}

/// The table as Markdown (t̂* = 0 means no error at all; "n/a" rows say what
/// was missing).
pub fn results_table(horizon: usize, seed: u64) -> Result<String> {
    Ok(rows_to_markdown(&results_rows(horizon, seed)?, horizon))
}

/// Formats rows as a Markdown table, followed by the reasons for "n/a".
pub fn rows_to_markdown(rows: &[TableRow], horizon: usize) -> String {
    let mut s = format!(
        "Horizon T = {horizon}. t* = last step with an invalid or non-novel output (0 = none); \
         halluc. = outputs outside K; non-novel = outputs already seen; focus = focus changes; \
         q/step = membership + structural queries per step; dens. = lower-density proxy \
         min d(N) over N in [T/4, T].\n\n\
         | collection | K | adversary | learner | t* | halluc. | non-novel | focus | q/step | dens. |\n\
         |---|---|---|---|---:|---:|---:|---:|---:|---:|\n"
    );
    let mut notes: Vec<String> = Vec::new();
    for row in rows {
        let sp = &row.spec;
        match &row.result {
            Ok(r) => s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.2} |\n",
                sp.collection,
                r.target_name,
                sp.adversary,
                sp.learner,
                r.last_error,
                r.hallucinations,
                r.non_novel,
                r.focus_changes,
                r.queries_per_step,
                r.lower_density
            )),
            Err(why) => {
                s.push_str(&format!(
                    "| {} | L{} | {} | {} | n/a | | | | | |\n",
                    sp.collection, sp.target, sp.adversary, sp.learner
                ));
                let note = format!("{why} (on {})", sp.collection);
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
        }
    }
    if !notes.is_empty() {
        s.push_str("\nn/a: the learner or adversary lacks what it needs:\n");
        for n in notes {
            s.push_str(&format!("- {n}\n"));
        }
    }
    s
}

/// A compact view of the same rows: one line per collection × adversary, one
/// column per learner, each cell `t* / hallucinations / lower density`.
pub fn rows_to_pivot(rows: &[TableRow], horizon: usize) -> String {
    let learners: Vec<&str> = LEARNERS.iter().map(|(n, _)| *n).collect();
    let mut s = format!(
        "Horizon T = {horizon}; cell = t* / hallucinations / lower-density proxy (n/a: not applicable).\n\n\
         | collection (K) | adversary | {} |\n|---|---|{}\n",
        learners.join(" | "),
        "---|".repeat(learners.len())
    );
    let mut k = 0;
    while k < rows.len() {
        let sp = &rows[k].spec;
        let group: Vec<&TableRow> = rows[k..]
            .iter()
            .take_while(|r| r.spec.collection == sp.collection && r.spec.adversary == sp.adversary)
            .collect();
        let target = group
            .iter()
            .find_map(|r| r.result.as_ref().ok().map(|x| x.target_name.clone()))
            .unwrap_or_else(|| format!("L{}", sp.target));
        let cells: Vec<String> = learners
            .iter()
            .map(|l| {
                match group
                    .iter()
                    .find(|r| r.spec.learner == *l)
                    .map(|r| &r.result)
                {
                    Some(Ok(x)) => format!(
                        "{} / {} / {:.2}",
                        x.last_error, x.hallucinations, x.lower_density
                    ),
                    _ => "n/a".into(),
                }
            })
            .collect();
        s.push_str(&format!(
            "| {} ({target}) | {} | {} |\n",
            sp.collection,
            sp.adversary,
            cells.join(" | ")
        ));
        k += group.len().max(1);
    }
    s
}
