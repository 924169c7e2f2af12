//! Regular languages given by DFAs over a small alphabet, with the universe Σ*
//! in shortlex order.
//!
//! A DFA is written `sigma=ab;start=0;accept=0,2;next=1,0/2,0/2,2`: `next`
//! lists, state by state (separated by `/`), the successor for each symbol
//! of `sigma` in order. A collection of DFAs is written by joining DFAs with
//! `|` after the prefix `dfa:`; all must share the alphabet.
//!
//! Subset (L(A) ⊆ L(B)) and infiniteness of finite intersections are decided
//! on product automata; the closure of a sample is the intersection of the
//! consistent DFAs (the collection is finite).

use std::collections::{HashMap, VecDeque};

use crate::collections::Collection;
use crate::error::{KmError, Result};
use crate::languages::LangId;
use crate::universe::{Pos, Universe};

/// Product automata larger than this are not explored (answer: unknown).
const MAX_PRODUCT_STATES: usize = 200_000;

/// A deterministic finite automaton over an alphabet Σ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dfa {
    /// A readable name (the spec text, or a description for built-ins).
    pub name: String,
    /// The alphabet Σ in order.
    pub alphabet: Vec<char>,
    /// Start state.
    pub start: usize,
    /// Accepting states.
    pub accept: Vec<bool>,
    /// `next\[q\]\[a\]`: successor of state q on the a-th symbol.
    pub next: Vec<Vec<usize>>,
}

impl Dfa {
    /// Parses `sigma=..;start=..;accept=..;next=..` (see the module docs);
    /// `index` (1-based) is used in error messages.
    pub fn parse(spec: &str, index: usize) -> Result<Dfa> {
        let err = |problem: String, fix: &str| KmError::MalformedDfa {
            index,
            spec: spec.to_string(),
            problem,
            fix: fix.to_string(),
        };
        let mut fields: HashMap<&str, &str> = HashMap::new();
        for part in spec.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                err(
                    format!("'{part}' is not key=value"),
                    "write sigma=ab;start=0;accept=0;next=1,1/0,0",
                )
            })?;
            if fields.insert(k.trim(), v.trim()).is_some() {
                return Err(err(
                    format!("key '{}' given twice", k.trim()),
                    "give each key once",
                ));
            }
        }
        for k in fields.keys() {
            if !["sigma", "start", "accept", "next"].contains(k) {
                return Err(err(
                    format!("unknown key '{k}'"),
                    "use only the keys sigma, start, accept, next",
                ));
            }
        }
        let get = |k: &str| {
            fields.get(k).copied().ok_or_else(|| {
                err(
                    format!("missing key '{k}'"),
                    "give all of sigma, start, accept and next",
                )
            })
        };
        let alphabet: Vec<char> = get("sigma")?.chars().collect();
        if alphabet.is_empty() {
            return Err(err("empty alphabet".into(), "write e.g. sigma=ab"));
        }
        let mut sorted = alphabet.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != alphabet.len()
            || alphabet
                .iter()
                .any(|c| c.is_whitespace() || "|;=,/".contains(*c))
        {
            return Err(err(
                format!(
                    "alphabet {:?} repeats a symbol or uses a separator",
                    get("sigma")?
                ),
                "list distinct symbols other than | ; = , / and spaces",
            ));
        }
        let parse_state = |s: &str, what: &str| {
            s.trim().parse::<usize>().map_err(|_| {
                err(
                    format!("{what} '{s}' is not a state number"),
                    "states are numbered 0, 1, 2, …",
                )
            })
        };
        let rows: Vec<&str> = get("next")?.split('/').collect();
        let n = rows.len();
        let mut next = Vec::with_capacity(n);
        for (q, row) in rows.iter().enumerate() {
            let succ: Vec<usize> = row
                .split(',')
                .map(|s| parse_state(s, "successor"))
                .collect::<Result<_>>()?;
            if succ.len() != alphabet.len() {
                return Err(err(
                    format!(
                        "state {q} has {} successors but the alphabet has {} symbols",
                        succ.len(),
                        alphabet.len()
                    ),
                    "give one successor per symbol of sigma, states separated by /",
                ));
            }
            if let Some(&bad) = succ.iter().find(|&&s| s >= n) {
                return Err(err(
                    format!(
                        "state {q} goes to state {bad}, but there are only {n} states (0..{})",
                        n - 1
                    ),
                    "every successor must be one of the listed states",
                ));
            }
            next.push(succ);
        }
        let start = parse_state(get("start")?, "start")?;
        if start >= n {
            return Err(err(
                format!("start state {start} does not exist"),
                "use 0..number of states − 1",
            ));
        }
        let mut accept = vec![false; n];
        let acc = get("accept")?;
        for s in acc.split(',').filter(|s| !s.trim().is_empty()) {
            let q = parse_state(s, "accepting state")?;
            if q >= n {
                return Err(err(
                    format!("accepting state {q} does not exist"),
                    "use 0..number of states − 1",
                ));
            }
            accept[q] = true;
        }
        let dfa = Dfa {
            name: spec.to_string(),
            alphabet,
            start,
            accept,
            next,
        };
        if !dfa.is_infinite() {
            return Err(err(
                "the DFA accepts a finite language, but the KM game needs infinite languages"
                    .into(),
                "make an accepting state reachable through a cycle",
            ));
        }
        Ok(dfa)
    }

    /// A built-in DFA (trusted spec).
    fn builtin(name: &str, spec: &str) -> Dfa {
        let mut d = Dfa::parse(spec, 0).expect("built-in DFA specs are valid");
        d.name = name.to_string();
        d
    }

    /// Does the DFA accept the string at position `p` of Σ* (shortlex)?
    pub fn accepts_pos(&self, p: Pos) -> bool {
        let mut q = self.start;
        for d in Universe::digits(p, self.alphabet.len()) {
            q = self.next[q][d];
        }
        self.accept[q]
    }

    /// Is L(self) infinite?
    pub fn is_infinite(&self) -> bool {
        product_is_infinite(&[self]) == Some(true)
    }
}

/// Reachable product states of several DFAs: (states, edges, accepting flags).
type Product = (Vec<Vec<usize>>, Vec<Vec<usize>>, Vec<bool>);

/// Explores the product automaton; `accepting(tuple)` says which product
/// states accept. `None` if it exceeds [`MAX_PRODUCT_STATES`].
fn explore(dfas: &[&Dfa], accepting: impl Fn(&[usize]) -> bool) -> Option<Product> {
    let k = dfas[0].alphabet.len();
    let start: Vec<usize> = dfas.iter().map(|d| d.start).collect();
    let mut id: HashMap<Vec<usize>, usize> = HashMap::new();
    let mut states = vec![start.clone()];
    id.insert(start, 0);
    let mut edges: Vec<Vec<usize>> = Vec::new();
    let mut i = 0;
    while i < states.len() {
        let mut out = Vec::with_capacity(k);
        for a in 0..k {
            let succ: Vec<usize> = states[i]
                .iter()
                .zip(dfas)
                .map(|(&q, d)| d.next[q][a])
                .collect();
            let j = match id.get(&succ) {
                Some(&j) => j,
                None => {
                    if states.len() >= MAX_PRODUCT_STATES {
                        return None;
                    }
                    id.insert(succ.clone(), states.len());
                    states.push(succ);
                    states.len() - 1
                }
            };
            out.push(j);
        }
        edges.push(out);
        i += 1;
    }
    let acc = states.iter().map(|s| accepting(s)).collect();
    Some((states, edges, acc))
}

/// Is L(A₁) ∩ … ∩ L(Aₖ) infinite? (A cycle among product states that are
/// reachable and can reach an accepting state.)
fn product_is_infinite(dfas: &[&Dfa]) -> Option<bool> {
    let all_accept = |s: &[usize]| s.iter().zip(dfas).all(|(&q, d)| d.accept[q]);
    let (states, edges, acc) = explore(dfas, all_accept)?;
    let n = states.len();
    // Co-reachability by reverse BFS from accepting states.
    let mut rev = vec![Vec::new(); n];
    for (u, out) in edges.iter().enumerate() {
        for &v in out {
            rev[v].push(u);
        }
    }
    let mut useful = acc.clone();
    let mut queue: VecDeque<usize> = (0..n).filter(|&u| acc[u]).collect();
    while let Some(v) = queue.pop_front() {
        for &u in &rev[v] {
            if !useful[u] {
                useful[u] = true;
                queue.push_back(u);
            }
        }
    }
    // Cycle detection among useful states (Kahn's algorithm).
    let mut indeg = vec![0usize; n];
    for u in (0..n).filter(|&u| useful[u]) {
        for &v in &edges[u] {
            if useful[v] {
                indeg[v] += 1;
            }
        }
    }
    let mut queue: VecDeque<usize> = (0..n).filter(|&u| useful[u] && indeg[u] == 0).collect();
    let mut removed = 0;
    while let Some(u) = queue.pop_front() {
        removed += 1;
        for &v in &edges[u] {
            if useful[v] {
                indeg[v] -= 1;
                if indeg[v] == 0 {
                    queue.push_back(v);
                }
            }
        }
    }
    let total_useful = useful.iter().filter(|&&u| u).count();
    Some(removed < total_useful)
}

/// A finite collection of regular languages (DFAs sharing an alphabet).
#[derive(Debug, Clone)]
pub struct Regular {
    name: String,
    universe: Universe,
    dfas: Vec<Dfa>,
}

impl Regular {
    /// A collection from DFAs that share one alphabet.
    pub fn new(name: impl Into<String>, dfas: Vec<Dfa>) -> Result<Regular> {
        let Some(first) = dfas.first() else {
            return Err(KmError::MalformedDfa {
                index: 1,
                spec: String::new(),
                problem: "no DFA given".into(),
                fix: "write dfa:<dfa>|<dfa>|… with at least one DFA".into(),
            });
        };
        let alphabet = first.alphabet.clone();
        if let Some((i, d)) = dfas
            .iter()
            .enumerate()
            .find(|(_, d)| d.alphabet != alphabet)
        {
            return Err(KmError::MalformedDfa {
                index: i + 1,
                spec: d.name.clone(),
                problem: format!(
                    "alphabet {:?} differs from the first DFA's {:?}",
                    d.alphabet.iter().collect::<String>(),
                    alphabet.iter().collect::<String>()
                ),
                fix: "give every DFA of a collection the same sigma".into(),
            });
        }
        Ok(Regular {
            name: name.into(),
            universe: Universe::Strings { alphabet },
            dfas,
        })
    }

    /// Parses `<dfa>|<dfa>|…` (see the module docs).
    pub fn parse(spec: &str) -> Result<Regular> {
        let dfas = spec
            .split('|')
            .enumerate()
            .map(|(i, s)| Dfa::parse(s, i + 1))
            .collect::<Result<Vec<_>>>()?;
        Regular::new(format!("dfa:{spec}"), dfas)
    }

    /// The built-in collection over {a, b} (languages of positive density, so
    /// shortlex positions of their elements grow only linearly):
    /// 1 Σ*, 2 even length, 3 ends in b, 4 even number of a's, 5 starts with a,
    /// 6 contains ab, 7 even length and ends in b, 8 no two a's in a row.
    pub fn builtin() -> Regular {
        let dfas = vec![
            Dfa::builtin("{a,b}*", "sigma=ab;start=0;accept=0;next=0,0"),
            Dfa::builtin("even length", "sigma=ab;start=0;accept=0;next=1,1/0,0"),
            Dfa::builtin("ends in b", "sigma=ab;start=0;accept=1;next=0,1/0,1"),
            Dfa::builtin("even #a", "sigma=ab;start=0;accept=0;next=1,0/0,1"),
            Dfa::builtin(
                "starts with a",
                "sigma=ab;start=0;accept=1;next=1,2/1,1/2,2",
            ),
            Dfa::builtin("contains ab", "sigma=ab;start=0;accept=2;next=1,0/1,2/2,2"),
            Dfa::builtin(
                "even length, ends in b",
                "sigma=ab;start=0;accept=3;next=1,1/2,3/1,1/1,1",
            ),
            Dfa::builtin("no aa", "sigma=ab;start=0;accept=0,1;next=1,0/2,0/2,2"),
        ];
        let mut r = Regular::new("regular", dfas).expect("built-in DFAs share {a,b}");
        r.name = "regular".into();
        r
    }

    /// The DFAs.
    pub fn dfas(&self) -> &[Dfa] {
        &self.dfas
    }
}

impl Collection for Regular {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn description(&self) -> String {
        let names: Vec<String> = self
            .dfas
            .iter()
            .enumerate()
            .map(|(i, d)| format!("L{}={}", i + 1, d.name))
            .collect();
        format!(
            "regular languages over {} in shortlex order: {}",
            self.universe.name(),
            names.join("; ")
        )
    }
    fn universe(&self) -> &Universe {
        &self.universe
    }
    fn len(&self) -> Option<usize> {
        Some(self.dfas.len())
    }
    fn lang_name(&self, i: LangId) -> String {
        self.dfas[i - 1].name.clone()
    }
    fn contains(&self, i: LangId, p: Pos) -> bool {
        self.dfas[i - 1].accepts_pos(p)
    }
    fn is_subset(&self, a: LangId, b: LangId) -> Option<bool> {
        let (da, db) = (&self.dfas[a - 1], &self.dfas[b - 1]);
        let (states, _, _) = explore(&[da, db], |_| false)?;
        Some(states.iter().all(|s| !da.accept[s[0]] || db.accept[s[1]]))
    }
    fn intersection_is_infinite(&self, ids: &[LangId]) -> Option<bool> {
        let dfas: Vec<&Dfa> = ids.iter().map(|&i| &self.dfas[i - 1]).collect();
        if dfas.is_empty() {
            return Some(true);
        }
        product_is_infinite(&dfas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_languages_match_their_descriptions() {
        let r = Regular::builtin();
        let ab = ['a', 'b'];
        for p in 1..500 {
            let s = Universe::string_at(&ab, p);
            let expect = [
                true,
                s.len().is_multiple_of(2),
                s.ends_with('b'),
                s.chars().filter(|&c| c == 'a').count() % 2 == 0,
                s.starts_with('a'),
                s.contains("ab"),
                s.len().is_multiple_of(2) && s.ends_with('b'),
                !s.contains("aa"),
            ];
            for (i, &e) in expect.iter().enumerate() {
                assert_eq!(r.contains(i + 1, p), e, "L{} on {s:?}", i + 1);
            }
        }
    }

    #[test]
    fn subset_and_intersections() {
        let r = Regular::builtin();
        assert_eq!(r.is_subset(7, 2), Some(true));
        assert_eq!(r.is_subset(7, 3), Some(true));
        assert_eq!(r.is_subset(2, 7), Some(false));
        assert_eq!(r.is_subset(3, 1), Some(true));
        assert_eq!(r.is_subset(1, 3), Some(false));
        assert_eq!(r.intersection_is_infinite(&[2, 3, 4]), Some(true));
        // "starts with a" ∩ "a*"-free … build a finite intersection:
        let d = Regular::parse(
            "sigma=ab;start=0;accept=0;next=0,1/1,1|sigma=ab;start=0;accept=0;next=1,0/1,1",
        )
        .unwrap(); // a* and b*
        assert_eq!(d.intersection_is_infinite(&[1, 2]), Some(false));
        assert_eq!(d.intersection_is_infinite(&[1]), Some(true));
    }

    #[test]
    fn malformed_dfas_are_rejected_with_reasons() {
        let cases = [
            ("sigma=ab;start=0;accept=0", "missing key 'next'"),
            ("sigma=ab;start=0;accept=0;next=1,1", "goes to state 1"),
            ("sigma=ab;start=0;accept=0;next=0", "1 successors"),
            ("sigma=ab;start=2;accept=0;next=0,0", "start state 2"),
            (
                "sigma=ab;start=0;accept=1;next=1,1/2,2/2,2",
                "accepts a finite language",
            ),
            ("sigma=ab;start=x;accept=0;next=0,0", "not a state number"),
            ("garbage", "not key=value"),
            ("sigma=aa;start=0;accept=0;next=0,0", "repeats a symbol"),
        ];
        for (spec, needle) in cases {
            let e = Dfa::parse(spec, 1).unwrap_err().to_string();
            assert!(e.contains(needle), "{spec}: {e}");
            assert!(e.contains("Fix:"), "{e}");
        }
        let e = Regular::parse(
            "sigma=ab;start=0;accept=0;next=0,0|sigma=abc;start=0;accept=0;next=0,0,0",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("differs"), "{e}");
    }
}
