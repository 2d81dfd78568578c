"""The course's experiments, computed from real modules: one module per experiment.

``rates`` (frame-stack rates), ``activations`` (activation functions on a clip's gate),
``configs`` (projector configurations), ``decoders`` (decoder LLMs and LoRA memory) and
``grid`` (the stage-by-stage grid). Results are plain dataclasses; ``common.to_jsonable``
turns them into JSON. Torch (and transformers, lazily) only: no UI packages.
"""
