"""Training control of train_agent.py in pure Python (no torch), so that the two-phase resume can be checked here:
the LR schedule, how long each phase trains, and the data order.

A run is either one call (phase 0: the LR cosine spans that call's training budget) or two chained device calls
(phase 1, phase 2: the cosine spans a total training time fixed up front, e.g. 700 s, so phase 1's LR does not decay to
the floor early; phase 2 resumes at the step, data position and elapsed training seconds phase 1 saved).
The data order of epoch e is a seeded shuffle of the window indices, a function of (seed, e) only: a resumed run
continues with exactly the batches the uninterrupted run would have drawn.
"""
import math
import random


def lr_at(step, elapsed, *, lr, warmup, min_lr_frac, total_steps, total_seconds):
    """Linear warm-up over `warmup` steps, then a cosine from lr to lr * min_lr_frac over whichever ends first:
    total_steps steps or total_seconds seconds of training (elapsed counts every phase's training seconds)."""
    if step < warmup:
        return lr * (step + 1) / warmup
    p = progress(step, elapsed, total_steps, total_seconds)
    return lr * (min_lr_frac + (1 - min_lr_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))


def progress(step, elapsed, total_steps, total_seconds):
    return max(step / max(1, total_steps), elapsed / max(1e-9, total_seconds))


def phase_train_seconds(phase, *, total, phase1, elapsed_before=0.0, left=None, reserve=0.0, floor=20.0):
    """Seconds of training in this call. phase 0: `total` (the single-call budget); phase 1: `phase1` of the
    `total`; phase 2: what phase 1 left of `total`. `left` (seconds to the call's deadline) minus `reserve` (what the
    call needs after training) caps it, though not below `floor` seconds in phases 0 and 1 (phase 2 may train none)."""
    if phase == 0:
        want = total
    elif phase == 1:
        want = min(phase1, total)
    elif phase == 2:
        want = max(0.0, total - elapsed_before)
    else:
        raise ValueError(f"phase {phase}")
    if left is not None and left - reserve < want:
        want = max(floor if phase in (0, 1) else 0.0, left - reserve)
    return want


def epoch_order(seed, epoch, n):
    order = list(range(n))
    random.Random(f"order:{seed}:{epoch}").shuffle(order)
    return order


class Schedule:
    """Which batch to train next and at what LR; the state a checkpoint keeps (state() / Schedule(..., state=))."""

    def __init__(self, n, batch, epochs, seed, *, lr, warmup, min_lr_frac, total_seconds, max_steps=0, state=None):
        self.n, self.batch, self.epochs, self.seed = n, batch, epochs, seed
        self.lr, self.warmup, self.min_lr_frac, self.total_seconds = lr, warmup, min_lr_frac, total_seconds
        self.max_steps = max_steps
        self.total_steps = epochs * (n // batch)
        if max_steps:
            self.total_steps = min(self.total_steps, max_steps)
        s = state or {}
        self.step, self.epoch, self.pos = s.get("step", 0), s.get("epoch", 0), s.get("pos", 0)
        self.elapsed = s.get("elapsed", 0.0)
        self.finished = s.get("finished", False)
        self._order = (None, None)

    def state(self):
        return {"step": self.step, "epoch": self.epoch, "pos": self.pos, "elapsed": self.elapsed,
                "finished": self.finished, "total_seconds": self.total_seconds, "total_steps": self.total_steps}

    def order(self, epoch):
        if self._order[0] != epoch:
            self._order = (epoch, epoch_order(self.seed, epoch, self.n))
        return self._order[1]

    def lr_now(self, elapsed):
        return lr_at(self.step, elapsed, lr=self.lr, warmup=self.warmup, min_lr_frac=self.min_lr_frac,
                     total_steps=self.total_steps, total_seconds=self.total_seconds)

    def run(self, clock, budget):
        """Yields (window indices, lr, elapsed training seconds) for each step until this call's `budget` seconds
        (by `clock`) are used, the schedule is complete (progress 1, max_steps) or the epochs are done. The caller
        trains one step per item; the state advances when the next item is asked for (or the run ends)."""
        t0 = clock()
        before = self.elapsed
        while not self.finished and self.epoch < self.epochs:
            order = self.order(self.epoch)
            while self.pos + self.batch <= self.n:
                here = clock() - t0
                el = before + here
                if (progress(self.step, el, self.total_steps, self.total_seconds) >= 1.0
                        or (self.max_steps and self.step >= self.max_steps)):
                    self.finished = True
                if self.finished or here >= budget:
                    self.elapsed = el
                    return
                yield order[self.pos:self.pos + self.batch], self.lr_now(el), el
                self.pos += self.batch
                self.step += 1
            self.epoch += 1
            self.pos = 0
        if self.epoch >= self.epochs:
            self.finished = True
        self.elapsed = before + (clock() - t0)
