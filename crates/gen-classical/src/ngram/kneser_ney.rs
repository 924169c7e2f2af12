//! Interpolated Kneser–Ney smoothing (Kneser & Ney 1995; Chen & Goodman 1998),
//! as in KenLM and SRILM, for the packed contexts of [`super::CharNGram`].
//!
//! With a context h of length j (the last j symbols) and h' its suffix of
//! length j − 1,
//!
//! ```text
//! p_j(w | h) = max(c_j(h, w) − D_j, 0) / c_j(h) + D_j · N₁₊(h •) / c_j(h) · p_{j−1}(w | h')
//! p_{−1}(w)  = 1 / V
//! ```
//!
//! where c_j(h) = Σ_w c_j(h, w) and N₁₊(h •) = #{w : c_j(h, w) > 0}; a context
//! never seen (c_j(h) = 0) hands all its mass to the lower order. The highest
//! order counts occurrences; every lower order counts *continuations*
//! N₁₊(• h w), the number of distinct symbols seen before h w, so a character
//! that follows many contexts (not one frequent one) gets the lower-order mass.
//! n-grams that begin with the start padding have no left context and keep
//! their raw counts (KenLM does the same for `<s>`). Because every seen count
//! is at least 1 ≥ D_j, each conditional sums to one over the V symbols.
//!
//! The discount of each order is Chen & Goodman's D = n₁ / (n₁ + 2 n₂) from
//! its count-of-counts, unless a fixed one is given.

use std::collections::HashMap;

/// The counts of one order: c_j(h, w), and per context (c_j(h), N₁₊(h •)).
#[derive(Debug, Clone, Default)]
struct Level {
    counts: HashMap<(u64, u16), u32>,
    contexts: HashMap<u64, (u32, u32)>,
}

impl Level {
    fn new(counts: HashMap<(u64, u16), u32>) -> Self {
        let mut contexts: HashMap<u64, (u32, u32)> = HashMap::new();
        for (&(h, _), &c) in &counts {
            let e = contexts.entry(h).or_insert((0, 0));
            e.0 += c;
            e.1 += 1;
        }
        Self { counts, contexts }
    }
}

/// The lower-order tables and discounts of an interpolated Kneser–Ney model.
/// The highest order is the model's own count table.
#[derive(Debug, Clone)]
pub(super) struct KneserNey {
    /// Orders with context length 0..n−1 (all but the highest).
    lower: Vec<Level>,
    /// N₁₊(h •) of the highest order's contexts.
    top_types: HashMap<u64, u32>,
    /// D_j for context length j = 0..n.
    discounts: Vec<f64>,
}

fn mask(j: usize) -> u64 {
    if j == 0 { 0 } else { (1u64 << (8 * j)) - 1 }
}

/// Chen & Goodman's estimate n₁ / (n₁ + 2 n₂), kept in [0.05, 1] (0.5 when
/// the counts say nothing).
fn estimate_discount(counts: &HashMap<(u64, u16), u32>) -> f64 {
    let (mut n1, mut n2) = (0usize, 0usize);
    for &c in counts.values() {
        match c {
            1 => n1 += 1,
            2 => n2 += 1,
            _ => {}
        }
    }
    if n1 == 0 {
        return 0.5;
    }
    (n1 as f64 / (n1 + 2 * n2) as f64).clamp(0.05, 1.0)
}

impl KneserNey {
    /// Builds every lower order from the highest order's counts `top` (over
    /// contexts of `order` − 1 symbols). `boundary` is the start-padding symbol.
    pub(super) fn build(
        order: usize,
        top: &HashMap<(u64, u16), u32>,
        discount: Option<f64>,
        boundary: u16,
    ) -> Self {
        // Built from the highest order down: level j from level j + 1.
        let mut rev: Vec<Level> = Vec::with_capacity(order - 1);
        for j in (0..order - 1).rev() {
            let higher = rev.last().map_or(top, |l| &l.counts);
            let m = mask(j);
            let mut counts: HashMap<(u64, u16), u32> = HashMap::new();
            for (&(h, w), &c) in higher {
                let hs = h & m;
                // The symbol dropped from h is the one before the suffix; the
                // suffix itself starts with padding only if its first symbol is.
                let padded = j >= 1 && ((hs >> (8 * (j - 1))) & 0xff) as u16 == boundary;
                *counts.entry((hs, w)).or_insert(0) += if padded { c } else { 1 };
            }
            rev.push(Level::new(counts));
        }
        rev.reverse();
        let mut top_types: HashMap<u64, u32> = HashMap::new();
        for &(h, _) in top.keys() {
            *top_types.entry(h).or_insert(0) += 1;
        }
        let discounts = (0..order)
            .map(|j| {
                discount.unwrap_or_else(|| {
                    estimate_discount(if j + 1 == order { top } else { &rev[j].counts })
                })
            })
            .collect();
        Self {
            lower: rev,
            top_types,
            discounts,
        }
    }

    /// D_j for context lengths j = 0..n.
    pub(super) fn discounts(&self) -> &[f64] {
        &self.discounts
    }

    /// (c_j(h, ·) lookup, c_j(h), N₁₊(h •)) of context length j.
    fn level<'a>(
        &'a self,
        j: usize,
        h: u64,
        top: &'a HashMap<(u64, u16), u32>,
        top_totals: &HashMap<u64, u32>,
    ) -> (&'a HashMap<(u64, u16), u32>, u32, u32) {
        if j == self.lower.len() {
            let total = top_totals.get(&h).copied().unwrap_or(0);
            let types = self.top_types.get(&h).copied().unwrap_or(0);
            (top, total, types)
        } else {
            let l = &self.lower[j];
            let (total, types) = l.contexts.get(&h).copied().unwrap_or((0, 0));
            (&l.counts, total, types)
        }
    }

    /// One interpolation step: the order-j probability from the lower one.
    fn step(&self, j: usize, c: u32, total: u32, types: u32, lower: f64) -> f64 {
        let d = self.discounts[j];
        ((c as f64 - d).max(0.0) + d * types as f64 * lower) / total as f64
    }

    /// p(sym | ctx), ctx packing the last n − 1 symbols.
    pub(super) fn prob(
        &self,
        ctx: u64,
        sym: u16,
        top: &HashMap<(u64, u16), u32>,
        top_totals: &HashMap<u64, u32>,
        vocab: usize,
    ) -> f64 {
        let mut p = 1.0 / vocab as f64;
        for j in 0..=self.lower.len() {
            let h = ctx & mask(j);
            let (counts, total, types) = self.level(j, h, top, top_totals);
            if total > 0 {
                let c = counts.get(&(h, sym)).copied().unwrap_or(0);
                p = self.step(j, c, total, types, p);
            }
        }
        p
    }

    /// p(· | ctx) over all `vocab` symbols (the same arithmetic as [`Self::prob`]).
    pub(super) fn distribution(
        &self,
        ctx: u64,
        top: &HashMap<(u64, u16), u32>,
        top_totals: &HashMap<u64, u32>,
        vocab: usize,
    ) -> Vec<f64> {
        let mut p = vec![1.0 / vocab as f64; vocab];
        for j in 0..=self.lower.len() {
            let h = ctx & mask(j);
            let (counts, total, types) = self.level(j, h, top, top_totals);
            if total > 0 {
                for (w, pw) in p.iter_mut().enumerate() {
                    let c = counts.get(&(h, w as u16)).copied().unwrap_or(0);
                    *pw = self.step(j, c, total, types, *pw);
                }
            }
        }
        p
    }
}
