//! MADE, the masked autoencoder for distribution estimation (Germain et al. 2015).
//!
//! An MLP with masked weights ([`MaskedLinear`]): input i has degree
//! `order[i]` ∈ 1..=D, hidden units cycle through degrees 1..=D−1, and the
//! masks let a unit of degree m see only inputs of degree ≤ m, so every
//! output of coordinate i depends only on x_{<i} (the coordinates of smaller
//! degree). It outputs P parameters per coordinate: MAF's (μ, α), a neural
//! spline's 3K − 1 bin parameters, or a mixture's 3K (weights, means, scales).
//! An optional context vector enters the first hidden layer unmasked.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use crate::error::{GenError, Result};
use crate::nn::masked_linear::{MaskedLinear, hidden_mask, made_degrees, output_mask};
use crate::nn::{Activation, Init, linear};
use crate::task::Rng;

/// A MADE network with `P` outputs per coordinate.
#[derive(Module, Debug)]
pub struct Made {
    /// Masked layers input → hidden → … → `P·D` outputs.
    pub layers: Vec<MaskedLinear>,
    /// Context → first hidden layer (unmasked), for conditional models.
    pub context: Option<Linear>,
    /// Hidden non-linearity.
    #[module(skip)]
    pub activation: Activation,
    /// Input degrees (a permutation of 1..=D).
    #[module(skip)]
    pub order: Vec<usize>,
    /// Parameters per coordinate P.
    #[module(skip)]
    pub params_per_dim: usize,
}

impl Made {
    /// A MADE on `order.len()` coordinates with input degrees `order` (a
    /// permutation of 1..=D), hidden widths `hidden` (each ≥ 1),
    /// `params_per_dim` outputs per coordinate, an optional context of width
    /// `context_dim`, and a zero output layer when `zero_last`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        order: Vec<usize>,
        hidden: &[usize],
        params_per_dim: usize,
        activation: Activation,
        context_dim: usize,
        zero_last: bool,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Self> {
        let d = order.len();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        if d == 0 || sorted != (1..=d).collect::<Vec<_>>() {
            return Err(GenError::config(
                "MADE order",
                format!("{order:?}"),
                "must be a permutation of 1..=D",
                "use gen_core::nn::masked_linear::random_order or 1..=D",
            ));
        }
        if hidden.is_empty() || hidden.contains(&0) {
            return Err(GenError::config(
                "MADE hidden widths",
                format!("{hidden:?}"),
                "MADE needs at least one hidden layer of positive width",
                "e.g. hidden = [64, 64]",
            ));
        }
        if params_per_dim == 0 {
            return Err(GenError::config(
                "MADE outputs per coordinate",
                0,
                "must be at least 1",
                "pass the number of parameters each conditional needs",
            ));
        }
        let degrees = made_degrees(d, hidden, &order);
        let mut layers = Vec::with_capacity(hidden.len() + 1);
        for k in 0..hidden.len() {
            layers.push(MaskedLinear::new(
                degrees[k].len(),
                degrees[k + 1].len(),
                hidden_mask(&degrees[k], &degrees[k + 1]),
                false,
                rng,
                device,
            ));
        }
        let last = &degrees[hidden.len()];
        layers.push(MaskedLinear::new(
            last.len(),
            params_per_dim * d,
            output_mask(last, &order, params_per_dim),
            zero_last,
            rng,
            device,
        ));
        let context =
            (context_dim > 0).then(|| linear(context_dim, hidden[0], Init::Default, rng, device));
        Ok(Self {
            layers,
            context,
            activation,
            order,
            params_per_dim,
        })
    }

    /// D.
    pub fn dim(&self) -> usize {
        self.order.len()
    }

    /// The raw outputs: column j·D + i is parameter j of coordinate i.
    ///
    /// # Shapes
    /// - `x`: `[n, D]`, `context`: `[n, C]` → `[n, P·D]`
    pub fn forward_flat(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Tensor<2> {
        let last = self.layers.len();
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i == 0
                && let (Some(lin), Some(c)) = (&self.context, context)
            {
                h = h + lin.forward(c.clone());
            }
            if i + 1 < last {
                h = self.activation.forward(h);
            }
        }
        h
    }

    /// The parameters per coordinate: `[n, D, P]`, row i depending only on x_{<i}.
    pub fn forward(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Tensor<3> {
        let [n, d] = x.dims();
        self.forward_flat(x, context)
            .reshape([n, self.params_per_dim, d])
            .swap_dims(1, 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Backend;
    use crate::rng_from_seed;
    use crate::tensor::{to_vec, vec_to_tensor};

    /// Changing x_j changes the outputs of coordinate i only when order(j) < order(i).
    #[test]
    fn outputs_depend_only_on_inputs_of_smaller_degree() {
        let dev = Backend::Ndarray.device().unwrap();
        let order = vec![3, 1, 4, 2];
        let made = Made::new(
            order.clone(),
            &[9, 9],
            3,
            Activation::Tanh,
            0,
            false,
            &mut rng_from_seed(1),
            &dev,
        )
        .unwrap();
        let base = vec![0.3f32, -0.7, 1.1, 0.5];
        let out = |x: &[f32]| -> Vec<f32> {
            to_vec(made.forward(vec_to_tensor(x, &dev).reshape([1, 4]), None)).unwrap()
        };
        let y0 = out(&base);
        for j in 0..4 {
            let mut x = base.clone();
            x[j] += 0.9;
            let y = out(&x);
            for i in 0..4 {
                let moved = (0..3).any(|p| (y[i * 3 + p] - y0[i * 3 + p]).abs() > 1e-6);
                assert_eq!(moved, order[j] < order[i], "input {j} → coordinate {i}");
            }
        }
    }

    #[test]
    fn bad_orders_and_widths_are_refused() {
        let dev = Backend::Ndarray.device().unwrap();
        let mut rng = rng_from_seed(0);
        // (order, hidden widths, outputs per coordinate): a repeated degree,
        // no hidden layer, zero outputs.
        let cases: [(Vec<usize>, Vec<usize>, usize); 3] = [
            (vec![1, 1], vec![4], 2),
            (vec![1, 2], vec![], 2),
            (vec![1, 2], vec![4], 0),
        ];
        for (order, hidden, p) in cases {
            let made = Made::new(
                order.clone(),
                &hidden,
                p,
                Activation::Relu,
                0,
                true,
                &mut rng,
                &dev,
            );
            assert!(made.is_err(), "{order:?} {hidden:?} {p}");
        }
    }
}
