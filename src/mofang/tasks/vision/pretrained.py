"""A pretrained backbone from a local weights file — never downloaded. The backbone's pooled features (frozen,
ImageNet preprocessing, horizontal-flip averaged) feed a class-balanced logistic-regression head, which trains
in seconds on the CPU.

The architecture comes from timm when it is installed (any timm name), else from torchvision, else from the
ResNets built in here (resnet18/34/50, with torchvision's parameter names, so torchvision's ResNet weight files
load without torchvision). Weights: a PyTorch state dict (`.pth`/`.pt`/`.bin`, possibly under a "state_dict" or
"model" key) or a `.safetensors` file. Without a weights path, with a missing file, an unknown architecture or
weights that do not fit it, the family is skipped with the reason (`CandidateSkipped`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from mofang.tasks.vision.candidates import CandidateSkipped, ImageCandidate
from mofang.tasks.vision.images import resized

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_HEAD_PREFIXES = ("fc.", "classifier.", "head.", "heads.", "last_linear.")


class PretrainedBackbone(ImageCandidate):
    """The `pretrained` family; see the module docstring."""

    family = "pretrained"

    def __init__(self, weights: str | Path | None = None, arch: str = "resnet18", size: int = 224,
                 threads: int = 2, batch: int = 32) -> None:
        super().__init__()
        self.weights, self.arch, self.size, self.threads, self.batch = weights, arch, size, threads, batch
        self.backbone: nn.Module | None = None
        self.head: Any = None

    def check(self) -> None:
        """Raise CandidateSkipped with the reason when this family cannot run here."""
        if not self.weights:
            raise CandidateSkipped("no local weights file given for a pretrained backbone (weights are never "
                                   "downloaded)")
        if not Path(self.weights).is_file():
            raise CandidateSkipped(f"pretrained weights not found at {self.weights}")

    def load(self) -> nn.Module:
        """The backbone with its weights loaded, classifier removed (it returns pooled features)."""
        self.check()
        model = build_backbone(self.arch)
        state = read_state(Path(str(self.weights)))
        state = {k: v for k, v in state.items() if not k.startswith(_HEAD_PREFIXES)}
        own = {k for k in model.state_dict() if not k.startswith(_HEAD_PREFIXES)}
        missing = own - set(state)
        if not state or len(missing) > 0.1 * len(own):
            raise CandidateSkipped(f"the weights at {self.weights} do not fit {self.arch}: {len(missing)} of "
                                   f"{len(own)} parameters missing (e.g. {sorted(missing)[:3]})")
        try:
            model.load_state_dict(state, strict=False)
        except RuntimeError as exc:
            raise CandidateSkipped(f"the weights at {self.weights} do not fit {self.arch}: "
                                   f"{str(exc).splitlines()[0]}") from None
        _drop_classifier(model)
        return model.eval()

    def features(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Pooled backbone features of each image (mean of the image and its mirror)."""
        assert self.backbone is not None
        torch.set_num_threads(self.threads)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        out = []
        with torch.no_grad():
            for begin in range(0, len(images), self.batch):
                batch = np.stack([_rgb(resized(p, (self.size, self.size))) for p in images[begin:begin + self.batch]])
                x = (torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 255 - mean) / std
                a = _pooled(self.backbone(x))
                b = _pooled(self.backbone(torch.flip(x, dims=[3])))
                out.append(((a + b) / 2).numpy())
        return np.concatenate(out) if out else np.zeros((0, 0))

    def fit(self, images: Sequence[np.ndarray], labels: Sequence[str],
            masks: Sequence[np.ndarray | None] | None = None, *, budget_s: float = 120.0,
            seed: int = 42) -> PretrainedBackbone:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        start = time.monotonic()
        self.backbone = self.load()
        features = self.features(images)
        labels = np.asarray(labels).astype(str)
        self.classes_ = sorted(set(labels))
        self.head = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, class_weight="balanced",
                                                                       max_iter=3000, random_state=seed))
        self.head.fit(features, labels)
        self.info = {"train_s": round(time.monotonic() - start, 2), "arch": self.arch, "weights": str(self.weights),
                     "features": int(features.shape[1]), "library": _library()}
        return self

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        proba = np.asarray(self.head.predict_proba(self.features(images)), dtype=float)
        order = [list(self.head.classes_).index(c) for c in self.classes_]
        return proba[:, order]


def _rgb(pixels: np.ndarray) -> np.ndarray:
    return np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels


def _pooled(output: torch.Tensor) -> torch.Tensor:
    return output.mean(dim=(2, 3)) if output.ndim == 4 else output.flatten(1)


def _library() -> str:
    for name in ("timm", "torchvision"):
        try:
            __import__(name)
            return name
        except ImportError:
            continue
    return "built-in"


def build_backbone(arch: str) -> nn.Module:
    """An untrained `arch` from timm, else torchvision, else the built-in ResNets; CandidateSkipped when none
    knows it."""
    try:
        import timm

        try:
            return timm.create_model(arch, pretrained=False)
        except RuntimeError:
            pass
    except ImportError:
        pass
    try:
        import torchvision

        try:
            return torchvision.models.get_model(arch, weights=None)
        except ValueError:
            pass
    except ImportError:
        pass
    if arch in RESNETS:
        return resnet(arch)
    raise CandidateSkipped(f"unknown backbone architecture {arch!r}: not in timm or torchvision (neither "
                           f"may be installed) nor built in ({', '.join(RESNETS)})")


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a .safetensors file or a torch file (tensors only: nothing is unpickled but them)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a reason to skip, said as such
        raise CandidateSkipped(f"cannot read the weights at {path}: {type(exc).__name__}: {exc}") from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise CandidateSkipped(f"the weights at {path} are not a state dict ({type(state).__name__})")
    return {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}


def _drop_classifier(model: nn.Module) -> None:
    if hasattr(model, "reset_classifier"):
        model.reset_classifier(0)  # timm: forward returns pooled features
    elif hasattr(model, "fc"):
        model.fc = nn.Identity()
    elif hasattr(model, "classifier"):
        model.classifier = nn.Identity()


# -- ResNets with torchvision's parameter names -------------------------------------------------------------
class _Basic(nn.Module):
    expansion = 1

    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) \
            if stride != 1 or cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class _Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) \
            if stride != 1 or cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class ResNet(nn.Module):
    """torchvision's ResNet layout (conv1, bn1, layer1..4, fc), so its weight files load by name."""

    def __init__(self, block: type[_Basic] | type[_Bottleneck], layers: Sequence[int], classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        cin = 64
        for index, (count, width) in enumerate(zip(layers, (64, 128, 256, 512), strict=True)):
            blocks = []
            for k in range(count):
                blocks.append(block(cin, width, 2 if k == 0 and index > 0 else 1))
                cin = width * block.expansion
            setattr(self, f"layer{index + 1}", nn.Sequential(*blocks))
        self.fc: nn.Module = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for index in range(1, 5):
            x = getattr(self, f"layer{index}")(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


RESNETS: dict[str, tuple[type[_Basic] | type[_Bottleneck], tuple[int, ...]]] = {
    "resnet18": (_Basic, (2, 2, 2, 2)), "resnet34": (_Basic, (3, 4, 6, 3)), "resnet50": (_Bottleneck, (3, 4, 6, 3))}


def resnet(arch: str) -> ResNet:
    """A built-in ResNet (resnet18, resnet34, resnet50), untrained."""
    block, layers = RESNETS[arch]
    return ResNet(block, layers)
