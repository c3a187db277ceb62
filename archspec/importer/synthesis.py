"""Block definitions synthesised from torch.fx graphs, for block classes no recogniser knows.

Each block is traced with `torch.fx` (its direct children are leaves), and the graph becomes a
definition in archspec's block language: every called child is a member under its own attribute
name (a torch layer is an op, a Sequential of them a list, a class of the user's own a nested
definition, a conv + BN projection present exactly where the block strides or changes width the
`{slot: downsample}` the stage fills), and every node a forward step. Blocks of one class and
graph share one definition, parameterised by what varies between them: `in_channels`,
`out_channels` and `stride` (read from the block's tensors), values derived from them
(`out_channels // 4`), and otherwise a param of its own that each stage sets in `args`.

Whatever fx cannot trace or the language cannot say is `NotImportable` at the module's path,
naming the node; the importer's verification then proves what was written.
"""

from __future__ import annotations

import operator
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archspec.blocks.definition import BlockDef, BlockProblem, check_block
from archspec.blocks.language import OPS
from archspec.blocks.library import builtin_blocks
from archspec.importer.errors import BadModel, NotImportable
from archspec.importer.tree import children, kind

# The probe input's side: every stage of a stride-32 network still has a map (4 x 4 at the end).
PROBE_SIDE = 128
STAGE_PARAMS = ("in_channels", "out_channels", "stride")
# Torch layers that are ops of the language with no arguments.
PLAIN = {
    "ReLU": "relu",
    "ReLU6": "relu6",
    "SiLU": "silu",
    "Hardswish": "hardswish",
    "Hardsigmoid": "hardsigmoid",
    "Sigmoid": "sigmoid",
    "Identity": "identity",
}
# Functional activations, spelled as a stateless member of that op (no state_dict entry).
ACTIVATIONS = {"relu": "relu", "relu6": "relu6", "silu": "silu", "hardswish": "hardswish"}
FRESH = ("out", "y", "z", "u", "v", "w")
# Arguments that are widths: said in the block's channels even where every block agrees, and
# (all but groups) derived from them by a whole factor.
DERIVED_ARGS = {"in_channels", "out_channels", "num_features", "in_features", "out_features"}
CHANNEL_ARGS = DERIVED_ARGS | {"channels", "groups"}
# A member leaf: (op word or kind, ((argument, value), ...)); a list member is a list of them.
Value = int | float | bool
Leaf = tuple[str, tuple[tuple[str, Value], ...]]
Form = Leaf | list[Leaf]


@dataclass
class Block:
    """One block instance: where it is, its module and what its tensors say."""

    path: str
    module: Any
    in_channels: int
    out_channels: int
    stride: int


@dataclass
class Kind:
    """A synthesised definition and, per instance (by id), the values of its params."""

    name: str
    definition: dict[str, Any]
    values: dict[int, dict[str, Value]] = field(default_factory=dict)


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class Synthesis:
    """Definitions for a model's unknown block classes; `kinds` holds every one written."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.shapes = _shapes(model)
        self.kinds: dict[str, Kind] = {}
        self.by_module: dict[int, Kind] = {}

    def block(self, module: Any, path: str) -> Block:
        found = self.shapes.get(id(module))
        if found is None:
            raise NotImportable(path, f"{kind(module)} never runs on a 4-D map")
        (c_in, h_in), (c_out, h_out) = found
        return Block(path, module, c_in, c_out, max(1, round(h_in / max(h_out, 1))))

    def stage_kind(self, blocks: list[Block], stages: list[int]) -> Kind:
        """One kind for `blocks` (one class and graph), `stages[i]` the stage of block i."""
        return self._kind(blocks, stages)

    def _kind(self, blocks: list[Block], stages: list[int] | None) -> Kind:
        first = blocks[0]
        graphs = [_trace(b.module, b.path) for b in blocks]
        slot = _downsample_slot(blocks)
        skeletons = {_skeleton(g, b.module, slot) for g, b in zip(graphs, blocks, strict=True)}
        if len(skeletons) > 1:
            other = next(
                b
                for g, b in zip(graphs, blocks, strict=True)
                if _skeleton(g, b.module, slot) != _skeleton(graphs[0], first.module, slot)
            )
            raise NotImportable(
                other.path, f"{kind(other.module)} runs another graph than at {first.path}"
            )
        # The instance with the slot filled shows its step.
        index = next(
            (i for i, b in enumerate(blocks) if slot and _child(b.module, slot) is not None), 0
        )
        members, steps = _Writer(graphs[index], blocks[index], slot, self).write()
        called = [n for n, role in members.items() if role == "call"]
        forms = [{n: self._form(b, n) for n in called} for b in blocks]
        definition = _parameterise(first, members, forms, blocks, stages)
        definition["forward"] = steps
        instances = definition.pop("_values")
        found = self._register(kind(first.module), definition)
        for b, values in zip(blocks, instances, strict=True):
            found.values[id(b.module)] = values
        return found

    def _register(self, class_name: str, definition: dict[str, Any]) -> Kind:
        name = _free_name(snake(class_name), self.kinds)
        definition = {"class_name": _class_name(class_name, self.kinds), **definition}
        self._check(name, definition)
        found = Kind(name, definition)
        self.kinds[name] = found
        return found

    def _check(self, name: str, definition: dict[str, Any]) -> None:
        body = definition
        library = {
            **builtin_blocks(),
            **{n: BlockDef.model_validate(k.definition) for n, k in self.kinds.items()},
        }
        try:
            check_block(BlockDef.model_validate(body), library)
        except (BlockProblem, ValueError) as exc:
            raise NotImportable(name, f"the synthesised definition is refused: {exc}") from None

    def nested(self, module: Any, path: str) -> Kind:
        """The kind of a child of the user's own class (all instances in the model at once)."""
        known = self.by_module.get(id(module))
        if known is not None:
            return known
        same = [
            self.block(m, p)
            for p, m in self.model.named_modules()
            if type(m) is type(module) and id(m) in self.shapes
        ]
        if not any(b.module is module for b in same):
            same.append(self.block(module, path))
        found = self._kind(same, None)
        for b in same:
            self.by_module[id(b.module)] = found
        return found

    def _form(self, block: Block, name: str) -> Form:
        module = getattr(block.module, name)
        path = f"{block.path}.{name}"
        if kind(module) in ("Sequential", "ModuleList"):
            return [_op(m, f"{path}.{i}") for i, m in enumerate(module)]
        if _is_torch(module):
            return _op(module, path)
        found = self.nested(module, path)
        return (found.name, tuple(found.values[id(module)].items()))


def _free_name(base: str, taken: dict[str, Any]) -> str:
    base = base if base.isidentifier() and base.isascii() else "own_block"
    shipped = builtin_blocks()
    name, n = base, 1
    while name in taken or name in shipped:
        n += 1
        name = f"{base}_{n}"
    return name


def _class_name(name: str, kinds: dict[str, Kind]) -> str:
    used = {k.definition["class_name"] for k in kinds.values()}
    used |= {b.class_name for b in builtin_blocks().values()}
    base = name if re.fullmatch(r"[A-Z][A-Za-z0-9_]*", name) else "OwnBlock"
    found, n = base, 1
    while found in used:
        n += 1
        found = f"{base}{n}"
    return found


# --- tracing ------------------------------------------------------------------------------


def _trace(module: Any, path: str) -> Any:
    """The block's fx graph, its direct children (and torch layers) as leaves."""
    import torch.fx  # noqa: PLC0415

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return "." not in qualname or bool(super().is_leaf_module(m, qualname))

    try:
        return Tracer().trace(module)
    except Exception as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadModel(
            path, f"{kind(module)}.forward cannot be traced by torch.fx: {message}{_frame(exc)}"
        ) from None


def _frame(exc: BaseException) -> str:
    """The innermost frame outside torch: where the user's code did it."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/torch/" not in f.filename]
    frames = [f for f in frames if "archspec/importer" not in f.filename]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (at {frame.filename}:{frame.lineno}, in {frame.name})"


def _shapes(model: Any) -> dict[int, tuple[tuple[int, int], tuple[int, int]]]:
    """(channels, height) in and out of every module, from one run on a small input."""
    import torch  # noqa: PLC0415

    found: dict[int, tuple[tuple[int, int], tuple[int, int]]] = {}

    def hook(module: Any, inputs: Any, output: Any) -> None:
        first: Any = inputs[0] if inputs else None
        if id(module) in found or not _map(first) or not _map(output):
            return
        found[id(module)] = ((first.shape[1], first.shape[2]), (output.shape[1], output.shape[2]))

    first_conv = next((m for m in model.modules() if kind(m) == "Conv2d"), None)
    channels = int(first_conv.in_channels) if first_conv is not None else 3
    parameter = next(iter(model.parameters()), None)
    device = parameter.device if parameter is not None else "cpu"
    hooks = [m.register_forward_hook(hook) for m in model.modules()]
    training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, channels, PROBE_SIDE, PROBE_SIDE, device=device))
    except Exception as exc:
        message = f"the model does not run on a 1x{channels}x{PROBE_SIDE}x{PROBE_SIDE} input"
        raise NotImportable("", f"{message}: {exc}") from None
    finally:
        for h in hooks:
            h.remove()
        model.train(training)
    return {k: ((int(a), int(b)), (int(c), int(d))) for k, ((a, b), (c, d)) in found.items()}


def _map(value: Any) -> bool:
    return hasattr(value, "shape") and len(value.shape) == 4


def _is_torch(module: Any) -> bool:
    return type(module).__module__.startswith("torch.nn")


def _child(module: Any, name: str) -> Any:
    return getattr(module, name, None)


# --- members ------------------------------------------------------------------------------


def _square(value: Any, path: str, what: str) -> int:
    pair = tuple(value) if isinstance(value, tuple | list) else (value, value)
    if len(set(pair)) != 1 or not isinstance(pair[0], int):
        raise NotImportable(path, f"{what} {value!r} is not one whole number: no op form")
    return int(pair[0])


def _op(module: Any, path: str) -> Leaf:
    """The op word and arguments of a torch layer; NotImportable where the language has none."""
    name = kind(module)
    if name in PLAIN:
        return (PLAIN[name], ())
    reader = READERS.get(name)
    if reader is None or not _is_torch(module):
        raise NotImportable(path, f"{name} has no op in the block language")
    return reader(module, path)


def _conv(m: Any, path: str) -> Leaf:
    if m.padding_mode != "zeros" or isinstance(m.padding, str):
        raise NotImportable(path, f"Conv2d padding {m.padding!r} ({m.padding_mode}): no op form")
    return (
        "conv2d",
        (
            ("in_channels", int(m.in_channels)),
            ("out_channels", int(m.out_channels)),
            ("kernel_size", _square(m.kernel_size, path, "kernel_size")),
            ("stride", _square(m.stride, path, "stride")),
            ("padding", _square(m.padding, path, "padding")),
            ("dilation", _square(m.dilation, path, "dilation")),
            ("groups", int(m.groups)),
            ("bias", m.bias is not None),
        ),
    )


def _batchnorm(m: Any, path: str) -> Leaf:
    if not m.affine or not m.track_running_stats or m.momentum is None:
        raise NotImportable(path, "BatchNorm2d without affine weights or running stats")
    eps, momentum = float(m.eps), float(m.momentum)
    return (
        "batchnorm",
        (("num_features", int(m.num_features)), ("eps", eps), ("momentum", momentum)),
    )


def _linear(m: Any, path: str) -> Leaf:
    del path
    args = (("in_features", int(m.in_features)), ("out_features", int(m.out_features)))
    return ("linear", (*args, ("bias", m.bias is not None)))


def _adaptive(m: Any, path: str) -> Leaf:
    if _square(m.output_size, path, "output_size") != 1:
        raise NotImportable(path, f"AdaptiveAvgPool2d({m.output_size}): only size 1 has a form")
    return ("adaptive_avgpool", (("size", 1),))


def _maxpool(m: Any, path: str) -> Leaf:
    if m.ceil_mode or _square(m.dilation, path, "dilation") != 1:
        raise NotImportable(path, "MaxPool2d with ceil_mode or dilation has no op form")
    return (
        "maxpool2d",
        (
            ("kernel_size", _square(m.kernel_size, path, "kernel_size")),
            ("stride", _square(m.stride, path, "stride")),
            ("padding", _square(m.padding, path, "padding")),
        ),
    )


def _avgpool(m: Any, path: str) -> Leaf:
    if m.divisor_override is not None:
        raise NotImportable(path, "AvgPool2d with divisor_override has no op form")
    return (
        "avgpool2d",
        (
            ("kernel_size", _square(m.kernel_size, path, "kernel_size")),
            ("stride", _square(m.stride, path, "stride")),
            ("padding", _square(m.padding, path, "padding")),
            ("ceil_mode", bool(m.ceil_mode)),
            ("count_include_pad", bool(m.count_include_pad)),
        ),
    )


def _gelu(m: Any, path: str) -> Leaf:
    if m.approximate != "none":
        raise NotImportable(path, f"GELU(approximate={m.approximate!r}) has no op form")
    return ("gelu", ())


def _leaky(m: Any, path: str) -> Leaf:
    del path
    return ("leaky_relu", (("negative_slope", float(m.negative_slope)), ("inplace", m.inplace)))


def _dropout(m: Any, path: str) -> Leaf:
    del path
    return ("dropout", (("p", float(m.p)), ("inplace", bool(m.inplace))))


def _flatten(m: Any, path: str) -> Leaf:
    if (m.start_dim, m.end_dim) != (1, -1):
        raise NotImportable(path, f"Flatten({m.start_dim}, {m.end_dim}): only Flatten(1)")
    return ("flatten", ())


READERS: dict[str, Callable[[Any, str], Leaf]] = {
    "Conv2d": _conv,
    "BatchNorm2d": _batchnorm,
    "Linear": _linear,
    "AdaptiveAvgPool2d": _adaptive,
    "MaxPool2d": _maxpool,
    "AvgPool2d": _avgpool,
    "GELU": _gelu,
    "LeakyReLU": _leaky,
    "Dropout": _dropout,
    "Flatten": _flatten,
}


def _downsample_slot(blocks: list[Block]) -> str:
    """The member that is the stage's projection shortcut: a conv + BN (or avg-down) present
    exactly where a block strides or changes width ('' where there is none)."""
    names = {n for b in blocks for n in children(b.module)} | {"downsample"}
    for name in sorted(names):
        present = [_child(b.module, name) is not None for b in blocks]
        wanted = [b.stride != 1 or b.in_channels != b.out_channels for b in blocks]
        if (
            any(present)
            and present == wanted
            and all(_projection(_child(b.module, name)) for b in blocks if _child(b.module, name))
        ):
            return name
    return ""


def _projection(module: Any) -> bool:
    kinds = [kind(m) for m in module] if kind(module) == "Sequential" else []
    return kinds in (
        ["Conv2d", "BatchNorm2d"],
        ["AvgPool2d", "Conv2d", "BatchNorm2d"],
        ["Identity", "Conv2d", "BatchNorm2d"],
    )


def _projection_style(module: Any) -> str:
    return "conv" if len(module) == 2 else "avg"


# --- graphs -------------------------------------------------------------------------------


def _skeleton(graph: Any, module: Any, slot: str) -> tuple[Any, ...]:
    """The graph less its values: node kinds, targets and wiring, the slot's call bypassed
    (a block without its projection reads the block input there instead)."""
    index: dict[Any, Any] = {}
    out: list[Any] = []
    for node in graph.nodes:
        if node.op == "call_module" and node.target == slot:
            index[node] = index[node.args[0]]
            continue
        index[node] = len(out)
        target: Any = node.target
        if node.op == "call_module":
            sub = module.get_submodule(node.target)
            target = (node.target, kind(sub))
        elif node.op not in {"placeholder", "output"}:
            target = getattr(node.target, "__name__", str(node.target))
        args = _wired(node.args, index)
        out.append((node.op, target, args, _wired(tuple(node.kwargs.items()), index)))
    return tuple(out)


def _wired(value: Any, index: dict[Any, Any]) -> Any:
    if hasattr(value, "op") and hasattr(value, "users"):
        return ("node", index[value])
    if isinstance(value, tuple | list):
        return tuple(_wired(v, index) for v in value)
    return repr(value)


class _Writer:
    """One block's graph as members and forward steps, values named as a person would (a chain
    reuses one name; the block input is never overwritten)."""

    def __init__(self, graph: Any, block: Block, slot: str, synth: Synthesis) -> None:
        self.nodes = list(graph.nodes)
        self.block, self.slot, self.synth = block, slot, synth
        self.names: dict[Any, str] = {}
        self.members: dict[str, str] = {}  # name -> "call" | "slot" | op word (functional)
        self.steps: list[str] = []
        self.last = {n: self._last_use(n) for n in self.nodes}
        self.chunks: dict[Any, tuple[Any, int]] = {}

    def _last_use(self, node: Any) -> int:
        users = list(node.users)
        found = -1
        for user in users:
            position = self.nodes.index(user)
            if user.op == "call_method" and user.target == "chunk":
                position = max(position, *(self.nodes.index(u) for u in user.users))
            found = max(found, position)
        return found

    def write(self) -> tuple[dict[str, str], list[str]]:
        for position, node in enumerate(self.nodes):
            self._node(position, node)
        return self.members, self.steps

    def refuse(self, node: Any, what: str) -> NotImportable:
        text = node.format_node() if hasattr(node, "format_node") else str(node)
        text = re.sub(r"\s+", " ", str(text)).strip()
        return NotImportable(
            self.block.path,
            f"{kind(self.block.module)}: {what} (fx node `{text}`) has no block-language form",
        )

    def _node(self, position: int, node: Any) -> None:
        if node.op == "placeholder":
            if self.names:
                raise self.refuse(node, "a second input")
            self.names[node] = "x"
        elif node.op == "output":
            value = node.args[0]
            if not hasattr(value, "op"):
                raise self.refuse(node, "returning something other than one tensor")
            self._return(self.names[value])
        elif node.op == "call_module":
            self._module(position, node)
        elif node.op in ("call_function", "call_method"):
            self._function(position, node)
        else:
            raise self.refuse(node, f"{node.op} {node.target}")

    def _return(self, name: str) -> None:
        last = self.steps[-1] if self.steps else ""
        if last.startswith(f"{name} = ") and name != "x":
            self.steps[-1] = "return " + last[len(f"{name} = ") :]
        else:
            self.steps.append(f"return {name}")

    def _value(self, node: Any, arg: Any) -> str:
        if not hasattr(arg, "op") or arg not in self.names:
            raise self.refuse(node, f"the constant {arg!r} as a value")
        return self.names[arg]

    def _target(self, position: int, node: Any, source: Any, fresh: str = "out") -> str:
        """The name the node's value gets: its input's, where this is that input's last use."""
        if source is not None and self.names.get(source, "x") != "x":
            reused = self.names[source]
            if self.last[source] == position and reused not in self.members:
                self.names[node] = reused
                return reused
        live = {self.names[n] for n in self.names if self.last[n] > position}
        for name in (fresh, *FRESH, *(f"v{i}" for i in range(1, 100))):
            if name not in live and name not in self.members and name != "x":
                self.names[node] = name
                return name
        raise self.refuse(node, "too many live values")

    def _module(self, position: int, node: Any) -> None:
        target = str(node.target)
        name, _, item = target.partition(".")
        source = node.args[0] if node.args else None
        if len(node.args) != 1 or node.kwargs or not hasattr(source, "op"):
            raise self.refuse(node, f"calling {target} with other than one tensor")
        value = self._value(node, source)
        if target == self.slot:
            self.members[name] = "slot"
            out = self._target(position, node, None, "identity")
            self.steps += [f"{out} = {value}", f"{out} = {name}({value})"]
            return
        call = f"{name}[{item}]" if item.isdigit() else name
        if item and not item.isdigit():
            raise self.refuse(node, f"calling {target} inside a child")
        self.members[name] = "call"
        out = self._target(position, node, source)
        self.steps.append(f"{out} = {call}({value})")

    def _function(self, position: int, node: Any) -> None:
        expression = self._expression(node)
        if expression is None:
            return
        source = next((a for a in node.args if hasattr(a, "op")), None)
        out = self._target(position, node, source)
        self.steps.append(f"{out} = {expression}")

    def _activation(self, node: Any, word: str) -> str:
        """A functional activation as a stateless member of that op."""
        taken = set(children(self.block.module))
        name = next(
            n
            for n in (word, f"{word}_fn", *(f"{word}{i}" for i in range(2, 50)))
            if n not in taken and self.members.get(n, word) == word
        )
        self.members[name] = word
        return f"{name}({self._value(node, node.args[0])})"

    def _expression(self, node: Any) -> str | None:
        """The step's expression for a function or method node (None: no step of its own)."""
        target = node.target
        name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
        args, kwargs = list(node.args), dict(node.kwargs)
        if target in (operator.add, operator.iadd, operator.mul, operator.imul) or (
            name in ("add", "mul", "add_", "mul_") and not kwargs and len(args) == 2
        ):
            sign = "+" if "add" in name else "*"
            return f"{self._value(node, args[0])} {sign} {self._value(node, args[1])}"
        if name == "chunk":
            self._chunk(node, args, kwargs)
            return None
        if target is operator.getitem and args[0] in self.chunks:
            source, count = self.chunks[args[0]]
            return f"chunk({self.names[source]}, {count}, {int(args[1])})"
        found = self._unary(node, name, args, kwargs)
        if found is None:
            raise self.refuse(node, f"{node.op} {name}")
        return found

    def _unary(self, node: Any, name: str, args: list[Any], kwargs: dict[str, Any]) -> str | None:
        """Functions of one map: sigmoid, activations, cat, global mean or max, flatten."""
        word = ACTIVATIONS.get(name.rstrip("_"))
        if name in ("sigmoid", "sigmoid_") and len(args) == 1 and not kwargs:
            return f"sigmoid({self._value(node, args[0])})"
        if word is not None and len(args) == 1 and set(kwargs) <= {"inplace"}:
            return self._activation(node, word)
        if name == "cat":
            return self._cat(node, args, kwargs)
        reduction = {"mean": "mean", "adaptive_avg_pool2d": "mean"}
        reduction.update(amax="amax", adaptive_max_pool2d="amax")
        if name in reduction:
            return self._global(node, name, args, kwargs, reduction[name])
        if name == "flatten" and (args[1:] == [1] or kwargs == {"start_dim": 1}):
            return f"flatten({self._value(node, args[0])})"
        return None

    def _cat(self, node: Any, args: list[Any], kwargs: dict[str, Any]) -> str:
        dim = kwargs.get("dim", args[1] if len(args) > 1 else 0)
        if dim != 1 or not isinstance(args[0], list | tuple):
            raise self.refuse(node, f"torch.cat over dim {dim}")
        return f"cat({', '.join(self._value(node, a) for a in args[0])})"

    def _global(
        self, node: Any, name: str, args: list[Any], kwargs: dict[str, Any], word: str
    ) -> str:
        """A global average (`mean`) or maximum (`amax`) over H and W, kept as 1x1."""
        if name.startswith("adaptive_"):
            size = kwargs.get("output_size", args[1] if len(args) > 1 else None)
            if size in (1, (1, 1), [1, 1]) and len(args) <= 2:
                return f"{word}({self._value(node, args[0])})"
            raise self.refuse(node, f"{name} to {size}")
        dims = kwargs.get("dim", args[1] if len(args) > 1 else None)
        keep = kwargs.get("keepdim", args[2] if len(args) > 2 else False)
        if isinstance(dims, list | tuple) and sorted(d % 4 for d in dims) == [2, 3] and keep:
            return f"{word}({self._value(node, args[0])})"
        raise self.refuse(node, f"{name} over {dims} (keepdim={keep})")

    def _chunk(self, node: Any, args: list[Any], kwargs: dict[str, Any]) -> None:
        count = kwargs.get("chunks", args[1] if len(args) > 1 else None)
        dim = kwargs.get("dim", args[2] if len(args) > 2 else 0)
        if dim != 1 or not isinstance(count, int):
            raise self.refuse(node, f"chunk({count}) over dim {dim}")
        if any(u.target is not operator.getitem for u in node.users):
            raise self.refuse(node, "chunks used other than one by one")
        self._value(node, args[0])
        self.chunks[node] = (args[0], count)


# --- parameters ---------------------------------------------------------------------------


@dataclass
class _Params:
    """What a definition's numbers are, found from the value vectors over its instances."""

    blocks: list[Block]
    stages: list[int] | None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    let: dict[str, str] = field(default_factory=dict)
    # vector -> expression text, and the param/let vectors by name
    known: dict[tuple[Any, ...], str] = field(default_factory=dict)
    vectors: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        base = {
            "in_channels": tuple(b.in_channels for b in self.blocks),
            "out_channels": tuple(b.out_channels for b in self.blocks),
            "stride": tuple(b.stride for b in self.blocks),
        }
        if self.stages is not None:
            for name in STAGE_PARAMS:
                self.params[name] = {"default": 1} if name == "stride" else {}
                self.vectors[name] = base[name]
        elif base["in_channels"] == base["out_channels"]:
            # A module that keeps its width (an attention gate) takes `channels`, as SE does.
            base = {"channels": base.pop("in_channels"), "stride": base["stride"]}
        self.base = {**base, **self.vectors}

    def resolve(self, vector: tuple[Any, ...], where: str, arg: str) -> Any:
        """A literal, or the name of the param or let value that takes these values. A width
        is said in the block's channels even where every block has the same (`conv1` reads
        `in_channels`); a stride is the block's where it strides."""
        constant = all(v == vector[0] for v in vector)
        if any(isinstance(v, bool | float) for v in vector):
            if constant:
                return vector[0]
            raise NotImportable(where, f"{vector[0]!r} and {vector[1:]!r}: a varying option")
        widthish = _width(arg, CHANNEL_ARGS)
        if arg == "stride":
            names: tuple[str, ...] = ("stride",) if not constant or vector[0] != 1 else ()
        elif widthish:
            names = ("in_channels", "out_channels", "channels")
        else:
            names = () if constant else tuple(self.base)
        if (widthish or not constant) and vector in self.known:
            return self.known[vector]
        for name in names:
            if self.base.get(name) == vector:
                return self._use(name, vector)
        if _width(arg, DERIVED_ARGS):
            for name in ("out_channels", "in_channels", "channels"):
                derived = self._derived(name, vector)
                if derived:
                    return derived
        return vector[0] if constant else self._new(vector, where)

    def _derived(self, name: str, vector: tuple[Any, ...]) -> str:
        values = self.base.get(name, ())
        for k in range(2, 17) if values else ():
            if tuple(v * k for v in values) == vector:
                return self._derive(f"{name} * {k}", name, vector)
            if tuple(v // k for v in values) == vector and all(v % k == 0 for v in values):
                return self._derive(f"{name} // {k}", name, vector)
        return ""

    def _use(self, name: str, values: tuple[Any, ...]) -> str:
        self.params.setdefault(name, {})
        self.vectors[name] = values
        self.known[values] = name
        return name

    def _derive(self, text: str, source: str, vector: tuple[Any, ...]) -> str:
        self._use(source, self.base[source])
        name = _fresh("width", self.params, self.let)
        self.let[name] = text
        self.known[vector] = name
        return name

    def _new(self, vector: tuple[Any, ...], where: str) -> str:
        if self.stages is not None:
            for i in range(1, len(vector)):
                if self.stages[i] == self.stages[i - 1] and vector[i] != vector[i - 1]:
                    raise NotImportable(
                        self.blocks[i].path,
                        f"{where} is {vector[i]} here, {vector[i - 1]} in the block before: "
                        "a value that varies within a stage and follows no rule from "
                        "in_channels, out_channels or stride",
                    )
        name = _fresh("hidden", self.params, self.let)
        self.params[name] = {}
        self.vectors[name] = vector
        self.known[vector] = name
        return name


def _width(arg: str, names: set[str]) -> bool:
    """Whether an argument is a width (a nested kind's own params, `hidden`, are)."""
    return arg in names or arg.startswith("hidden")


def _fresh(base: str, *taken: dict[str, Any]) -> str:
    name, n = base, 1
    while any(name in t for t in taken):
        n += 1
        name = f"{base}_{n}"
    return name


def _parameterise(
    first: Block,
    members: dict[str, str],
    forms: list[dict[str, Form]],
    blocks: list[Block],
    stages: list[int] | None,
) -> dict[str, Any]:
    """params, let and members (with the instances' param values under `_values`)."""
    found = _Params(blocks, stages)
    written: dict[str, Any] = {}
    for name, role in members.items():
        if role == "slot":
            written[name] = {"slot": "downsample"}
        elif role != "call":
            written[name] = f"{role}()"
        else:
            written[name] = _member(name, [f[name] for f in forms], found, first)
    definition: dict[str, Any] = {"doc": f"{kind(first.module)}, as imported (synthesised)."}
    definition["params"] = {n: found.params[n] for n in _ordered(found.params)}
    if found.let:
        definition["let"] = dict(found.let)
    definition["members"] = written
    definition["_values"] = [
        {n: found.vectors[n][i] for n in definition["params"]} for i in range(len(blocks))
    ]
    return definition


def _ordered(params: dict[str, Any]) -> list[str]:
    head = [n for n in (*STAGE_PARAMS, "channels") if n in params]
    return head + [n for n in params if n not in head]


def _member(name: str, forms: list[Form], found: _Params, first: Block) -> Any:
    """A member's constructor text (a list of them for a Sequential), values resolved."""
    if len({_shape(f) for f in forms}) > 1:
        raise NotImportable(
            f"{first.path}.{name}", "a member whose layers differ between blocks of one class"
        )
    lists = [f for f in forms if isinstance(f, list)]
    if lists:
        size = len(lists[0])
        return [_call(f"{name}.{i}", [f[i] for f in lists], found, first) for i in range(size)]
    return _call(name, [f for f in forms if not isinstance(f, list)], found, first)


def _shape(form: Form) -> Any:
    if isinstance(form, list):
        return tuple(_shape(f) for f in form)
    word, args = form
    return (word, tuple(a for a, _ in args))


def _call(name: str, leaves: list[Leaf], found: _Params, first: Block) -> str:
    word, args = leaves[0]
    op = OPS.get(word)
    defaults = {a.name: a.default for a in op.args} if op is not None else {}
    required = [a.name for a in op.args if a.default is None] if op is not None else []
    positional: list[str] = []
    keywords: list[str] = []
    for i, (arg, _) in enumerate(args):
        vector = tuple(leaf[1][i][1] for leaf in leaves)
        value = found.resolve(vector, f"{first.path}.{name}: {word}'s {arg}", arg)
        if op is not None and arg not in required and value == defaults.get(arg):
            if not isinstance(value, bool) or isinstance(defaults.get(arg), bool):
                continue
        text = _literal(value)
        if op is None or arg in required:
            positional.append(text)
        else:
            keywords.append(f"{arg}={text}")
    return f"{word}({', '.join(positional + keywords)})"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- stages -------------------------------------------------------------------------------


def stage_rows(model: Any, stages: list[tuple[str, Any]]) -> tuple[dict[str, Any], list[Any]]:
    """(blocks: definitions, stage rows) for stages of blocks of the user's own classes."""
    synth = Synthesis(model)
    blocks: list[Block] = []
    where: list[int] = []
    for index, (name, layer) in enumerate(stages):
        if kind(layer) != "Sequential" or len(layer) == 0:
            raise NotImportable(
                name, f"a stage must be a Sequential of blocks, found {kind(layer)}"
            )
        for j, module in enumerate(layer):
            blocks.append(synth.block(module, f"{name}.{j}"))
            where.append(index)
    kinds = _stage_kinds(synth, blocks, where)
    rows = [_row(blocks, where, kinds, index) for index in range(len(stages))]
    return {k.name: _public(k.definition) for k in synth.kinds.values()}, rows


def _public(definition: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in definition.items() if not k.startswith("_")}


def _stage_kinds(synth: Synthesis, blocks: list[Block], where: list[int]) -> list[Kind]:
    """Each block's kind; blocks of one class share a kind across stages where their graphs do."""
    by_class: dict[type, list[int]] = {}
    for i, b in enumerate(blocks):
        by_class.setdefault(type(b.module), []).append(i)
    found: list[Kind | None] = [None] * len(blocks)
    for indices in by_class.values():
        kind_ = synth.stage_kind([blocks[i] for i in indices], [where[i] for i in indices])
        for i in indices:
            found[i] = kind_
    return [k for k in found if k is not None]


def _row(blocks: list[Block], where: list[int], kinds: list[Kind], index: int) -> dict[str, Any]:
    mine = [i for i, w in enumerate(where) if w == index]
    first = blocks[mine[0]]
    names = {kinds[i].name for i in mine}
    if len(names) > 1:
        raise NotImportable(first.path, f"one stage holds blocks of kinds {sorted(names)}")
    for i in mine[1:]:
        b = blocks[i]
        if b.stride != 1 or b.in_channels != b.out_channels != first.out_channels:
            raise NotImportable(b.path, "a block after the first strides or changes width")
    found = kinds[mine[0]]
    values = found.values[id(first.module)]
    row: dict[str, Any] = {
        "block": found.name,
        "depth": len(mine),
        "width": first.out_channels,
        "stride": first.stride,
    }
    args = {k: v for k, v in values.items() if k not in STAGE_PARAMS}
    row["args"] = args
    slot = _downsample_slot([blocks[i] for i in mine])
    if slot and _projection_style(getattr(first.module, slot)) == "avg":
        row["downsample"] = "avg"
    return row


def row_default(key: str, index: int) -> Any:
    """A stage row's field where a person leaves it out."""
    return {"stride": 1 if index == 0 else 2, "args": {}, "downsample": "conv"}.get(key)


def body(
    model: Any, stages: list[tuple[str, Any]], stem: dict[str, Any], head: dict[str, Any]
) -> dict[str, Any]:
    """A spec body whose stages are kinds synthesised here, written under `blocks:`."""
    from archspec.importer.writer import columnar  # noqa: PLC0415

    kinds, rows = stage_rows(model, stages)
    return {"blocks": kinds, "stem": stem, "stages": columnar(rows, row_default), "head": head}
