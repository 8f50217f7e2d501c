"""A small convolutional network trained from scratch on the CPU within a time budget.

Images are resized to `size`×`size` and standardised per image (lighting changes little). Training draws
class-balanced batches (each class's share ∝ count^(1 - balance)), augments them on the fly (flips, small
rotations, scale/crop and shift, brightness and contrast) and keeps an exponential moving average of the weights,
which is what predicts. When defect masks are given, a segmentation head learns where the defect is (a masked
loss: images without a mask add nothing to it) and the classifier reads that map too (its maximum, mean and the
features pooled under it); `defect_map` returns it."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from mofang.tasks.vision.candidates import ImageCandidate
from mofang.tasks.vision.images import resized
from mofang.tasks.vision.portable import network_input


def _block(cin: int, cout: int, stride: int) -> nn.Module:
    return _Residual(cin, cout, stride)


class _Residual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) \
            if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.skip(x))


class Net(nn.Module):
    """Stem and three residual stages (strides 2, 4, 8, 16); a defect-map head at stride 8 with one map per
    class (where a defect of that class is); a classifier on the last stage's average and max pooling, the
    features pooled under the defect maps, and each map's max and mean."""

    def __init__(self, channels: int, classes: int, width: int = 16) -> None:
        super().__init__()
        w = width
        self.stem = nn.Sequential(nn.Conv2d(channels, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        self.stage1 = _block(w, 2 * w, 2)
        self.stage2 = _block(2 * w, 4 * w, 2)
        self.stage3 = _block(4 * w, 8 * w, 2)
        self.segment = nn.Sequential(nn.Conv2d(4 * w, 2 * w, 3, 1, 1), nn.ReLU(), nn.Conv2d(2 * w, classes, 1))
        self.dropout = nn.Dropout(0.2)
        self.classify = nn.Linear(8 * w * 3 + 2 * classes, classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(class logits, per-class defect-map logits at 1/8 of the input's size)."""
        mid = self.stage2(self.stage1(self.stem(x)))
        seg = self.segment(mid)
        deep = self.stage3(mid)
        any_defect = seg.amax(dim=1, keepdim=True)
        weight = torch.sigmoid(F.avg_pool2d(any_defect, 2, ceil_mode=True))[..., :deep.shape[2], :deep.shape[3]]
        attended = (deep * weight).sum(dim=(2, 3)) / (weight.sum(dim=(2, 3)) + 1e-3)
        prob = torch.sigmoid(seg).flatten(2)
        pooled = torch.cat([deep.mean(dim=(2, 3)), deep.amax(dim=(2, 3)), attended,
                            prob.amax(dim=2), prob.mean(dim=2)], dim=1)
        return self.classify(self.dropout(pooled)), seg


class SmallCNN(ImageCandidate):
    """The `cnn` family; see the module docstring."""

    family = "cnn"

    def __init__(self, size: int = 192, width: int = 16, batch: int = 24, lr: float = 3e-3,
                 balance: float = 0.5, seg_weight: float = 1.0, threads: int = 2, max_epochs: int = 200,
                 flip_vertical: bool = True, rotate_degrees: float = 10.0, good_class: str | None = None) -> None:
        super().__init__()
        self.size, self.width, self.batch, self.lr = size, width, batch, lr
        self.balance, self.seg_weight, self.threads, self.max_epochs = balance, seg_weight, threads, max_epochs
        self.flip_vertical, self.rotate_degrees = flip_vertical, rotate_degrees
        self.good_class = good_class  # its images without a mask are taken as defect-free (an empty mask)
        self.channels = 1
        self.net: Net | None = None
        self.threads_used: int | None = None

    # -- data ------------------------------------------------------------------------------------------------
    def _tensor(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """N×C×size×size float images, standardised per image."""
        batch = np.stack([self._pixels(p) for p in images]).astype(np.float32)
        x = torch.from_numpy(batch).permute(0, 3, 1, 2) / 255.0
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True)
        return (x - mean) / (std + 0.02)

    def _pixels(self, pixels: np.ndarray) -> np.ndarray:
        return network_input(pixels, self.size, self.channels)

    def _masks(self, masks: Sequence[np.ndarray | None], n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """N×1×size×size float masks and an N bool 'has a mask'."""
        out = np.zeros((n, 1, self.size, self.size), dtype=np.float32)
        has = np.zeros(n, dtype=bool)
        for i, mask in enumerate(masks):
            if mask is not None:
                out[i, 0] = resized(mask.astype(np.uint8) * 255, (self.size, self.size)) > 127
                has[i] = True
        return torch.from_numpy(out), torch.from_numpy(has)

    def _augment(self, x: torch.Tensor, m: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """The same random flip/rotation/scale/shift for an image and its mask; brightness and contrast."""
        n = x.shape[0]

        def uniform(low: float, high: float) -> torch.Tensor:
            return low + (high - low) * torch.rand(n, generator=gen)

        angle = uniform(-self.rotate_degrees, self.rotate_degrees) * math.pi / 180
        scale = uniform(0.8, 1.05)
        flip_x = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
        flip_y = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0) if self.flip_vertical \
            else torch.ones(n)
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = torch.cos(angle) * scale * flip_x
        theta[:, 0, 1] = -torch.sin(angle) * scale
        theta[:, 1, 0] = torch.sin(angle) * scale
        theta[:, 1, 1] = torch.cos(angle) * scale * flip_y
        theta[:, :, 2] = torch.stack([uniform(-0.08, 0.08), uniform(-0.08, 0.08)], dim=1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        m = F.grid_sample(m, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        contrast = uniform(0.75, 1.3).view(n, 1, 1, 1)
        brightness = uniform(-0.3, 0.3).view(n, 1, 1, 1)
        noise = 0.03 * torch.randn(x.shape, generator=gen) * (torch.rand(n, 1, 1, 1, generator=gen) < 0.3)
        return x * contrast + brightness + noise, (m > 0.5).float()

    # -- training --------------------------------------------------------------------------------------------
    def fit(self, images: Sequence[np.ndarray], labels: Sequence[str],
            masks: Sequence[np.ndarray | None] | None = None, *, budget_s: float = 120.0,
            seed: int = 42) -> SmallCNN:
        start = time.monotonic()
        threads = ThreadChooser(self.threads)
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        labels = np.asarray(labels).astype(str)
        self.classes_ = sorted(set(labels))
        self.channels = 3 if any(p.ndim == 3 for p in images) else 1
        x = self._tensor(images)
        y = torch.tensor([self.classes_.index(v) for v in labels])
        masks = list(masks) if masks is not None else [None] * len(images)
        if self.good_class is not None and any(m is not None for m in masks):
            masks = [np.zeros(p.shape[:2], dtype=bool) if m is None and v == self.good_class else m
                     for p, m, v in zip(images, masks, labels, strict=True)]
        m, has = self._masks(masks, len(images))
        use_seg = bool(has.any()) and self.seg_weight > 0
        counts = np.bincount(y.numpy(), minlength=len(self.classes_)).astype(float)
        weights = torch.from_numpy((1.0 / counts[y.numpy()]) ** self.balance)
        net = Net(self.channels, len(self.classes_), self.width)  # channels_last: oneDNN crashed on 4-channel convs
        ema = copy.deepcopy(net)
        optimizer = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=1e-3)
        train_s = max(1.0, budget_s - (time.monotonic() - start)) * 0.93  # the rest: final statistics, slack
        steps_per_epoch = max(1, math.ceil(len(y) / self.batch))
        step, epochs, losses = 0, 0, []
        began = time.monotonic()
        while epochs < self.max_epochs:
            elapsed = time.monotonic() - began
            if elapsed > train_s:
                break
            for _ in range(steps_per_epoch):
                progress = (time.monotonic() - began) / train_s
                if progress >= 1:
                    break
                rate = self.lr * min(1.0, (step + 1) / 30) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
                for group in optimizer.param_groups:
                    group["lr"] = rate
                threads.begin(step)
                rows = torch.multinomial(weights, self.batch, replacement=True, generator=gen)
                xb, mb = self._augment(x[rows], m[rows], gen)
                logits, seg = net(xb)
                loss = F.cross_entropy(logits, y[rows], label_smoothing=0.05)
                if use_seg and has[rows].any():
                    keep = has[rows]
                    loss = loss + self.seg_weight * _segmentation_loss(seg[keep], mb[keep], y[rows][keep])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                _ema_update(ema, net, decay=min(0.99, (1 + step) / (10 + step)))
                losses.append(float(loss.detach()))
                threads.end(step)
                step += 1
            epochs += 1
        self.net = ema.eval()
        self.threads_used = threads.best()
        self.info = {"train_s": round(time.monotonic() - start, 2), "steps": step, "epochs": epochs,
                     "threads": self.threads_used, "step_s": threads.summary(),
                     "images_seen": step * self.batch, "segmentation": use_seg, "size": self.size,
                     "final_loss": round(float(np.mean(losses[-20:])), 4) if losses else None}
        return self

    @torch.no_grad()
    def _forward(self, images: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        if self.net is None:
            raise RuntimeError("the network is not trained (call fit first)")
        torch.set_num_threads(self.threads_used or self.threads)
        logits, maps = [], []
        for begin in range(0, len(images), 64):
            x = self._tensor(images[begin:begin + 64])
            a, seg_a = self.net(x)
            b, seg_b = self.net(torch.flip(x, dims=[3]))  # horizontal-flip test-time augmentation
            logits.append((a + b) / 2)
            seg_a, seg_b = seg_a.amax(dim=1, keepdim=True), seg_b.amax(dim=1, keepdim=True)
            maps.append((torch.sigmoid(seg_a) + torch.flip(torch.sigmoid(seg_b), dims=[3])) / 2)
        return torch.cat(logits), torch.cat(maps)

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        if len(images) == 0:
            return np.zeros((0, len(self.classes_)))
        return torch.softmax(self._forward(images)[0], dim=1).numpy().astype(float)

    def defect_map(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The defect probability of each pixel, at each image's own size (meaningful when trained with masks)."""
        maps = self._forward(images)[1].numpy()
        out = []
        for image, prob in zip(images, maps, strict=True):
            picture = (np.clip(prob[0], 0, 1) * 255).astype(np.uint8)
            out.append(resized(picture, (image.shape[1], image.shape[0])).astype(np.float32) / 255)
        return out

    def state(self) -> dict[str, Any]:
        """What it takes to rebuild the predictor: settings, classes and weights."""
        assert self.net is not None
        return {"family": self.family, "size": self.size, "width": self.width, "channels": self.channels,
                "classes": self.classes_, "weights": self.net.state_dict()}


class ThreadChooser:
    """Torch's intra-op threads for each training step: up to `most`, whichever count has been faster lately.
    On a shared 2-core host under load, two OpenMP threads spin waiting for a core another process holds and a
    step can take 4× longer than on one thread; on an idle host two are faster. The other count is tried for
    two steps after the warm-up and every `every` steps."""

    def __init__(self, most: int, every: int = 80) -> None:
        self.choices = [1, most] if most > 1 else [1]
        self.every = every
        self.times: dict[int, list[float]] = {n: [] for n in self.choices}
        self.current = self.choices[-1]
        self._started = 0.0

    def begin(self, step: int) -> None:
        if len(self.choices) > 1:
            phase = step % self.every
            if step < 2:
                wanted = self.choices[0]  # warm-up steps, not timed
            elif phase in (2, 3):
                wanted = self.choices[0] if step < self.every else self._other()
            elif phase in (4, 5) and step < self.every:
                wanted = self.choices[-1]
            else:
                wanted = self.best()
            if wanted != torch.get_num_threads():
                torch.set_num_threads(wanted)
            self.current = wanted
        elif torch.get_num_threads() != 1:
            torch.set_num_threads(1)
        self._started = time.perf_counter()

    def end(self, step: int) -> None:
        if step >= 2:
            self.times[self.current] = (self.times[self.current] + [time.perf_counter() - self._started])[-6:]

    def _other(self) -> int:
        return next(n for n in self.choices if n != self.best())

    def best(self) -> int:
        timed = {n: float(np.median(t)) for n, t in self.times.items() if t}
        return min(timed, key=lambda n: timed[n]) if timed else self.choices[-1]

    def summary(self) -> dict[int, float]:
        return {n: round(float(np.median(t)), 3) for n, t in self.times.items() if t}


def _segmentation_loss(logits: torch.Tensor, masks: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of each class's map (the mask on the image's own class's map, nothing elsewhere)
    plus soft Dice of the any-defect map; masks are max-pooled to the maps' size (a thin crack stays visible)."""
    pooled = F.adaptive_max_pool2d(masks, logits.shape[-2:])
    target = torch.zeros_like(logits)
    target[torch.arange(len(labels)), labels] = pooled[:, 0]
    bce = F.binary_cross_entropy_with_logits(logits, target, pos_weight=torch.tensor(3.0))
    target = pooled
    prob = torch.sigmoid(logits.amax(dim=1, keepdim=True))
    overlap = (prob * target).sum(dim=(1, 2, 3))
    dice = 1 - (2 * overlap + 1) / (prob.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3)) + 1)
    return bce + 0.5 * dice.mean()


@torch.no_grad()
def _ema_update(ema: nn.Module, net: nn.Module, decay: float) -> None:
    for mine, theirs in zip(ema.state_dict().values(), net.state_dict().values(), strict=True):
        if mine.dtype.is_floating_point:
            mine.mul_(decay).add_(theirs.detach(), alpha=1 - decay)
        else:
            mine.copy_(theirs)
