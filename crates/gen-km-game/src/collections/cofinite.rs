//! Co-singletons over ℤ and co-finite sets over ℕ: classes whose closures
//! are always finite (closure dimension ∞), so the closure generator of Li,
//! Raman & Tewari never becomes safe, while KM still generate in the limit.

use crate::collections::Collection;
use crate::languages::{Closure, ClosureDim, LangId};
use crate::universe::{Pos, Universe};

/// L₁ = ℤ and L_{j+1} = ℤ ∖ {uⱼ} (j ≥ 1), over ℤ.
///
/// ⟨S⟩ = S (the co-singletons avoiding every unseen element intersect to S),
/// so d(C) = ∞. ℤ has no finite tell-tale (every finite T lies in ℤ ∖ {x}
/// for x ∉ T), so the staged adversary can be run against target L₁.
#[derive(Debug, Clone, Default)]
pub struct CoSingletons;

impl Collection for CoSingletons {
    fn name(&self) -> String {
        "co-singletons".into()
    }
    fn description(&self) -> String {
        "L_1 = Z and L_(j+1) = Z minus {u_j} over Z".into()
    }
    fn universe(&self) -> &Universe {
        &Universe::Integers
    }
    fn len(&self) -> Option<usize> {
        None
    }
    fn lang_name(&self, i: LangId) -> String {
        if i == 1 {
            "Z".into()
        } else {
            format!("Z-{{{}}}", Universe::int(i as u64 - 1))
        }
    }
    fn contains(&self, i: LangId, p: Pos) -> bool {
        i == 1 || p != i as u64 - 1
    }
    fn is_subset(&self, a: LangId, b: LangId) -> Option<bool> {
        Some(b == 1 || a == b)
    }
    fn intersection_is_infinite(&self, _ids: &[LangId]) -> Option<bool> {
        Some(true)
    }
    fn closure(&self, sample: &[Pos]) -> Option<Closure<'_>> {
        Some(sample_closure(sample))
    }
    fn closure_dimension(&self) -> ClosureDim {
        ClosureDim::Infinite
    }
    fn decoy(&self, target: LangId, presented: &[Pos]) -> Option<LangId> {
        // ℤ ∖ {u_x} with x beyond everything presented.
        (target == 1).then(|| presented.iter().copied().max().unwrap_or(0) as usize + 2)
    }
}

/// Lᵢ = ℕ ∖ Fᵢ over ℕ, where n ∈ Fᵢ iff bit n of i − 1 is set (so L₁ = ℕ,
/// L₂ = ℕ ∖ {0}, L₃ = ℕ ∖ {1}, L₄ = ℕ ∖ {0, 1}, …).
///
/// ⟨S⟩ = S for the class of all co-finite sets, so d(C) = ∞.
#[derive(Debug, Clone, Default)]
pub struct CoFinite;

impl CoFinite {
    /// The excluded set of Lᵢ as a bit mask.
    pub fn mask(i: LangId) -> u64 {
        i as u64 - 1
    }
}

impl Collection for CoFinite {
    fn name(&self) -> String {
        "co-finite".into()
    }
    fn description(&self) -> String {
        "L_i = N minus F_i over N, n in F_i iff bit n of (i-1) is set".into()
    }
    fn universe(&self) -> &Universe {
        &Universe::Naturals
    }
    fn len(&self) -> Option<usize> {
        None
    }
    fn lang_name(&self, i: LangId) -> String {
        let m = Self::mask(i);
        if m == 0 {
            return "N".into();
        }
        let v: Vec<String> = (0..64)
            .filter(|&n| (m >> n) & 1 == 1)
            .map(|n: u64| n.to_string())
            .collect();
        format!("N-{{{}}}", v.join(","))
    }
    fn contains(&self, i: LangId, p: Pos) -> bool {
        let n = Universe::nat(p);
        n >= 64 || (Self::mask(i) >> n) & 1 == 0
    }
    fn is_subset(&self, a: LangId, b: LangId) -> Option<bool> {
        let (ma, mb) = (Self::mask(a), Self::mask(b));
        Some(ma & mb == mb)
    }
    fn intersection_is_infinite(&self, _ids: &[LangId]) -> Option<bool> {
        Some(true)
    }
    fn closure(&self, sample: &[Pos]) -> Option<Closure<'_>> {
        Some(sample_closure(sample))
    }
    fn closure_dimension(&self) -> ClosureDim {
        ClosureDim::Infinite
    }
    fn decoy(&self, target: LangId, presented: &[Pos]) -> Option<LangId> {
        // ℕ ∖ (F ∪ {x}) for the first x ∉ F beyond everything presented.
        let m = Self::mask(target);
        let start = presented
            .iter()
            .map(|&p| Universe::nat(p) + 1)
            .max()
            .unwrap_or(0);
        let x = (start..63).find(|&x| (m >> x) & 1 == 0)?;
        usize::try_from((m | (1 << x)) + 1).ok()
    }
}

/// The closure of a sample in these collections: the sample itself (finite).
///
/// Every finite set is avoided by some language of co-singletons / co-finite
/// sets, so the intersection of all languages containing S is exactly S.
fn sample_closure(sample: &[Pos]) -> Closure<'static> {
    let mut s = sample.to_vec();
    s.sort_unstable();
    s.dedup();
    Closure::new(false, "S", move |p| s.binary_search(&p).is_ok())
}
