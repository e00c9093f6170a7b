"""Goldens for our flow-matching UniPC solver from the official Wan2.1 scheduler.

Runs wan/utils/fm_solvers_unipc.py:FlowUniPCMultistepScheduler (imported from --wan, a folder
holding the `wan` package files of dvlab-research/Jenga, whose copy adds step_to_zero and the
disable_corrector override Turbo uses, and equals upstream Wan2.1's otherwise; diffusers
stand-ins from --shim) on a deterministic
stand-in model, v = 0.6 * tanh(x) - 0.25 * x + 0.05 * (step % 7), and saves the sigma tables,
the start sample, every step's sample and (for the Jenga Turbo case) the re-noise draw.

  python3 tools/golden/unipc_golden.py --wan third_party_ref/jenga_wan --shim ../shared/peer-bench/shim \
      --out tests/data/sampling
"""
import argparse, os, sys


def model(torch, x, step):
    return 0.6 * torch.tanh(x) - 0.25 * x + 0.05 * (step % 7)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wan", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    sys.path.insert(0, a.shim)
    sys.path.insert(0, a.wan)
    import torch
    from safetensors.torch import save_file
    from wan.utils.fm_solvers_unipc import FlowUniPCMultistepScheduler

    os.makedirs(a.out, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    n = 96
    for name, steps, shift, turbo_at in (("unipc_n50_shift5", 50, 5.0, None),
                                         ("unipc_n10_shift8", 10, 8.0, None),
                                         ("unipc_n50_shift8_turbo25", 50, 8.0, 25)):
        sch = FlowUniPCMultistepScheduler(num_train_timesteps=1000, shift=1, use_dynamic_shifting=False)
        sch.set_timesteps(steps, shift=shift)
        sig0 = sch.sigmas.clone()
        ts0 = sch.timesteps.clone()
        x = torch.randn(1, n, generator=g)
        out = {"sigmas": sig0, "timesteps": ts0, "x_start": x[0].clone()}
        traj = []
        timesteps = sch.timesteps
        switched = False
        for idx in range(steps):
            t = timesteps[idx]
            v = model(torch, x, idx)
            if turbo_at is not None and idx >= turbo_at and not switched:
                switched = True
                x0 = sch.step_to_zero(v, t, x, return_dict=False)[0]
                noise = torch.randn(1, n, generator=g)
                x = sch.add_noise(x0, noise, timesteps[idx + 1].unsqueeze(0))
                sch._step_index += 1
                sch.disable_corrector = list(range(24, 38))
                sch.set_timesteps(steps, shift=shift + 2)
                timesteps = sch.timesteps
                out["noise"] = noise[0].clone()
                out["sigmas_after"] = sch.sigmas.clone()
                out["timesteps_after"] = sch.timesteps.clone()
            else:
                x = sch.step(v, t, x, return_dict=False)[0]
            traj.append(x[0].clone())
        out["trajectory"] = torch.stack(traj)
        save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(a.out, name + ".safetensors"))
        print(name, "final norm", float(traj[-1].norm()))


if __name__ == "__main__":
    main()
