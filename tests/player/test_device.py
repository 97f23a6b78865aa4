"""What a panel says of itself when it pairs, read from a fake Raspberry Pi's files."""

from __future__ import annotations

from pathlib import Path

from player import device


def test_a_pi_reports_its_device_tree_serial_model_and_os(tmp_path: Path) -> None:
    (tmp_path / "proc/device-tree").mkdir(parents=True)
    (tmp_path / "proc/device-tree/serial-number").write_bytes(b"10000000a1b2c3d4\0")
    (tmp_path / "proc/device-tree/model").write_bytes(b"Raspberry Pi 4 Model B Rev 1.5\0")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text('ID=debian\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    facts = device.facts(tmp_path)
    assert facts["serial"] == "10000000a1b2c3d4"
    assert facts["model"] == "Raspberry Pi 4 Model B Rev 1.5"
    assert facts["os"] == "Debian GNU/Linux 12 (bookworm)"
    assert facts["player_version"]


def test_a_device_without_a_serial_uses_its_machine_id_and_says_none_it_does_not_know(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/machine-id").write_text("3d1219c7c4c5404a9f0e6b1d2c3a4b5c\n")
    facts = device.facts(tmp_path)
    assert facts["serial"] == "3d1219c7c4c5404a"
    assert facts["model"] is None and facts["os"] is None
