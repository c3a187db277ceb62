"""Block definitions as data: the pydantic model of one block kind, checked on load.

A definition declares typed `params`, derived `let` values (archspec.expr expressions), its
`members` (attribute name -> op or block constructor, or a list of them; the name is its
state_dict key) and a straight-line `forward`; or, instead of members and forward, a
`sequence` of ops (an nn.Sequential subclass, children numbered from 0). Every name is checked
before it can reach generated code: an identifier, no keyword, builtin, name the generated file
binds, or nn.Module attribute.
"""

from __future__ import annotations

import difflib
import hashlib
import keyword
from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    WithJsonSchema,
    model_validator,
)

from archspec.blocks.inplace import clobbered
from archspec.blocks.language import CHOICE_WORDS, FUNCTIONS, OPS
from archspec.blocks.syntax import (
    Apply,
    Construct,
    Each,
    Expr,
    Listed,
    Module,
    Ref,
    Step,
    SyntaxProblem,
    calls_in,
    first_leaf,
    item_conditions,
    leaves,
    names_in,
    parse_construct,
    parse_module,
    parse_step,
)
from archspec.blocks.width import LINE_LENGTH, emitted_width
from archspec.expr import ExprError, Expression
from archspec.names import BLOCK_ATTRIBUTES, RESERVED_NAMES

MAX_PARAMS = 32
MAX_LETS = 64
MAX_MEMBERS = 64
MAX_STEPS = 128
INPUT = "x"
# Names a generated block class binds itself.
_CLASS_NAMES = frozenset({"self", "super"})


def check_name(text: str) -> str:
    """A name that becomes an identifier in generated code."""
    if not text.isidentifier() or not text.isascii() or len(text) > 64:
        raise ValueError(f"{text!r} is not a name (letters, digits and _, not first a digit)")
    if keyword.iskeyword(text) or text in RESERVED_NAMES or text in _CLASS_NAMES:
        raise ValueError(f"{text!r} is a Python keyword, builtin or a name generated code uses")
    if text in BLOCK_ATTRIBUTES or text.startswith("_"):
        raise ValueError(f"{text!r} is taken by nn.Module")
    return text


def _expression(text: str) -> str:
    try:
        Expression.parse(text)
    except ExprError as exc:
        raise ValueError(f"{exc.message} (column {exc.col})") from None
    return text


def _construct(text: str) -> str:
    try:
        parse_construct(text)
    except SyntaxProblem as exc:
        raise ValueError(str(exc)) from None
    return text


def _step(text: str) -> str:
    try:
        parse_step(text)
    except SyntaxProblem as exc:
        raise ValueError(str(exc)) from None
    return text


Ident = Annotated[str, AfterValidator(check_name)]
# A member, or a module inside one (`conv2.bn`).
MemberPath = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")]
ExprText = Annotated[str, Field(max_length=300), AfterValidator(_expression)]
MemberText = Annotated[str, Field(max_length=300), AfterValidator(_construct)]
StepText = Annotated[str, Field(max_length=300), AfterValidator(_step)]
MAX_LIST = 16
# Items of an `each` member or a dense form (DenseNet-264's last block has 48 layers).
MAX_ITEMS = 256
_TEXT_SCHEMA = {"type": "string", "maxLength": 300}
_BODY_SCHEMA = {
    "anyOf": [
        _TEXT_SCHEMA,
        {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_LIST,
            "items": {
                "anyOf": [
                    _TEXT_SCHEMA,
                    {"type": "array", "minItems": 1, "maxItems": MAX_LIST, "items": _TEXT_SCHEMA},
                    {
                        "type": "object",
                        "properties": {"op": _TEXT_SCHEMA, "when": _TEXT_SCHEMA},
                        "required": ["op", "when"],
                        "additionalProperties": False,
                    },
                ]
            },
        },
    ]
}


def _body(value: Any, depth: int = 0) -> Any:
    """A member's constructor text, or a list of them (nn.Sequential / nn.ModuleList), with
    one level of nested lists; refused with one message saying what to write."""
    if isinstance(value, str):
        if len(value) > 300:
            raise ValueError("is over 300 characters; compute values under `let:`")
        return _construct(value)
    if isinstance(value, list) and depth < 2:
        if not 1 <= len(value) <= MAX_LIST:
            raise ValueError(f"a list member holds 1 to {MAX_LIST} items")
        return [_list_item(item, depth + 1) for item in value]
    raise ValueError(
        "a member is an op or block call such as conv2d(channels, width, 1), a list of them, "
        "or {op: ..., when: ...}" + (" (lists nest two deep at most)" if depth else "")
    )


def _list_item(value: Any, depth: int) -> Any:
    """An item of a list member; `{op: ..., when: ...}` exists only where `when` holds."""
    if not isinstance(value, dict):
        return _body(value, depth)
    if set(value) != {"op", "when"}:
        extra = sorted(set(value) - {"op", "when"})
        raise ValueError(
            f"an optional list item is {{op: ..., when: ...}}; unknown field {extra[0]!r}"
            if extra
            else "an optional list item needs both `op` and `when`"
        )
    if not isinstance(value["when"], str):
        raise ValueError("`when` is a condition such as `use_se` or `stride != 1`")
    _expression(value["when"])
    return {"op": _body(value["op"], depth), "when": value["when"]}


# An op or block call, or a list of them: nn.Sequential called whole, nn.ModuleList by index.
MemberBody = Annotated[Any, PlainValidator(_body), WithJsonSchema(_BODY_SCHEMA)]


def _member_tag(value: object) -> str:
    if isinstance(value, SlotMember) or (isinstance(value, dict) and "slot" in value):
        return "slot"
    if isinstance(value, EachMember) or (isinstance(value, dict) and "each" in value):
        return "each"
    return "optional" if isinstance(value, dict | BaseModel) else "body"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Param(_Strict):
    """A constructor parameter of the block: `int`, `bool`, `float` (a probability, a
    scale) or `ints` (a list of whole numbers, one per item of an `each` member), optional
    default and bounds (an `ints` param's bounds hold for every element)."""

    type: Literal["int", "bool", "float", "ints"] = "int"
    default: int | bool | float | list[int] | None = None
    min: int | float | None = None
    max: int | float | None = None

    @model_validator(mode="after")
    def _default_fits(self) -> Param:
        value = self.default
        if value is not None and not fits(self.type, value):
            raise ValueError(f"default {value!r} is not a {self.type}")
        return self


def fits(kind: str, value: object) -> bool:
    """Whether a value has a param's type (an int is a float; a bool is neither; `ints` is a
    non-empty list of ints)."""
    if kind == "ints":
        if not isinstance(value, list | tuple):
            return False
        return 1 <= len(value) <= MAX_ITEMS and all(fits("int", v) for v in value)
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (kind == "float" and isinstance(value, float))


class ConditionalStep(_Strict):
    """A forward step that runs only where `when` (a bool param or let value) is true, as
    torchvision's `if self.use_res_connect:`; with `else`, a step for the same value that
    runs where it is false (timm's `if self.split_input: ... else: ...`)."""

    do: StepText
    when: Ident
    otherwise: StepText | None = Field(None, alias="else")

    @model_validator(mode="after")
    def _same_target(self) -> ConditionalStep:
        if self.otherwise is not None:
            target = parse_step(self.do).target
            if target is None or parse_step(self.otherwise).target != target:
                raise ValueError("`do` and `else` set the same value (`v = ...`), not return")
        return self


ForwardStep = Annotated[
    Annotated[StepText, Tag("step")] | Annotated[ConditionalStep, Tag("conditional")],
    Discriminator(lambda value: "step" if isinstance(value, str) else "conditional"),
]


class OptionalMember(_Strict):
    """A member built only when `when` holds for the arguments (timm's `downsample`, `se`):
    the generated class takes it as `name: nn.Module | None = None`."""

    op: MemberBody
    when: ExprText


# What fills a slot where the block is a stage kind: the row's attention, or the stage's
# projection shortcut (archspec.lower.stage_slots).
SLOT_ROLES = ("attention", "downsample")


class SlotMember(_Strict):
    """A member the user of the block supplies, or leaves out (torchvision's `downsample`,
    timm's attention layer): the generated class takes it as `name: nn.Module | None = None`.
    `slot` says what fills it in a stage."""

    slot: Literal["attention", "downsample"]


class EachMember(_Strict):
    """`{each: conv2d(channels, width, kernels, padding=paddings)}`: one item per element of
    the `ints` params the call reads, zipped (item i reads element i of each); an
    nn.ModuleList the caller builds, used in forward by `each(...)` or `each_split(...)`."""

    each: MemberText


Member = Annotated[
    Annotated[MemberBody, Tag("body")]
    | Annotated[OptionalMember, Tag("optional")]
    | Annotated[SlotMember, Tag("slot")]
    | Annotated[EachMember, Tag("each")],
    Discriminator(_member_tag),
]


class DenseForm(_Strict):
    """Dense connectivity (Huang et al. 2017) as torchvision's _DenseBlock: one item per
    element of the lists the `each` call reads, named by `name` (`{n}`: its number from 1),
    item j fed the concatenation of the block input and every earlier item's output; the
    output is that concatenation with the last item's output too."""

    each: MemberText
    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*\{n\}$", max_length=40)]


# The member name a dense form's items have inside archspec (its constructor argument).
DENSE_MEMBER = "layers"


class BlockDef(_Strict):
    """One block kind, written as data."""

    block: Literal[1] = 1
    class_name: Annotated[str, Field(pattern=r"^[A-Z][A-Za-z0-9_]*$", max_length=64)]
    doc: Annotated[str, Field(max_length=300)] = ""
    params: Annotated[dict[Ident, Param], Field(max_length=MAX_PARAMS)] = {}
    let: Annotated[dict[Ident, ExprText], Field(max_length=MAX_LETS)] = {}
    members: Annotated[dict[Ident, Member], Field(max_length=MAX_MEMBERS)] = {}
    forward: Annotated[list[ForwardStep], Field(max_length=MAX_STEPS)] = []
    # The member whose weight `zero_init_residual` zeroes (the norm before the residual add;
    # `member.child` inside a member that is a block).
    zero_init: MemberPath | None = None
    # Instead of members and forward: ops applied in order (an nn.Sequential, keys 0, 1, ...).
    sequence: Annotated[list[MemberText], Field(min_length=1, max_length=MAX_MEMBERS)] | None = None
    # Or: dense connectivity over items of one kind (an nn.ModuleDict subclass).
    dense: DenseForm | None = None

    @model_validator(mode="after")
    def _one_form(self) -> BlockDef:
        forms = [self.sequence is not None, self.dense is not None, bool(self.members)]
        if sum(forms) > 1 or (self.forward and not self.members):
            raise ValueError("give one of `sequence`, `dense`, or `members` and `forward`")
        if not any(forms) or (self.members and not self.forward):
            raise ValueError(
                "a block needs `members` and `forward` (or a `sequence` of ops, or `dense`)"
            )
        if self.zero_init is not None and self.zero_init.split(".")[0] not in self.members:
            raise ValueError(f"zero_init names {self.zero_init!r}, which is not a member")
        return self

    # Parses and derived facts are cached on the (frozen) definition: it is lowered once per
    # block of a network.
    def constructs(self) -> dict[str, Module]:
        """Members by name; a sequence's items are named 0, 1, ... (do not mutate)."""
        return self.parsed_members

    @cached_property
    def parsed_members(self) -> dict[str, Module]:
        if self.sequence is not None:
            return {str(i): parse_construct(text) for i, text in enumerate(self.sequence)}
        if self.dense is not None:
            return {DENSE_MEMBER: Each(parse_construct(self.dense.each))}
        return {
            name: Each(parse_construct(member.each))
            if isinstance(member, EachMember)
            else parse_module(_text(member))
            for name, member in self.members.items()
            if not isinstance(member, SlotMember)
        }

    def slots(self) -> dict[str, str]:
        """Slot member -> its role."""
        return self.slot_roles

    @cached_property
    def slot_roles(self) -> dict[str, str]:
        return {n: m.slot for n, m in self.members.items() if isinstance(m, SlotMember)}

    def passed_optional(self) -> list[str]:
        """Members the class takes as `nn.Module | None = None`: optional ones and slots."""
        return self.optional_members

    @cached_property
    def optional_members(self) -> list[str]:
        return [n for n, m in self.members.items() if isinstance(m, OptionalMember | SlotMember)]

    @cached_property
    def digest(self) -> str:
        """Identifies the definition's text (two kinds with one class name stay apart)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]

    def conditions(self) -> dict[str, str]:
        """Optional member -> its `when` expression."""
        return self.when_texts

    @cached_property
    def when_texts(self) -> dict[str, str]:
        return {n: m.when for n, m in self.members.items() if isinstance(m, OptionalMember)}

    def steps(self) -> list[Step]:
        return self.parsed_steps

    @cached_property
    def parsed_steps(self) -> list[Step]:
        return [_parsed_step(step) for step in self.forward]

    def step_conditions(self) -> list[str]:
        """The names conditional steps test, in order of first use."""
        return list(dict.fromkeys(s.when for s in self.steps() if s.when is not None))

    def stored_values(self) -> list[str]:
        """The params and let values forward reads (a step's condition, a group count): the
        class stores them on itself."""
        return self.forward_reads

    @cached_property
    def forward_reads(self) -> list[str]:
        names = []
        for step in self.steps():
            if step.when is not None:
                names.append(step.when)
            for expr in step.exprs():
                names += [c for call in calls_in(expr) for c in call.counts if isinstance(c, str)]
        return list(dict.fromkeys(names))


def _parsed_step(step: str | ConditionalStep) -> Step:
    if isinstance(step, str):
        return parse_step(step)
    parsed = parse_step(step.do)
    otherwise = parse_step(step.otherwise).expr if step.otherwise is not None else None
    return Step(parsed.target, parsed.expr, step.when, otherwise)


def _text(member: Any) -> str | list[Any]:
    value: str | list[Any] = member.op if isinstance(member, OptionalMember) else member
    return value


Loc = tuple[str | int, ...]


class BlockProblem(ValueError):
    """A definition that validates field by field but does not hang together; `loc` is the
    field inside the definition."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def check_block(block: BlockDef, library: Mapping[str, BlockDef] | None = None) -> None:
    """Raise BlockProblem at the first name used before it is defined, bad call or arity.
    `library`: the block kinds a member may build besides ops."""
    _check_scopes(block)
    _check_members(block, library or {})
    if block.sequence is not None:
        _check_sequence(block)
    elif block.dense is None:
        _check_forward(block)


def block_cycle(name: str, library: Mapping[str, BlockDef]) -> tuple[str, str] | None:
    """(block, member) where `name`'s members lead back to a block already on the path."""

    def visit(kind: str, path: tuple[str, ...]) -> tuple[str, str] | None:
        block = library.get(kind)
        for member, module in (block.constructs() if block else {}).items():
            for construct in leaves(module):
                if construct.target in path or construct.target == kind:
                    return kind, member
                if construct.target in library and construct.target not in OPS:
                    found = visit(construct.target, (*path, kind))
                    if found is not None:
                        return found
        return None

    return visit(name, ())


def did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean {close[0]!r}?" if close else "one of: " + ", ".join(sorted(choices))


def _check_scopes(block: BlockDef) -> None:
    for name in block.params:
        if name == INPUT:
            raise BlockProblem(("params", name), "`x` is the block's input in forward; rename it")
    for name in block.let:
        if name in block.params:
            raise BlockProblem(("let", name), "has the name of a param; rename one")
    known = list(block.params)
    for name, text in block.let.items():
        for used in sorted(Expression.parse(text).names):
            if used not in known:
                hint = did_you_mean(used, known) if known else "declare it under params"
                raise BlockProblem(("let", name), f"reads {used!r}, not defined before it; {hint}")
        known.append(name)
    for name in block.members:
        if name in block.params or name in block.let:
            raise BlockProblem(
                ("members", name), "has the name of a param or let value; rename one"
            )


def _check_members(block: BlockDef, library: Mapping[str, BlockDef]) -> None:
    values = [*block.params, *block.let]
    for name, when in block.conditions().items():
        _check_reads(when, values, ("members", name, "when"), "reads")
    lists = [n for n, p in block.params.items() if p.type == "ints"]
    for name, module in block.constructs().items():
        for construct in leaves(module):
            _check_construct(block, name, construct, values, library)
            # A let value may be a list too (series(...)): an `each` zips what is one.
            _check_lists(name, module, construct, lists, list(block.let))
        for when in item_conditions(module):
            _check_reads(when, values, ("members", name), "an item's `when` reads")


def _check_reads(when: str, values: list[str], loc: Loc, what: str) -> None:
    """A condition reads only params and let values."""
    for used in sorted(Expression.parse(when).names):
        if used not in values:
            hint = did_you_mean(used, values) if values else "declare it under params"
            raise BlockProblem(loc, f"{what} {used!r}, unknown; {hint}")


def _check_construct(
    block: BlockDef,
    name: str,
    construct: Construct,
    values: list[str],
    library: Mapping[str, BlockDef],
) -> None:
    loc: Loc = ("sequence", int(name)) if block.sequence is not None else ("members", name)
    if block.dense is not None:
        loc = ("dense", "each")
    for argument in (*construct.args, *(v for _, v in construct.kwargs)):
        if isinstance(argument, Ref) and argument.name not in values:
            hint = did_you_mean(argument.name, values) if values else "declare it"
            raise BlockProblem(loc, f"reads {argument.name!r}, unknown; {hint}")
    word, kind = OPS.get(construct.target), library.get(construct.target)
    if construct.target in CHOICE_WORDS:
        names, required = (list(words) for words in CHOICE_WORDS[construct.target])
    elif word is not None:
        names, required = [a.name for a in word.args], word.required()
    elif kind is not None:
        names = list(kind.params)
        required = [n for n, param in kind.params.items() if param.default is None]
    else:
        choices = [*OPS, *CHOICE_WORDS, *library]
        message = f"unknown op or block {construct.target!r}; "
        raise BlockProblem(loc, message + did_you_mean(construct.target, choices))
    try:
        check_arguments(construct, names, required)
    except ValueError as exc:
        raise BlockProblem(loc, str(exc)) from None


def check_arguments(construct: Construct, names: list[str], required: list[str]) -> None:
    """Arity and keywords of a constructor call against the op's or block's parameters."""
    if len(construct.args) > len(names):
        raise ValueError(
            f"{construct.target} takes at most {len(names)} arguments "
            f"({', '.join(names) or 'none'}), got {len(construct.args)}"
        )
    given = names[: len(construct.args)]
    for key, _ in construct.kwargs:
        if key not in names:
            raise ValueError(
                f"{construct.target} has no argument {key!r}; " + did_you_mean(key, names)
            )
        if key in given:
            raise ValueError(f"argument {key!r} is given twice")
        given.append(key)
    missing = [name for name in required if name not in given]
    if missing:
        raise ValueError(f"{construct.target} needs {', '.join(missing)}")


def _check_forward(block: BlockDef) -> None:
    steps = block.steps()
    defined = {INPUT}
    used_members: set[str] = set()
    indexed = _indexing(block, steps)
    for index, step in enumerate(steps):
        loc = ("forward", index)
        if (step.target is None) != (index == len(steps) - 1):
            where = "only the last step" if step.target is None else "the last step"
            raise BlockProblem(loc, f"{where} is `return ...`")
        _check_step(block, step, loc, (defined, used_members, indexed))
        if step.when is not None:
            _check_condition(block, step, loc, defined)
        if step.target is not None:
            _check_target(block, loc, step.target)
            defined.add(step.target)
    constructs = block.constructs()
    for index, step in enumerate(steps):
        for expr in step.exprs():
            wide = Step(step.target, expr)
            if emitted_width(wide, lambda f: _extra(constructs, f)) > LINE_LENGTH:
                message = "is too long for one line of generated code; split it into more steps"
                raise BlockProblem(("forward", index), message)
    hit = clobbered(steps, lambda f: f in constructs and _writes(first_leaf(constructs[f]).target))
    if hit is not None:
        index, name = hit
        raise BlockProblem(
            ("forward", index),
            f"this member works in place and would overwrite {name!r}, which is the block's "
            "input or still needed; apply it to a new value (e.g. after a conv or norm)",
        )
    unused = [name for name in block.members if name not in used_members]
    if unused:
        raise BlockProblem(
            ("members", unused[0]), "is never called in forward; call it or remove it"
        )
    mapped = {c.on for s in steps for e in s.exprs() for c in calls_in(e) if c.on is not None}
    for name in indexed - mapped:
        listed = constructs[name]
        assert isinstance(listed, Listed)
        missing = [i for i in range(len(listed.items)) if f"{name}[{i}]" not in used_members]
        if missing:
            message = f"item {missing[0]} is never called in forward; call {name}[{missing[0]}]"
            raise BlockProblem(("members", name), message)


def _check_step(
    block: BlockDef, step: Step, loc: Loc, state: tuple[set[str], set[str], set[str]]
) -> None:
    """What a step reads is set before it; its calls are known (the branches of an if/else
    step run apart: each may call what the other calls)."""
    defined, used_members, indexed = state
    for name in (n for expr in step.exprs() for n in names_in(expr)):
        if name not in defined:
            hint = did_you_mean(name, sorted(defined))
            raise BlockProblem(loc, f"reads {name!r} before it is set; {hint}")
    before, branches = set(used_members), []
    for expr in step.exprs():
        branches.append(set(before))
        _check_calls(block, step, expr, loc, (defined, branches[-1], indexed))
    used_members.update(*branches)


def _check_calls(
    block: BlockDef,
    step: Step,
    expr: Expr,
    loc: Loc,
    state: tuple[set[str], set[str], set[str]],
) -> None:
    """Each call of a step's expression: a known member or function, weights used once."""
    defined, used_members, indexed = state
    for call in calls_in(expr):
        _check_call(block, loc, call, indexed)
        if call.on is not None:
            used, member = call.on, call.on
        elif call.func in block.members:
            used = call.func if call.index is None else f"{call.func}[{call.index}]"
            member = call.func
        else:
            continue  # a forward function: no weights
        if used in used_members and _stateful(block, member):
            raise BlockProblem(
                loc,
                f"member {used!r} has weights and is already called; sharing weights "
                "is not supported: declare a second member",
            )
        used_members.update((used, member))
        if member in block.passed_optional():
            _check_optional_step(step, expr, call, defined, loc)


def _indexing(block: BlockDef, steps: list[Step]) -> set[str]:
    """The list members forward calls by index (nn.ModuleList); refuse mixing both styles."""
    calls = [c for s in steps for e in s.exprs() for c in calls_in(e)]
    lists = {n for n, m in block.constructs().items() if isinstance(m, Each | Listed)}
    by_index = {c.func for c in calls if c.index is not None}
    by_index |= {c.on for c in calls if c.on in lists}
    whole = {c.func for c in calls if c.index is None}
    for name in sorted(by_index & whole):
        message = f"member {name!r} is called both whole and by index; choose one"
        raise BlockProblem(("members", name), message)
    return by_index


def _check_sequence(block: BlockDef) -> None:
    """A sequence holds ops only (its class calls each constructor itself)."""
    for index, module in enumerate(block.constructs().values()):
        if first_leaf(module).target not in (*OPS, *CHOICE_WORDS):
            message = "a sequence holds ops only; use members and forward to build a block"
            raise BlockProblem(("sequence", index), message)


def _check_condition(block: BlockDef, step: Step, loc: Loc, defined: set[str]) -> None:
    """A conditional step tests a bool param or a let value, and sets a value set before (where
    it is skipped, the value keeps what it had)."""
    when = step.when
    assert when is not None
    param = block.params.get(when)
    if not (when in block.let or (param is not None and param.type == "bool")):
        choices = [*block.let, *(n for n, p in block.params.items() if p.type == "bool")]
        hint = did_you_mean(when, choices) if choices else "declare a bool param or a let value"
        raise BlockProblem((*loc, "when"), f"tests {when!r}, no bool param or let value; {hint}")
    if step.target is None or (step.target not in defined and step.otherwise is None):
        raise BlockProblem(
            loc,
            "a conditional step sets a value set before it (the return is never skipped), "
            "or gives `else:` for where it is false",
        )


def _check_optional_step(step: Step, expr: Expr, call: Apply, defined: set[str], loc: Loc) -> None:
    """An optional member is called alone, `v = member(value)`, on a `v` set before: where the
    member is absent the step is skipped and `v` keeps its value."""
    if expr != call or step.target is None or step.target not in defined:
        raise BlockProblem(
            loc,
            f"optional member {call.func!r} must be called alone, as `v = {call.func}(...)` "
            "where v is already set (e.g. `identity = x` first)",
        )


def _writes(target: str) -> bool:
    if target == "act":
        return True  # the chosen activation may work in place (ReLU does)
    word = OPS.get(target)
    return word is not None and word.writes_input


def _stateful(block: BlockDef, member: str) -> bool:
    if member in block.slots():
        return True  # what fills it may have weights
    targets = [c.target for c in leaves(block.constructs()[member])]
    words = [OPS.get(t) for t in targets if t != "act"]
    return any(word is None or word.stateful for word in words)


def _extra(constructs: dict[str, Module], func: str) -> int:
    if func in constructs:
        module = constructs[func]
        if isinstance(module, Listed | Each):
            return len("[15]")
        word = OPS.get(module.target)
        return word.call_extra if word is not None else 0
    return 0


def _check_target(block: BlockDef, loc: tuple[str | int, ...], target: str) -> None:
    if target in block.members or target in FUNCTIONS:
        raise BlockProblem(loc, f"{target!r} names a member or function; choose another name")
    if target != INPUT:
        try:
            check_name(target)
        except ValueError as exc:
            raise BlockProblem(loc, str(exc)) from None


def _check_call(block: BlockDef, loc: Loc, call: Apply, indexed: set[str]) -> None:
    func, count = call.func, len(call.args)
    if func in block.members:
        if count != 1:
            raise BlockProblem(loc, f"member {func!r} takes one value, got {count}")
        module = block.constructs().get(func)
        if isinstance(module, Each):
            message = f"member {func!r} is an `each` list: use it as each({func}, v)"
            raise BlockProblem(loc, message + f" or each_split({func}, v)")
        if call.index is not None:
            size = len(module.items) if isinstance(module, Listed) else 0
            if not size:
                raise BlockProblem(loc, f"member {func!r} is not a list; call it as {func}(...)")
            if call.index >= size:
                message = f"{func}[{call.index}]: {func!r} has items 0 to {size - 1}"
                raise BlockProblem(loc, message)
        return
    if call.index is not None:
        raise BlockProblem(loc, f"{func!r} is not a list member; only list members take [i]")
    if call.on is not None:
        _check_mapped(block, loc, call)
    _check_counts(block, loc, call)
    if func in FUNCTIONS:
        low, high = FUNCTIONS[func]
        if not low <= count <= high:
            raise BlockProblem(loc, f"{func} takes {low} to {high} values, got {count}")
        return
    choices = [*block.members, *FUNCTIONS]
    raise BlockProblem(
        loc, f"calls {func!r}, no member or function; " + did_you_mean(func, choices)
    )


def _check_mapped(block: BlockDef, loc: Loc, call: Apply) -> None:
    """`each(member, v)`: the member is a list (`each` or a fixed list of items)."""
    module = block.constructs().get(call.on or "")
    if not isinstance(module, Each | Listed):
        choices = [n for n, m in block.constructs().items() if isinstance(m, Each | Listed)]
        hint = did_you_mean(call.on or "", choices) if choices else "declare {each: ...}"
        raise BlockProblem(loc, f"{call.func} maps {call.on!r}, which is no list member; {hint}")


def _check_counts(block: BlockDef, loc: Loc, call: Apply) -> None:
    """A group count names an int param or a let value (checked again when lowered)."""
    values = [*(n for n, p in block.params.items() if p.type == "int"), *block.let]
    for count in call.counts:
        if isinstance(count, str) and count not in values:
            hint = did_you_mean(count, values) if values else "declare an int param"
            raise BlockProblem(loc, f"{call.func} counts by {count!r}, unknown; {hint}")


def _check_lists(
    name: str, module: Module, construct: Construct, lists: list[str], lets: list[str]
) -> None:
    """`ints` params (and let values that are lists) are zipped by an `each` member, which
    reads at least one; an op takes none (a block member may take one whole)."""
    arguments = (*construct.args, *(v for _, v in construct.kwargs))
    read = [a.name for a in arguments if isinstance(a, Ref)]
    if isinstance(module, Each) and not any(r in lists or r in lets for r in read):
        message = "an `each` member reads an `ints` param or a let list (one item per element)"
        hint = f": one of {', '.join(lists)}" if lists else "; declare one (type: ints)"
        raise BlockProblem(("members", name), message + hint)
    listed = [r for r in read if r in lists]
    if listed and not isinstance(module, Each) and construct.target in (*OPS, *CHOICE_WORDS):
        message = f"reads {listed[0]!r}, a list; only an `each` member takes one per item"
        raise BlockProblem(("members", name), message)
