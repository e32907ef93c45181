"""Training and testing: PySlowFast's own trainer where a checkout provides it, else a compact
loop made of PySlowFast's parts; ``launch`` is the command both run behind."""
