//! Backend parity of the shared neural blocks: one seed gives the same
//! parameters and the same outputs on ndarray, flex and (with a Vulkan
//! adapter, e.g. lavapipe) wgpu. The mathematics of each block is tested in
//! its module; here every body runs on every enabled device through
//! [`check_parity`].
#![cfg(all(feature = "ndarray", feature = "flex"))]

use gen_core::burn::tensor::{Device, Int, Tensor, TensorData};
use gen_core::nn::{
    CausalSelfAttentionConfig, ConvTranspose2dConfig, GroupNormConfig, Init, KvCache,
    LayerNormConfig, TokenEmbeddingConfig, bce_with_logits, sinusoidal_time_embedding,
    upsample_nearest,
};
use gen_core::parity::check_parity;
use gen_core::rng_from_seed;
use gen_core::tensor::{to_vec, vec_to_tensor};
use rand::Rng as _;

const ATOL: f64 = 1e-5;
const RTOL: f64 = 1e-4;

fn host(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rng_from_seed(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn t<const D: usize>(v: Vec<f32>, shape: [usize; D], d: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(v, shape), d)
}

#[test]
fn parity_causal_attention_full_and_cached() {
    let (b, n, d, h) = (2, 6, 16, 4);
    let r = check_parity("causal attention", false, ATOL, RTOL, |dev| {
        let attn = CausalSelfAttentionConfig {
            init: Init::GPT2,
            ..CausalSelfAttentionConfig::new(d, h)
        }
        .init(&mut rng_from_seed(1), dev)?;
        let xv = host(b * n * d, 2);
        let mut out = to_vec(attn.forward(t(xv.clone(), [b, n, d], dev)))?;
        // Decode: a prefix of 3, two tokens (the explicit bottom-right mask), then one.
        let mut cache = KvCache::new();
        let mut start = 0;
        for len in [3, 2, 1] {
            let piece: Vec<f32> = (0..b)
                .flat_map(|e| xv[(e * n + start) * d..(e * n + start + len) * d].to_vec())
                .collect();
            out.extend(to_vec(
                attn.forward_cached(t(piece, [b, len, d], dev), &mut cache),
            )?);
            start += len;
        }
        Ok(out)
    })
    .unwrap();
    assert!(r.backends.len() >= 2, "{:?}", r.backends);
}

#[test]
fn parity_layer_and_group_norm() {
    check_parity("norms", false, ATOL, RTOL, |dev| {
        let ln = LayerNormConfig::new(10).init(dev)?;
        let gn = GroupNormConfig::new(4, 8).init(dev)?;
        let mut out = to_vec(ln.forward(t(host(3 * 5 * 10, 3), [3, 5, 10], dev) * 4.0))?;
        out.extend(to_vec(
            gn.forward(t(host(2 * 8 * 5 * 5, 4), [2, 8, 5, 5], dev) + 2.0),
        )?);
        Ok(out)
    })
    .unwrap();
}

#[test]
fn parity_transposed_convolution_and_upsampling() {
    check_parity("conv transpose", false, ATOL, RTOL, |dev| {
        let up = ConvTranspose2dConfig::doubling(3, 2).init(&mut rng_from_seed(5), dev)?;
        let x = t(host(2 * 3 * 5 * 5, 6), [2, 3, 5, 5], dev);
        let mut out = to_vec(up.forward(x.clone()))?;
        out.extend(to_vec(upsample_nearest(x, 3))?);
        Ok(out)
    })
    .unwrap();
}

#[test]
fn parity_embeddings_and_bce() {
    check_parity("embeddings and bce", false, ATOL, RTOL, |dev| {
        let emb = TokenEmbeddingConfig::new(20, 8).init(&mut rng_from_seed(7), dev)?;
        let ids: Tensor<2, Int> =
            Tensor::from_data(TensorData::new(vec![0i64, 19, 5, 5, 2, 11], [2, 3]), dev);
        let mut out = to_vec(emb.forward(ids))?;
        out.extend(to_vec(sinusoidal_time_embedding(
            vec_to_tensor(&[0.0, 0.5, 37.0], dev),
            16,
            10_000.0,
        ))?);
        let logits = t(host(40, 8), [4, 10], dev) * 30.0;
        let targets = t(host(40, 9), [4, 10], dev).abs();
        out.extend(to_vec(bce_with_logits(logits, targets))?);
        Ok(out)
    })
    .unwrap();
}

/// The new blocks draw their parameters on the host: bit-identical everywhere.
#[test]
fn new_block_parameters_are_identical_across_devices() {
    check_parity("init", false, 0.0, 0.0, |dev| {
        let attn = CausalSelfAttentionConfig::new(8, 2).init(&mut rng_from_seed(3), dev)?;
        let up = ConvTranspose2dConfig::doubling(2, 2).init(&mut rng_from_seed(3), dev)?;
        let emb = TokenEmbeddingConfig::new(9, 4).init(&mut rng_from_seed(3), dev)?;
        let mut out = Vec::new();
        for lin in [&attn.query, &attn.key, &attn.value, &attn.output] {
            out.extend(to_vec(lin.weight.val())?);
        }
        out.extend(to_vec(up.weight.val())?);
        out.extend(to_vec(emb.weight.val())?);
        Ok(out)
    })
    .unwrap();
}
