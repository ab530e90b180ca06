"""The encoder service (``medsam-gui serve``): the image encoder on a GPU server, prompts
decoded on each desktop (see :mod:`medsam_gui.engine.remote` for the wire format and
the client).

The only package that imports fastapi, uvicorn and ray.serve, and only in :mod:`.app`,
:mod:`.runner` and :mod:`.encoders`: :mod:`.tokens` (``serve token add|revoke``) works
without the ``server`` extra installed.
"""
