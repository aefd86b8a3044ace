"""python3 -m unittest discover -s tools/train-tiny -p 'test_*.py'   (no torch needed)

The two-phase resume of train_agent.py: a run split into phase 1 + phase 2 (state saved as JSON in between) draws
the same batches at the same learning rates as one uninterrupted run over the same total training time."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schedule as S  # noqa: E402

KW = dict(lr=1.5e-3, warmup=10, min_lr_frac=0.05)


class FakeClock:
    """Each reading after a step advances by `dt` seconds (one training step)."""

    def __init__(self, dt):
        self.t, self.dt = 1000.0, dt

    def __call__(self):
        return self.t

    def tick(self):
        self.t += self.dt


def drive(sched, clock, budget):
    out = []
    for idx, lr, el in sched.run(clock, budget):
        out.append((sched.step, sched.epoch, tuple(idx), lr))
        clock.tick()
    return out


class ScheduleTests(unittest.TestCase):
    def make(self, state=None, total=70.0, n=2003, batch=8):
        return S.Schedule(n, batch, 4, 1234, total_seconds=total, state=state, **KW)

    def test_two_phases_equal_one_run(self):
        one = drive(self.make(), FakeClock(0.25), budget=70.0)
        p1 = self.make()
        first = drive(p1, FakeClock(0.25), budget=40.0)
        saved = json.loads(json.dumps(p1.state()))  # what phase 1 writes to /tmp/agent-ckpt/state.json
        self.assertFalse(saved["finished"])
        p2 = self.make(state=saved)
        second = drive(p2, FakeClock(0.25), budget=1e9)  # phase 2 trains what is left of the total
        self.assertEqual(one, first + second)
        self.assertTrue(p2.finished)
        self.assertEqual(len(one), 280)  # 70 s at 0.25 s a step
        self.assertGreater(len({e for _, e, _, _ in one}), 1, "the run crosses an epoch boundary")

    def test_phase1_and_two_phase2_calls_equal_one_run(self):
        # a phase 2 cut by its deadline checkpoints (train_agent.py: intermediate) and a second phase-2 call resumes
        one = drive(self.make(total=105.0), FakeClock(0.25), budget=105.0)
        p1 = self.make(total=105.0)
        first = drive(p1, FakeClock(0.25), budget=S.phase_train_seconds(1, total=105.0, phase1=36.0))
        p2 = self.make(total=105.0, state=json.loads(json.dumps(p1.state())))
        b2 = S.phase_train_seconds(2, total=105.0, phase1=36.0, elapsed_before=p1.elapsed, left=105.0, reserve=70.0)
        self.assertEqual(b2, 35.0)  # capped by the deadline: the schedule does not finish in this call
        second = drive(p2, FakeClock(0.25), budget=b2)
        self.assertFalse(p2.finished)
        p3 = self.make(total=105.0, state=json.loads(json.dumps(p2.state())))
        third = drive(p3, FakeClock(0.25), budget=S.phase_train_seconds(2, total=105.0, phase1=36.0,
                                                                        elapsed_before=p2.elapsed))
        self.assertTrue(p3.finished)
        self.assertEqual(one, first + second + third)

    def test_lr_is_continuous_at_the_phase_boundary_and_not_at_the_floor(self):
        p1 = self.make()
        first = drive(p1, FakeClock(0.25), budget=40.0)
        second = drive(self.make(state=json.loads(json.dumps(p1.state()))), FakeClock(0.25), budget=1e9)
        lr_end1, lr_start2 = first[-1][3], second[0][3]
        step_drop = first[-2][3] - first[-1][3]
        self.assertAlmostEqual(lr_end1 - lr_start2, step_drop, delta=step_drop * 0.05 + 1e-12)
        # phase 1 ends at 40 of 70 s: the cosine is past its middle but far above the floor
        self.assertGreater(lr_end1, 0.3 * KW["lr"])
        self.assertLess(second[-1][3], 0.06 * KW["lr"])

    def test_phase1_with_its_own_budget_as_total_would_decay_early(self):
        # the bug the fixed total prevents: a cosine over phase 1's budget alone reaches the floor at its end
        p = self.make(total=40.0)
        lrs = [lr for *_, lr in drive(p, FakeClock(0.25), budget=40.0)]
        self.assertLess(lrs[-1], 0.06 * KW["lr"])

    def test_warmup_then_cosine(self):
        self.assertAlmostEqual(S.lr_at(0, 0, total_steps=1000, total_seconds=100, **KW), KW["lr"] / 10)
        self.assertAlmostEqual(S.lr_at(9, 0, total_steps=1000, total_seconds=100, **KW), KW["lr"])
        self.assertAlmostEqual(S.lr_at(10, 50, total_steps=10**9, total_seconds=100, **KW),
                               KW["lr"] * (0.05 + 0.95 * 0.5))
        self.assertAlmostEqual(S.lr_at(10, 500, total_steps=10**9, total_seconds=100, **KW), KW["lr"] * 0.05)
        # the step count ends the schedule when it comes first
        self.assertAlmostEqual(S.lr_at(1000, 1, total_steps=1000, total_seconds=100, **KW), KW["lr"] * 0.05)

    def test_phase_train_seconds(self):
        f = S.phase_train_seconds
        self.assertEqual(f(0, total=330, phase1=400), 330)
        self.assertEqual(f(0, total=330, phase1=400, left=300, reserve=130), 170)
        self.assertEqual(f(1, total=700, phase1=400, left=490, reserve=70), 400)
        self.assertEqual(f(1, total=700, phase1=400, left=440, reserve=70), 370)
        self.assertEqual(f(2, total=700, phase1=400, elapsed_before=370, left=460, reserve=130), 330)
        self.assertEqual(f(2, total=700, phase1=400, elapsed_before=400, left=460, reserve=130), 300)
        self.assertEqual(f(2, total=700, phase1=400, elapsed_before=710, left=460, reserve=130), 0)
        self.assertEqual(f(1, total=700, phase1=400, left=50, reserve=70), 20)  # the floor, under a deadline
        self.assertEqual(f(1, total=30, phase1=1.0), 1.0)  # no floor without one (smoke runs)
        with self.assertRaises(ValueError):
            f(3, total=1, phase1=1)

    def test_max_steps_and_epoch_order(self):
        p = S.Schedule(100, 10, 2, 7, total_seconds=1e9, max_steps=15, **KW)
        out = drive(p, FakeClock(0.01), budget=1e9)
        self.assertEqual(len(out), 15)
        self.assertTrue(p.finished)
        self.assertEqual(S.epoch_order(7, 0, 50), S.epoch_order(7, 0, 50))
        self.assertNotEqual(S.epoch_order(7, 0, 50), S.epoch_order(7, 1, 50))
        self.assertEqual(sorted(S.epoch_order(7, 3, 50)), list(range(50)))
        # epoch 0 then epoch 1: every window of an epoch exactly once
        seen = [i for _, e, idx, _ in out if e == 0 for i in idx]
        self.assertEqual(sorted(seen), list(range(100)))


if __name__ == "__main__":
    unittest.main()
