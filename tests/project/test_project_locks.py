"""Case locks across app instances: lock.json, "locked by NAME on HOST since TIME", stale takeover."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from project_helpers import paint

from medsam_gui.project import CaseLocked, LockLost, Project
from medsam_gui.project import locks

HOLDER = Path(__file__).with_name("lock_holder.py")
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def holder(project):
    """Start a second process that locks case 'ct3' as 'bob'; yields the Popen."""
    process = subprocess.Popen(
        [sys.executable, str(HOLDER), str(project.folder), "ct3", "bob"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
    )
    try:
        line = process.stdout.readline().strip()
        assert line == "locked", process.stderr.read()
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def test_a_case_held_by_another_process_is_locked_and_taken_over_after_sigkill(project, holder):
    host = socket.gethostname()
    with pytest.raises(CaseLocked) as caught:
        project.acquire_lock("ct3")
    owner = caught.value.owner
    assert (owner.user, owner.host, owner.pid) == ("bob", host, holder.pid)
    assert f"case 'ct3' is locked by bob on {host} since " in str(caught.value)
    assert "read-only" in str(caught.value)

    opened = project.open_case("ct3")  # the app opens it read-only, saying who has it
    assert opened.read_only and opened.lock is None and opened.locked_by.user == "bob"
    assert "locked by bob" in opened.read_only_reason

    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)  # reaped: the pid no longer exists on this host
    lock = project.acquire_lock("ct3")
    assert lock.took_over_from.pid == holder.pid and lock.took_over_from.user == "bob"
    assert json.loads(project.lock_path("ct3").read_text())["user"] == "alice"


def test_a_lock_from_another_host_turns_stale_without_heartbeat(project):
    """A dead process on another machine cannot be checked: its silent heartbeat decides."""
    path = project.lock_path("ct3")
    remote = locks.acquire_lock(path, "ct3", "carol", host="workstation-b", pid=4242)
    assert remote.owner.host == "workstation-b"
    with pytest.raises(CaseLocked, match="locked by carol on workstation-b"):
        project.acquire_lock("ct3")
    impatient = Project.open(project.folder, user="dave", lock_stale_s=0.3)  # staleness is injectable
    time.sleep(0.6)
    taken = impatient.acquire_lock("ct3")
    assert taken.took_over_from.user == "carol"
    taken.release()


def test_an_old_heartbeat_is_stale_with_the_default_limit(project):
    path = project.lock_path("ct3")
    locks.acquire_lock(path, "ct3", "carol", host="workstation-b", pid=4242, clock=lambda: time.time() - 300)
    lock = project.acquire_lock("ct3")  # 300 s silent > LOCK_STALE_S (120 s)
    assert lock.took_over_from.user == "carol"


def test_the_lock_file_says_who_and_the_heartbeat_moves(project):
    lock = project.acquire_lock("example_ct_sm", user="erin")
    data = json.loads(project.lock_path("example_ct_sm").read_text())
    assert data["user"] == "erin" and data["host"] == socket.gethostname() and data["pid"] > 0
    assert data["created"] and data["heartbeat"] == data["created"]
    lock.heartbeat(now=time.time() + 60)
    later = json.loads(project.lock_path("example_ct_sm").read_text())
    assert later["heartbeat"] > data["heartbeat"] and later["created"] == data["created"]
    assert project.acquire_lock("example_ct_sm") is lock  # held already: the same lock
    assert project.lock_owner("example_ct_sm").user == "erin"
    lock.release()
    lock.release()
    assert not project.lock_path("example_ct_sm").exists() and project.lock_owner("example_ct_sm") is None


def test_an_instance_whose_lock_was_taken_over_learns_it(project):
    volume = project.open_volume("breast1_image")
    labels, _ = paint(volume.shape_zyx)
    project.acquire_lock("breast1_image")
    time.sleep(0.4)  # alice's instance "hangs": no heartbeat
    other = Project.open(project.folder, user="bob", lock_stale_s=0.2)
    other.acquire_lock("breast1_image")
    with pytest.raises(LockLost, match="taken over by bob"):
        project.save_case_labels("breast1_image", labels, project.schema.label_table(), volume=volume)
    assert not project.holds_lock("breast1_image")
    assert project.lock_owner("breast1_image").user == "bob"


def test_heartbeat_locks_reports_a_lock_taken_over(project):
    project.acquire_lock("ct3")
    project.acquire_lock("example_ct_sm")
    assert project.heartbeat_locks() == []
    time.sleep(0.4)
    Project.open(project.folder, user="bob", lock_stale_s=0.2).acquire_lock("ct3")
    problems = project.heartbeat_locks()
    assert len(problems) == 1 and isinstance(problems[0], LockLost) and problems[0].case_id == "ct3"
    assert project.holds_lock("example_ct_sm") and not project.holds_lock("ct3")


def test_a_deleted_lock_file_is_recreated_by_its_holder(project):
    lock = project.acquire_lock("ct3")
    project.lock_path("ct3").unlink()
    with project.editing("ct3"):
        project.set_status("ct3", "in progress")
    assert json.loads(project.lock_path("ct3").read_text())["token"] == lock.owner.token
