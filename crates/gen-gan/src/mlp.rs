//! MLP players for low-dimensional data (the 2-D toys): a generator
//! G: z ∈ ℝ^L → x ∈ ℝ^D with z ~ N(0, I) drawn on the host, and a
//! discriminator D: ℝ^D → ℝ (a logit or critic value), optionally with every
//! layer spectrally normalised (Miyato et al. 2018).

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use gen_core::burn;
use gen_core::nn::{Activation, Mlp, MlpConfig, SpectralLinear, SpectralLinearConfig};
use gen_core::tensor::to_vec;
use gen_core::{GenError, Result, Rng};
use serde::{Deserialize, Serialize};

/// Shape of a [`Generator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorConfig {
    /// Latent width L.
    pub latent: usize,
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Output (data) width D.
    pub d_out: usize,
}

impl GeneratorConfig {
    /// Builds the generator (ReLU hidden layers, linear output) with weights
    /// from `rng` (PyTorch's default initialisation).
    pub fn init(&self, rng: &mut Rng, device: &Device) -> Result<Generator> {
        let net = MlpConfig {
            d_in: self.latent,
            hidden: self.hidden.clone(),
            d_out: self.d_out,
            activation: Activation::Relu,
            zero_last: false,
        }
        .init(rng, device)?;
        Ok(Generator {
            net,
            latent: self.latent,
        })
    }
}

/// x = G(z), an MLP from the latent space to the data space.
#[derive(Module, Debug)]
pub struct Generator {
    /// The network.
    pub net: Mlp,
    /// Latent width L.
    #[module(skip)]
    pub latent: usize,
}

impl Generator {
    /// # Shapes
    /// - `z`: `[batch, L]` → `[batch, D]`
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        self.net.forward(z)
    }

    /// G(z) for `n` fresh z ~ N(0, I) from the host RNG, on `device`.
    pub fn generate(&self, n: usize, rng: &mut Rng, device: &Device) -> Tensor<2> {
        let z = latent_noise(n, self.latent, 1.0, None, rng);
        self.forward(Tensor::from_data(
            TensorData::new(z, [n, self.latent]),
            device,
        ))
    }
}

/// `n × latent` draws z = τ·ε, ε ~ N(0, I), from the host RNG. With
/// `truncation = Some(t)` every coordinate with |ε| > t is redrawn until it
/// falls inside (the truncation trick of Brock et al. 2019).
pub fn latent_noise(
    n: usize,
    latent: usize,
    temperature: f64,
    truncation: Option<f64>,
    rng: &mut Rng,
) -> Vec<f32> {
    let mut eps = gen_core::numerics::standard_normals(n * latent, rng);
    if let Some(t) = truncation {
        for e in &mut eps {
            while e.abs() > t {
                *e = gen_core::numerics::standard_normal(rng);
            }
        }
    }
    eps.into_iter().map(|e| (e * temperature) as f32).collect()
}

/// Shape of a [`Discriminator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscriminatorConfig {
    /// Input (data) width D.
    pub d_in: usize,
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Spectrally normalise every layer (one power-iteration step per
    /// training forward).
    pub spectral_norm: bool,
}

impl DiscriminatorConfig {
    /// Builds the discriminator (LeakyReLU(0.2) hidden layers, one output)
    /// with weights from `rng`.
    pub fn init(&self, rng: &mut Rng, device: &Device) -> Result<Discriminator> {
        if self.d_in == 0 || self.hidden.contains(&0) {
            return Err(GenError::config(
                "discriminator widths",
                format!("{} -> {:?} -> 1", self.d_in, self.hidden),
                "every layer needs at least one unit",
                "give positive input and hidden widths",
            ));
        }
        let activation = Activation::LeakyRelu;
        if !self.spectral_norm {
            let net = MlpConfig {
                d_in: self.d_in,
                hidden: self.hidden.clone(),
                d_out: 1,
                activation,
                zero_last: false,
            }
            .init(rng, device)?;
            return Ok(Discriminator {
                plain: Some(net),
                spectral: Vec::new(),
                activation,
                pack: 1,
            });
        }
        let mut widths = vec![self.d_in];
        widths.extend(&self.hidden);
        widths.push(1);
        let spectral = widths
            .windows(2)
            .map(|w| SpectralLinearConfig::new(w[0], w[1]).init(rng, device))
            .collect::<Result<Vec<_>>>()?;
        Ok(Discriminator {
            plain: None,
            spectral,
            activation,
            pack: 1,
        })
    }
}

/// D(x) ∈ ℝ: a logit (minimax, non-saturating), a critic value
/// (Wasserstein, hinge) or a regression output (least squares).
#[derive(Module, Debug)]
pub struct Discriminator {
    /// The plain MLP (when not spectrally normalised).
    pub plain: Option<Mlp>,
    /// The spectrally normalised layers (when spectrally normalised).
    pub spectral: Vec<SpectralLinear>,
    /// Hidden activation.
    #[module(skip)]
    pub activation: Activation,
    /// Samples per critic input (PacGAN); the input width is pack × D.
    #[module(skip)]
    pub pack: usize,
}

impl Discriminator {
    /// # Shapes
    /// - `x`: `[batch, D]` → `[batch]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<1> {
        let out = match &self.plain {
            Some(net) => net.forward(x),
            None => {
                let n = self.spectral.len();
                let mut h = x;
                for (i, layer) in self.spectral.iter().enumerate() {
                    h = layer.forward(h);
                    if i + 1 < n {
                        h = self.activation.forward(h);
                    }
                }
                h
            }
        };
        out.squeeze_dim(1)
    }

    /// The raw weight matrix of the first layer.
    pub fn first_weight(&self) -> Tensor<2> {
        match &self.plain {
            Some(net) => net.layers[0].weight.val(),
            None => self.spectral[0].inner.weight.val(),
        }
    }

    /// Every trainable value (weights and biases, layer by layer), on the
    /// host; excludes the power-iteration vectors.
    pub fn weights(&self) -> Result<Vec<f32>> {
        let layers: Vec<&burn::nn::Linear> = match &self.plain {
            Some(net) => net.layers.iter().collect(),
            None => self.spectral.iter().map(|l| &l.inner).collect(),
        };
        let mut out = Vec::new();
        for l in layers {
            out.extend(to_vec(l.weight.val())?);
            if let Some(b) = &l.bias {
                out.extend(to_vec(b.val())?);
            }
        }
        Ok(out)
    }

    /// The power-iteration vectors u of the spectrally normalised layers
    /// (empty for a plain discriminator).
    pub fn spectral_u(&self) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        for l in &self.spectral {
            out.extend(l.sn.u_values()?);
        }
        Ok(out)
    }
}

impl Generator {
    /// Every trainable value (weights and biases, layer by layer), on the host.
    pub fn weights(&self) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        for l in &self.net.layers {
            out.extend(to_vec(l.weight.val())?);
            if let Some(b) = &l.bias {
                out.extend(to_vec(b.val())?);
            }
        }
        Ok(out)
    }
}
