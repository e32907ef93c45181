"""
Checkpoints adapted once, when read (timm's ``checkpoint_filter_fn``): ``adapt_model_state``
brings the tensors of a checkpoint written in an earlier layout to the current one, and
``io.read_checkpoint`` applies it to every checkpoint it reads, so that matching, resampling and
conversion see the current layout only.

- DDP's ``module.`` prefix (PySlowFast saves the bare model, but files saved from a wrapped
  model exist) is removed;
- GTA's temporal matrices stored as [G, G, T, T] (the layout before [G*G, T, T]) are reshaped
  (``blocks.gta.upgrade_temporal_matrices``, whose block applies it too where a loader outside
  this package, PySlowFast's own, calls ``load_state_dict``).
"""

from collections import OrderedDict

from ..blocks.gta import TEMPORAL_MATRICES, upgrade_temporal_matrices

DDP_PREFIX = "module."


def adapt_model_state(state):
    """
    ``state`` (a checkpoint's ``model_state``) in the current layout.

    Args:
        state (dict): tensor name -> tensor, as stored.
    Returns:
        OrderedDict: the same tensors in their order, without DDP's ``module.`` prefix, GTA's
        temporal matrices as [G*G, T, T]; tensors in the current layout are kept as they are.
    """
    adapted = OrderedDict()
    for name, value in state.items():
        name = name[len(DDP_PREFIX):] if name.startswith(DDP_PREFIX) else name
        if name.endswith(TEMPORAL_MATRICES):
            value = upgrade_temporal_matrices(value)
        adapted[name] = value
    return adapted
