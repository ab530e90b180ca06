"""PyInstaller runtime hook of the CPU-only build: hide GPUs from torch.

The CPU-only build leaves out the CUDA libraries torch only dlopen()s for GPU work
(cuDNN engines, cusolver, ...). On a machine with an NVIDIA driver torch would still
report CUDA as available and fail at the first convolution, so the app is told there
is no GPU. The GPU build (MEDSAM_GUI_KEEP_CUDA=1) does not use this hook.
"""

import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""
