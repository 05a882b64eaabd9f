"""Whether the ResourceManager says an attempt of a YARN application has ended: the one proof
that lets a new attempt take an earlier attempt's fence at once. Anything else (an attempt still
running, an RM that does not answer, no address) means "not known to have ended", and the new
attempt waits out the fence's TTL like any other driver.

The RM's web address comes from the Hadoop configuration the driver has: in Spark's
ApplicationMaster, the client's configuration shipped in `__spark_conf__`; elsewhere the folder
named by HADOOP_CONF_DIR."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from xml.etree import ElementTree

ENDED_STATES = frozenset({"FINISHED", "FAILED", "KILLED"})
ADDRESS_KEY = "yarn.resourcemanager.webapp.address"
# fencing.fence_identity names a YARN driver yarn:<application>:<attempt>:<generation>
YARN_OWNER = re.compile(r"^yarn:(application_\d+_\d+):(\d+):")


def conf_files(environ: dict[str, str], cwd: Path) -> list[Path]:
    """Where the driver's Hadoop configuration may be, most specific first."""
    shipped = cwd / "__spark_conf__"
    files = [shipped / "__hadoop_conf__" / "yarn-site.xml", shipped / "__spark_hadoop_conf__.xml"]
    for folder in filter(None, environ.get("HADOOP_CONF_DIR", "").split(":")):
        files.append(Path(folder) / "yarn-site.xml")
    return files


def resource_manager_url(environ: dict[str, str], cwd: Path) -> str | None:
    """http://<yarn.resourcemanager.webapp.address> from the first configuration naming it."""
    for path in conf_files(environ, cwd):
        try:
            root = ElementTree.parse(path).getroot()
        except (OSError, ElementTree.ParseError):
            continue
        for prop in root.iter("property"):
            if (prop.findtext("name") or "").strip() == ADDRESS_KEY:
                address = (prop.findtext("value") or "").strip()
                if address:
                    return address if "://" in address else f"http://{address}"
    return None


def attempt_ended(rm_url: str, application_id: str, attempt: int, timeout: float = 3.0) -> bool:
    """True only if the RM lists this attempt with an ended state or a finish time."""
    url = f"{rm_url.rstrip('/')}/ws/v1/cluster/apps/{application_id}/appattempts"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.load(response)
    except (OSError, ValueError):
        return False
    attempts = ((body or {}).get("appAttempts") or {}).get("appAttempt") or []
    for found in attempts:
        if int(found.get("id", -1)) == attempt:
            state = str(found.get("appAttemptState", "")).upper()
            return state in ENDED_STATES or int(found.get("finishedTime") or 0) > 0
    return False


def owner_attempt_ended(owner: str, environ: dict[str, str], cwd: Path) -> bool:
    """Whether the fence owner `owner`, a YARN attempt, is known to the RM to have ended."""
    match = YARN_OWNER.match(owner)
    rm_url = resource_manager_url(environ, cwd)
    if match is None or rm_url is None:
        return False
    return attempt_ended(rm_url, match.group(1), int(match.group(2)))
