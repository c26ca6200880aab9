"""Jinja2 templates for HTML responses: ``Resource.render``.

Jinja2 is an optional dependency (``pip install kata-router[html]``), imported on the first
render, so applications without templates never load it.
"""

from __future__ import annotations

import os
import threading
from typing import Any

_HTML_TYPE = "text/html; charset=utf-8"


class Templates:
    """The templates of one router: a folder and the Jinja2 environment that loads from it.

    The environment is built on the first render and each template is compiled once (no
    checks of the files afterwards): templates change with a deploy, not while serving.
    Autoescaping is on for every template, and an undefined variable is an error rather
    than blank text.
    """

    def __init__(self) -> None:
        self._folder: str | None = None
        self._environment: Any = None
        # Each template by name, once compiled: a dict lookup instead of Jinja2's
        # get_template(), a weak reference and a locked LRU lookup that cost 24,000
        # instructions per render (a twentieth of a TechEmpower fortunes request).
        self._compiled: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def folder(self) -> str | None:
        """The configured folder, or None."""
        return self._folder

    def use(self, folder: str | None) -> None:
        """Load templates from *folder* (None: none) from now on; the same folder keeps its cache."""
        path = None if folder is None else os.path.abspath(folder)
        if path == self._folder:
            return
        with self._lock:
            self._folder = path
            self._environment = None
            self._compiled = {}

    def render(self, name: str, context: dict[str, Any]) -> bytes:
        """Render template *name* with *context* to UTF-8 bytes.

        Raises:
            RuntimeError: no folder is configured, or Jinja2 is not installed.
            jinja2.TemplateNotFound: no such template in the folder.
        """
        compiled = self._compiled  # (read before the environment: use() may replace both)
        template = compiled.get(name)
        if template is None:
            # Only names of templates that exist are kept: a missing one raises here.
            template = compiled[name] = (self._environment or self._load()).get_template(name)
        return template.render(context).encode()  # type: ignore[no-any-return]

    def _load(self) -> Any:
        with self._lock:
            if self._environment is not None:
                return self._environment
            if self._folder is None:
                raise RuntimeError(
                    "no templates folder: set it with Router(templates=...) or "
                    "configure(templates=...), the web: section's `templates` key"
                )
            try:
                import jinja2
            except ImportError:
                raise RuntimeError(
                    "rendering templates needs Jinja2: pip install 'kata-router[html]'"
                ) from None
            self._environment = jinja2.Environment(
                loader=jinja2.FileSystemLoader(self._folder),
                autoescape=True,
                auto_reload=False,
                undefined=jinja2.StrictUndefined,
            )
            return self._environment


__all__ = ["Templates"]
