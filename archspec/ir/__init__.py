"""The intermediate representation: typed ops in a networkx graph plus the module tree."""
