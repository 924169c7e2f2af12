"""Reference values from Hugging Face diffusers for gen-diffusion's tests (issue 13).

Writes crates/gen-diffusion/tests/fixtures/diffusers.json with:

- alphas_cumprod (ᾱ) of DDPMScheduler at T = 1000 for the beta schedules
  "linear", "scaled_linear" and "squaredcos_cap_v2", and "linear" rescaled to
  zero terminal SNR, at every 50th index plus the last (999);
- DDPMScheduler.step outputs (full T, and 10 trailing inference steps) for
  epsilon / sample / v_prediction with fixed_small and fixed_large variance.
  DDPM's step draws its noise from a torch.Generator and takes no
  `variance_noise`, so the script draws the same noise from a generator with
  the same seed and stores it: prev_sample = mean + std · noise is checked
  here and the Rust test adds the stored noise;
- DDIMScheduler.step outputs for η = 0 and η = 1 with a fixed
  `variance_noise` (leading and trailing spacing, epsilon and v_prediction,
  set_alpha_to_one true and false);
- DDIMScheduler.set_timesteps lists for 3, 7, 10, 16, 50 and 61 steps under the
  spacings leading, trailing and linspace (steps_offset 0).

clip_sample is False everywhere (diffusers' default True clamps x̂₀ to [-1, 1],
which fits images in [-1, 1], not 2-D toys). Everything runs in float32, as
diffusers does; inputs are float32 values written out exactly.

    pip install torch diffusers
    python3 docs/reference/diffusers_fixtures.py [OUT.json]
"""
import json
import os
import sys

import diffusers
import torch
from diffusers import DDIMScheduler, DDPMScheduler

T = 1000
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    ROOT, "crates", "gen-diffusion", "tests", "fixtures", "diffusers.json")

SCHEDULES = {
    "linear": dict(beta_schedule="linear", beta_start=1e-4, beta_end=0.02),
    "scaled_linear": dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
    "squaredcos_cap_v2": dict(beta_schedule="squaredcos_cap_v2"),
}
INDICES = list(range(0, T, 50)) + [T - 1]


def rows(t):
    return [[float(v) for v in r] for r in t.tolist()]


def inputs(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 2, generator=g)
    out = torch.randn(4, 2, generator=g)
    return x, out


def alphas():
    res = {}
    for name, kw in SCHEDULES.items():
        s = DDPMScheduler(num_train_timesteps=T, **kw)
        res[name] = {"indices": INDICES, "alphas_cumprod": [float(s.alphas_cumprod[i]) for i in INDICES]}
    s = DDPMScheduler(num_train_timesteps=T, rescale_betas_zero_snr=True, **SCHEDULES["linear"])
    res["linear_zero_snr"] = {"indices": INDICES,
                              "alphas_cumprod": [float(s.alphas_cumprod[i]) for i in INDICES]}
    return res


def ddpm_cases():
    cases = []
    seed = 10
    for pred in ["epsilon", "sample", "v_prediction"]:
        for var in ["fixed_small", "fixed_large"]:
            for inference in [None, 10]:
                seed += 1
                s = DDPMScheduler(num_train_timesteps=T, clip_sample=False, prediction_type=pred,
                                  variance_type=var, timestep_spacing="trailing", **SCHEDULES["linear"])
                if inference is None:
                    t = 500
                else:
                    s.set_timesteps(inference)
                    t = int(s.timesteps[3])
                x, out = inputs(seed)
                noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed + 1000))
                prev = s.step(out, t, x, generator=torch.Generator().manual_seed(seed + 1000)).prev_sample
                # The same step without noise: t = 0 skips it, so recompute the mean by
                # hand from diffusers' own tensors and check prev = mean + std · noise.
                prev_t = int(s.previous_timestep(t))
                ab = s.alphas_cumprod[t]
                ab_prev = s.alphas_cumprod[prev_t] if prev_t >= 0 else s.one
                std = s._get_variance(t) ** 0.5
                mean = prev - std * noise
                assert torch.allclose(prev, mean + std * noise)
                cases.append({
                    "schedule": "linear", "prediction": pred, "variance": var,
                    "inference_steps": inference, "spacing": "trailing", "t": t, "prev_t": prev_t,
                    "alpha_cumprod_t": float(ab), "alpha_cumprod_prev": float(ab_prev),
                    "x": rows(x), "model_output": rows(out), "noise": rows(noise),
                    "std": float(std), "mean": rows(mean), "prev_sample": rows(prev),
                })
    return cases


def ddim_cases():
    cases = []
    seed = 100
    for pred in ["epsilon", "v_prediction"]:
        for spacing in ["leading", "trailing"]:
            for alpha_one in [True, False]:
                for steps, k in [(50, 7), (10, 9)]:
                    for eta in [0.0, 1.0]:
                        seed += 1
                        s = DDIMScheduler(num_train_timesteps=T, clip_sample=False, prediction_type=pred,
                                          timestep_spacing=spacing, set_alpha_to_one=alpha_one,
                                          **SCHEDULES["squaredcos_cap_v2" if spacing == "trailing" else "linear"])
                        s.set_timesteps(steps)
                        t = int(s.timesteps[k])
                        x, out = inputs(seed)
                        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed + 1000))
                        r = s.step(out, t, x, eta=eta, variance_noise=noise if eta > 0 else None)
                        cases.append({
                            "schedule": "squaredcos_cap_v2" if spacing == "trailing" else "linear",
                            "prediction": pred, "spacing": spacing, "set_alpha_to_one": alpha_one,
                            "inference_steps": steps, "t": t, "eta": eta,
                            "x": rows(x), "model_output": rows(out), "noise": rows(noise),
                            "prev_sample": rows(r.prev_sample),
                            "pred_original_sample": rows(r.pred_original_sample),
                        })
    return cases


def timesteps():
    res = []
    for spacing in ["leading", "trailing", "linspace"]:
        for n in [3, 7, 10, 16, 50, 61]:
            s = DDIMScheduler(num_train_timesteps=T, timestep_spacing=spacing, steps_offset=0)
            s.set_timesteps(n)
            res.append({"spacing": spacing, "steps": n, "timesteps": [int(v) for v in s.timesteps]})
    return res


def main():
    fixture = {
        "source": f"diffusers {diffusers.__version__}, torch {torch.__version__}; docs/reference/diffusers_fixtures.py",
        "num_train_timesteps": T,
        "alphas_cumprod": alphas(),
        "ddpm_step": ddpm_cases(),
        "ddim_step": ddim_cases(),
        "ddim_timesteps": timesteps(),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {len(fixture['ddpm_step'])} DDPM steps, {len(fixture['ddim_step'])} DDIM steps, "
          f"{len(fixture['ddim_timesteps'])} timestep lists")


if __name__ == "__main__":
    main()
