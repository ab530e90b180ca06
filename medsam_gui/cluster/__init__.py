"""Batch work over a manifest of box prompts, in this process or on a Ray cluster.

The only package that imports ``ray`` (lazily, in :mod:`medsam_gui.cluster.ray_runner`);
it imports engine, io and core and is imported by ``commands.batch`` only.

    manifest.py   read the CSV / JSON-lines manifest (or a folder of scans) into jobs
    work.py       ImageWorker: one image -> labelmap bytes and row results (holds the model)
    resume.py     input fingerprints, done-markers, stale temporary files
    report.py     report.csv and the label table
    progress.py   a bar on a terminal, plain lines otherwise
    runner.py     the driver: plan, skip what is done, run, write atomically, stop cleanly
    ray_runner.py the same work as Ray actors
"""
