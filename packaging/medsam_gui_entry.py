"""Entry script of the frozen app: the same ``medsam-gui`` command as the console script."""

import sys

from medsam_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
