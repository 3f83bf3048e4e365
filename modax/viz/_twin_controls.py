"""Steering controls for one device of the digital twin, on its drill-down page.

Inject a fault (kind, severity, duration), set the load, stop or start the motor, reboot: each
button sends a :mod:`modax.schema` command through :class:`modax.twin.Twin` (one MQTT client per
server process, :func:`shared_twin`) and shows the device's acknowledgement. A real device
rejects the twin-only commands, and the ack says so. With a login configured
(``modax dashboards --basic-auth``) only a signed-in user sees the controls (:func:`may_steer`);
the broker account of the server must be allowed to publish commands (``deploy/mosquitto/acl``:
the ``operator`` user).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import panel as pn

from modax.config import load_settings
from modax.mqtt import ClientFactory
from modax.schema import FAULT_KINDS, CommandAck
from modax.twin import Twin, TwinError
from modax.viz._cells import html_text
from modax.viz._login import USERS_VAR

__all__ = ["TwinControls", "may_steer", "shared_twin"]


def may_steer(user: str | None, login_configured: bool) -> bool:
    """Whether the controls are shown: always without a login, else only to a signed-in user.

    Examples
    --------
    >>> may_steer(None, login_configured=False), may_steer(None, login_configured=True)
    (True, False)
    >>> may_steer("operator", login_configured=True)
    True
    """
    return user is not None or not login_configured


def shared_twin() -> Twin:
    """The server process's one :class:`~modax.twin.Twin` (``MODAX_BROKER``, ``MODAX_MQTT_*``)."""
    twin = pn.state.cache.get("modax-twin")
    if twin is None:
        twin = Twin(ClientFactory.from_settings(load_settings()))
        pn.state.cache["modax-twin"] = twin
    return twin


def _describe(ack: CommandAck) -> str:
    if ack.accepted:
        return f"{ack.type} accepted by {ack.device_id} (command {ack.command_id})"
    where = f"{ack.field}: " if ack.field else ""
    return f"{ack.type or 'command'} rejected by {ack.device_id}: {ack.reason}: {where}{ack.detail}"


class TwinControls(pn.viewable.Viewer):
    """Buttons that steer one device and the last acknowledgement.

    Parameters
    ----------
    device_id : str
        The device.
    twin : callable, optional
        Returns the :class:`~modax.twin.Twin` to send with (default :func:`shared_twin`, made at
        the first click).

    Examples
    --------
    >>> controls = TwinControls("m1")
    >>> controls.kind.value, controls.ack.object
    ('overload', '')
    """

    def __init__(
        self, device_id: str, twin: Callable[[], Twin] = shared_twin, **params: object
    ) -> None:
        super().__init__(**params)
        self.device_id = device_id
        self._twin = twin
        self.kind = pn.widgets.Select(label="Fault", options=list(FAULT_KINDS), value="overload")
        self.severity = pn.widgets.FloatSlider(label="Severity", start=0.0, end=1.0, step=0.05)
        self.severity.value = 0.8
        self.duration_s = pn.widgets.IntInput(label="Duration (s)", value=300, start=1)
        self.load = pn.widgets.FloatSlider(label="Load (of rated)", start=0.0, end=1.5, step=0.05)
        self.load.value = 0.6
        self.ack = pn.pane.HTML("", css_classes=["modax-twin-ack"], sizing_mode="stretch_width")
        self.buttons = {
            "inject": pn.widgets.Button(label="Inject fault", color="danger"),
            "load": pn.widgets.Button(label="Set load"),
            "stop": pn.widgets.Button(label="Stop motor"),
            "start": pn.widgets.Button(label="Start motor"),
            "reboot": pn.widgets.Button(label="Reboot"),
        }
        for action, button in self.buttons.items():
            button.on_click(self._handler(action))

    def _call(self, action: str) -> CommandAck:
        twin, device = self._twin(), self.device_id
        if action == "inject":
            return twin.inject(
                device,
                self.kind.value,
                severity=self.severity.value,
                duration_s=float(self.duration_s.value),
            )
        if action == "load":
            return twin.set_load(device, self.load.value)
        if action in ("stop", "start"):
            return twin.set_motor(device, running=action == "start")
        return twin.reboot(device)

    def _handler(self, action: str) -> Callable[[object], object]:
        async def handle(_event: object) -> None:
            self.ack.object = "<p>sent, waiting for the acknowledgement…</p>"
            try:
                ack = await asyncio.to_thread(self._call, action)
                self.ack.object = f"<p>{html_text(_describe(ack))}</p>"
            except TwinError as exc:
                self.ack.object = f"<p>not acknowledged: {html_text(str(exc))}</p>"

        return handle

    def __panel__(self) -> pn.viewable.Viewable:
        if not may_steer(pn.state.user, login_configured=bool(os.environ.get(USERS_VAR))):
            return pn.Column()
        b = self.buttons
        return pn.Card(
            pn.Row(self.kind, self.severity, self.duration_s, b["inject"]),
            pn.Row(self.load, b["load"], b["stop"], b["start"], b["reboot"]),
            self.ack,
            title="Steer the twin",
            collapsed=False,
            sizing_mode="stretch_width",
        )
