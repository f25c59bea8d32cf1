"""Who binds to the phone's SMSC: `kontor smpp` of this config when smpp.host is loopback (`kontor up` runs it),
else, while the smpp section is off, a `kontor smpp` child the phone starts on a copy of the config that points
at its own loopback SMSC; no provider account either way. A real SMSC's config is refused: two binds would
share one outbound queue.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import smpp34
import yaml

from sms_gateway.procs import Runner, free_port
from sms_gateway.settings import Settings, Smpp
from sms_gateway.smpp.phone_smsc import Mt, PhoneSmsc

CHILD = "phone-smpp"  # the child's name: its log is data_dir/phone-smpp.log, its config data_dir/phone-smpp.yaml
SHORT_CODE = "3000"  # the number the phone texts when smpp.source_addr is empty
BIND_SECONDS = 30.0  # the child binds within this (its start, migrations, the bind)
# The smpp section of the child's config where the user's config has none (config.yaml's values).
DEFAULTS: dict[str, Any] = {
    "port": 2775,
    "system_type": "",
    "source_addr": "",
    "source_ton": 0,
    "source_npi": 1,
    "dest_ton": 1,
    "dest_npi": 1,
    "window": 10,
    "per_second": 20,
    "enquire_link_seconds": 30,
    "response_seconds": 10,
    "reconnect_max_seconds": 60,
    "send_wait_seconds": 20,
}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class SmppLine:
    """The phone's SMSC and, when the phone started it, the `kontor smpp` bound to it."""

    smsc: PhoneSmsc
    to: str  # Kontor's number: the destination of every typed line
    where: str
    runner: Runner | None = None
    config: Path | None = None

    def send(self, sender: str, text: str) -> None:
        self.smsc.send(sender, self.to, text)

    def close(self) -> None:
        """The child first (it unbinds), then the SMSC; the child's config copy goes too."""
        if self.runner is not None:
            self.runner.stop()
        self.smsc.stop()
        if self.config is not None:
            self.config.unlink(missing_ok=True)


def open_line(settings: Settings, on_sms: Callable[[Mt], None], say: Callable[[str], None] = print) -> SmppLine:
    """Start the SMSC and wait for Kontor's bind; ValueError (with what to do) when no bind can come."""
    cfg = settings.smpp
    if cfg is not None and cfg.enabled:
        if not is_loopback(cfg.host):
            raise ValueError(
                f"--channel smpp: smpp.host is {cfg.host}, a real SMSC; the terminal phone plays one only on "
                "loopback (set smpp.host to 127.0.0.1, or leave the smpp section off and the phone binds its own)"
            )
        return _their_bind(cfg, on_sms, say)
    return _own_bind(settings, on_sms, say)


def _their_bind(cfg: Smpp, on_sms: Callable[[Mt], None], say: Callable[[str], None]) -> SmppLine:
    """The SMSC where smpp.host/port say, for the `kontor smpp` that `kontor up` runs on this config."""
    smsc = _listen("127.0.0.1" if cfg.host == "localhost" else cfg.host, cfg.port, on_sms)
    say(f"SMSC on {cfg.host}:{cfg.port}: waiting for `kontor smpp` (run by `kontor up`) to bind…")
    try:
        bound = smsc.wait_bound(cfg.reconnect_max_seconds + cfg.response_seconds + 5)
    except BaseException:
        smsc.stop()
        raise
    if not bound:
        smsc.stop()
        raise ValueError(f"--channel smpp: nothing bound to {cfg.host}:{cfg.port}; start `kontor up` first")
    return SmppLine(smsc, cfg.source_addr or SHORT_CODE, f"kontor smpp bound to {cfg.host}:{cfg.port}")


def _own_bind(settings: Settings, on_sms: Callable[[Mt], None], say: Callable[[str], None]) -> SmppLine:
    """An SMSC on a free loopback port and a `kontor smpp` child bound to it."""
    port = free_port()
    smsc = _listen("127.0.0.1", port, on_sms)
    say(f"SMSC on 127.0.0.1:{port}: starting `kontor smpp` bound to it (smpp section off in this config)…")
    config = child_config(settings, port)
    runner = Runner(settings.data_path)
    line = SmppLine(smsc, SHORT_CODE, f"kontor smpp ({runner.log_path(CHILD)}) bound to 127.0.0.1:{port}")
    line.runner, line.config = runner, config
    try:
        child = runner.kontor("smpp", config, name=CHILD)
        bound = smsc.wait_bound(BIND_SECONDS, alive=lambda: child.poll() is None)
    except BaseException:  # Ctrl-C while it starts: no child left behind
        line.close()
        raise
    if not bound:
        log = runner.log(CHILD, 2000)
        line.close()
        raise ValueError(f"--channel smpp: `kontor smpp` did not bind:\n{log}")
    return line


def _listen(host: str, port: int, on_sms: Callable[[Mt], None]) -> PhoneSmsc:
    try:
        return PhoneSmsc(host, port, on_sms).start()
    except smpp34.SmppError as exc:  # the port is taken (another phone, another SMSC)
        raise ValueError(f"--channel smpp: cannot listen on {host}:{port}: {exc}") from exc


def child_config(settings: Settings, port: int) -> Path:
    """A copy of the settings file whose smpp section points at 127.0.0.1:`port` (mode 0600: it holds secrets)."""
    raw = yaml.safe_load(Path(settings.source).read_text(encoding="utf-8"))
    raw["data_dir"] = settings.data_dir  # absolute: the copy lives elsewhere than the file
    account = {"host": "127.0.0.1", "port": port, "system_id": "phone", "password": "phone"}
    raw["smpp"] = {**DEFAULTS, **(raw.get("smpp") or {}), **account, "source_addr": SHORT_CODE}
    path = settings.data_path / f"{CHILD}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        yaml.safe_dump(raw, out, allow_unicode=True)
    return path
