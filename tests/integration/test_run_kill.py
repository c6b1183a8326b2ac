"""Never act twice: a real ``winback run`` SIGKILLed at 20+ random points, then run to completion.

The emulator and an SMTP capture server run in their own processes (:mod:`kill_harness`), so they
see every write and every message whatever happens to ``winback``. After the kills and the final
runs: no email, discount code, account or invite happened twice; every action planned before the
first run was either done exactly once or is held for review (an email interrupted mid-send is never
resent automatically), and at most one action per kill is held. back_to_bestsellers runs as a
three-step sequence: after the first phase the ledger's clock moves past the follow-up's wait and
step 2 (with its own code) is killed again: it goes exactly to those whose step 1 is done, once.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.kill_harness import (
    emulator_process,
    read_capture,
    smtp_capture_process,
)
from tests.integration.configs import vip_birthday_rules
from tests.plugin_dist import NEW_RULES, write_dist_info
from winback.emulator.generate import DEFAULT_NOW

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

MIN_KILLS = 20
MIN_KILLS_STEP_TWO = 6
STEP_TWO_DAYS = 14
"""back_to_bestsellers runs as a sequence: step 1 (with a code) in the first phase; then the
ledger's clock is moved back past ``STEP_TWO_DAYS`` and step 2 (another code) is killed too."""
CASE_DEADLINE_S = 480.0
"""A bound, not a target: a case takes about 105 s on an idle 2-core machine with seven rules; it
runs beside another xdist worker in CI, and every `winback` start costs more under load."""
CUSTOMERS = "600"
EMULATOR_FLAGS = {
    # A legacy shop, so the account invite (a platform write) is among what a kill may interrupt;
    # on Ecwid the accounts rule only emails (Ecwid keeps an account for every buyer already).
    "shopify": ["--customers", CUSTOMERS, "--no-throttle", "--customer-accounts", "CLASSIC",
                "--birthdays", "facts.birth_date"],
    "ecwid": ["--customers", CUSTOMERS, "--requests-per-minute", "100000", "--birthdays", "birthday"],
}
BIRTH_DATE_SETTING = {"shopify": ("birth_date_metafield", "facts.birth_date"), "ecwid": ("birth_date_field", "birthday")}
"""Where each emulated store keeps the birth dates ``--birthdays`` seeds (read by the sync)."""
TOKEN_ENV = "WB_KILL_TOKEN"
SMTP_DELAY_MS = 40
"""A real server's time per message: it stretches the acting phase of a run (so kills land in it)
and opens the window where a message is accepted but winback has not heard the 250 yet."""
BIN = Path(sys.executable).parent


def winback(*args: str) -> list[str]:
    script = BIN / "winback"
    return [*([str(script)] if script.exists() else [sys.executable, "-m", "winback.cli.main"]), *args]


def run_command_available() -> bool:
    """Whether ``winback run`` exists yet; any other failure of ``--help`` is a failure, not a skip."""
    help_ = subprocess.run(winback("run", "--help"), capture_output=True, text=True, timeout=60, check=False)
    if help_.returncode == 0:
        return True
    assert "No such command 'run'" in help_.stderr, help_.stderr
    return False


# --- the client's config --------------------------------------------------------------------------


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


GENEROUS_LIMITS = {"max_actions_per_run": 1_000_000, "marketing_cap_count": 100}
"""No guard rail may hold back a planned action: the test compares the plan with what was done.
(Both marketing rules may mail the same customer; the default cap is one mail a week.)"""


ACCOUNTS_SINCE_DAYS = (datetime.now(UTC) - DEFAULT_NOW).days + 45
"""The emulated world ends at a fixed date: reach back to its last weeks' guest buyers, whatever today is."""
FEEDBACK_MAX_AGE_DAYS = (datetime.now(UTC) - DEFAULT_NOW).days + 20
"""Feedback requests about the orders delivered in the emulated world's last weeks (the answer
links point at ``public_url``; no server needs to run for a run to send them)."""


def _limits_table() -> str:
    """``[limits]`` with the generous values this version of winback knows (unknown keys are errors)."""
    from winback.config import _sections

    section = getattr(_sections, "LimitsSection", None)
    known = {k: v for k, v in GENEROUS_LIMITS.items() if section is not None and k in section.model_fields}
    return "[limits]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in known.items()) if known else ""


def write_config(directory: Path, platform: str, emulator: dict[str, Any], smtp_port: int) -> Path:
    settings = dict(emulator["settings"])
    secret = "access_token" if platform == "shopify" else "token"
    settings[secret] = "${" + TOKEN_ENV + "}"
    if platform == "ecwid":
        settings["requests_per_minute"] = 100_000
    setting, field_name = BIRTH_DATE_SETTING[platform]
    settings[setting] = field_name
    store = "\n".join(f"{key} = {_toml(value)}" for key, value in settings.items())
    path = directory / "client.toml"
    path.write_text(
        f"""\
[client]
name = "Kill test {platform}"

[store]
platform = "{platform}"
{store}

[database]
url = "winback.db"

[email]
sender = "smtp"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
smtp_starttls = false
from_address = "Kill Test <hello@kill-test.example>"
unsubscribe_mailto = "unsubscribe@kill-test.example"
rate_per_minute = 1000000
public_url = "https://winback.kill-test.example"

[rules.back_to_bestsellers]
after_days = 180
recommend = "co_purchase"

[[rules.back_to_bestsellers.steps]]
discount = {{kind = "percentage", value = 10}}

[[rules.back_to_bestsellers.steps]]
after_days = {STEP_TWO_DAYS}
discount = {{kind = "percentage", value = 15}}

[[rules.back_to_bestsellers.steps]]
after_days = {STEP_TWO_DAYS}

[rules.replenishment]
min_repeat_buyers = 3
max_overdue_days = 365
discount = {{kind = "percentage", value = 10, prefix = "REFILL"}}

[rules.auto_create_accounts]
enabled = true
since_days = {ACCOUNTS_SINCE_DAYS}

[rules.feedback_request]
max_age_days = {FEEDBACK_MAX_AGE_DAYS}

[rules.discount_codes]
segment = {{min_orders = 2}}
kind = "percentage"
value = 15
since_days = 365

{vip_birthday_rules(perk_percent=5)}
{_limits_table()}""",
        encoding="utf-8",
    )
    return path


def rules_on_path(directory: Path) -> dict[str, str]:
    """``PYTHONPATH`` for the ``winback`` processes when the installed metadata predates the
    vip_tiers and birthday entry points (a dist-info naming them, as the package declares)."""
    from winback.rules import registry

    if {"vip_tiers", "birthday"} <= set(registry.available_rules()):
        return {}
    dist = write_dist_info(directory / "plugins", "winback_new_rules", NEW_RULES)
    root = str(Path(__file__).resolve().parents[2])
    paths = [root, str(dist.parent), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"PYTHONPATH": os.pathsep.join(paths)}


# --- what winback says ------------------------------------------------------------------------


def actions_in(payload: Any) -> list[dict[str, Any]]:
    """Every object carrying an ``idempotency_key``, wherever the command's JSON nests them, except
    under ``held`` (actions a guard rail holds back are not planned to run)."""
    found: list[dict[str, Any]] = []
    if isinstance(payload, dict):
        if "idempotency_key" in payload:
            found.append(payload)
        else:
            for name, value in payload.items():
                if name != "held":
                    found.extend(actions_in(value))
    elif isinstance(payload, list):
        for item in payload:
            found.extend(actions_in(item))
    return found


@dataclass
class Client:
    """One client's config and what the test watches: the emulator's writes and the SMTP capture."""

    config: Path
    env: dict[str, str]
    writes_url: str
    capture: Path
    log: Path

    def cli(self, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
        with self.log.open("a", encoding="utf-8") as log:
            log.write(f"\n=== winback {' '.join(args)}\n")
            log.flush()
            return subprocess.run(winback(*args, "--config", str(self.config)), env=self.env, stdout=subprocess.PIPE,
                                  stderr=log, text=True, timeout=timeout, check=False)

    def json(self, *args: str) -> Any:
        done = self.cli(*args, "--json")
        assert done.returncode == 0, f"winback {' '.join(args)} failed ({done.returncode}): {done.stdout[-1500:]}"
        return json.loads(done.stdout)

    def start_run(self) -> subprocess.Popen[str]:
        log = self.log.open("a", encoding="utf-8")
        log.write("\n=== winback run --no-sync\n")
        log.flush()
        try:
            return subprocess.Popen(winback("run", "--config", str(self.config), "--no-sync"), env=self.env,
                                    stdout=log, stderr=log, text=True)
        finally:
            log.close()

    def writes(self) -> dict[str, list[dict[str, Any]]]:
        return httpx.get(self.writes_url, timeout=10).json()

    def observed(self) -> tuple[int, int]:
        """(messages captured, writes the emulator accepted): grows with every side effect."""
        messages = self.capture.read_bytes().count(b"\n") if self.capture.exists() else 0
        return messages, sum(len(v) for v in self.writes().values())


# --- the kill loop ----------------------------------------------------------------------------


@dataclass
class Round:
    how: str
    delay: float
    elapsed: float
    returncode: int
    killed_mid_run: bool
    progress: tuple[int, int]


@dataclass
class Killer:
    """Starts ``winback run --no-sync`` and SIGKILLs it, alternating two ways of choosing when.

    * ``progress``: right after the k-th new side effect (k = 1..6) the emulator or the SMTP
      server saw, plus 0-100 ms: the window between a code being created or a message accepted and
      the ledger recording it, where "act twice" bugs live. Each such round does a little work.
    * ``time`` (every third round): at a uniform random moment between 50 ms and one second past
      the last observed time to the first side effect: start-up, lock, planning and first actions.

    Start-up takes seconds while the actions go at about twenty a second, so a kill at a random
    moment of a whole run would finish the work in a few rounds; aiming at the start of each run
    leaves work for 20+ kills. The last runs finish it unkilled.
    """

    client: Client
    rng: random.Random
    deadline: float
    rounds: list[Round] = field(default_factory=list)
    startup_s: float = 1.5
    """Time from start to the first side effect, as last observed."""

    @property
    def kills(self) -> list[Round]:
        return [r for r in self.rounds if r.killed_mid_run]

    def round(self, number: int) -> Round:
        before = self.client.observed()
        started = time.monotonic()
        process = self.client.start_run()
        try:
            if number % 3 == 2:
                how, delay = "time", self.rng.uniform(0.05, self.startup_s + 1.0)
                self._wait(process, started + delay)
            else:
                how, delay = "progress", float(self.rng.randint(1, 6))
                self._wait_for_progress(process, before, int(delay), started)
                self._wait(process, time.monotonic() + self.rng.uniform(0.0, 0.1))
            mid_run = process.poll() is None
            if mid_run:
                process.kill()
            returncode = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
        elapsed = time.monotonic() - started
        after = self.client.observed()
        result = Round(how, delay, elapsed, returncode, mid_run, (after[0] - before[0], after[1] - before[1]))
        print(f"  {len(self.rounds):3} {result}", flush=True)
        self.rounds.append(result)
        return result

    def _wait(self, process: subprocess.Popen[str], until: float) -> None:
        while process.poll() is None and time.monotonic() < min(until, self.deadline):
            time.sleep(0.005)

    def _wait_for_progress(self, process: subprocess.Popen[str], before: tuple[int, int], wanted: int,
                           started: float) -> None:
        limit = min(self.deadline, started + 30.0)
        first = True
        while process.poll() is None and time.monotonic() < limit:
            messages, writes = self.client.observed()
            seen = messages + writes - sum(before)
            if seen and first:
                self.startup_s, first = time.monotonic() - started, False
            if seen >= wanted:
                return
            time.sleep(0.01)


def finish(client: Client, deadline: float) -> int:
    """Run unkilled until a run exits 0; returns how many runs that took."""
    for attempt in range(1, 6):
        assert time.monotonic() < deadline, "out of time before the final run"
        if client.cli("run", "--no-sync", timeout=max(10.0, deadline - time.monotonic())).returncode == 0:
            return attempt
    raise AssertionError(f"winback run never exited 0 after the kills; see {client.log}")


# --- the test ---------------------------------------------------------------------------------


@pytest.fixture
def harness() -> Iterator[ExitStack]:
    """Processes the test starts, all stopped when it ends, whatever happened."""
    with ExitStack() as stack:
        yield stack


@pytest.mark.parametrize("platform", ["shopify", "ecwid"])
def test_sigkilled_run_never_acts_twice(platform: str, tmp_path: Path, harness: ExitStack) -> None:
    if not run_command_available():
        pytest.skip("winback run is not available yet")
    deadline = time.monotonic() + CASE_DEADLINE_S
    emulator = harness.enter_context(emulator_process(platform, "--seed", "5", *EMULATOR_FLAGS[platform]))
    capture = tmp_path / "smtp.jsonl"
    smtp = harness.enter_context(smtp_capture_process(capture, delay_ms=SMTP_DELAY_MS))
    token = emulator["settings"]["access_token" if platform == "shopify" else "token"]
    client = Client(
        config=write_config(tmp_path, platform, emulator, smtp["port"]),
        env={**os.environ, TOKEN_ENV: token, **rules_on_path(tmp_path)},
        writes_url=f"{emulator['url']}/_emulator/writes",
        capture=capture,
        log=tmp_path / "winback.log",
    )

    synced = client.cli("sync")
    assert synced.returncode == 0, f"sync failed; see {client.log}"
    planned = actions_in(client.json("plan"))
    assert planned, "the rules planned nothing: the test would prove nothing"
    assert {a["rule"] for a in planned} >= {"back_to_bestsellers", "replenishment"}, "a rule planned nothing"
    assert {"vip_tiers", "birthday"} <= {a["rule"] for a in planned}, "the tier and birthday rules planned nothing"
    account_steps = {step for a in planned if a["rule"] == "auto_create_accounts" for step in a["steps"]}
    assert account_steps == {"shopify": {"send_invite"}, "ecwid": {"send_email"}}[platform], account_steps
    keys = Counter(a["idempotency_key"] for a in planned)
    assert max(keys.values()) == 1, "plan lists an idempotency key twice"

    killer = Killer(client, random.Random(f"run-kill-{platform}"), deadline)
    number = 0
    while len(killer.kills) < MIN_KILLS:
        assert time.monotonic() < deadline, f"only {len(killer.kills)} kills before the deadline: {killer.rounds}"
        killer.round(number)
        number += 1
    finish_runs = finish(client, deadline)

    # Step 2 of the sequence, "15 days later": due only for those whose step 1 is done.
    db = client.config.parent / "winback.db"
    shift_ledger(db, days=STEP_TWO_DAYS + 1)
    deadline = time.monotonic() + CASE_DEADLINE_S / 2
    killer.deadline = deadline
    first_phase = ledger_rows(db)
    later = [a for entry in client.json("plan") for a in entry["actions"]]  # not those held for review
    step_two = [a for a in later if a["rule"] == "back_to_bestsellers" and a.get("step") == 2]
    assert step_two, "the sequence planned no step 2: the test would prove nothing"
    step_one_done = {row["email"].casefold() for row in first_phase.values()
                     if row["rule"] == "back_to_bestsellers" and row["sequence_step"] == 0 and row["status"] == "done"}
    assert {a["email"].casefold() for a in step_two} == step_one_done, "step 2 skipped or sent without step 1"
    keys = Counter(a["idempotency_key"] for a in [*planned, *later])
    assert max(keys.values()) == 1, "the second plan repeats a key of the first"
    kills_before = len(killer.kills)
    while len(killer.kills) < kills_before + MIN_KILLS_STEP_TWO:
        assert time.monotonic() < deadline, f"only {len(killer.kills) - kills_before} step-2 kills: {killer.rounds}"
        killer.round(number)
        number += 1
    finish_runs += finish(client, deadline)
    planned = [*planned, *later]

    settled = Outcome.observe(client)
    assert client.cli("run", "--no-sync").returncode == 0
    again = Outcome.observe(client)

    print(f"\n{platform}: {len(planned)} planned, {len(killer.rounds)} rounds, {len(killer.kills)} kills, "
          f"{len(settled.review)} held for review, {finish_runs} finishing run(s); planned steps "
          f"{dict(Counter('+'.join(a['steps']) or 'none' for a in planned))}; "
          f"writes {({name: len(items) for name, items in settled.writes.items()})}; "
          f"{len(settled.messages)} messages")
    assert_never_twice(planned, killer, settled)
    assert again == settled, "a further run acted again or changed the ledger"


@dataclass(frozen=True)
class Outcome:
    """Everything observable after the runs: mail, platform writes, the ledger and its review list."""

    messages: list[dict[str, Any]]
    writes: dict[str, list[dict[str, Any]]]
    ledger: dict[str, dict[str, Any]]
    """idempotency key -> its ledger row (status, needs_review, step_states)."""
    review: frozenset[str]
    """Keys that ``winback status --json`` lists as needing review."""

    @classmethod
    def observe(cls, client: Client) -> Outcome:
        status = client.json("status")
        review = frozenset(e["idempotency_key"] for e in actions_in(status) if e.get("needs_review", True))
        return cls(read_capture(client.capture), client.writes(), ledger_rows(client.config.parent / "winback.db"),
                   review)


def shift_ledger(db: Path, days: int) -> None:
    """Move every time in the action ledger ``days`` back: to the rules, as if that many days had
    passed since the first phase (the orders stay put, so no new lapse starts meanwhile)."""
    connection = sqlite3.connect(str(db))
    try:
        with connection:
            for column in ("created_at", "updated_at", "finished_at", "email_started_at"):
                connection.execute(
                    f"UPDATE action_ledger SET {column} = strftime('%Y-%m-%d %H:%M:%S', {column}, '-{days} days')"
                    f" || substr({column}, 20) WHERE {column} IS NOT NULL"
                )
    finally:
        connection.close()


def ledger_rows(db: Path) -> dict[str, dict[str, Any]]:
    """The action ledger, read-only, straight from the client's SQLite file."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        connection.row_factory = sqlite3.Row
        rows = connection.execute(
            "SELECT idempotency_key, rule, email, status, needs_review, step_states, created_ref, sequence_step "
            "FROM action_ledger"
        ).fetchall()
    finally:
        connection.close()
    return {row["idempotency_key"]: {**dict(row), "needs_review": bool(row["needs_review"]),
                                     "step_states": json.loads(row["step_states"] or "{}"),
                                     "created_ref": json.loads(row["created_ref"] or "{}")} for row in rows}


def message_local_part(idempotency_key: str) -> str:
    """The local part of the Message-ID winback derives from an action's key (see winback.notify.message)."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def assert_never_twice(planned: list[dict[str, Any]], killer: Killer, outcome: Outcome) -> None:
    ledger, review = outcome.ledger, outcome.review
    flagged = {key for key, row in ledger.items() if row["needs_review"]}
    assert review == flagged, ("status --json and the ledger disagree on review", review ^ flagged)
    assert len(review) <= len(killer.kills), ("more actions held for review than kills", len(review), len(killer.kills))

    # (a) No message twice, and every message belongs to a planned action.
    ids = Counter(m["message_id"] for m in outcome.messages)
    assert all(n == 1 for n in ids.values()), ("messages sent twice", [i for i, n in ids.items() if n > 1])
    recipients = {m["message_id"].strip("<>").split("@")[0]: m["rcpt_tos"] for m in outcome.messages}
    mailed = Counter(m["message_id"].strip("<>").split("@")[0] for m in outcome.messages)
    by_local = {message_local_part(a["idempotency_key"]): a for a in planned}
    assert set(recipients) <= set(by_local), "a message for no planned action"
    for local, rcpt_tos in recipients.items():
        assert [to.casefold() for to in rcpt_tos] == [by_local[local]["email"].casefold()]

    # (b), (d) Each planned action done exactly once, or held for review; held mail sent at most once.
    for action in planned:
        key = action["idempotency_key"]
        row = ledger.get(key)
        assert row is not None, f"planned but never recorded: {action['rule']} for {action['email']}"
        sends = mailed[message_local_part(key)]
        if key in review:
            assert sends <= 1
            continue
        # An action without steps is recorded as skipped with its reason (the rules' contract).
        assert row["status"] == ("done" if action["steps"] else "skipped"), (action["rule"], action["email"], row)
        assert sends == (1 if "send_email" in action["steps"] else 0), (action["rule"], action["email"], sends)

    # (c) The store saw each write once: one code per intent (the one its ledger row names), one
    # account per intent, one invite per intent (a held invite at most one).
    def refs(step: str, ref: str) -> list[str]:
        return [str(ledger[a["idempotency_key"]]["created_ref"].get(ref)) for a in planned if step in a["steps"]]

    codes = [c["code"] for c in outcome.writes.get("discount_codes", outcome.writes.get("discount_coupons", []))]
    assert len(codes) == len(set(codes)), ("codes created twice", [c for c, n in Counter(codes).items() if n > 1])
    assert sorted(codes) == sorted(refs("create_discount_code", "discount_code")), "codes != one per intent"
    accounts = [c["email"].casefold() for c in outcome.writes["customers_created"]]
    assert len(accounts) == len(set(accounts)), ("accounts created twice", [e for e, n in Counter(accounts).items() if n > 1])
    assert sorted(accounts) == sorted(a["email"].casefold() for a in planned if "create_account" in a["steps"])
    assert sorted(str(c["id"]) for c in outcome.writes["customers_created"]) == sorted(
        refs("create_account", "customer_id"))
    invites = Counter(str(i["customer_id"]) for i in outcome.writes.get("invites_sent", []))
    assert all(n == 1 for n in invites.values()), ("invites sent twice", [i for i, n in invites.items() if n > 1])
    inviting = [a for a in planned if "send_invite" in a["steps"]]
    done_invites = {str(ledger[a["idempotency_key"]]["created_ref"]["invite_customer_id"])
                    for a in inviting if a["idempotency_key"] not in review}
    held_invites = sum(a["idempotency_key"] in review for a in inviting)
    assert done_invites <= set(invites) and len(invites) <= len(done_invites) + held_invites

    # The tier of each customer written once (a kill after the write finds it shown: no second
    # write); on Ecwid each tier's customer group created once.
    tiered = [a for a in planned if "set_customer_tier" in a["steps"]]
    if "tag_writes" in outcome.writes:
        added = Counter(w["customer_id"] for w in outcome.writes["tag_writes"] if "added" in w)
        assert all(n == 1 for n in added.values()), ("tags written twice", [c for c, n in added.items() if n > 1])
        assert len(added) == len(tiered), (len(added), len(tiered))
    else:
        moved = Counter(w["id"] for w in outcome.writes["customers_updated"] if "customerGroupId" in w)
        assert all(n == 1 for n in moved.values()), ("group set twice", [c for c, n in moved.items() if n > 1])
        assert len(moved) == len(tiered), (len(moved), len(tiered))
        groups = Counter(g["name"] for g in outcome.writes["customer_groups_created"])
        assert all(n == 1 for n in groups.values()), ("customer group created twice", groups)


def test_smtp_capture_process_records_each_accepted_message(tmp_path: Path) -> None:
    import smtplib
    from email.message import EmailMessage

    capture = tmp_path / "smtp.jsonl"
    with smtp_capture_process(capture) as smtp:
        for number in (1, 2):
            message = EmailMessage()
            message["From"], message["To"] = "shop@example.com", f"Buyer {number} <buyer{number}@example.com>"
            message["Subject"], message["Message-ID"] = f"Hello {number}", f"<{number}@kill-test>"
            message["X-Winback-Rule"] = "back_to_bestsellers"
            message.set_content(f"body {number}")
            with smtplib.SMTP(smtp["host"], smtp["port"], timeout=10) as connection:
                connection.send_message(message)
        captured = read_capture(capture)

    assert [(m["message_id"], m["rcpt_tos"], m["subject"]) for m in captured] == [
        ("<1@kill-test>", ["buyer1@example.com"], "Hello 1"), ("<2@kill-test>", ["buyer2@example.com"], "Hello 2")]
    assert captured[0]["x_headers"] == {"X-Winback-Rule": "back_to_bestsellers"}
    assert captured[0]["body_sha256"] != captured[1]["body_sha256"]
