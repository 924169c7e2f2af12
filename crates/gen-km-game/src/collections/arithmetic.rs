//! Arithmetic collections over ℕ and ℤ: multiples, progressions (one-way,
//! two-way, both), upward rays, unions of two multiples, multiples plus a
//! finite set.

use crate::collections::Collection;
use crate::languages::{
    Closure, ClosureDim, LangId, cantor, cantor_unpair, congruences_compatible, gcd,
    triangle_index, triangle_pair,
};
use crate::universe::{Pos, Universe};

/// Values of a sample in ℤ.
fn int_values(sample: &[Pos]) -> Vec<i64> {
    sample.iter().map(|&p| Universe::int(p)).collect()
}

/// Values of a sample in ℕ.
fn nat_values(sample: &[Pos]) -> Vec<u64> {
    sample.iter().map(|&p| Universe::nat(p)).collect()
}

/// (min S, gcd of the differences s − min S) of a non-empty integer sample.
fn min_and_gap(values: &[i64]) -> (i64, u64) {
    let min = values.iter().copied().min().unwrap_or(0);
    let g = values
        .iter()
        .fold(0u64, |g, &v| gcd(g, (v as i128 - min as i128) as u64));
    (min, g)
}

// ---------------------------------------------------------------- multiples

/// Lₖ = kℕ = {0, k, 2k, …} over ℕ, k = 1, 2, ….
///
/// kℕ ⊆ jℕ iff j | k; every finite intersection is lcm·ℕ (infinite);
/// ⟨S⟩ = gℕ with g = gcd(S), except ⟨∅⟩ = ⟨{0}⟩ = {0}, so d(C) = 1.
#[derive(Debug, Clone, Default)]
pub struct Multiples;

impl Collection for Multiples {
    fn name(&self) -> String {
        "multiples".into()
    }
    fn description(&self) -> String {
        "L_k = kN = {0, k, 2k, ...} over N, k = 1, 2, ...".into()
    }
    fn universe(&self) -> &Universe {
        &Universe::Naturals
    }
    fn len(&self) -> Option<usize> {
        None
    }
    fn lang_name(&self, i: LangId) -> String {
        format!("{i}N")
    }
    fn contains(&self, i: LangId, p: Pos) -> bool {
        Universe::nat(p).is_multiple_of(i as u64)
    }
    fn is_subset(&self, a: LangId, b: LangId) -> Option<bool> {
        Some(a.is_multiple_of(b))
    }
    fn intersection_is_infinite(&self, _ids: &[LangId]) -> Option<bool> {
        Some(true)
    }
    fn closure(&self, sample: &[Pos]) -> Option<Closure<'_>> {
        let g = nat_values(sample).into_iter().fold(0, gcd);
        if g == 0 {
            return Some(Closure::new(false, "{0}", |p| p == 1));
        }
        Some(Closure::new(true, format!("{g}N"), move |p| {
            Universe::nat(p).is_multiple_of(g)
        }))
    }
    fn closure_dimension(&self) -> ClosureDim {
        ClosureDim::Finite(1)
    }
}

// ---------------------------------------------------------------- rays

/// Lᵢ = {n ∈ ℕ : n ≥ i − 1} (upward rays), i = 1, 2, ….
///
/// ⟨S⟩ = {n ≥ min S} is infinite for every non-empty S and ⟨∅⟩ = ∅, so d(C) = 0.
#[derive(Debug, Clone, Default)]
pub struct Rays;

impl Collection for Rays {
    fn name(&self) -> String {
        "rays".into()
    }
    fn description(&self) -> String {
        "L_i = {n in N : n >= i-1} (upward rays)".into()
    }
    fn universe(&self) -> &Universe {
        &Universe::Naturals
    }
    fn len(&self) -> Option<usize> {
        None
    }
    fn lang_name(&self, i: LangId) -> String {
        format!("[{},inf)", i - 1)
    }
    fn contains(&self, i: LangId, p: Pos) -> bool {
        p >= i as u64
    }
    fn is_subset(&self, a: LangId, b: LangId) -> Option<bool> {
        Some(a >= b)
    }
    fn intersection_is_infinite(&self, _ids: &[LangId]) -> Option<bool> {
        Some(true)
    }
    fn closure(&self, sample: &[Pos]) -> Option<Closure<'_>> {
        match sample.iter().min() {
            None => Some(Closure::new(false, "empty", |_| false)),
            Some(&m) => Some(Closure::new(
                true,
                format!("[{},inf)", Universe::nat(m)),
                move |p| p >= m,
            )),
        }
    }
    fn closure_dimension(&self) -> ClosureDim {
        ClosureDim::Finite(0)
    }
}

// ---------------------------------------------------------------- progressions

/// A progression over ℤ: one-way P(a, b) = {a + bi : i ≥ 0} or two-way
/// Q(a, b) = {a + bi : i ∈ ℤ} (b ≥ 1; for Q, 0 ≤ a < b).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prog {
    /// P(a, b).
    P(i64, u64),
    /// Q(a, b).
    Q(i64, u64),
}

impl Prog {
    /// Membership of the integer z.
    pub fn contains_int(self, z: i64) -> bool {
        match self {
            Prog::P(a, b) => z >= a && (z as i128 - a as i128).rem_euclid(b as i128) == 0,
            Prog::Q(a, b) => (z as i128 - a as i128).rem_euclid(b as i128) == 0,
        }
    }

    /// The congruence class (a, b).
    pub fn congruence(self) -> (i64, u64) {
        match self {
            Prog::P(a, b) | Prog::Q(a, b) => (a, b),
        }
    }

    /// self ⊆ other.
    pub fn subset_of(self, other: Prog) -> bool {
        let (a, b) = self.congruence();
        let (c, d) = other.congruence();
        let same_class = b % d == 0 && (a as i128 - c as i128).rem_euclid(d as i128) == 0;
        match (self, other) {
            (Prog::P(..), Prog::P(..)) => a >= c && same_class,
            (_, Prog::Q(..)) => same_class,
            (Prog::Q(..), Prog::P(..)) => false,
        }
    }

    /// Readable name.
    pub fn name(self) -> String {
        match self {
            Prog::P(a, b) => format!("P({a},{b})"),
            Prog::Q(a, b) => format!("Q({a},{b})"),
        }
    }
}

/// One-way progressions enumerated by Cantor pairing: Lᵢ = P(a, b) with
/// π(b − 1, pos(a) − 1) = i − 1 (pos = position of a in ℤ's enumeration).
fn one_way_at(i: LangId) -> Prog {
    let (x, y) = cantor_unpair(i as u64 - 1);
    Prog::P(Universe::int(y + 1), x + 1)
}

/// Index of P(a, b) in the one-way enumeration.
fn one_way_index(a: i64, b: u64) -> LangId {
    (cantor(b - 1, Universe::pos_of_int(a) - 1) + 1) as usize
}

/// Two-way progressions in triangular order: Q(0,1), Q(0,2), Q(1,2), Q(0,3), ….
fn two_way_at(i: LangId) -> Prog {
    let (b, c) = triangle_pair(i);
    Prog::Q(c as i64 - 1, b)
}

/// Index of Q(a, b) (0 ≤ a < b) in the two-way enumeration.
fn two_way_index(a: i64, b: u64) -> LangId {
    triangle_index(b, a.rem_euclid(b as i64) as u64 + 1)
}

fn progs_intersection_infinite(progs: &[Prog]) -> bool {
    let system: Vec<(i64, u64)> = progs.iter().map(|p| p.congruence()).collect();
    congruences_compatible(&system)
}

/// ⟨S⟩ for progression classes: ∅, {s}, or P(min S, g) / Q(min S mod g, g).
fn prog_closure<'a>(sample: &[Pos], two_way: bool) -> Closure<'a> {
    let values = int_values(sample);
    let (min, g) = min_and_gap(&values);
    if values.is_empty() {
        return Closure::new(false, "empty", |_| false);
    }
    if g == 0 {
        return Closure::new(false, format!("{{{min}}}"), move |p| {
            Universe::int(p) == min
        });
    }
    let prog = if two_way {
        Prog::Q(min.rem_euclid(g as i64), g)
    } else {
        Prog::P(min, g)
    };
    Closure::new(true, prog.name(), move |p| {
        prog.contains_int(Universe::int(p))
    })
}

macro_rules! prog_collection {
    ($ty:ident, $name:expr, $desc:expr, $at:expr, $two_way:expr) => {
        impl Collection for $ty {
            fn name(&self) -> String {
                $name.into()
            }
            fn description(&self) -> String {
                $desc.into()
            }
            fn universe(&self) -> &Universe {
                &Universe::Integers
            }
            fn len(&self) -> Option<usize> {
                None
            }
            fn lang_name(&self, i: LangId) -> String {
                $at(i).name()
            }
            fn contains(&self, i: LangId, p: Pos) -> bool {
                $at(i).contains_int(Universe::int(p))
            }
            fn is_subset(&self, a: LangId, b: LangId) -> Option<bool> {
                Some($at(a).subset_of($at(b)))
            }
            fn intersection_is_infinite(&self, ids: &[LangId]) -> Option<bool> {
                let progs: Vec<Prog> = ids.iter().map(|&i| $at(i)).collect();
                Some(progs_intersection_infinite(&progs))
            }
            fn closure(&self, sample: &[Pos]) -> Option<Closure<'_>> {
                Some(prog_closure(sample, $two_way))
            }
            fn closure_dimension(&self) -> ClosureDim {
                ClosureDim::Finite(1)
            }
            fn decoy(&self, target: LangId, presented: &[Pos]) -> Option<LangId> {
                self.decoy_impl(target, presented)
            }
        }
    };
}

/// One-way progressions P(a, b) over ℤ (a ∈ ℤ, b ≥ 1), Cantor-enumerated.
/// Identifiable ({a, a + b} is a tell-tale), so no decoys.
#[derive(Debug, Clone, Default)]
pub struct OneWay;

impl OneWay {
    /// The language at index i.
    pub fn at(i: LangId) -> Prog {
        one_way_at(i)
    }
    /// The index of P(a, b).
    pub fn index_of(a: i64, b: u64) -> LangId {
        one_way_index(a, b)
    }
    fn decoy_impl(&self, _t: LangId, _p: &[Pos]) -> Option<LangId> {
        None
    }
}

prog_collection!(
    OneWay,
    "one-way",
    "L_i = P(a,b) = {a + b*i : i >= 0} over Z (Cantor order of (b, a))",
    one_way_at,
    false
);

/// Two-way progressions Q(a, b) over ℤ (0 ≤ a < b), triangular order.
/// Identifiable on its own ({a, a + b} is a tell-tale), so no decoys.
#[derive(Debug, Clone, Default)]
pub struct TwoWay;

impl TwoWay {
    /// The language at index i.
    pub fn at(i: LangId) -> Prog {
        two_way_at(i)
    }
    /// The index of Q(a mod b, b).
    pub fn index_of(a: i64, b: u64) -> LangId {
        two_way_index(a, b)
    }
    fn decoy_impl(&self, _t: LangId, _p: &[Pos]) -> Option<LangId> {
        None
    }
}

prog_collection!(
    TwoWay,
    "two-way",
    "L_i = Q(a,b) = {a + b*i : i in Z} over Z, 0 <= a < b (triangular order)",
    two_way_at,
    true
);

/// All one-way and two-way progressions, interleaved: L₂ₖ₋₁ = the k-th
/// P(a, b) of [`OneWay`], L₂ₖ = the k-th Q(a, b) of [`TwoWay`].
///
/// This is the class KM (appendix, after Gold 1967) use to show that
/// identification in the limit is impossible: Q(a, b) has no finite
/// tell-tale, because every finite T ⊆ Q(a, b) lies in the proper
/// sub-language P(min T, b). [`Collection::decoy`] returns such a
/// P(min S − b, b) for the staged adversary.
#[derive(Debug, Clone, Default)]
pub struct Progressions;

fn mixed_at(i: LangId) -> Prog {
    if i % 2 == 1 {
        one_way_at(i.div_ceil(2))
    } else {
        two_way_at(i / 2)
    }
}

impl Progressions {
    /// The language at index i.
    pub fn at(i: LangId) -> Prog {
        mixed_at(i)
    }
    /// The index of P(a, b).
    pub fn index_of_p(a: i64, b: u64) -> LangId {
        2 * one_way_index(a, b) - 1
    }
    /// The index of Q(a mod b, b).
    pub fn index_of_q(a: i64, b: u64) -> LangId {
        2 * two_way_index(a, b)
    }
    fn decoy_impl(&self, target: LangId, presented: &[Pos]) -> Option<LangId> {
        match mixed_at(target) {
            Prog::Q(a, b) => {
                let min = int_values(presented).into_iter().min().unwrap_or(a);
                Some(Self::index_of_p(min - b as i64, b))
            }
            Prog::P(..) => None,
        }
    }
}

prog_collection!(
    Progressions,
    "progressions",
    "all P(a,b) (odd indices) and Q(a,b) (even indices) over Z: KM's non-identifiable class",
    mixed_at,
    false
);

// ---------------------------------------------------------------- unions

/// L = jℕ ∪ kℕ over ℕ for 1 ≤ j ≤ k (triangular order by k, then j): finite
/// unions of multiples. jℕ ∪ kℕ ⊆ j'ℕ ∪ k'ℕ iff each of j, k is a multiple of
/// j' or k'. ⟨S⟩ is infinite unless S ⊆ {0}, so d(C) = 1.
#[derive(Debug, Clone, Default)]
pub struct Unions;

impl Unions {
    /// (j, k) of Lᵢ.
    pub fn at(i: LangId) -> (u64, u64) {
        let (k, j) = triangle_pair(i);
        (j, k)
    }
    /// The index of jℕ ∪ kℕ (order of j, k irrelevant).
    pub fn index_of(j: u64, k: u64) -> LangId {
        triangle_index(j.max(k), j.min(k))
    }
}

/// Divisors of n ≥ 1.
fn divisors(n: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut d = 1;
    while d * d <= n {
        if n.is_multiple_of(d) {
            out.push(d);
            if d * d != n {
                out.push(n / d);
            }
        }
        d += 1;
    }
    out
}

impl Collection for Unions {
    fn name(&self) -> String {
        "unions".into()
    }
    fn description(&self) -> String {
        "L = jN u kN over N, 1 <= j <= k (finite unions of multiples)".into()
    }
    fn universe(&self) -> &Universe {
        &Universe::Naturals
    }
    fn len(&self) -> Option<usize> {
        None
    }
    fn lang_name(&self, i: LangId) -> String {
        let (j, k) = Self::at(i);
        if j == k {
            format!("{j}N")
        } else {
            format!("{j}N u {k}N")
        }
    }
    fn contains(&self, i: LangId, p: Pos) -> bool {
        let (j, k) = Self::at(i);
        let n = Universe::nat(p);
        n.is_multiple_of(j) || n.is_multiple_of(k)
    }
    fn is_subset(&self, a: LangId, b: LangId) -> Option<bool> {
        let (j, k) = Self::at(a);
        let (j2, k2) = Self::at(b);
        let covered = |x: u64| x.is_multiple_of(j2) || x.is_multiple_of(k2);
        Some(covered(j) && covered(k))
    }
    fn intersection_is_infinite(&self, _ids: &[LangId]) -> Option<bool> {
        Some(true)
    }
    /// ⟨S⟩ for S′ = S ∖ {0} ≠ ∅: x ∈ ⟨S⟩ iff g | x (g = gcd S′) and for every
    /// divisor j of an element of S′ with j ∤ x, the rest R_j = {s ∈ S′ : j ∤ s}
    /// is non-empty and gcd(R_j) | x. (A covering pair (j, k) that excludes x
    /// exists exactly when one of these fails.)
    fn closure(&self, sample: &[Pos]) -> Option<Closure<'_>> {
        let mut s: Vec<u64> = nat_values(sample).into_iter().filter(|&n| n != 0).collect();
        s.sort_unstable();
        s.dedup();
        if s.is_empty() {
            return Some(Closure::new(false, "{0}", |p| p == 1));
        }
        let g = s.iter().copied().fold(0, gcd);
        let mut ds: Vec<u64> = s.iter().flat_map(|&x| divisors(x)).collect();
        ds.sort_unstable();
        ds.dedup();
        // For each divisor j: gcd of the elements j does not divide (0 = none).
        let rests: Vec<(u64, u64)> = ds
            .iter()
            .map(|&j| {
                (
                    j,
                    s.iter().filter(|&&x| x % j != 0).fold(0, |a, &x| gcd(a, x)),
                )
            })
            .collect();
        Some(Closure::new(true, format!("<S> within {g}N"), move |p| {
            let x = Universe::nat(p);
            if !x.is_multiple_of(g) {
                return false;
            }
            rests
                .iter()
                .all(|&(j, r)| x.is_multiple_of(j) || (r != 0 && x.is_multiple_of(r)))
        }))
    }
    fn closure_dimension(&self) -> ClosureDim {
        ClosureDim::Finite(1)
    }
}

// ---------------------------------------------------------------- plus finite

/// L = kℕ ∪ F over ℕ: a progression (multiples of k ≥ 1) plus a finite set
/// F, enumerated by Cantor pairing of (k − 1, mask) where bit n of the mask
/// puts n in F.
///
/// Every sample S lies in kℕ ∪ S for every k, so ⟨S⟩ = S ∪ {0} is always
/// finite and the closure dimension is infinite (Li, Raman & Tewari: not
/// uniformly generatable), yet KM generate in the limit. (Indices are
/// `usize`, so the addressable languages have F ⊆ \[0, 63\]; the closure is
/// that of the full class of all finite F.)
#[derive(Debug, Clone, Default)]
pub struct PlusFinite;

impl PlusFinite {
    /// (k, mask) of Lᵢ.
    pub fn at(i: LangId) -> (u64, u64) {
        let (x, y) = cantor_unpair(i as u64 - 1);
        (x + 1, y)
    }
    /// The index of kℕ ∪ F(mask).
    pub fn index_of(k: u64, mask: u64) -> LangId {
        (cantor(k - 1, mask) + 1) as usize
    }
}

fn mask_has(mask: u64, n: u64) -> bool {
    n < 64 && (mask >> n) & 1 == 1
}

fn mask_name(mask: u64) -> String {
    let v: Vec<String> = (0..64)
        .filter(|&n| mask_has(mask, n))
        .map(|n| n.to_string())
        .collect();
    format!("{{{}}}", v.join(","))
}

impl Collection for PlusFinite {
    fn name(&self) -> String {
        "plus-finite".into()
    }
    fn description(&self) -> String {
        "L = kN u F over N, F finite (progression plus a finite set; closure dimension infinite)"
            .into()
    }
    fn universe(&self) -> &Universe {
        &Universe::Naturals
    }
    fn len(&self) -> Option<usize> {
        None
    }
    fn lang_name(&self, i: LangId) -> String {
        let (k, mask) = Self::at(i);
        if mask == 0 {
            format!("{k}N")
        } else {
            format!("{k}N u {}", mask_name(mask))
        }
    }
    fn contains(&self, i: LangId, p: Pos) -> bool {
        let (k, mask) = Self::at(i);
        let n = Universe::nat(p);
        n.is_multiple_of(k) || mask_has(mask, n)
    }
    fn is_subset(&self, a: LangId, b: LangId) -> Option<bool> {
        let (k, m) = Self::at(a);
        let (k2, m2) = Self::at(b);
        // kN ⊆ k2N ∪ F2 iff k2 | k (kN is infinite, F2 finite); and F ⊆ k2N ∪ F2.
        let f_ok = (0..64)
            .filter(|&n| mask_has(m, n))
            .all(|n| n % k2 == 0 || mask_has(m2, n));
        Some(k % k2 == 0 && f_ok)
    }
    fn intersection_is_infinite(&self, _ids: &[LangId]) -> Option<bool> {
        Some(true)
    }
    fn closure(&self, sample: &[Pos]) -> Option<Closure<'_>> {
        let mut s: Vec<Pos> = sample.to_vec();
        s.push(1); // 0 ∈ kN for every k
        s.sort_unstable();
        s.dedup();
        Some(Closure::new(false, "S u {0}", move |p| {
            s.binary_search(&p).is_ok()
        }))
    }
    fn closure_dimension(&self) -> ClosureDim {
        ClosureDim::Infinite
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute-force ⊆ on a window of the universe.
    fn window_subset<C: Collection>(c: &C, a: LangId, b: LangId, window: Pos) -> bool {
        (1..=window).all(|p| !c.contains(a, p) || c.contains(b, p))
    }

    #[test]
    fn enumerations_round_trip() {
        for i in 1..500 {
            let Prog::P(a, b) = OneWay::at(i) else {
                panic!()
            };
            assert_eq!(OneWay::index_of(a, b), i);
            let Prog::Q(a, b) = TwoWay::at(i) else {
                panic!()
            };
            assert!(0 <= a && (a as u64) < b);
            assert_eq!(TwoWay::index_of(a, b), i);
            let (j, k) = Unions::at(i);
            assert_eq!(Unions::index_of(j, k), i);
            let (k, m) = PlusFinite::at(i);
            assert_eq!(PlusFinite::index_of(k, m), i);
        }
        assert_eq!(
            Progressions::at(Progressions::index_of_q(0, 2)),
            Prog::Q(0, 2)
        );
        assert_eq!(
            Progressions::at(Progressions::index_of_p(-4, 3)),
            Prog::P(-4, 3)
        );
    }

    #[test]
    fn subset_oracles_agree_with_brute_force() {
        // Windows are large enough that a counterexample to ⊆ shows up.
        for a in 1..40 {
            for b in 1..40 {
                let w = 400;
                assert_eq!(
                    Multiples.is_subset(a, b),
                    Some(window_subset(&Multiples, a, b, w))
                );
                assert_eq!(Rays.is_subset(a, b), Some(window_subset(&Rays, a, b, w)));
                assert_eq!(
                    Unions.is_subset(a, b),
                    Some(window_subset(&Unions, a, b, w))
                );
                assert_eq!(
                    Progressions.is_subset(a, b),
                    Some(window_subset(&Progressions, a, b, 2000)),
                    "{} vs {}",
                    Progressions.lang_name(a),
                    Progressions.lang_name(b)
                );
                assert_eq!(
                    PlusFinite.is_subset(a, b),
                    Some(window_subset(&PlusFinite, a, b, 400)),
                    "{} vs {}",
                    PlusFinite.lang_name(a),
                    PlusFinite.lang_name(b)
                );
            }
        }
    }

    /// Brute-force closure on a window: intersection of the consistent
    /// languages among the first `n` (enough for these classes).
    fn window_closure<C: Collection + ?Sized>(c: &C, s: &[Pos], n: usize, window: Pos) -> Vec<Pos> {
        (1..=window)
            .filter(|&p| {
                (1..=n)
                    .filter(|&i| s.iter().all(|&q| c.contains(i, q)))
                    .all(|i| c.contains(i, p))
            })
            .collect()
    }

    #[test]
    fn closures_agree_with_brute_force() {
        let samples: Vec<Vec<i64>> = vec![vec![4, 10], vec![6], vec![0, 6, 9], vec![-3, 5, 9]];
        for s in &samples {
            // Multiples and unions over N (skip negatives).
            let nat: Vec<Pos> = s
                .iter()
                .filter(|&&v| v >= 0)
                .map(|&v| Universe::pos_of_nat(v as u64))
                .collect();
            for (name, c) in [
                ("multiples", &Multiples as &dyn Collection),
                ("unions", &Unions),
            ] {
                let cl = c.closure(&nat).unwrap();
                let brute = window_closure(c, &nat, 2500, 60);
                let ours: Vec<Pos> = (1..=60).filter(|&p| cl.contains(p)).collect();
                assert_eq!(ours, brute, "{name} {s:?}");
            }
            let int: Vec<Pos> = s.iter().map(|&v| Universe::pos_of_int(v)).collect();
            for c in [&Progressions as &dyn Collection, &OneWay, &TwoWay] {
                let cl = c.closure(&int).unwrap();
                let brute = window_closure(c, &int, 3000, 40);
                let ours: Vec<Pos> = (1..=40).filter(|&p| cl.contains(p)).collect();
                assert_eq!(ours, brute, "{} {s:?}", c.name());
            }
        }
    }

    #[test]
    fn decoys_are_proper_sublanguages_containing_the_sample() {
        let target = Progressions::index_of_q(1, 3);
        let presented: Vec<Pos> = [1i64, 4, -2, 7]
            .iter()
            .map(|&v| Universe::pos_of_int(v))
            .collect();
        let d = Progressions.decoy(target, &presented).unwrap();
        assert_eq!(Progressions::at(d), Prog::P(-5, 3));
        assert_eq!(Progressions.is_subset(d, target), Some(true));
        assert_eq!(Progressions.is_subset(target, d), Some(false));
        assert!(presented.iter().all(|&p| Progressions.contains(d, p)));
    }
}
