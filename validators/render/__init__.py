"""Renderers for a :class:`validators.report.ParityReport`: a rich table for the terminal,
JSON (with a JSON Schema), JUnit XML for CI, and one self-contained HTML page.

Every renderer reads only the report's data model; none of them runs a model.
"""

from .html import to_html
from .json_report import from_json, load_schema, to_json
from .junit import to_junit
from .terminal import print_report

__all__ = ["print_report", "to_json", "from_json", "to_junit", "to_html", "load_schema"]
