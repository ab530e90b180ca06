"""Run as a separate process: open a project as USER, lock CASE_ID, say "locked", then wait
(heart-beating) until killed. Used by the two-process lock tests.

    python lock_holder.py PROJECT_DIR CASE_ID USER
"""

import sys
import time

from medsam_gui.project import Project

project = Project.open(sys.argv[1], user=sys.argv[3])
lock = project.acquire_lock(sys.argv[2])
print("locked", flush=True)
while True:
    time.sleep(0.2)
    lock.heartbeat()
