"""The standing adversarial suite (issue 8): hostile input and faults, each with its exact outcome.

`cases.py` is the table of every case and the test that asserts it; the README's "What bad input
does" section is generated from it (`python -m tests.adversarial.readme --write`).
"""
