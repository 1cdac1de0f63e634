"""Ingestors: one module per source format behind one protocol (:mod:`.base`)."""
