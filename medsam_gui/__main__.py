"""``python -m medsam_gui`` runs the same entry point as the ``medsam-gui`` script."""

import sys

from medsam_gui.cli import main

sys.exit(main())
