"""Proving an imported spec: analytic state_dict shapes against the model's (cheap, picks among
candidates), then the fidelity contract on CPU: strict load, randomised BN statistics, equal
outputs on a non-square input, and analytic MACs equal to FlopCounterMode / 2 on the source."""

from __future__ import annotations

from typing import Any

from archspec.api import Compiled, compile_loaded
from archspec.spec import parse_spec

# Verification input: small (fast on 2 cores) and non-square (catches swapped H/W).
CHECK_INPUT = (3, 64, 48)
BATCH = 2
RTOL = ATOL = 1e-4


def model_shapes(model: Any) -> dict[str, tuple[int, ...]]:
    return {k: tuple(int(n) for n in v.shape) for k, v in model.state_dict().items()}


def spec_shapes(compiled: Compiled) -> dict[str, tuple[int, ...]]:
    return {k: tuple(t.shape) for k, t in compiled.arch.state_dict().items()}


def first_difference(model: dict[str, tuple[int, ...]], spec: dict[str, tuple[int, ...]]) -> str:
    """The first state_dict entry, in the model's order, that the spec lacks or shapes
    differently; then the first the spec has in excess. '' when they agree."""
    for key, shape in model.items():
        if key not in spec:
            return f"tensor {key} {list(shape)}: the spec has no such tensor"
        if spec[key] != shape:
            return f"tensor {key}: {list(shape)} in the model, {list(spec[key])} in the spec"
    extra = [key for key in spec if key not in model]
    return f"tensor {extra[0]}: in the spec, not in the model" if extra else ""


def verify(model: Any, text: str) -> str:
    """'' when the spec is the model, else the first difference found."""
    import torch  # noqa: PLC0415

    c, h, w = CHECK_INPUT
    compiled = compile_loaded(parse_spec(text, "<import>", [f"input=[{c}, {h}, {w}]"]))
    built = compiled.to_module().eval()
    randomise_norms(model)
    try:
        built.load_state_dict(model.state_dict(), strict=True)
    except RuntimeError as exc:
        return f"load_state_dict: {str(exc).splitlines()[-1].strip()}"
    torch.manual_seed(1)
    x = torch.randn(BATCH, c, h, w)
    flops, expected = _counted(model, x)
    if isinstance(expected, torch.Tensor) and not bool(torch.isfinite(expected).all()):
        # A deep network's activations can outgrow float32 (hundreds of residual blocks with
        # randomised norms): compare in float64, where they stay finite.
        model.double()
        built.double()
        x = x.double()
        with torch.no_grad():
            expected = model(x)
    with torch.no_grad():
        actual = built(x)
    if not isinstance(expected, torch.Tensor) or expected.shape != actual.shape:
        return f"output: shape {_shape(expected)} from the model, {_shape(actual)} from the spec"
    if not torch.allclose(actual, expected, rtol=RTOL, atol=ATOL):
        return _first_module_difference(model, built, x) or "output: values differ"
    macs = compiled.stats.totals.macs
    if flops != 2 * macs * BATCH:
        return f"MACs: {flops // 2 // BATCH:,} counted on the model, {macs:,} analytic"
    return ""


def _counted(model: Any, x: Any) -> tuple[int, Any]:
    import torch  # noqa: PLC0415
    from torch.utils.flop_counter import FlopCounterMode  # noqa: PLC0415

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        out = model(x)
    return int(counter.get_total_flops()), out


def _shape(value: Any) -> str:
    return str(list(value.shape)) if hasattr(value, "shape") else type(value).__name__


def _first_module_difference(model: Any, built: Any, x: Any) -> str:
    """The first module, in the model's execution order, whose output differs in the build."""
    import torch  # noqa: PLC0415

    outputs: dict[str, list[Any]] = {"model": [], "built": []}
    mine = dict(built.named_modules())
    hooks = []
    for tag, net, names in (("model", model, None), ("built", built, mine)):
        for name, module in net.named_modules():
            if not name or (names is not None and name not in names) or list(module.children()):
                continue
            hooks.append(module.register_forward_hook(_recorder(outputs[tag], name)))
    with torch.no_grad():
        model(x)
        built(x)
    for hook in hooks:
        hook.remove()
    # A module called twice (torchvision's shared relu) is compared call by call.
    theirs: dict[str, list[Any]] = {}
    for name, value in outputs["built"]:
        theirs.setdefault(name, []).append(value)
    calls: dict[str, int] = {}
    for name, value in outputs["model"]:
        index = calls[name] = calls.get(name, -1) + 1
        built_calls = theirs.get(name, [])
        other = built_calls[index] if index < len(built_calls) else None
        if isinstance(value, torch.Tensor) and isinstance(other, torch.Tensor):
            if value.shape != other.shape or not torch.allclose(value, other, rtol=RTOL, atol=ATOL):
                return (
                    f"output of {name} ({type(dict(model.named_modules())[name]).__name__}) differs"
                )
    return ""


def _recorder(store: list[Any], name: str) -> Any:
    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        store.append((name, output))

    return hook


def randomise_norms(model: Any) -> None:
    """BN statistics and affine parameters away from their init, so a misplaced norm shows."""
    import torch  # noqa: PLC0415

    generator = torch.Generator().manual_seed(3)
    for found in model.modules():
        if isinstance(found, torch.nn.modules.batchnorm._BatchNorm):
            module = _untyped(found)  # running stats are Tensor | None to mypy
            n = module.num_features
            with torch.no_grad():
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                if module.affine:
                    module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                    module.bias.copy_(torch.randn(n, generator=generator) * 0.1)


def _untyped(value: Any) -> Any:
    return value
