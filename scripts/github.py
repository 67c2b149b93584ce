"""GitHub helpers the steps share: the repository behind this project, links into it, and the
files GitHub Actions reads after a step ($GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY).

Outside GitHub Actions the environment variables are unset and the writers do nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path


def origin_url(root: Path) -> str | None:
    """The URL of the git remote named origin, or None (no git, no remote, not a checkout)."""
    try:
        result = subprocess.run(
            ["git", "remote", "get-url", "origin"], cwd=root, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    url = result.stdout.strip()
    return url if result.returncode == 0 and url else None


def parse_github_remote(url: str) -> str | None:
    """'owner/repo' from an https or ssh GitHub remote URL, else None."""
    match = re.match(r"^(?:https://(?:[^@/]+@)?github\.com/|git@github\.com:|ssh://git@github\.com/)([^/]+)/([^/]+?)(?:\.git)?/?$", url.strip())
    return f"{match.group(1)}/{match.group(2)}" if match else None


def github_repo(root: Path) -> str | None:
    """'owner/repo' of this project: $GITHUB_REPOSITORY on Actions, else the origin remote; None when unknown."""
    if os.environ.get("GITHUB_REPOSITORY"):
        return os.environ["GITHUB_REPOSITORY"]
    url = origin_url(root)
    return parse_github_remote(url) if url else None


def project_url(root: Path) -> str | None:
    """The project's web page (any git host), from the Actions environment or the origin remote; None when unknown."""
    server, repository = os.environ.get("GITHUB_SERVER_URL"), os.environ.get("GITHUB_REPOSITORY")
    if server and repository:
        return f"{server}/{repository}"
    match = re.match(r"^(?:https://|git@)([^/:]+)[/:](.+?)(?:\.git)?$", origin_url(root) or "")
    return f"https://{match.group(1)}/{match.group(2)}" if match else None


def raw_file_url(repo: str, branch: str, path: str) -> str:
    """A link that shows a file committed on a branch (images render in pull requests)."""
    return f"https://github.com/{repo}/blob/{branch}/{path}?raw=true"


def set_github_output(name: str, value: str) -> None:
    """Tell the next workflow steps what happened (a no-op outside GitHub Actions)."""
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{name}={value}\n")


def add_to_job_summary(markdown: str) -> None:
    """Show markdown on the workflow run's summary page (a no-op outside GitHub Actions)."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip() + "\n")
