//! Collections given by a user list of membership oracles, and the
//! five-language collection of KM's worked example (their Figures 1–2).

use crate::collections::Collection;
use crate::languages::LangId;
use crate::universe::{Pos, Universe};

/// A membership oracle: is uₚ in the language?
pub type Oracle = Box<dyn Fn(Pos) -> bool + Send + Sync>;

/// A finite collection given by a list of named membership oracles (the
/// most general input of the KM game: nothing but membership is known, so
/// only the membership-query learners run on it).
///
/// The oracles must describe infinite languages; a finite one makes the
/// KM search hit its limit and report [`crate::KmError::SearchLimit`].
pub struct OracleCollection {
    name: String,
    universe: Universe,
    langs: Vec<(String, Oracle)>,
}

impl OracleCollection {
    /// A collection named `name` over `universe`.
    pub fn new(name: impl Into<String>, universe: Universe) -> Self {
        OracleCollection {
            name: name.into(),
            universe,
            langs: Vec::new(),
        }
    }

    /// Appends a language L_{len+1}.
    pub fn with(
        mut self,
        name: impl Into<String>,
        oracle: impl Fn(Pos) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.langs.push((name.into(), Box::new(oracle)));
        self
    }
}

impl std::fmt::Debug for OracleCollection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.langs.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OracleCollection")
            .field("name", &self.name)
            .field("universe", &self.universe)
            .field("languages", &names)
            .finish()
    }
}

impl Collection for OracleCollection {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn description(&self) -> String {
        let names: Vec<String> = self
            .langs
            .iter()
            .enumerate()
            .map(|(i, (n, _))| format!("L{}={n}", i + 1))
            .collect();
        format!(
            "user oracles over {}: {}",
            self.universe.name(),
            names.join("; ")
        )
    }
    fn universe(&self) -> &Universe {
        &self.universe
    }
    fn len(&self) -> Option<usize> {
        Some(self.langs.len())
    }
    fn lang_name(&self, i: LangId) -> String {
        self.langs[i - 1].0.clone()
    }
    fn contains(&self, i: LangId, p: Pos) -> bool {
        (self.langs[i - 1].1)(p)
    }
}

/// The collection of KM's worked example (arXiv 2404.06757, Figures 1–2,
/// illustrating the §5 algorithm), over abstract strings u1, u2, ….
///
/// **What is from the paper.** The figure caption fixes: the adversary's
/// first five strings u2, u5, u8, u10, u12; step 1 outputs an arbitrary
/// string; step 2 starts at m = 5 and searches L2, finding u7 at m = 7;
/// step 3 starts at m = 8, searches L3, finds u10 at m = 10; step 4 starts at
/// m = 10, L4 is consistent but not (4, 10)-critical because L4\[10\] ⊄ L3\[10\],
/// so L3 is searched and u12 found at m = 12; step 5 starts at m = 12, L5 is
/// the highest (5, 12)-critical language (L5\[12\] ⊆ L3\[12\], L2\[12\]), stops
/// being critical at m = 14 (L5\[14\] ⊄ L3\[14\]), and the search falls back to
/// L3, finding u15 at m = 15.
///
/// **What is our reconstruction.** The figure's grid of X's (which uⱼ lie in
/// which Lᵢ) is not transcribed; the memberships below are chosen to satisfy
/// every statement of the caption, with tails beyond u15 that make each
/// language infinite. Step 1's "arbitrary string" is u1 here (the first
/// string not yet seen). The target K = L3 is our choice (it contains the
/// five strings, and makes the outputs of steps 1–2 invalid and 3–5 valid).
///
/// | | u1..u15 | tail (j > 15) |
/// |---|---|---|
/// | L1 | odd j | odd j |
/// | L2 | 2 5 7 8 9 10 12 14 15 | all |
/// | L3 | 2 5 8 10 12 15 | even j |
/// | L4 | 2 5 8 9 10 | odd j |
/// | L5 | 2 5 8 10 12 14 | j ≡ 0 mod 4 |
pub fn km_worked_example() -> OracleCollection {
    fn table(head: &'static [u64], tail: fn(u64) -> bool) -> impl Fn(Pos) -> bool + Send + Sync {
        move |j| if j <= 15 { head.contains(&j) } else { tail(j) }
    }
    OracleCollection::new("km-example", Universe::Labels)
        .with("L1", |j| j % 2 == 1)
        .with("L2", table(&[2, 5, 7, 8, 9, 10, 12, 14, 15], |_| true))
        .with("L3", table(&[2, 5, 8, 10, 12, 15], |j| j % 2 == 0))
        .with("L4", table(&[2, 5, 8, 9, 10], |j| j % 2 == 1))
        .with("L5", table(&[2, 5, 8, 10, 12, 14], |j| j % 4 == 0))
}
