"""The service: `uvicorn webdev.app:app --reload` serves it on http://127.0.0.1:8000."""

from __future__ import annotations

from fastapi import FastAPI

from webdev import __version__

app = FastAPI(title="webdev", version=__version__)


@app.get("/health")
def health() -> dict[str, str]:
    """Liveness probe: answers while the process can serve requests."""
    return {"status": "ok", "version": __version__}
