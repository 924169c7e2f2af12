//! MADE, the masked autoencoder for distribution estimation (Germain et al.
//! 2015), with order-agnostic training and an ensemble of orderings.
//!
//! The network is [`gen_core::nn::Made`]: an MLP whose weights are multiplied
//! by 0/1 masks built from degrees, so the logit of coordinate i depends only
//! on the coordinates of smaller degree (those generated before i). Input i
//! has degree π_k(i), its rank in ordering k.
//!
//! The model holds M orderings (ordering 0 is the raster order, the others
//! random permutations drawn from `ordering_seed`), all sharing one set of
//! weights; only the masks change. Training picks one ordering per step,
//! uniformly from the run's RNG (order-agnostic training). The model scored
//! and sampled is the uniform ensemble
//!
//! ```text
//! p(x) = (1/M) Σ_k p_k(x),   log p(x) = logmeanexp_k log p_k(x)
//! ```
//!
//! an exact likelihood (each p_k is one by the chain rule, and a mixture of
//! normalised densities is normalised).

use burn::tensor::{Device, Tensor, TensorData};
use gen_core::burn;
use gen_core::nn::masked_linear::{hidden_mask, made_degrees, output_mask, random_order};
use gen_core::nn::{Activation, Made as MadeBlock};
use gen_core::optim::OptimConfig;
use gen_core::{GenError, Result, Rng, rng_from_seed};

use super::{ArNet, BinaryAr, positive, raster_order};

/// Largest number of orderings.
pub const MAX_ORDERINGS: usize = 1024;

/// Configuration of a [`Made`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MadeConfig {
    /// The data dimension D (pixels per image).
    pub d: usize,
    /// Hidden widths, e.g. `[500]` for 28×28 images.
    pub hidden: Vec<usize>,
    /// Hidden non-linearity.
    pub activation: Activation,
    /// Number M of orderings trained (one per step) and ensembled when
    /// scoring and sampling; 1 is a plain MADE in raster order.
    pub orderings: usize,
    /// Seed of the random orderings 1..M (ordering 0 is the raster order).
    pub ordering_seed: u64,
    /// Optimiser settings (Adam by default).
    pub optim: OptimConfig,
}

impl MadeConfig {
    /// A MADE on `d` binary pixels with hidden widths `hidden`, ReLU, `orderings`
    /// orderings and Adam.
    pub fn new(d: usize, hidden: Vec<usize>, orderings: usize) -> Self {
        Self {
            d,
            hidden,
            activation: Activation::Relu,
            orderings,
            ordering_seed: 0,
            optim: OptimConfig::default(),
        }
    }

    /// Errors unless D ≥ 1, every hidden width ≥ 1 and 1 ≤ M ≤ [`MAX_ORDERINGS`].
    pub fn validate(&self) -> Result<()> {
        positive(
            "made",
            "d",
            self.d,
            "give the number of pixels per image, e.g. 64 for 8x8 digits",
        )?;
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            return Err(GenError::config(
                "made hidden",
                format!("{:?}", self.hidden),
                "MADE needs at least one hidden layer of positive width",
                "e.g. hidden = [500] for 28x28 images, [128] for 8x8",
            ));
        }
        if self.orderings == 0 || self.orderings > MAX_ORDERINGS {
            return Err(GenError::config(
                "made orderings",
                self.orderings,
                format!("must be between 1 and {MAX_ORDERINGS}"),
                "use 1 for a single raster ordering, or e.g. 8 for an order-agnostic ensemble",
            ));
        }
        Ok(())
    }

    /// The M orderings as ranks: raster first, then random permutations.
    pub fn orders(&self) -> Vec<Vec<usize>> {
        let mut rng = rng_from_seed(self.ordering_seed);
        let mut out = vec![raster_order(self.d)];
        for _ in 1..self.orderings {
            out.push(random_order(self.d, &mut rng));
        }
        out
    }
}

/// The MADE network with the masks of each of its orderings.
#[derive(burn::module::Module, Debug)]
pub struct MadeNet {
    /// The masked MLP (its own masks are those of ordering 0).
    pub made: MadeBlock,
    /// The ranks of every ordering.
    #[module(skip)]
    pub orders: Vec<Vec<usize>>,
    /// Row-major masks `[d_in, d_out]` per ordering and layer.
    #[module(skip)]
    pub masks: Vec<Vec<Vec<f32>>>,
}

/// The masks of every layer of a MADE with hidden widths `hidden` for the
/// input ranks `order` (hidden degrees fixed, cycling 1..D−1).
pub fn made_masks(order: &[usize], hidden: &[usize]) -> Vec<Vec<f32>> {
    let d = order.len();
    let degrees = made_degrees(d, hidden, order);
    let mut masks: Vec<Vec<f32>> = (0..hidden.len())
        .map(|k| hidden_mask(&degrees[k], &degrees[k + 1]))
        .collect();
    masks.push(output_mask(&degrees[hidden.len()], order, 1));
    masks
}

impl ArNet for MadeNet {
    type Config = MadeConfig;
    const NAME: &'static str = "made";
    const LEARN_HOW: &'static str = "exact maximum likelihood, one masked MLP pass; order-agnostic: one of M orderings per step (Adam)";
    const SCORE_HOW: &'static str =
        "exact, chain rule; log-mean-exp over the M orderings of the ensemble";

    fn dim(config: &MadeConfig) -> usize {
        config.d
    }
    fn optim(config: &MadeConfig) -> &OptimConfig {
        &config.optim
    }
    fn validate(config: &MadeConfig) -> Result<()> {
        config.validate()
    }
    fn init(config: &MadeConfig, rng: &mut Rng, device: &Device) -> Result<Self> {
        let orders = config.orders();
        let made = MadeBlock::new(
            orders[0].clone(),
            &config.hidden,
            1,
            config.activation,
            0,
            false,
            rng,
            device,
        )?;
        let masks = orders
            .iter()
            .map(|o| made_masks(o, &config.hidden))
            .collect();
        Ok(Self {
            made,
            orders,
            masks,
        })
    }
    fn orders(&self) -> Vec<Vec<usize>> {
        self.orders.clone()
    }
    fn logits(&self, x: Tensor<2>, k: usize) -> Tensor<2> {
        if k == 0 {
            return self.made.forward_flat(x, None);
        }
        let device = x.device();
        let mut net = self.made.clone();
        for (layer, mask) in net.layers.iter_mut().zip(&self.masks[k]) {
            let shape = layer.weight.val().dims();
            layer.mask = Tensor::from_data(TensorData::new(mask.clone(), shape), &device);
        }
        net.forward_flat(x, None)
    }
    fn chunk_rows(_config: &MadeConfig) -> usize {
        2048
    }
}

/// MADE with an ensemble of orderings.
pub type Made = BinaryAr<MadeNet>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Ordering 0 is the raster order, the others are permutations of 1..=D,
    /// and they are a pure function of the configuration (so checkpoints,
    /// which store the configuration, restore them).
    #[test]
    fn orderings_are_permutations_fixed_by_the_config() {
        let cfg = MadeConfig::new(9, vec![16], 5);
        let o = cfg.orders();
        assert_eq!(o.len(), 5);
        assert_eq!(o[0], (1..=9).collect::<Vec<_>>());
        for ord in &o {
            let mut s = ord.clone();
            s.sort_unstable();
            assert_eq!(s, (1..=9).collect::<Vec<_>>());
        }
        assert!(o[1..].iter().any(|p| p != &o[0]));
        assert_eq!(o, cfg.orders());
    }
}
