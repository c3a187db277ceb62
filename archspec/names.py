"""Identifiers the generated module itself binds or reads: no spec-derived name may take them."""

from __future__ import annotations

import builtins
import keyword

# Top-level names of every generated file (imports, helpers; FUSIBLE was its fuse table).
GENERATED_GLOBALS = (
    "torch",
    "nn",
    "Tensor",
    "FUSIBLE",
    "fuse_conv_bn",
    "replace_submodule",
    "named_sequential",
    "StochasticDepth",
    "LayerNorm2d",
    "Permute",
    "FrozenBatchNorm2d",
    "ZeroPadShortcut",
    "apply_to_chunks",
    "Conv2dSame",
)
RESERVED_NAMES = frozenset({*keyword.kwlist, *dir(builtins), *GENERATED_GLOBALS})

# What every nn.Module (and the generated model class) already has: an attribute or child with
# one of these names would shadow it or be refused by add_module. tests/test_layouts.py checks
# this covers torch's nn.Module.
MODULE_ATTRIBUTES = frozenset(
    """T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda
    double dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter
    get_submodule half ipu load_state_dict modules mtia named_buffers named_children
    named_modules named_parameters parameters register_backward_hook register_buffer
    register_forward_hook register_forward_pre_hook register_full_backward_hook
    register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter
    register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state
    set_submodule share_memory state_dict to to_empty train training type xpu zero_grad
    fuse reset_parameters forward_features forward_head num_classes""".split()
)
# What only the generated model class adds (a block class has none of these, but `fusible`).
MODEL_ONLY = frozenset(
    {"fuse", "reset_parameters", "forward_features", "forward_head", "num_classes"}
)
# Names a block definition's params, lets and members may not take.
BLOCK_ATTRIBUTES = (MODULE_ATTRIBUTES - MODEL_ONLY) | {"fusible"}
