"""Blocks as data: the block definition language, its library, and its words.

definition.py is the model of one definition, syntax.py its two small grammars, language.py the
op words and forward functions, library.py the shipped definitions (archspec/stdlib/blocks/).
Lowering (archspec/lower/blocks.py) and emission (archspec/emit/block_class.py) are generic.
"""
