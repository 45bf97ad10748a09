"""The read-only stores of the workflow's HDF5 artifacts: clip features, frame caches (with
on-the-fly decoding of test videos), detections and scores.

Methods, detection, streaming and evaluation read artifacts through these modules only, so
none of them needs the code that wrote the file (docs/architecture.md, "Which way imports go").
"""
