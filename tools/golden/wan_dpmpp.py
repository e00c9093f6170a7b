"""Goldens for our flow-matching DPM-Solver++ from the official Wan2.1 scheduler.

Runs wan/utils/fm_solvers.py:FlowDPMSolverMultistepScheduler as Wan's `--sample_solver dpm++`
builds it (wan/text2video.py: shift=1, use_dynamic_shifting=False, then
retrieve_timesteps(sigmas=get_sampling_sigmas(N, shift)); defaults solver_order 2, dpmsolver++,
midpoint, lower_order_final, final sigma 0), imported from --wan (a folder holding the `wan`
package of Wan-Video/Wan2.1 or of dvlab-research/Jenga; the scheduler is the same in both, Jenga
adds step_to_zero) with diffusers stand-ins from --shim, on the deterministic stand-in model of
unipc_golden.py, v = 0.6 * tanh(x) - 0.25 * x + 0.05 * (step % 7). Saves the sigma/timestep
tables, the start sample and every step's sample. A restart case calls set_timesteps(N, shift)
mid-run as Jenga Turbo's switch does with this scheduler (history cleared, index looked up again).

  python3 tools/golden/wan_dpmpp.py --wan peers/wanref --shim peers/shim --out tests/data/sampling
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
    from wan.utils.fm_solvers import (FlowDPMSolverMultistepScheduler, get_sampling_sigmas,
                                      retrieve_timesteps)

    os.makedirs(a.out, exist_ok=True)
    g = torch.Generator().manual_seed(1)
    n = 96
    # (name, steps, shift, restart index or None): 50 steps as Wan's T2V default, 10 (< 15: the
    # lower-order-final rule of short schedules), 2 (first and last step only), and a restart
    # at loop index 25 with shift + 2 (the schedule Jenga Turbo's set_timesteps call builds).
    for name, steps, shift, restart in (("dpmpp_n50_shift5", 50, 5.0, None),
                                        ("dpmpp_n10_shift8", 10, 8.0, None),
                                        ("dpmpp_n2_shift3", 2, 3.0, None),
                                        ("dpmpp_n30_shift8_reset25", 30, 8.0, 25)):
        sch = FlowDPMSolverMultistepScheduler(num_train_timesteps=1000, shift=1, use_dynamic_shifting=False)
        timesteps, _ = retrieve_timesteps(sch, device="cpu", sigmas=get_sampling_sigmas(steps, shift))
        out = {"sigmas": sch.sigmas.clone(), "timesteps": timesteps.clone()}
        x = torch.randn(1, n, generator=g)
        out["x_start"] = x[0].clone()
        traj = []
        for idx in range(steps):
            if restart is not None and idx == restart:
                sch.set_timesteps(steps, device="cpu", shift=shift + 2)
                timesteps = sch.timesteps
                out["sigmas_after"] = sch.sigmas.clone()
                out["timesteps_after"] = sch.timesteps.clone()
                out["start_after"] = torch.tensor([sch.index_for_timestep(timesteps[idx])], dtype=torch.int64)
            v = model(torch, x, idx)
            x = sch.step(v, timesteps[idx], x, return_dict=False)[0]
            traj.append(x[0].clone())
        out["trajectory"] = torch.stack(traj)
        save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(a.out, name + ".safetensors"),
                  metadata={"steps": str(steps), "shift": repr(shift), "restart": str(restart),
                            "source": "wan/utils/fm_solvers.py FlowDPMSolverMultistepScheduler"})
        print(name, "final norm", float(traj[-1].norm()))


if __name__ == "__main__":
    main()
