//! Nearest-neighbour up-sampling of images.
//!
//! y[b, c, i, j] = x[b, c, ⌊i/f⌋, ⌊j/f⌋]: every pixel becomes an f × f block.
//! Followed by a stride-1 convolution it is the checkerboard-free alternative
//! to a transposed convolution (Odena et al. 2016).

use burn::tensor::Tensor;

/// Nearest-neighbour up-sampling by an integer factor `f ≥ 1`.
///
/// # Shapes
/// - `x`: `[b, c, h, w]` → `[b, c, f·h, f·w]`
pub fn upsample_nearest(x: Tensor<4>, factor: usize) -> Tensor<4> {
    assert!(factor >= 1, "up-sampling factor must be at least 1");
    if factor == 1 {
        return x;
    }
    let [b, c, h, w] = x.dims();
    // Repeat each column f times (a new last axis), then each row.
    let x: Tensor<5> = x.unsqueeze_dim(4);
    let x: Tensor<4> = x.repeat_dim(4, factor).reshape([b, c, h, factor * w]);
    let x: Tensor<5> = x.unsqueeze_dim(3);
    x.repeat_dim(3, factor)
        .reshape([b, c, factor * h, factor * w])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::test_util::{cpu_devices, host, t4};
    use crate::tensor::to_vec;

    #[test]
    fn every_output_pixel_copies_its_source_pixel() {
        let (b, c, h, w) = (2, 3, 4, 5);
        for dev in cpu_devices() {
            let xv = host(b * c * h * w, 1);
            for f in [1, 2, 3] {
                let y = upsample_nearest(t4(xv.clone(), [b, c, h, w], &dev), f);
                assert_eq!(y.dims(), [b, c, f * h, f * w]);
                let y = to_vec(y).unwrap();
                for bc in 0..b * c {
                    for i in 0..f * h {
                        for j in 0..f * w {
                            let got = y[(bc * f * h + i) * f * w + j];
                            let want = xv[(bc * h + i / f) * w + j / f];
                            assert_eq!(got, want, "f {f} ({bc}, {i}, {j})");
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of copying is summing: ∂(Σ y ⊙ g)/∂x sums g over each f × f block.
    #[test]
    fn gradient_sums_each_block() {
        let (h, w, f) = (2, 3, 2);
        for dev in cpu_devices() {
            let dev = dev.autodiff();
            let x = t4(host(h * w, 2), [1, 1, h, w], &dev).require_grad();
            let g = host(f * h * f * w, 3);
            let loss =
                (upsample_nearest(x.clone(), f) * t4(g.clone(), [1, 1, f * h, f * w], &dev)).sum();
            let grads = loss.backward();
            let dx = to_vec(x.grad(&grads).unwrap()).unwrap();
            for i in 0..h {
                for j in 0..w {
                    let want: f32 = (0..f)
                        .flat_map(|u| (0..f).map(move |v| (u, v)))
                        .map(|(u, v)| g[(i * f + u) * f * w + j * f + v])
                        .sum();
                    assert!((dx[i * w + j] - want).abs() < 1e-6);
                }
            }
        }
    }
}
