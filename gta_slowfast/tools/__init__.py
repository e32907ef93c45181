"""
Command-line tools, thin over the package's library: ``complexity``, ``convert``, ``ensemble``,
``visualize``, ``benchmark``, ``data``, ``predict`` and ``curves`` (each also a ``gta-<name>``
entry point). ``python -m gta_slowfast.tools.<name> --help`` describes one.
"""
