#!/usr/bin/env python3
"""Writes each ```cbor-diag envelope example of NOTIFICATIONS.md to
Protocol/vectors/catalogue/envelope-example-NN.cbor, so that the Swift tests can check that the
catalogue's examples are exactly what the code accepts and re-encodes (and check_cddl.py validates
them against the schema). Run after editing an example:  python3 Protocol/tools/extract_examples.py
Needs: pip install cbor-diag
"""
import pathlib
import re

import cbor_diag

root = pathlib.Path(__file__).resolve().parent.parent
text = (root / "NOTIFICATIONS.md").read_text()
out = root / "vectors" / "catalogue"
out.mkdir(parents=True, exist_ok=True)
for old in out.glob("envelope-example-*.cbor"):
    old.unlink()
blocks = re.findall(r"```cbor-diag\n(.*?)```", text, re.S)
for n, diag in enumerate(blocks, 1):
    (out / f"envelope-example-{n:02d}.cbor").write_bytes(bytes(cbor_diag.diag2cbor(diag)))
print(f"extract_examples: wrote {len(blocks)} examples to {out}")
