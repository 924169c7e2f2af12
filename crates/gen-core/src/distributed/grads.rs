//! Gradient averaging over a [`Collective`] for burn modules.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};

use super::Collective;
use crate::error::{GenError, Result};
use crate::tensor::to_vec;

/// Averages `grads` (the gradients of `module`'s parameters on this rank)
/// over every rank of `world`: flattened in `module`'s visiting order, one
/// f32 all-reduce (sum, then ÷ R), put back in place.
///
/// `local_finite` says whether this rank's loss was finite. Every rank
/// must call this at the same point, even one whose loss was not finite
/// (it contributes zeros): the buffer carries one slot per rank that
/// counts such ranks, and when any rank's loss was not finite every rank
/// gets `None` and skips the step, so none is left waiting (the ranks are
/// kept for [`take_bad_ranks`](super::take_bad_ranks)).
///
/// A parameter without a gradient on this rank contributes zeros and gets
/// none back; every rank runs the same code on equally shaped shards, so
/// the same parameters have gradients everywhere.
pub fn all_reduce_gradients<M: Module>(
    world: &dyn Collective,
    module: &M,
    mut grads: GradientsParams,
    local_finite: bool,
) -> Result<Option<GradientsParams>> {
    struct Flatten<'a> {
        grads: &'a GradientsParams,
        use_grads: bool,
        buf: Vec<f32>,
        present: Vec<bool>,
        err: Option<GenError>,
    }
    impl ModuleVisitor for Flatten<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let grad = self
                .use_grads
                .then(|| self.grads.get::<D>(param.id))
                .flatten();
            match grad.map(to_vec) {
                Some(Ok(v)) => {
                    self.buf.extend(v);
                    self.present.push(true);
                }
                Some(Err(e)) => self.err = Some(e),
                None => {
                    let n = param.val().shape().num_elements();
                    self.buf.extend(std::iter::repeat_n(0.0, n));
                    self.present.push(false);
                }
            }
        }
    }
    // Sized once: growing the buffer parameter by parameter would copy it
    // over and over (a VAE's gradients are 2.6 MB).
    struct Count(usize);
    impl ModuleVisitor for Count {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0 += param.val().shape().num_elements();
        }
    }
    let mut count = Count(0);
    module.visit(&mut count);
    let mut flat = Flatten {
        grads: &grads,
        use_grads: local_finite,
        buf: Vec::with_capacity(count.0 + world.size()),
        present: Vec::new(),
        err: None,
    };
    module.visit(&mut flat);
    if let Some(e) = flat.err {
        return Err(e);
    }
    let (mut buf, present) = (flat.buf, flat.present);
    let n_grads = buf.len();
    let (rank, size) = (world.rank(), world.size());
    // One slot per rank: 1 where that rank's loss was not finite.
    buf.extend((0..size).map(|r| if r == rank && !local_finite { 1.0 } else { 0.0 }));
    let started = std::time::Instant::now();
    world.all_reduce_sum_f32(&mut buf)?;
    super::count_traffic(started.elapsed().as_secs_f64(), 4 * buf.len());
    if buf[n_grads..].iter().any(|&v| v != 0.0) {
        super::note_bad_ranks((0..size).filter(|&r| buf[n_grads + r] != 0.0).collect());
        return Ok(None);
    }

    struct PutBack<'a> {
        grads: &'a mut GradientsParams,
        values: &'a [f32],
        present: &'a [bool],
        scale: f32,
        offset: usize,
        index: usize,
    }
    impl ModuleVisitor for PutBack<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let n = param.val().shape().num_elements();
            let slice = &self.values[self.offset..self.offset + n];
            self.offset += n;
            let had = self.present[self.index];
            self.index += 1;
            if !had {
                return;
            }
            if let Some(old) = self.grads.remove::<D>(param.id) {
                let shape = old.shape();
                let data: Vec<f32> = slice.iter().map(|v| v * self.scale).collect();
                let new = Tensor::<D>::from_data(TensorData::new(data, shape), &old.device());
                self.grads.register::<D>(param.id, new);
            }
        }
    }
    let mut put = PutBack {
        grads: &mut grads,
        values: &buf[..n_grads],
        present: &present,
        scale: 1.0 / size as f32,
        offset: 0,
        index: 0,
    };
    module.visit(&mut put);
    Ok(Some(grads))
}

/// Every float parameter of `module`, flattened in its visiting order (the
/// order [`all_reduce_gradients`] uses): to compare ranks' models.
pub fn flatten_params<M: Module>(module: &M) -> Result<Vec<f32>> {
    struct Collect {
        out: Vec<f32>,
        err: Option<GenError>,
    }
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            match to_vec(param.val()) {
                Ok(v) => self.out.extend(v),
                Err(e) => self.err = Some(e),
            }
        }
    }
    let mut c = Collect {
        out: Vec::new(),
        err: None,
    };
    module.visit(&mut c);
    match c.err {
        Some(e) => Err(e),
        None => Ok(c.out),
    }
}

/// Inside a distributed training step, replaces every float parameter of
/// `module` by its mean over the ranks (one all-reduce); elsewhere returns
/// `module` unchanged. For state a rank sets from its own shard outside the
/// gradient path, such as a flow's data-dependent (ActNorm) initialisation:
/// the ranks start the same again, from the average of their shards'
/// statistics.
pub fn average_params<M: Module>(module: M) -> Result<M> {
    let Some(world) = super::syncing() else {
        return Ok(module);
    };
    let mut flat = flatten_params(&module)?;
    world.all_reduce_sum_f32(&mut flat)?;
    let scale = 1.0 / world.size() as f32;
    struct Put {
        values: Vec<f32>,
        offset: usize,
        scale: f32,
    }
    impl burn::module::ModuleMapper for Put {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (values, scale) = (&self.values, self.scale);
            let offset = &mut self.offset;
            param.map(|t| {
                let n = t.shape().num_elements();
                let data: Vec<f32> = values[*offset..*offset + n]
                    .iter()
                    .map(|v| v * scale)
                    .collect();
                *offset += n;
                let (shape, device, grad) = (t.shape(), t.device(), t.is_require_grad());
                let new = Tensor::<D>::from_data(TensorData::new(data, shape), &device);
                if grad { new.require_grad() } else { new }
            })
        }
    }
    Ok(module.map(&mut Put {
        values: flat,
        offset: 0,
        scale,
    }))
}
