"""medsam-gui: segment CT/MR scans with MedSAM / LiteMedSAM in a desktop app."""

__version__ = "0.1.0"
