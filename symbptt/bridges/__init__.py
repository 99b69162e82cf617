"""Bridges to other tools: a PyTorch recurrent module in (its parameters read into the matching cell),
torch autograd beside the exact gradients, and parameters out as a torch state_dict.  NumPy code out is
``derive --format numpy`` (numeric/code.py).  torch is optional (``pip install 'symbptt[torch]'``) and is
imported only when one of these is called.
"""

from .pytorch import TorchModel, compare, from_torch, load_file, read_module, save_state_dict, state_dict

__all__ = ["TorchModel", "compare", "from_torch", "load_file", "read_module", "save_state_dict", "state_dict"]
