"""
Speed and memory of models, of the blocks alone and of the input pipeline (the library under
``python -m gta_slowfast.tools.benchmark``):

- ``targets``: what is measured (a config's model or a block alone, with its inputs, precision
  and ``torch.compile``) and the ``Measurement`` of one of them;
- ``timing``: the one ``timed`` (wall or CUDA-event seconds and process CPU seconds of a call)
  and the rounds that time every target in turns;
- ``memory``: peak memory of one pass; on the CPU in a fresh process
  (``python -m gta_slowfast.benchmark.memory``);
- ``data``: the input pipeline of each dataset against its decode limit;
- ``report``: the machine, the JSON rows and the Markdown tables.
"""
