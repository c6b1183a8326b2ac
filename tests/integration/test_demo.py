"""``winback demo`` as a user runs it: a real subprocess in an empty folder, then everything it
claims to have written is checked against the files and the ledger in its SQLite database."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import tomllib
from collections import Counter
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from winback.config import load_config
from winback.notify.outbox import slug

RULES = ("auto_create_accounts", "back_to_bestsellers", "discount_codes")
WINBACK = Path(sys.executable).with_name("winback")


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real ``winback demo`` run (600 customers per store keeps Shopify's bulk export path)."""
    workdir = tmp_path_factory.mktemp("demo") / "winback-demo"
    stale = workdir / "outbox" / "stale_at_earlier.run.eml"
    stale.parent.mkdir(parents=True)
    stale.write_text("From: old@example.com\n\nleft by an earlier demo\n", encoding="utf-8")
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [str(WINBACK), "demo", "--dir", str(workdir), "--customers", "600"],
        capture_output=True, text=True, timeout=600, env=env, check=False,
    )
    assert done.returncode == 0, f"winback demo failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    with sqlite3.connect(workdir / "winback.db") as db:
        ledger = [
            {"store_key": s, "rule": r, "key": k, "status": st, "marketing": bool(m), "ref": json.loads(ref or "{}")}
            for s, r, k, st, m, ref in db.execute(
                "SELECT store_key, rule, idempotency_key, status, marketing, created_ref FROM action_ledger"
            )
        ]
    return {"dir": workdir, "out": done.stdout, "err": done.stderr, "ledger": ledger, "stale": stale}


def parse_eml(path: Path) -> EmailMessage:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def summary_rows(out: str) -> dict[tuple[str, str], dict[str, int]]:
    """The rules table of the summary: (store label, rule) → counts by column."""
    rows = {}
    pattern = re.compile(rf"^(.+?)\s+({'|'.join(RULES)})\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$")
    for line in out.splitlines():
        match = pattern.match(line.strip())
        if match:
            done, skipped, failed, review, held, held_out = map(int, match.groups()[2:])
            rows[(match.group(1), match.group(2))] = {
                "done": done, "skipped": skipped, "failed": failed, "needs review": review, "held": held,
                "held out": held_out,
            }
    return rows


def test_every_emailing_action_left_a_multipart_eml(demo: dict[str, Any]) -> None:
    outbox = demo["dir"] / "outbox"
    sent = [row for row in demo["ledger"] if row["ref"].get("message_id")]
    emails_by_rule = Counter(row["rule"] for row in sent)
    assert set(emails_by_rule) == set(RULES), (emails_by_rule, demo["out"])  # each rule wrote emails
    assert all(row["status"] == "done" for row in sent)

    for row in sent:
        path = outbox / f"{slug(row['ref']['message_id'])}.eml"
        assert path.is_file(), (row, sorted(p.name for p in outbox.iterdir())[:5])
        message = parse_eml(path)
        assert message.get_content_type() == "multipart/alternative"
        html = message.get_body(preferencelist=("html",))
        assert html is not None and "<html" in html.get_content().lower()
        assert message["Message-ID"] == row["ref"]["message_id"]
        if row["marketing"]:
            unsubscribe = str(message["List-Unsubscribe"] or "")
            assert unsubscribe.startswith("<mailto:unsubscribe@"), (row, unsubscribe)
        else:
            assert message["List-Unsubscribe"] is None
    assert sum(1 for _ in outbox.glob("*.eml")) == len(sent)
    assert not demo["stale"].exists(), "a rerun must not show an earlier demo's emails"
    marketing = {row["rule"] for row in sent if row["marketing"]}
    assert {"back_to_bestsellers", "discount_codes"} <= marketing


def test_the_html_index_links_every_email_and_counts_them_per_rule(demo: dict[str, Any]) -> None:
    outbox = demo["dir"] / "outbox"
    index = outbox / "index.html"
    page = Page()
    page.feed(index.read_text(encoding="utf-8"))

    emls = sorted(p.name for p in outbox.glob("*.eml"))
    assert sorted(h for h in page.hrefs if h.endswith(".eml")) == emls
    html_links = sorted(h for h in page.hrefs if h.startswith("html/"))
    assert html_links == sorted(f"html/{Path(name).stem}.html" for name in emls)
    assert all((outbox / href).is_file() for href in html_links)
    text = " ".join(" ".join(page.text).split())
    emails_by_rule = Counter(row["rule"] for row in demo["ledger"] if row["ref"].get("message_id"))
    for rule, count in emails_by_rule.items():
        assert f"{count} {rule}" in text, (rule, count)
    assert "unknown" not in text.split()  # every email's rule is known


def test_the_summary_reports_stores_actions_and_where_things_are(demo: dict[str, Any]) -> None:
    out, workdir = demo["out"], demo["dir"]
    rows = summary_rows(out)
    ledger = Counter((row["store_key"].split(":")[0], row["rule"], row["status"]) for row in demo["ledger"])
    for rule in RULES:
        for platform, label in (("shopify", "Shopify"), ("ecwid", "Ecwid")):
            (key,) = [k for k in rows if k[0].startswith(label) and k[1] == rule]
            assert rows[key]["done"] == ledger[(platform, rule, "done")], (key, rows[key])
            # held-out customers are settled as skipped in the ledger, shown in their own column
            assert rows[key]["skipped"] + rows[key]["held out"] == ledger[(platform, rule, "skipped")], (key, rows[key])
            assert rows[key]["failed"] == 0, out
    assert sum(r["done"] for r in rows.values()) > 0
    assert re.search(r"Shopify \S+\s+600\s+\d+\s+\d+", out), out
    emails = sum(1 for _ in (workdir / "outbox").glob("*.eml"))
    assert f"emails: {emails} in the outbox {workdir / 'outbox'}" in out
    assert (workdir / "outbox" / "index.html").resolve().as_uri() in out
    assert f"winback plan --no-connect --config {workdir / 'configs' / 'shopify.toml'}" in out
    assert "at 2026-11-01 00:00 UTC" in out
    assert not re.search(r"\bsent (" + "|".join(RULES) + ") to ", out + demo["err"]), "per-action lines stay quiet"


def test_the_written_configs_load_and_plan_offline(demo: dict[str, Any]) -> None:
    configs = demo["dir"] / "configs"
    for name in ("shopify", "ecwid"):
        config = load_config(configs / f"{name}.toml")
        assert set(config.rules) == set(RULES)
        assert config.email is not None and config.email.unsubscribe_mailto
        assert (configs / f"{name}.secrets.toml").stat().st_mode & 0o077 == 0
        store = tomllib.loads((configs / f"{name}.toml").read_text(encoding="utf-8"))["store"]
        assert not {"token", "access_token"} & set(store), "tokens live in the secrets file"

    done = subprocess.run(
        [str(WINBACK), "plan", "--no-connect", "--json", "--config", str(configs / "shopify.toml")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    (plan,) = json.loads(done.stdout)
    assert plan["ok"] and plan["store_key"].startswith("shopify:")
    settled = {row["key"] for row in demo["ledger"] if row["status"] in ("done", "skipped")}
    assert settled and not settled & {a["idempotency_key"] for a in plan["actions"]}  # never done twice


def test_customers_respond_and_the_report_measures_the_lift_from_the_data(demo: dict[str, Any]) -> None:
    workdir = demo["dir"]
    with sqlite3.connect(workdir / "winback.db") as db:
        held = db.execute("SELECT COUNT(*), SUM(created_ref != '{}' AND created_ref IS NOT NULL) "
                          "FROM action_ledger WHERE holdout").fetchone()
        codes = {code for (ref,) in db.execute("SELECT created_ref FROM action_ledger WHERE NOT holdout")
                 for code in [json.loads(ref or "{}").get("discount_code")] if code}
        used = {code for (raw,) in db.execute("SELECT discount_codes FROM orders WHERE discount_codes != '[]'")
                for code in json.loads(raw)}
    assert held[0] > 0 and not held[1], "held-out customers are recorded, with nothing created for them"
    assert used and used <= codes, "synced orders carry the codes the rules created (Shopify and Ecwid)"

    reports = json.loads((workdir / "report.json").read_text(encoding="utf-8"))
    assert {r["store"]["platform"] for r in reports} == {"shopify", "ecwid"}
    for report in reports:
        rule = next(r for r in report["rules"] if r["rule"] == "back_to_bestsellers")
        lift = rule["lift"]
        assert rule["codes_redeemed"] > 0 and lift["held_out_n"] > 0 and lift["sent_n"] > 0
        # the lift is what the orders say: recompute it from the counts the report found
        rate = lift["sent_returned"] / lift["sent_n"] - lift["held_out_returned"] / lift["held_out_n"]
        assert lift["return_rate_lift"]["estimate"] == pytest.approx(rate)
        assert lift["return_rate_lift"]["low"] < rate < lift["return_rate_lift"]["high"]
    assert (workdir / "report.html").resolve().as_uri() in demo["out"]
    assert "came back" in demo["out"]
