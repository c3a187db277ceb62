"""The norms a spec may choose besides BatchNorm2d: GroupNorm and frozen batch norm.

The counts each tool gives were measured on a conv -> norm -> conv network (fvcore 0.1.5,
ptflops 0.7.5 with count_functional on and off, FlopCounterMode, pycls 0.1.1): see each op.
torch has no frozen batch norm, so the generated file defines torchvision's
(`FrozenBatchNorm2d`, registered in the helper classes the emitter copies into files that use
them), written with torch only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from archspec.ir.code import Call
from archspec.ir.ops.base import POINTWISE, Costs, Op, Shape, ShapeError, Site, TensorInfo, Window

# torchvision.ops.misc.FrozenBatchNorm2d: the same buffers, the same arithmetic (so the same
# outputs bit for bit), and a BatchNorm2d checkpoint's num_batches_tracked dropped on load.
FROZEN_BATCHNORM = '''class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d with its statistics and affine parameters fixed as buffers
    (torchvision.ops.misc.FrozenBatchNorm2d)."""

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Tensor],
        prefix: str,
        local_metadata: dict[str, object],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        # A BatchNorm2d checkpoint loads: its step count means nothing here.
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def forward(self, x: Tensor) -> Tensor:
        weight = self.weight.reshape(1, -1, 1, 1)
        bias = self.bias.reshape(1, -1, 1, 1)
        mean = self.running_mean.reshape(1, -1, 1, 1)
        var = self.running_var.reshape(1, -1, 1, 1)
        scale = weight * (var + self.eps).rsqrt()
        shift = bias - mean * scale
        return x * scale + shift

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"'''

# The emitter's one table of helper classes (archspec.emit.pytorch copies those a model calls).

DEFAULT_EPS = 1e-5  # torch's and torchvision's


def _eps(eps: float) -> tuple[tuple[str, float], ...]:
    return (("eps", eps),) if eps != DEFAULT_EPS else ()


def _check_channels(expected: int, shape: Shape) -> None:
    if len(shape) != 3 or shape[0] != expected:
        raise ShapeError(f"expects a map of {expected} channels, got {shape}")


@dataclass(frozen=True)
class GroupNorm(Op):
    """nn.GroupNorm(num_groups, num_channels) (affine): a weight and bias per channel.

    Counts, measured: fvcore's aten::group_norm handle counts 5 per input element (4 without
    affine); ptflops hooks nn.GroupNorm and counts 2 per input element (the norm and the
    affine), with count_functional on or off (its F.group_norm patch does not count inside a
    hooked module); FlopCounterMode counts nothing; pycls has no GroupNorm, and its norm
    (complexity_batchnorm2d) adds no flops and no acts. No MACs.

    Memory: autograd (NativeGroupNormBackward) keeps the input, the weight (a parameter) and a
    mean and reciprocal std per (sample, group): 2 x num_groups private elements per sample.
    """

    kind: ClassVar[str] = "groupnorm"
    category: ClassVar[str] = "norm"
    num_groups: int
    num_channels: int
    eps: float = DEFAULT_EPS

    def infer(self, inputs: list[Shape]) -> Shape:
        _check_channels(self.num_channels, inputs[0])
        if self.num_channels % self.num_groups:
            raise ShapeError(
                f"{self.num_channels} channels do not split into {self.num_groups} groups; "
                "choose a number of groups that divides the channels"
            )
        return inputs[0]

    def tensors(self) -> list[TensorInfo]:
        c = (self.num_channels,)
        return [TensorInfo("weight", c, True), TensorInfo("bias", c, True)]

    def module_call(self) -> Call:
        return Call("nn.GroupNorm", (self.num_groups, self.num_channels), _eps(self.eps))

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return 0

    def fvcore(self, site: Site) -> Costs:
        return [("norm", 5 * site.in_numel)]

    def ptflops(self, site: Site, functional: bool) -> Costs:
        return [("norm", 2 * site.in_numel)]

    def pycls(self, site: Site) -> Costs:
        return []

    def pycls_acts(self, site: Site) -> int:
        return 0

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return inputs[:1]

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        return 2 * self.num_groups  # mean and rstd per group

    def aliases_input(self) -> bool:
        return False

    def window(self) -> Window:
        return POINTWISE

    def describe(self) -> str:
        return f"groupnorm {self.num_channels}, {self.num_groups} groups"


@dataclass(frozen=True)
class FrozenBatchNorm2d(Op):
    """torchvision's FrozenBatchNorm2d (defined by the generated file): x * scale + shift, with
    scale = weight * (running_var + eps).rsqrt() and shift = bias - running_mean * scale. Its
    weight, bias, running_mean and running_var are all buffers: no trainable params and no
    num_batches_tracked (a BatchNorm2d checkpoint's is dropped on load, as torchvision does).

    Counts, measured on torchvision's module and on the generated one: no tool counts it.
    fvcore has no handle for the elementwise aten ops (mul, add, sub, rsqrt); ptflops hooks
    no such module and patches no tensor arithmetic, with count_functional on or off;
    FlopCounterMode counts no elementwise op; pycls counts a norm as complexity_batchnorm2d
    does, no flops and no acts. No MACs.

    Memory: the buffers need no grad, so autograd keeps neither the input nor the output:
    `x * scale` keeps only `scale`, C elements, and `+ shift` nothing. That tensor does not
    grow with the batch, as the per-sample protocol (saved_private_elements) assumes, so it is
    left out, as BatchNorm2d's per-channel saves (running stats, batch mean and invstd) are.
    """

    kind: ClassVar[str] = "frozen_bn"
    helper: ClassVar[str] = FROZEN_BATCHNORM
    category: ClassVar[str] = "norm"
    num_features: int
    eps: float = DEFAULT_EPS

    def infer(self, inputs: list[Shape]) -> Shape:
        _check_channels(self.num_features, inputs[0])
        return inputs[0]

    def tensors(self) -> list[TensorInfo]:
        c = (self.num_features,)
        names = ("weight", "bias", "running_mean", "running_var")
        return [TensorInfo(name, c, False) for name in names]

    def module_call(self) -> Call:
        return Call("FrozenBatchNorm2d", (self.num_features,), _eps(self.eps))

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return 0

    def fvcore(self, site: Site) -> Costs:
        return []

    def ptflops(self, site: Site, functional: bool) -> Costs:
        return []

    def pycls(self, site: Site) -> Costs:
        return []

    def pycls_acts(self, site: Site) -> int:
        return 0

    def saved_for_backward(self, inputs: list[str], node: str) -> list[str]:
        return []

    def saved_index_elements(self, output: Shape) -> int:
        return 0

    def saved_private_elements(self, output: Shape) -> int:
        return 0

    def aliases_input(self) -> bool:
        return False

    def window(self) -> Window:
        return POINTWISE

    def describe(self) -> str:
        return f"frozen batchnorm {self.num_features}"
