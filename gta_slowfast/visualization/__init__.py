"""
What a GTA or DNL model attends to, as numbers (``analysis``: the blocks' own attention maps,
GTA's learned matrices and region assignments, the reversal asymmetry, read on a clip through
forward hooks) and as figures drawn from those arrays (``figures``, no model inside). The
command ``gta_slowfast.tools.visualize`` joins the two.
"""
