//! The evaluation protocol of the classical runs: held-out NLL of the
//! density models (and its gap to the true density of a toy), and of the
//! n-grams per character, with how it falls as the context grows.

use gen_core::Result;

use crate::{CharNGram, Corpus, Smoothing};

/// Mean NLL per symbol (nats) of `texts` under `m`, every symbol of every
/// text counted once (the end symbol too in line mode).
pub fn nll_per_symbol(m: &CharNGram, texts: &[String]) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for t in texts {
        let lp = m.symbol_log_probs(t);
        n += lp.len();
        s -= lp.iter().sum::<f64>();
    }
    s / n.max(1) as f64
}

/// Fits an n-gram of `order` with `smoothing` to `corpus`.
pub fn fit(corpus: &Corpus, order: usize, smoothing: impl Into<Smoothing>) -> Result<CharNGram> {
    match corpus {
        Corpus::Text(t) => CharNGram::fit_text(t, order, smoothing),
        Corpus::Lines(l) => CharNGram::fit_lines(l, order, smoothing),
    }
}

/// Held-out NLL per character of n-grams of every order 1..`order` fitted to
/// `corpus` with `smoothing` (a [`Smoothing`], or a bare `f64` for add-k), as
/// (order, NLL): the picture of what longer contexts buy (order 1 is the
/// unigram baseline).
pub fn nll_by_order(
    corpus: &Corpus,
    order: usize,
    smoothing: impl Into<Smoothing>,
    test: &[String],
) -> Result<Vec<(f64, f64)>> {
    let smoothing = smoothing.into();
    (1..=order)
        .map(|n| Ok((n as f64, nll_per_symbol(&fit(corpus, n, smoothing)?, test))))
        .collect()
}

/// The held-out evaluation of a fitted n-gram run.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldOut {
    /// The model's order.
    pub order: usize,
    /// Its smoothing.
    pub smoothing: Smoothing,
    /// Its Kneser–Ney discount per context length 0..n (None for add-k).
    pub discounts: Option<Vec<f64>>,
    /// (order, held-out NLL per symbol) of orders 1..=`order`, the lower ones
    /// refitted with the same smoothing; the last is the model itself.
    pub by_order: Vec<(f64, f64)>,
}

impl HeldOut {
    /// Evaluates `m` (fitted to `corpus`) on `test`.
    pub fn evaluate(m: &CharNGram, corpus: &Corpus, test: &[String]) -> Result<Self> {
        let mut by_order = nll_by_order(corpus, m.order() - 1, m.smoothing(), test)?;
        by_order.push((m.order() as f64, nll_per_symbol(m, test)));
        Ok(Self {
            order: m.order(),
            smoothing: m.smoothing(),
            discounts: m.discounts().map(<[f64]>::to_vec),
            by_order,
        })
    }

    /// The model's held-out NLL per symbol (nats).
    pub fn nll(&self) -> f64 {
        self.by_order.last().map_or(f64::NAN, |p| p.1)
    }

    /// Adds [`Self::summary`]'s fields to the JSON object `summary`.
    pub fn write_summary(&self, summary: &mut serde_json::Value) {
        extend(summary, self.summary());
    }

    /// The summary fields of a run: held-out NLL per character by order, the
    /// model's NLL and perplexity, the unigram's perplexity, the smoothing.
    pub fn summary(&self) -> serde_json::Value {
        let nll = self.nll();
        let mut v = serde_json::json!({
            "order": self.order,
            "smoothing": self.smoothing.kind().name(),
            "test_nll_per_char_by_order": self.by_order.iter().map(|p| p.1).collect::<Vec<_>>(),
            "test_nll_per_char": nll,
            "test_perplexity": nll.exp(),
            "unigram_test_perplexity": self.by_order.first().map_or(f64::NAN, |p| p.1.exp()),
        });
        if let Some(d) = &self.discounts {
            v["kneser_ney_discounts"] = serde_json::json!(d);
        }
        v
    }
}

/// Adds the fields of the object `fields` to the object `summary`.
fn extend(summary: &mut serde_json::Value, fields: serde_json::Value) {
    if let (Some(s), serde_json::Value::Object(f)) = (summary.as_object_mut(), fields) {
        s.extend(f);
    }
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Adds the held-out NLL of a density model to the JSON object `summary`:
/// `test_nll` (mean −log p_model over the test rows `test_ll`) and, given the
/// true log-density of the same rows (a 2-D toy), `true_test_nll` and
/// `kl_gap_nats` = test NLL − true NLL, a Monte-Carlo estimate of
/// KL(p_data ‖ p_model).
pub fn density_summary(test_ll: &[f64], true_ll: Option<&[f64]>, summary: &mut serde_json::Value) {
    let nll = -mean(test_ll);
    extend(summary, serde_json::json!({ "test_nll": nll }));
    if let Some(t) = true_ll {
        let true_nll = -mean(t);
        let fields =
            serde_json::json!({ "true_test_nll": true_nll, "kl_gap_nats": nll - true_nll });
        extend(summary, fields);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longer_contexts_lower_the_held_out_nll_on_text() {
        let text = "the cat sat on the mat. the dog sat on the log. ".repeat(20);
        let test = vec!["the cat sat on the log.".to_string()];
        let by = nll_by_order(&Corpus::Text(text), 3, 0.01, &test).unwrap();
        assert_eq!(by.len(), 3);
        assert!(by[1].1 < by[0].1 && by[2].1 < by[1].1, "{by:?}");
        // A uniform model over V symbols has NLL ln V; the unigram is below it.
        assert!(by[0].1 > 0.0);
    }

    #[test]
    fn held_out_summary_names_the_smoothing_and_its_discounts() {
        let text = "the cat sat on the mat. the dog sat on the log. ".repeat(20);
        let corpus = Corpus::Text(text.clone());
        let test = vec!["the cat sat on the log.".to_string()];
        let kn = fit(&corpus, 3, Smoothing::KNESER_NEY).unwrap();
        let h = HeldOut::evaluate(&kn, &corpus, &test).unwrap();
        assert_eq!(h.by_order.len(), 3);
        assert_eq!(h.nll(), nll_per_symbol(&kn, &test));
        let mut s = serde_json::json!({"model": "ngram"});
        h.write_summary(&mut s);
        assert_eq!(s["smoothing"], "kneser-ney");
        assert_eq!(s["model"], "ngram");
        assert_eq!(s["kneser_ney_discounts"].as_array().unwrap().len(), 3);
        assert!((s["test_perplexity"].as_f64().unwrap() - h.nll().exp()).abs() < 1e-12);
        let add_k = HeldOut::evaluate(&fit(&corpus, 3, 0.01).unwrap(), &corpus, &test).unwrap();
        assert_eq!(add_k.summary()["smoothing"], "add-k");
        assert!(add_k.summary().get("kneser_ney_discounts").is_none());
    }

    #[test]
    fn density_summary_reports_the_gap_to_the_true_density() {
        let mut s = serde_json::json!({});
        density_summary(&[-1.0, -3.0], Some(&[-1.0, -2.0]), &mut s);
        assert_eq!(s["test_nll"], 2.0);
        assert_eq!(s["true_test_nll"], 1.5);
        assert_eq!(s["kl_gap_nats"], 0.5);
        let mut s = serde_json::json!({});
        density_summary(&[-1.0], None, &mut s);
        assert!(s.get("kl_gap_nats").is_none());
    }
}
