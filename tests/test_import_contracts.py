"""The import arrows of DESIGN.md, checked with import-linter.

The real project must keep every contract; and the same contracts, run over
a small package tree that breaks them, must fail, so a contract that checks
nothing would be noticed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")
SETTINGS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]


def lint(cwd: Path, *options: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [LINT_IMPORTS, "--no-logo", "--no-cache", *options],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def contract(name: str) -> dict:
    return next(c for c in SETTINGS["contracts"] if c["name"] == name)


def test_the_project_keeps_every_import_contract():
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(SETTINGS['contracts'])} kept, 0 broken." in done.stdout


def test_the_contracts_forbid_the_arrows_of_the_design():
    core = contract("The directory core works without the TUI")
    assert core["type"] == "forbidden" and core["source_modules"] == ["contacts_tui.core"]
    assert {"textual", "contacts_tui.ui"} <= set(core["forbidden_modules"])
    relay = contract("The relay works without the TUI")
    assert relay["type"] == "forbidden" and relay["source_modules"] == ["relay"]
    assert {"textual", "contacts_tui.ui"} <= set(relay["forbidden_modules"])
    for checked in (core, relay):
        # An indirect import (core -> middle -> textual) counts as well.
        assert checked.get("allow_indirect_imports") is False
    assert SETTINGS.get("include_external_packages") is True  # or "textual" could not be named


def _ini_value(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return "".join(f"\n    {item}" for item in value)
    return str(value)


def write_config(folder: Path) -> Path:
    """The project's own contracts, in import-linter's INI format."""
    lines = ["[importlinter]"]
    lines += [f"{key} = {_ini_value(value)}" for key, value in SETTINGS.items() if key != "contracts"]
    for number, settings in enumerate(SETTINGS["contracts"], start=1):
        lines.append(f"\n[importlinter:contract:{number}]")
        lines += [f"{key} = {_ini_value(value)}" for key, value in settings.items()]
    path = folder / ".importlinter"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def tree(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


CLEAN = {
    "contacts_tui/__init__.py": "",
    "contacts_tui/cli.py": "import contacts_tui.ui.app\nimport contacts_tui.commands.demo\n",
    "contacts_tui/commands/__init__.py": "",
    "contacts_tui/commands/demo.py": "def run():\n    import relay.app\n",
    "contacts_tui/commands/history.py": "import contacts_tui.core.directory.service\n",
    "contacts_tui/core/db.py": "import peewee\n",
    "contacts_tui/core/models.py": "import peewee\n",
    "contacts_tui/core/migrate.py": "import contacts_tui.core.models\n",
    "contacts_tui/core/mail/encoded_words.py": "import re\n",
    "contacts_tui/core/__init__.py": "",
    "contacts_tui/core/directory/__init__.py": "",
    "contacts_tui/core/directory/service.py": "import peewee\n",
    "contacts_tui/ui/__init__.py": "",
    "contacts_tui/ui/app.py": "import textual\nimport contacts_tui.core.directory.service\n",
    "contacts_tui/ui/screens/__init__.py": "",
    "contacts_tui/ui/screens/base.py": "import textual\n",
    "contacts_tui/ui/screens/messages.py": "from . import base\n",
    "contacts_tui/ui/screens/relay_log.py": "from . import base\n",
    # The admin's other screens and the captured messages, which the portal may not reach.
    **{
        f"contacts_tui/ui/screens/{name}.py": "from . import base\n"
        for name in ("customers", "customer", "customer_form", "history", "message", "mail_list", "log_entry", "sample")
    },
    "contacts_tui/core/mail/__init__.py": "",
    "contacts_tui/core/mail/relay_log.py": "import peewee\nfrom . import added\n",
    # The import the no-cycles contract lets be (see pyproject.toml).
    "contacts_tui/core/mail/added.py": "",
    "contacts_tui/core/mail/summary.py": "",
    "contacts_tui/core/migrations/__init__.py": "",
    "contacts_tui/core/migrations/m0013_inbox_columns.py": (
        "def up():\n    from contacts_tui.core.mail import summary\n"
    ),
    "contacts_tui/core/migrations/m0015_tagging_rules.py": (
        "def up():\n    from contacts_tui.core.tagging import rule\n"
    ),
    "contacts_tui/core/tagging/__init__.py": "",
    "contacts_tui/core/tagging/rule.py": "",
    "contacts_tui/core/mail/inbox.py": "import contacts_tui.core.mail.relay_log\n",
    "contacts_tui/ui/portal/__init__.py": "",
    "contacts_tui/ui/portal/app.py": (
        "from contacts_tui.ui.screens import base\nimport contacts_tui.core.portal.client\n"
    ),
    # The portal service owns the database; the portal's processes hold its client.
    "contacts_tui/core/portal/__init__.py": "",
    "contacts_tui/core/portal/scope.py": "import contacts_tui.core.directory.service\n",
    "contacts_tui/core/portal/protocol.py": "",
    "contacts_tui/core/portal/client.py": "from . import protocol\n",
    "contacts_tui/core/portal/service.py": "import contacts_tui.core.portal.scope\nfrom . import protocol\n",
    "contacts_tui/core/portal/server.py": "from . import service\n",
    "contacts_tui/commands/portal.py": "import contacts_tui.core.portal.client\n",
    # The relay by job, each importing the layer below it.
    "relay/__init__.py": "",
    "relay/cli/__init__.py": "import relay.supervisor\n",
    "relay/supervisor.py": "import relay.app\n",
    "relay/app.py": "import relay.config\nimport relay.inbox.server\nimport relay.delivery.scheduler\n",
    "relay/inbox/__init__.py": "",
    "relay/inbox/server.py": "import contacts_tui.core.mail.inbox\nimport relay.server.handler\n",
    "relay/config.py": "import relay.server.handler\n",
    "relay/server/__init__.py": "",
    "relay/server/handler.py": (
        "import contacts_tui.core.directory.service\nimport relay.queue.spool\nimport relay.store.writer\n"
    ),
    "relay/delivery/__init__.py": "",
    "relay/delivery/scheduler.py": "import relay.queue.spool\nimport relay.ops.metrics\n",
    "relay/queue/__init__.py": "",
    "relay/queue/spool.py": "import relay.rewrite.headers\n",
    "relay/store/__init__.py": "",
    "relay/store/writer.py": "import contacts_tui.core.directory.service\n",
    "relay/rewrite/__init__.py": "",
    "relay/rewrite/headers.py": "import contacts_tui.core.mail.encoded_words\n",
    "relay/ops/__init__.py": "",
    "relay/ops/health.py": "import relay.queue.spool\n",
    "relay/ops/metrics.py": "",
    "relay/ops/endpoint.py": "",
    "relay/ops/process_log.py": "",
    "relay/ops/queue_health.py": "",
    "relay/ops/service.py": "import relay\n",
}


RELAY_LAYERS = "The relay is laid out by job, and the data flows one way"
ONLY_DEMO = "Of the TUI's package, only the demo command starts a relay"
PURE_REWRITE = "The rewrite is a pure function over bytes: no database, no I/O, no event loop"
NO_CYCLES = "No package imports its siblings in a circle"
SCREENS = "The TUI's screens never import each other in a circle"
PORTAL = "The customer portal cannot reach an admin screen"
PRIVSEP = "The portal's processes reach the data only through the portal service"


def test_the_contracts_pass_a_tree_that_follows_the_arrows(tmp_path):
    tree(tmp_path, CLEAN)
    done = lint(tmp_path, str(write_config(tmp_path)))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "extra, broken",
    [
        (
            {"contacts_tui/core/widgets.py": "from textual.widget import Widget\n"},
            "The directory core works without the TUI",
        ),
        ({"contacts_tui/core/show.py": "import contacts_tui.ui.app\n"}, "The directory core works without the TUI"),
        (
            {
                "contacts_tui/core/middle.py": "import contacts_tui.core.later\n",
                "contacts_tui/core/later.py": "def f():\n    import textual\n",
            },
            "The directory core works without the TUI",
        ),
        ({"relay/tui.py": "import textual.app\n"}, "The relay works without the TUI"),
        ({"relay/screens.py": "from contacts_tui.ui import app\n"}, "The relay works without the TUI"),
        ({"relay/rewrite/headers.py": "import relay.queue.spool\n"}, RELAY_LAYERS),
        ({"relay/queue/spool.py": "import relay.delivery.scheduler\n"}, RELAY_LAYERS),
        ({"relay/server/handler.py": "import relay.delivery.scheduler\n"}, RELAY_LAYERS),
        ({"relay/delivery/scheduler.py": "import relay.app\n"}, RELAY_LAYERS),
        ({"relay/ops/metrics.py": "import relay.server.handler\n"}, RELAY_LAYERS),
        ({"relay/delivery/scheduler.py": "import relay.ops.health\n"}, RELAY_LAYERS),
        ({"relay/server/handler.py": "import relay.inbox.server\n"}, RELAY_LAYERS),
        (
            {
                "contacts_tui/ui/screens/messages.py": "from . import relay_log\n",
                # A lazy import inside a function counts as well.
                "contacts_tui/ui/screens/relay_log.py": "def open_messages():\n    from . import messages\n",
            },
            SCREENS,
        ),
        ({"contacts_tui/ui/portal/app.py": "def more():\n    from contacts_tui.ui.screens import messages\n"}, PORTAL),
        (
            {"contacts_tui/ui/portal/contacts.py": "from contacts_tui.core.directory.service import Directory\n"},
            PRIVSEP,
        ),
        ({"contacts_tui/core/portal/client.py": "from . import service\n"}, PRIVSEP),
        ({"contacts_tui/commands/portal.py": "def run():\n    import contacts_tui.core.db\n"}, PRIVSEP),
        ({"contacts_tui/ui/portal/app.py": "from contacts_tui.core.mail import inbox\n"}, PORTAL),
        ({"contacts_tui/commands/history.py": "import relay.queue.spool\n"}, ONLY_DEMO),
        ({"contacts_tui/cli.py": "import relay.app\n"}, ONLY_DEMO),
        ({"relay/rewrite/headers.py": "import contacts_tui.core.db\n"}, PURE_REWRITE),
        ({"relay/rewrite/headers.py": "import asyncio\n"}, PURE_REWRITE),
        (
            {
                # Indirectly, through a module of the core that reads the database.
                "relay/rewrite/headers.py": "import contacts_tui.core.mail.encoded_words\n",
                "contacts_tui/core/mail/encoded_words.py": "import contacts_tui.core.db\n",
            },
            PURE_REWRITE,
        ),
        (
            {
                "contacts_tui/core/mail/encoded_words.py": "import contacts_tui.core.directory.service\n",
                "contacts_tui/core/directory/service.py": (
                    "def later():\n    import contacts_tui.core.mail.encoded_words\n"
                ),
            },
            NO_CYCLES,
        ),
    ],
    ids=[
        "core-textual",
        "core-ui",
        "core-textual-indirect",
        "relay-textual",
        "relay-ui",
        "rewrite-queue",
        "queue-delivery",
        "server-delivery",
        "delivery-app",
        "metrics-server",
        "delivery-health",
        "server-inbox",
        "screens-cycle",
        "portal-admin-screen",
        "portal-directory",
        "client-service",
        "portal-command-db",
        "portal-captured-mail",
        "command-relay",
        "cli-relay",
        "rewrite-database",
        "rewrite-event-loop",
        "rewrite-database-indirect",
        "core-cycle",
    ],
)
def test_the_contracts_fail_a_tree_that_breaks_an_arrow(tmp_path, extra, broken):
    tree(tmp_path, {**CLEAN, **extra})
    done = lint(tmp_path, str(write_config(tmp_path)))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{broken} BROKEN" in done.stdout
